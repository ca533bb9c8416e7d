"""QA review page (QA reviewers): sampled queue of sent drafts, rubric scoring, dashboard."""

from __future__ import annotations

import html

import altair as alt
import pandas as pd
import streamlit as st

from app import ui
from kb.drafting.models import MODES
from kb.records import RUBRIC, RUBRIC_LABELS
from kb.risk import CATEGORY_LABELS
from kb.services import review

user = ui.require_user("review.view")
ws = ui.workspace()
ui.header("QA review", "Score sent replies against the rubric and watch quality over time.")

queue_tab, dash_tab = st.tabs(["Review queue", "Dashboard"])

# ---- queue ------------------------------------------------------------------------------
with queue_tab:
    with st.expander("Sampling settings", icon=":material/tune:"):
        a, b, c = st.columns(3)
        percent = a.slider("Sample of sent drafts (%)", 5, 100, 100, step=5, key="qa_percent",
                           help="Deterministic per draft: a draft stays in or out of the sample.")
        days = b.selectbox("Sent in the last", [7, 30, 90, 365], index=1, key="qa_days",
                           format_func=lambda d: f"{d} days")
        modes = c.multiselect("Drafting mode", MODES, key="qa_modes")
        always_high = a.checkbox("Always include high-risk drafts", True, key="qa_high")
        include_scored = b.checkbox("Include drafts I or others already scored", False, key="qa_scored")
    sampling = review.SamplingSettings(percent=percent, always_high_risk=always_high, include_scored=include_scored,
                                       modes=tuple(modes), days=days)
    queue = review.review_queue(ws, user, sampling)
    if not queue:
        st.info("Nothing to review: no sent drafts match the sampling settings.")
    else:
        labels = {d.id: (f"#{d.id} · {ui.fmt_time(d.sent_at)} · {'HIGH RISK · ' if d.risk_level == 'high' else ''}"
                         f"{d.topic or 'no guidance'} · {d.username}") for d in queue}
        draft_id = st.selectbox(f"Queue ({len(queue)})", list(labels), format_func=labels.get, key="qa_pick")
        draft, existing = review.get_review_item(ws, user, draft_id)
        meta = [f"mode **{draft.mode}**", f"risk **{draft.risk_level}**"]
        if draft.risk_categories:
            meta.append(", ".join(CATEGORY_LABELS.get(c, c) for c in draft.risk_categories))
        meta += [f"edit distance **{draft.edit_distance}** chars ({(draft.edit_ratio or 0):.0%})",
                 f"by {draft.username or 'unknown'}"]
        st.caption(" · ".join(meta))
        left, right = st.columns([1.15, 1])
        with left:
            with st.container(border=True):
                st.markdown("**Ticket** (redacted)")
                st.text(draft.ticket_text)
                if draft.context_text:
                    st.caption("Earlier conversation")
                    st.text(draft.context_text)
            with st.container(border=True):
                st.markdown("**Draft → sent reply**")
                st.html('<div class="rd-diff">' + review.sent_edits_html(draft)
                        + "</div>")
            with st.expander("Sent reply as sent"):
                st.text(draft.final_text or "")
            st.markdown("**Cited passages**")
            if not draft.citations:
                st.caption("The draft cites no passages.")
            for cit in draft.citations:
                where = ", ".join(x for x in (f"p. {cit.get('page')}" if cit.get("page") else "",
                                              cit.get("section") or "") if x)
                with st.container(border=True):
                    st.markdown(f"**[{cit.get('n')}] {html.escape(str(cit.get('title')))}** "
                                f"<span class='rd-source-meta'>v{cit.get('version')}"
                                f"{' · ' + where if where else ''}</span>", unsafe_allow_html=True)
                    st.html(f'<div class="rd-passage">{html.escape(str(cit.get("quote", "")))}</div>')
        with right:
            mine = next((s for s in existing if s.reviewer_id == user.id), None)
            others = [s for s in existing if s.reviewer_id != user.id]
            with st.form(f"score_{draft.id}", border=True):
                st.markdown("**Rubric** (1 = poor, 5 = excellent)")
                values = {}
                for name in RUBRIC:
                    values[name] = st.slider(RUBRIC_LABELS[name], 1, 5,
                                             mine.scores[name] if mine else 3, key=f"qa_{name}_{draft.id}")
                comment = st.text_area("Comment", mine.comment if mine else "", key=f"qa_comment_{draft.id}",
                                       height=100)
                submitted = st.form_submit_button("Update score" if mine else "Submit score", type="primary",
                                                  icon=":material/grading:")
            if submitted:
                with ui.service_errors():
                    review.score_draft(ws, user, draft.id, values, comment)
                    ui.flash(f"Score saved for draft #{draft.id}.")
                    st.rerun()
            for s in others:
                st.caption(f"{s.reviewer}: mean {s.mean:.1f} · " + ", ".join(
                    f"{RUBRIC_LABELS[k]} {v}" for k, v in s.scores.items()) + (f" — {s.comment}" if s.comment else ""))

