"""Knowledge base page (knowledge owners): documents, versions and diffs, uploads, the
proposed-Q&A queue and knowledge gaps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import ui
from kb.services import knowledge
from kb.types import DOC_TYPES

user = ui.require_user("kb.view")
ws = ui.workspace()
ui.header("Knowledge base", "Documents, versions, uploads, proposed Q&A and knowledge gaps.")

docs_tab, upload_tab, qa_tab, gaps_tab = st.tabs(["Documents", "Upload", "Proposed Q&A", "Knowledge gaps"])

REVIEW_LABELS = {"overdue": "Overdue", "due soon": "Due soon", "ok": "OK", "none": "—"}

# ---- documents --------------------------------------------------------------------------
with docs_tab:
    c1, c2, c3, c4 = st.columns([2.2, 1.2, 1, 1])
    query = c1.text_input("Search", placeholder="doc id, title, owner or tag", key="kb_query")
    types = c2.multiselect("Type", DOC_TYPES, key="kb_types")
    status = c3.selectbox("Status", ["all", "active", "retired"], key="kb_status")
    review = c4.selectbox("Review", ["all", "stale", "overdue"], key="kb_review",
                          format_func=lambda v: {"all": "all", "stale": "overdue or due soon",
                                                 "overdue": "overdue"}[v])
    docs = knowledge.list_documents(ws, user, query=query, doc_types=types, status=status, review=review)
    all_docs = knowledge.list_documents(ws, user)
    overdue = [d for d in all_docs if d["review_status"] == "overdue"]
    if overdue:
        st.warning(f"{len(overdue)} document(s) are past their review-by date: "
                   + ", ".join(d["doc_id"] for d in overdue), icon=":material/history:")
    if not docs:
        st.info("No documents match." if all_docs else
                "The knowledge base is empty. Upload documents in the **Upload** tab.")
    else:
        table = pd.DataFrame([{
            "Document": d["doc_id"], "Title": d["title"], "Type": d["doc_type"],
            "Version": d["active_version"] or d["latest_version"], "Status": d["status"],
            "Audience": d["audience"], "Owner": d.get("owner") or "", "Region": d.get("region") or "",
            "Review by": d.get("review_by") or "", "Review": REVIEW_LABELS[d["review_status"]],
            "Chunks": d["chunks"]} for d in docs])
        st.dataframe(table, hide_index=True, width="stretch", height=min(420, 38 + 35 * len(table)))
        st.caption(f"{len(docs)} of {len(all_docs)} document(s)")

        st.subheader("Document details", anchor=False)
        ids = [d["doc_id"] for d in docs]
        doc_id = st.selectbox("Document", ids, key="kb_doc",
                              format_func=lambda i: next(f"{d['title']}  ({i})" for d in docs if d["doc_id"] == i))
        doc = next(d for d in docs if d["doc_id"] == doc_id)
        history = knowledge.document_history(ws, user, doc_id)
        left, right = st.columns([3, 1])
        with left:
            st.dataframe(pd.DataFrame([{
                "Version": v["version"], "Status": v["status"], "Ingested": v["ingested_at"][:16].replace("T", " "),
                "Effective": v.get("effective_date") or "", "Review by": v.get("review_by") or "",
                "Chunks": v["chunks"], "Source file": v.get("source_file") or ""} for v in history]),
                hide_index=True, width="stretch")
        with right:
            if doc["review_status"] in ("overdue", "due soon"):
                st.warning(f"Review {REVIEW_LABELS[doc['review_status']].lower()}: {doc['review_by']}",
                           icon=":material/history:")
            retire = doc["status"] == "active"
            label, icon, done = (("Retire document", ":material/archive:", "Retired") if retire
                                 else ("Restore document", ":material/unarchive:", "Restored"))
            if st.button(label, icon=icon, key=f"{'retire' if retire else 'restore'}_{doc_id}",
                         type="secondary" if retire else "primary",
                         help="Removes it from search; its history is kept and it can be restored." if retire else None):
                with ui.service_errors():
                    version = knowledge.set_retired(ws, user, doc_id, retire)
                    ui.flash(f"{done} {doc_id} v{version}.")
                    st.rerun()
        versions = [v["version"] for v in history]
        if len(versions) >= 2:
            d1, d2, _ = st.columns([1, 1, 2])
            old = d1.selectbox("Compare version", versions, index=len(versions) - 2, key=f"diff_old_{doc_id}")
            new = d2.selectbox("with version", versions, index=len(versions) - 1, key=f"diff_new_{doc_id}")
            if old == new:
                st.caption("Pick two different versions to see what changed.")
            else:
                diff = knowledge.diff_versions(ws, user, doc_id, old, new)
                st.caption(f"v{old} → v{new}: {diff.added} line(s) added, {diff.removed} removed")
                st.code(diff.diff or "(no text differences)", language="diff", wrap_lines=True, height=360)
        version = st.selectbox("Show text of version", versions, index=len(versions) - 1, key=f"text_{doc_id}")
        with st.expander(f"Text of v{version}"):
            st.text(knowledge.version_text(ws, user, doc_id, version))

# ---- upload -----------------------------------------------------------------------------
with upload_tab:
    st.caption("Markdown, text, PDF, HTML, DOCX, or Q&A as CSV/JSONL. Metadata in a file's front-matter "
               "wins over the fields below. Uploading a file with the same name again creates a new version.")
    with st.form("upload", clear_on_submit=False, border=True):
        files = st.file_uploader("Files", accept_multiple_files=True, key="kb_files",
                                 type=["md", "markdown", "txt", "pdf", "html", "htm", "docx", "csv", "jsonl"])
        a, b, c = st.columns(3)
        doc_type = a.selectbox("Document type", ["(from file)", *DOC_TYPES], key="up_type")
        audience = b.selectbox("Audience", ["external", "internal"], key="up_audience",
                               help="Internal documents are shown to specialists but never quoted in replies.")
        owner = c.text_input("Owner", key="up_owner", placeholder="e.g. creator-payments")
        a, b, c = st.columns(3)
        region = a.text_input("Region", key="up_region", placeholder="global, EU, …")
        language = b.text_input("Language", key="up_language", placeholder="detected if empty")
        tags = c.text_input("Tags", key="up_tags", placeholder="comma-separated")
        a, b, c = st.columns(3)
        title = a.text_input("Title (single file)", key="up_title")
        effective = b.date_input("Effective date", value=None, key="up_effective")
        review_by = c.date_input("Review by", value=None, key="up_review")
        submitted = st.form_submit_button("Upload and ingest", type="primary", icon=":material/upload:")
    if submitted:
        if not files:
            st.warning("Choose at least one file.")
        else:
            metadata = {"doc_type": None if doc_type == "(from file)" else doc_type, "audience": audience,
                        "owner": owner, "region": region, "language": language, "tags": tags, "title": title,
                        "effective_date": effective, "review_by": review_by}
            with ui.service_errors(), st.spinner("Ingesting…"):
                st.session_state["kb_upload_results"] = knowledge.upload_documents(
                    ws, user, [(f.name, f.getvalue()) for f in files], metadata)
    results = st.session_state.get("kb_upload_results")
    if results:
        ok = sum(r.status == "ingested" for r in results)
        failed = [r for r in results if r.status == "failed"]
        rechunked = sum(r.status == "re-chunked" for r in results)
        (st.error if failed else st.success)(
            f"{ok} ingested, {sum(r.status == 'unchanged' for r in results)} unchanged, "
            f"{f'{rechunked} re-chunked, ' if rechunked else ''}{len(failed)} failed.")
        st.dataframe(pd.DataFrame([{
            "File": r.name, "Result": r.status, "Document": r.doc_id or "", "Version": r.version,
            "Chunks": r.chunks, "New version of existing": "yes" if r.superseded else "",
            "Error": r.error or ""} for r in results]), hide_index=True, width="stretch")

# ---- proposed Q&A ---------------------------------------------------------------------
with qa_tab:
    proposals = knowledge.list_proposals(ws, user)
    if not proposals:
        st.info("No proposed Q&A waiting. Specialists propose pairs from sent replies.")
    for p in proposals:
        with st.container(border=True):
            st.caption(f"Proposal #{p.id} · by {p.proposed_by or 'unknown'} · {ui.fmt_time(p.created_at)}"
                       + (f" · from draft #{p.draft_id}" if p.draft_id else ""))
            question = st.text_area("Question", p.question, key=f"pq_q_{p.id}", height=80)
            answer = st.text_area("Answer", p.answer, key=f"pq_a_{p.id}", height=140)
            note = st.text_input("Note (optional)", key=f"pq_note_{p.id}")
            a, b, _ = st.columns([1, 1, 4])
            if a.button("Approve", key=f"pq_ok_{p.id}", type="primary", icon=":material/check:"):
                with ui.service_errors(), st.spinner("Adding to the knowledge base…"):
                    done = knowledge.approve_proposal(ws, user, p.id, question=question, answer=answer, note=note)
                    ui.flash(f"Approved: searchable as {done.doc_id}.")
                    st.rerun()
            if b.button("Reject", key=f"pq_no_{p.id}", icon=":material/close:"):
                with ui.service_errors():
                    knowledge.reject_proposal(ws, user, p.id, note)
                    ui.flash(f"Rejected proposal #{p.id}.")
                    st.rerun()
    decided = [p for p in knowledge.list_proposals(ws, user, status=None) if p.status != "pending"]
    if decided:
        with st.expander(f"Decided proposals ({len(decided)})"):
            st.dataframe(pd.DataFrame([{
                "#": p.id, "Status": p.status, "Question": p.question, "Reviewer": p.reviewer or "",
                "Reviewed": ui.fmt_time(p.reviewed_at), "Document": p.doc_id or "", "Note": p.review_note}
                for p in decided]), hide_index=True, width="stretch")

# ---- knowledge gaps ---------------------------------------------------------------------
with gaps_tab:
    st.caption("Tickets for which the knowledge base had no confident guidance, or that specialists reported, "
               "grouped by similar tickets.")
    with st.spinner("Grouping similar tickets…"):
        groups = knowledge.knowledge_gap_groups(ws, user)
    if not groups:
        st.info("No open knowledge gaps.")
    for n, group in enumerate(groups):
        rep = group.representative
        label = f"{group.size} ticket(s) · last {ui.fmt_time(group.last_seen)}"
        if group.reported:
            label += f" · {group.reported} reported by specialists"
        with st.container(border=True):
            st.markdown(f"**{rep.ticket_text[:220]}{'…' if len(rep.ticket_text) > 220 else ''}**")
            st.caption(label + (f" · closest documents: {', '.join(group.best_titles)}" if group.best_titles else
                                " · no document came close"))
            with st.expander("Tickets in this group"):
                for gap in group.gaps:
                    score = f"top score {gap.top_score:.2f}" if gap.top_score is not None else "reported"
                    st.markdown(f"- {gap.ticket_text}  \n  <span class='rd-source-meta'>{score}"
                                f"{' · note: ' + gap.note if gap.note else ''}</span>", unsafe_allow_html=True)
            if st.button("Mark resolved", key=f"gap_resolve_{rep.id}", icon=":material/done_all:"):
                with ui.service_errors():
                    changed = knowledge.resolve_gaps(ws, user, [g.id for g in group.gaps])
                    ui.flash(f"Resolved {changed} gap(s).")
                    st.rerun()
