"""Admin page: users and roles, settings overview, audit log."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from app import ui
from kb.auth import MIN_PASSWORD_LENGTH, ROLE_LABELS, ROLES
from kb.services import accounts, admin

user = ui.require_user("users.manage")
ws = ui.workspace()
ui.header("Admin", "Accounts and roles, configuration and the audit log.")

users_tab, settings_tab, audit_tab = st.tabs(["Users", "Settings", "Audit log"])

with users_tab:
    users = accounts.list_users(ws.store, user)
    st.dataframe(pd.DataFrame([{
        "Username": u.username, "Name": u.display_name, "Role": ROLE_LABELS.get(u.role, u.role),
        "Status": "active" if u.active else "disabled", "Demo password": "yes" if u.is_demo else "",
        "Created": ui.fmt_time(u.created_at), "Last sign-in": ui.fmt_time(u.last_login_at)} for u in users]),
        hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left, st.form("add_user", clear_on_submit=True, border=True):
        st.markdown("**Add account**")
        username = st.text_input("Username", key="new_username")
        display = st.text_input("Full name", key="new_display")
        role = st.selectbox("Role", ROLES, format_func=ROLE_LABELS.get, key="new_role")
        password = st.text_input(f"Initial password (min. {MIN_PASSWORD_LENGTH} characters)", type="password",
                                 key="new_password")
        if st.form_submit_button("Add account", type="primary", icon=":material/person_add:"):
            with ui.service_errors():
                accounts.add_user(ws.store, user, username, password, role, display)
                ui.flash(f"Account {username} created.")
                st.rerun()
    with right, st.container(border=True):
        st.markdown("**Change account**")
        names = [u.username for u in users]
        target = st.selectbox("Account", names, key="edit_user")
        record = next(u for u in users if u.username == target)
        new_role = st.selectbox("Role", ROLES, index=ROLES.index(record.role), format_func=ROLE_LABELS.get,
                                key=f"edit_role_{target}")
        a, b = st.columns(2)
        if a.button("Save role", key="save_role", disabled=new_role == record.role):
            with ui.service_errors():
                accounts.change_role(ws.store, user, target, new_role)
                ui.flash(f"{target} is now {ROLE_LABELS[new_role]}.")
                st.rerun()
        if record.active:
            if b.button("Disable account", key="disable_user", icon=":material/person_off:"):
                with ui.service_errors():
                    accounts.set_active(ws.store, user, target, False)
                    ui.flash(f"{target} disabled.")
                    st.rerun()
        elif b.button("Enable account", key="enable_user", icon=":material/person:"):
            with ui.service_errors():
                accounts.set_active(ws.store, user, target, True)
                ui.flash(f"{target} enabled.")
                st.rerun()
        new_password = st.text_input("New password", type="password", key=f"reset_pw_{target}")
        if st.button("Set password", key="reset_password", disabled=not new_password):
            with ui.service_errors():
                accounts.reset_password(ws.store, user, target, new_password)
                ui.flash(f"Password of {target} changed.")
                st.rerun()

with settings_tab:
    info = admin.overview(ws, user)
    llm = info.llm
    if not llm.configured:
        st.info(llm.detail, icon=":material/smart_toy:")
    elif llm.reachable:
        st.success(f"LLM endpoint reachable: {llm.provider} {llm.model or ''} at {llm.base_url} ({llm.detail})",
                   icon=":material/smart_toy:")
    else:
        st.error(f"LLM endpoint NOT reachable: {llm.provider} at {llm.base_url} — {llm.detail}. "
                 "Drafts fall back to offline mode.", icon=":material/smart_toy:")
    for warning in info.warnings:
        st.warning(warning, icon=":material/tune:")
    cols = st.columns(6)
    cols[0].metric("Documents", info.kb_counts["documents"])
    cols[1].metric("Chunks", info.kb_counts["chunks"])
    cols[2].metric("Drafts", info.record_counts["drafts"])
    cols[3].metric("Sent", info.record_counts["drafts_sent"])
    cols[4].metric("Open gaps", info.record_counts["gaps_open"])
    cols[5].metric("Pending Q&A", info.record_counts["proposals_pending"])
    st.dataframe(pd.DataFrame({"Setting": list(info.settings), "Value": list(info.settings.values())}),
                 hide_index=True, width="stretch", height="content")
    st.caption("Settings come from REPLYDESK_* environment variables or a .env file; restart the app to change them.")

with audit_tab:
    a, b, c = st.columns([1, 1, 1])
    actions = sorted({e.action for e in admin.audit_log(ws, user, limit=5000)})
    action = a.selectbox("Action", ["(all)", *actions], key="audit_action")
    who = b.selectbox("User", ["(all)", *sorted({u.username for u in users})], key="audit_user")
    limit = c.selectbox("Show", [100, 500, 2000], key="audit_limit", format_func=lambda n: f"latest {n}")
    entries = admin.audit_log(ws, user, action=None if action == "(all)" else action,
                              username=None if who == "(all)" else who, limit=limit)
    if not entries:
        st.info("No audit entries match.")
    else:
        st.dataframe(pd.DataFrame([{
            "Time (UTC)": ui.fmt_time(e.at), "User": e.username, "Action": e.action, "Target": e.target,
            "Details": json.dumps(e.details, ensure_ascii=False) if e.details else ""} for e in entries]),
            hide_index=True, width="stretch")
