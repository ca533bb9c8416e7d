"""Draft a reply (specialists): ticket in, grounded and cited draft out; edit, send, give feedback."""

from __future__ import annotations

import html
import re
import textwrap

import streamlit as st

from app import ui
from kb.drafting.models import CHANNELS, LENGTHS, TONES, DraftOptions
from kb.drafting.text import reply_text
from kb.risk import CATEGORY_LABELS
from kb.services import drafts
from kb.types import Ticket

REGIONS = ["(any)", "global", "EU", "UK", "US", "APAC", "LATAM"]
LANGUAGES = ["auto", "en", "de", "fr", "es", "pt", "it", "nl", "pl", "tr", "ja", "ko"]
RESULT_KEY = "draft_result"
INPUT_KEY = "draft_inputs"

user = ui.require_user("draft.create")
ws = ui.workspace()
ui.header("Draft a reply", "Paste the ticket. The draft is built only from the knowledge base and cites its sources.")


def _run_draft(ticket: Ticket, options: DraftOptions) -> None:
    st.session_state[INPUT_KEY] = (ticket, options)
    with ui.service_errors():
        if ws.settings.llm_provider != "none":
            holder: dict = {}

            def pieces():
                for item in drafts.stream_draft(ws, user, ticket, options):
                    if isinstance(item, drafts.DraftResult):
                        holder["result"] = item
                    else:
                        yield item

            with st.container(border=True):
                st.caption("Writing the draft…")
                st.write_stream(pieces())
            result = holder["result"]
        else:
            with st.spinner("Searching the knowledge base and drafting…"):
                result = drafts.create_draft(ws, user, ticket, options)
        st.session_state[RESULT_KEY] = result
        st.session_state.pop(f"sent_{result.draft_id}", None)
        st.rerun()


# ---- the ticket form ------------------------------------------------------------------
with st.form("ticket", border=True):
    left, right = st.columns([3, 1.1], gap="medium")
    with left:
        text = st.text_area("Ticket", key="ticket_text", height=170,
                            placeholder="Paste the user's latest message here.",
                            help="A whole pasted thread works too: speaker-labelled turns (\"Customer: …\", "
                                 "\"Jane Doe (Customer) - 10:14 AM: …\"), oldest or newest first (told by the time "
                                 "stamps or the agent's greeting); or an e-mail reply with the mail below it. The "
                                 "latest customer turn is read as the question.")
        context = st.text_area("Earlier conversation (optional)", key="ticket_context", height=90,
                               placeholder="Previous messages of this conversation, oldest first "
                                           "(a case feed copied newest first works too).")
    with right:
        channel = st.selectbox("Channel", CHANNELS, key="ticket_channel",
                               help="Where the reply goes: an e-mail signs off, a chat or in-app message does not, "
                                    "a public social reply stays short and moves account matters to a direct "
                                    "message, a phone reply is a talk track.")
        region = st.selectbox("Region", REGIONS, key="ticket_region")
        language = st.selectbox("Reply language", LANGUAGES, key="ticket_language",
                                format_func=lambda v: "same as ticket" if v == "auto" else v)
        a, b = st.columns(2)
        tone = a.selectbox("Tone", TONES, key="ticket_tone")
        length = b.selectbox("Length", LENGTHS, index=LENGTHS.index("normal"), key="ticket_length")
    submitted = st.form_submit_button("Draft reply", type="primary", icon=":material/auto_awesome:")

if submitted:
    if not text.strip():
        st.warning("Paste the ticket text first.")
    else:
        ticket = Ticket(text=text.strip(), context=context.strip(), channel=channel,
                        region=None if region == "(any)" else region,
                        language=None if language == "auto" else language)
        _run_draft(ticket, DraftOptions(tone=tone, length=length, channel=channel,
                                        language=None if language == "auto" else language))

result: drafts.DraftResult | None = st.session_state.get(RESULT_KEY)
if result is None:
    st.caption("The draft, its sources and the ticket's risk level appear here.")
    st.stop()

draft = result.draft
draft_id = result.draft_id

# ---- risk banner ------------------------------------------------------------------------
if draft.risk.level == "high":
    categories = ", ".join(CATEGORY_LABELS.get(c, c) for c in draft.risk.assessment.categories)
    evidence = "; ".join(f"“{e.phrase}”" for e in draft.risk.assessment.evidence[:4])
    procedures = list(dict.fromkeys(f"{h.title} (v{h.version})" for h in draft.risk.escalation))
    body = (f"**High-risk ticket: {categories}.** Follow the escalation procedure before replying"
            + (f": {', '.join(procedures)}." if procedures else "; no escalation procedure was found in the "
               "knowledge base, escalate to your team lead.")
            + (f"  \nTriggered by: {evidence}" if evidence else "")
            + "  \nThe procedure's passages are listed under *Guidance* (internal steps are for you, never for "
              "the user).")
    st.error(body, icon=":material/warning:")