# ---- dashboard --------------------------------------------------------------------------
with dash_tab:
    days = st.segmented_control("Period", [7, 30, 90], default=30, key="dash_days",
                                format_func=lambda d: f"{d} days") or 30
    data = review.dashboard(ws, user, days=days)
    s = data.summary

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    cols = st.columns(6)
    cols[0].metric("Drafts", s["drafts"])
    cols[1].metric("Acceptance rate", pct(s["acceptance_rate"]), help="Drafts marked as sent / drafts generated")
    cols[2].metric("Mean edit distance", "—" if s["mean_edit_distance"] is None else f"{s['mean_edit_distance']:.0f}",
                   help="Characters changed between draft and sent reply (Levenshtein)")
    cols[3].metric("Escalation rate", pct(s["escalation_rate"]), help="Share of tickets flagged high risk")
    cols[4].metric("QA reviews", s["reviews"])
    cols[5].metric("Mean QA score", "—" if s["mean_score"] is None else f"{s['mean_score']:.2f} / 5")
    if not s["drafts"]:
        st.info("No drafts in this period yet.")
    else:
        daily = data.daily
        left, right = st.columns(2)
        with left:
            st.markdown("**QA scores over time**")
            if data.scores.empty:
                st.caption("No QA scores in this period.")
            else:
                scores = data.scores.assign(criterion=data.scores["criterion"].map(RUBRIC_LABELS))
                st.altair_chart(alt.Chart(scores).mark_line(point=True).encode(
                    x=alt.X("date:T", title=None), y=alt.Y("score:Q", scale=alt.Scale(domain=[1, 5]), title="Mean"),
                    color=alt.Color("criterion:N", title=None, legend=alt.Legend(orient="bottom", columns=3)),
                    tooltip=["date:T", "criterion:N", alt.Tooltip("score:Q", format=".2f")]).properties(height=260),
                    width="stretch")
        with right:
            st.markdown("**Acceptance and escalation rate**")
            rates = daily.melt(id_vars="date", value_vars=["acceptance_rate", "escalation_rate"],
                               var_name="rate", value_name="value")
            rates["rate"] = rates["rate"].map({"acceptance_rate": "Acceptance", "escalation_rate": "Escalation"})
            st.altair_chart(alt.Chart(rates).mark_line(point=True).encode(
                x=alt.X("date:T", title=None), y=alt.Y("value:Q", axis=alt.Axis(format="%"), title=None,
                                                       scale=alt.Scale(domain=[0, 1])),
                color=alt.Color("rate:N", title=None, legend=alt.Legend(orient="bottom")),
                tooltip=["date:T", "rate:N", alt.Tooltip("value:Q", format=".0%")]).properties(height=260),
                width="stretch")
        left, right = st.columns(2)
        with left:
            st.markdown("**Mean edit ratio of sent replies**")
            edits = daily.dropna(subset=["mean_edit_ratio"])
            if edits.empty:
                st.caption("No sent replies in this period.")
            else:
                st.altair_chart(alt.Chart(edits).mark_bar(size=14).encode(
                    x=alt.X("date:T", title=None), y=alt.Y("mean_edit_ratio:Q", axis=alt.Axis(format="%"),
                                                           title="Changed"),
                    tooltip=["date:T", alt.Tooltip("mean_edit_ratio:Q", format=".1%")]).properties(height=240),
                    width="stretch")
        with right:
            st.markdown("**Drafts by mode**")
            st.altair_chart(alt.Chart(data.modes).mark_bar(size=14).encode(
                x=alt.X("date:T", title=None), y=alt.Y("drafts:Q", title="Drafts", axis=alt.Axis(tickMinStep=1,
                                                                                               format="d")),
                color=alt.Color("mode:N", title=None, legend=alt.Legend(orient="bottom")),
                tooltip=["date:T", "mode:N", "drafts:Q"]).properties(height=240), width="stretch")
        st.markdown("**Top topics** (document that guided the draft)")
        # Sent replies drawn inside their drafts' bar (a grouped yOffset bar collapses to a hairline
        # once Streamlit stretches the chart to the page width).
        base = alt.Chart(data.topics).encode(
            y=alt.Y("topic:N", sort=alt.EncodingSortField("drafts", order="descending"), title=None,
                    axis=alt.Axis(labelLimit=360)),
            tooltip=["topic:N", alt.Tooltip("drafts:Q", title="Drafts"), alt.Tooltip("sent:Q", title="Sent")])
        drafted = base.mark_bar(size=22).encode(
            x=alt.X("drafts:Q", title=None, axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.datum("drafts"))
        sent = base.mark_bar(size=10).encode(x="sent:Q", color=alt.datum("sent"))
        st.altair_chart(alt.layer(drafted, sent).properties(height=max(120, 34 * len(data.topics)))
                        .configure_legend(orient="bottom", title=None), width="stretch")
        st.markdown("**Repeat complaints** (similar tickets grouped by meaning)")
        with st.spinner("Grouping similar tickets…"):
            clusters = review.repeat_complaints(ws, user, days=days)
        if not clusters:
            st.caption("No group of two or more similar tickets in this period.")
        else:
            st.dataframe(pd.DataFrame([{
                "Tickets": c.size, "Example": c.example, "Topics": ", ".join(c.topics),
                "First": ui.fmt_time(c.first_seen), "Last": ui.fmt_time(c.last_seen),
                "Drafts": ", ".join(f"#{i}" for i in c.draft_ids)} for c in clusters]),
                hide_index=True, width="stretch",
                column_config={"Example": st.column_config.TextColumn(width="large")})
