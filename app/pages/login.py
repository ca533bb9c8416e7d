"""Sign-in page: explains how to get in the first time (demo accounts when the demo is loaded)."""

from __future__ import annotations

import streamlit as st

from app import ui
from kb.auth import ROLE_LABELS
from kb.services import accounts

ws = ui.workspace()
_, middle, _ = st.columns([1, 1.6, 1])
with middle:
    st.title("replydesk", anchor=False)
    st.html('<div class="rd-subtitle">Knowledge base and reply drafting for support and escalation '
            'specialists.</div>')
    notice = st.session_state.pop(ui.NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/schedule:")
    with st.form("login", border=True):
        username = st.text_input("Username", key="login_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
    if submitted:
        user = accounts.sign_in(ws.store, username, password)
        if user is None:
            st.error("Wrong username or password, or the account is disabled.")
        else:
            ui.sign_in(user)
            st.rerun()

    demo = accounts.demo_accounts_to_show(ws.store)
    if demo:
        with st.container(border=True):
            st.markdown("**First time here?** The demo is loaded. Sign in with one of these accounts:")
            st.table([{"Username": a.username, "Password": a.password, "Role": ROLE_LABELS.get(a.role, a.role)}
                      for a in demo])
            st.caption("Specialists draft replies; knowledge owners manage documents and approve Q&A; "
                       "QA reviewers score sent replies; admins manage accounts. Change these passwords "
                       "before real use (Admin → Users).")
    elif not accounts.has_accounts(ws.store):
        with st.container(border=True):
            st.markdown("**First time here?** There are no accounts yet. Create an admin on the server:")
            st.code("replydesk users add alice --role admin", language="bash")
            st.caption("or load the demo knowledge base and demo accounts with `replydesk demo load`.")
    else:
        st.caption("Ask an administrator for an account if you do not have one.")