if draft.insufficient_guidance:
    st.warning("The knowledge base has no confident guidance for this ticket, so the draft is a holding reply. "
               "It was added to the knowledge owner's gap list.", icon=":material/help:")
if draft.parallel_sources:
    st.warning("The knowledge base answers this question separately for: "
               + "; ".join(f"**{t}**" for t in draft.parallel_sources)
               + ". The draft quotes the best match; confirm which one the customer means before sending.",
               icon=":material/call_split:")
if draft.staff_only_sources:
    st.info("Written for staff, so the draft does not quote it: "
            + "; ".join(f"**{t}**" for t in draft.staff_only_sources)
            + ". It matches this ticket well; read it under *Guidance* and answer from it.",
            icon=":material/badge:")
if draft.fallback_reason:
    st.info(f"Drafted offline: {draft.fallback_reason}", icon=":material/cloud_off:")
if draft.answered:
    st.info(f"Read as a pasted thread. The draft answers its latest customer turn: “{textwrap.shorten(draft.answered, 200, placeholder=' …')}” "
            "If that is the wrong turn, paste only the message to answer and put the rest under "
            "*Earlier conversation*.", icon=":material/forum:")

draft_col, guide_col = st.columns([1.25, 1], gap="large")

# ---- the draft --------------------------------------------------------------------------
unsupported = [(s.text, s.problems()) for s in draft.grounding.sentences if not s.supported]


_MARKERS_AND_STOP = re.compile(r"(?:\s*\[\d{1,3}\])*[.!?]?")


def _highlight(text: str, flagged: list[tuple[str, str]]) -> str:
    """``text`` as HTML: flagged ``(sentence, why)`` pairs highlighted (``why`` on hover),
    fill-ins marked, citation markers linked."""
    spans: list[tuple[int, int, str]] = []
    for sentence, why in flagged:
        # The grounding report holds sentences without their [n] markers, which an LLM often
        # puts before the full stop ("... 14 days [1]."): find the words, then take the markers.
        core = sentence.rstrip(".!? ")
        start = text.find(core) if core else -1
        if start < 0:
            continue
        end = start + len(core) + len(_MARKERS_AND_STOP.match(text, start + len(core)).group(0))
        if not any(a < end and start < b for a, b, _why in spans):
            spans.append((start, end, why))
    out, pos = [], 0
    for a, b, why in sorted(spans):
        out.append(html.escape(text[pos:a]))
        out.append(f'<span class="rd-unsupported" title="{html.escape(why[:1].upper() + why[1:] or "Not supported")}">'
                   f'{html.escape(text[a:b])}</span>')
        pos = b
    out.append(html.escape(text[pos:]))
    joined = re.sub(r"\[fill in:[^\]]*\]", lambda m: f'<mark class="rd-fill" title="Fill this in">{m.group(0)}</mark>',
                    "".join(out))
    return re.sub(r"\[(\d{1,3})\]", r'<a class="rd-cite" href="#src-\1" title="Show source \1">[\1]</a>', joined)


with draft_col:
    st.subheader("Draft", anchor=False)
    meta = [f"mode {draft.mode}", f"grounding {draft.grounding.supported}/{len(draft.grounding.sentences)} "
            "sentences supported" if draft.grounding.sentences else "no statement of guidance to check"]
    if draft.redactions:
        meta.append(f"{draft.redactions} personal detail(s) redacted before drafting")
    if "total" in draft.timings:
        meta.append(f"{draft.timings['total']:.1f}s")
    st.caption(" · ".join(meta))
    with st.container(border=True):
        st.html(f'<div class="rd-draft">{_highlight(draft.text, unsupported)}</div>')
    if unsupported:
        st.caption(f":orange[Highlighted]: {len(unsupported)} sentence(s) the cited passages do not support"
                   f"{draft.grounding.why_unsupported()}. Check or remove them before sending.")
    if draft.citations:
        cite_cols = st.columns(min(len(draft.citations), 4))
        for i, cit in enumerate(draft.citations):
            with cite_cols[i % len(cite_cols)].popover(f"[{cit.n}] {cit.title[:28]}", width="stretch"):
                where = ", ".join(x for x in (f"p. {cit.page}" if cit.page else "", cit.section or "") if x)
                st.markdown(f"**{cit.title}** · v{cit.version}" + (f" · {where}" if where else ""))
                passage = next((g.hit.text for g in result.guidance if g.number == cit.n), cit.quote)
                st.markdown(passage)

    sent = st.session_state.get(f"sent_{draft_id}")
    final = st.text_area("Reply to send (edit freely)", reply_text(draft.text), key=f"final_{draft_id}", height=260,
                         disabled=sent is not None)
    st.caption("Without the [n] markers: they point you to the sources above, the reader does not need them.")
    a, b, c = st.columns([1, 1, 1.3])
    if a.button("Regenerate", icon=":material/refresh:", key="regenerate", width="stretch"):
        ticket, options = st.session_state[INPUT_KEY]
        _run_draft(ticket, options)
    with b.popover("Copy", icon=":material/content_copy:", width="stretch"):
        st.caption("Use the copy icon of the box below.")
        st.code(final, language=None, wrap_lines=True)
    if sent is None:
        if c.button("Mark as sent", icon=":material/send:", type="primary", key="mark_sent", width="stretch"):
            with ui.service_errors():
                st.session_state[f"sent_{draft_id}"] = drafts.mark_sent(ws, user, draft_id, final)
                ui.flash("Marked as sent.")
                st.rerun()
    else:
        c.success(f"Sent · {sent.edit_distance} characters edited", icon=":material/done:")

    st.divider()
    fb_col, gap_col = st.columns(2)
    with fb_col:
        st.markdown("**Was this draft useful?**")
        rating = st.feedback("thumbs", key=f"rating_{draft_id}")
        reason = st.text_input("Reason (optional)", key=f"reason_{draft_id}",
                               placeholder="e.g. cited an outdated SOP")
        if st.button("Send feedback", key=f"send_feedback_{draft_id}", disabled=rating is None):
            with ui.service_errors():
                drafts.give_feedback(ws, user, draft_id, "up" if rating == 1 else "down", reason)
                ui.flash("Thanks for the feedback.")
                st.rerun()
    with gap_col:
        st.markdown("**Guidance missing or wrong?**")
        note = st.text_input("What was missing", key=f"gap_note_{draft_id}",
                             placeholder="e.g. no SOP covers refunds for gifted coins")
        if st.button("Report missing guidance", icon=":material/flag:", key=f"report_gap_{draft_id}"):
            with ui.service_errors():
                drafts.report_missing_guidance(ws, user, draft_id, note)
                ui.flash("Reported to the knowledge owners.")
                st.rerun()

    with st.expander("Propose as Q&A for the knowledge base", icon=":material/library_add:"):
        if sent is None:
            st.caption("Mark the reply as sent first: the proposal is made from the ticket and the reply you sent.")
        else:
            key = f"qa_suggestion_{draft_id}"
            if key not in st.session_state:
                with ui.service_errors():
                    st.session_state[key] = drafts.suggest_qa(ws, user, draft_id)
            question, answer, method = st.session_state.get(key, ("", "", "extracted"))
            st.caption("Summarised by the LLM." if method == "llm" else
                       "Extracted from the ticket and your reply; edit before proposing.")
            q = st.text_area("Question", question, key=f"qa_q_{draft_id}", height=80)
            ans = st.text_area("Answer", answer, key=f"qa_a_{draft_id}", height=140)
            if st.button("Send to knowledge owner", key=f"propose_{draft_id}", icon=":material/send:"):
                with ui.service_errors():
                    drafts.propose_qa(ws, user, draft_id, q, ans)
                    ui.flash("Proposed; a knowledge owner will review it.")
                    st.rerun()

# ---- guidance panel -----------------------------------------------------------------------
KIND_LABEL = {"cited": "Cited", "escalation": "Escalation procedure", "related": "Related", "internal": "Internal"}

with guide_col:
    st.subheader("Guidance", anchor=False)
    if not result.guidance:
        st.caption("No passages were found.")
    # A fixed-height, scrolling panel keeps the draft and its sources side by side.
    panel = st.container(height=860, border=False) if len(result.guidance) > 3 else st.container()
    for item in result.guidance:
        hit = item.hit
        badge = ('<span class="rd-badge rd-badge-internal">INTERNAL · do not quote</span>' if hit.is_internal
                 else '<span class="rd-badge rd-badge-external">external</span>')
        where = ", ".join(x for x in (f"p. {hit.page}" if hit.page else "", hit.section or "") if x)
        number = f"[{item.number}] " if item.number else ""
        anchor = f'<span id="src-{item.number}" class="rd-anchor"></span>' if item.number else ""
        with panel.container(border=True):
            st.html(f'{anchor}<div><b>{html.escape(number + hit.title)}</b>{badge}</div>'
                    f'<div class="rd-source-meta">{KIND_LABEL[item.kind]} · {html.escape(hit.doc_id)} · '
                    f'v{hit.version}{" · " + html.escape(where) if where else ""}</div>')
            text = hit.text if len(hit.text) <= 700 else hit.text[:700].rsplit(" ", 1)[0] + " …"
            # Passages are Markdown; headings inside a card would shout, so they become bold lines.
            st.markdown(re.sub(r"^#{1,6}\s*(.+)$", r"**\1**", text, flags=re.MULTILINE))
