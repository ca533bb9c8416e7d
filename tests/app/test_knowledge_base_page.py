"""The "Knowledge base" page (AppTest) and the knowledge services behind it."""

from __future__ import annotations

from datetime import date

import pytest
import streamlit as st

from kb.auth import PermissionDenied
from kb.services import knowledge
from tests.app.conftest import button, texts

PAGE = "pages/knowledge_base.py"


def test_document_list_search_and_stale_warning(demo_env):
    at = demo_env.app("kim").run()
    assert not at.exception
    table = at.dataframe[0].value
    catalog_docs = demo_env.ws.kb.catalog.list_documents()
    assert set(table["Document"]) == {d["doc_id"] for d in catalog_docs}
    overdue = [d["doc_id"] for d in catalog_docs
               if knowledge.review_status(d["review_by"], date.today()) == "overdue"]
    assert overdue, "the demo has documents past their review-by date"
    warning = next(w.value for w in at.warning if "past their review-by date" in w.value)
    assert all(doc_id in warning for doc_id in overdue)
    at.text_input(key="kb_query").input("payout").run()
    assert "sop-payout-holds" in set(at.dataframe[0].value["Document"])
    assert len(at.dataframe[0].value) < len(catalog_docs)
    at.selectbox(key="kb_review").select("overdue").run()
    assert any("No documents match" in i.value for i in at.info)  # no payout document is overdue
    at.text_input(key="kb_query").input("").run()
    assert set(at.dataframe[0].value["Document"]) == set(overdue)


def test_diff_between_versions(demo_env):
    at = demo_env.app("kim").run()
    at.selectbox(key="kb_doc").select("sop-payout-holds").run()
    history = at.dataframe[1].value
    assert list(history["Version"]) == [1, 2]
    assert list(history["Status"]) == ["superseded", "active"]
    diff = next(c.value for c in at.code if c.value.startswith("---"))
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("30 days" in line for line in removed)
    assert any("14 days" in line for line in added)


def test_retire_and_restore_are_audited(demo_env):
    at = demo_env.app("kim").run()
    at.selectbox(key="kb_doc").select("sop-press-enquiries").run()
    at = button(at, "Retire document").click().run()
    assert not at.exception
    states = demo_env.ws.kb.catalog.document_states()
    assert states["sop-press-enquiries"][0] is None
    entry = demo_env.store.list_audit(action="doc_retire")[0]
    assert (entry.username, entry.target) == ("kim", "sop-press-enquiries")
    at.selectbox(key="kb_doc").select("sop-press-enquiries").run()
    at = button(at, "Restore document").click().run()
    assert demo_env.ws.kb.catalog.document_states()["sop-press-enquiries"][0] is not None
    assert demo_env.store.list_audit(action="doc_restore")[0].username == "kim"


def test_upload_reports_each_file(env):
    at = env.app("kim").run()
    good = b"---\ntitle: Gift card refunds\nreview_by: 2030-01-01\n---\n# Gift card refunds\n\n" + \
        b"Unused gift cards are refunded within 30 days of purchase. " * 20
    at.file_uploader(key="kb_files").set_value([("gift-cards.md", good, "text/markdown"),
                                                 ("broken.csv", b"a,b\n1,2\n", "text/csv")])
    at.text_input(key="up_owner").input("payments")
    at.text_input(key="up_tags").input("refunds, gifts")
    at = button(at, "Upload and ingest").click().run()
    assert not at.exception
    results = at.dataframe[-1].value
    rows = {r["File"]: r for _, r in results.iterrows()}
    assert rows["gift-cards.md"]["Result"] == "ingested" and rows["gift-cards.md"]["Document"] == "gift-cards"
    assert rows["broken.csv"]["Result"] == "failed" and "question" in rows["broken.csv"]["Error"]
    (doc,) = [d for d in env.ws.kb.catalog.list_documents() if d["doc_id"] == "gift-cards"]
    assert doc["owner"] == "payments" and doc["tags"] == ["refunds", "gifts"] and doc["review_by"] == "2030-01-01"
    uploads = [(e.target, e.details["status"]) for e in env.store.list_audit(action="doc_upload")]
    assert sorted(uploads) == [("broken.csv", "failed"), ("gift-cards", "ingested")]
    # The same file again is unchanged; an edited one becomes version 2.
    version2 = good.replace(b"30 days", b"45 days")
    results = knowledge.upload_documents(env.ws, env.users["kim"], [("gift-cards.md", good)], {})
    assert results[0].status == "unchanged"
    results = knowledge.upload_documents(env.ws, env.users["kim"], [("gift-cards.md", version2)], {})
    assert (results[0].status, results[0].version, results[0].superseded) == ("ingested", 2, True)


def test_uploading_the_same_file_after_new_chunk_sizes_cuts_it_again(env, monkeypatch):
    text = b"# Gift card refunds\n\n" + b"Unused gift cards are refunded within 30 days of purchase. " * 20
    assert knowledge.upload_documents(env.ws, env.users["kim"], [("gift-cards.md", text)], {})[0].status == "ingested"
    monkeypatch.setenv("REPLYDESK_CHUNK_TOKENS", "64")  # the app restarted with smaller chunks
    st.cache_resource.clear()
    at = env.app("kim").run()
    at.file_uploader(key="kb_files").set_value([("gift-cards.md", text, "text/markdown")])
    at = button(at, "Upload and ingest").click().run()
    assert not at.exception
    (row,) = [r for _, r in at.dataframe[-1].value.iterrows()]
    assert (row["Result"], row["Version"], row["New version of existing"]) == ("re-chunked", 1, "")
    assert [s.value for s in at.success] == ["0 ingested, 0 unchanged, 1 re-chunked, 0 failed."]
    assert [h["version"] for h in env.ws.kb.catalog.history("gift-cards")] == [1]


def test_approve_and_reject_proposed_qa(demo_env):
    store = demo_env.store
    first = store.propose_qa("How long is a payout hold after account recovery?",
                             "Payouts stay on a security hold for 7 days after recovery.", proposed_by=None)
    second = store.propose_qa("Can I pay for promotion with gift coins?", "No.", proposed_by=None)
    at = demo_env.app("kim").run()
    at.text_area(key=f"pq_a_{first}").input("Payouts stay on a security hold for 7 days after an account "
                                             "is recovered.")
    at = button(at, "Approve").click().run()
    assert not at.exception
    done = store.get_proposal(first)
    assert done.status == "approved" and done.reviewer == "kim" and done.doc_id == f"qa-approved-{first}"
    assert done.answer.endswith("after an account is recovered.")
    doc = next(d for d in demo_env.ws.kb.catalog.list_documents() if d["doc_id"] == done.doc_id)
    assert doc["doc_type"] == "qa" and doc["status"] == "active"
    hits = demo_env.ws.retriever.search("security hold after account recovery payout", k=10)
    assert done.doc_id in {h.doc_id for h in hits}
    at.text_input(key=f"pq_note_{second}").input("too vague")
    at = button(at, "Reject").click().run()
    assert store.get_proposal(second).status == "rejected"
    assert [e.action for e in store.list_audit() if e.action.startswith("qa_")] == ["qa_reject", "qa_approve"]
    assert any("No proposed Q&A waiting" in i.value for i in at.info)


def test_knowledge_gaps_are_grouped_and_resolved(demo_env):
    store = demo_env.store
    for text in ("How do I export all my videos as a zip archive?",
                 "How do I export all my videos as a zip file?",
                 "Can I change the currency of my creator payouts to bitcoin?"):
        store.log_knowledge_gap(text, [{"title": "Creator Marketplace payments and payout holds"}], 0.2)
    at = demo_env.app("kim").run()
    groups = knowledge.knowledge_gap_groups(demo_env.ws, demo_env.users["kim"])
    assert sorted(g.size for g in groups) == [1, 2]
    assert "export all my videos" in groups[0].representative.ticket_text
    assert "2 ticket(s)" in texts(at)
    at = button(at, "Mark resolved").click().run()
    assert len(store.list_knowledge_gaps()) == 1
    assert store.list_audit(action="gap_resolve")[0].username == "kim"


def test_knowledge_services_refuse_specialists_and_reviewers(demo_env):
    ws = demo_env.ws
    pid = demo_env.store.propose_qa("q?", "a.", proposed_by=None)
    for name in ("sam", "quinn"):
        user = demo_env.users[name]
        with pytest.raises(PermissionDenied):
            knowledge.upload_documents(ws, user, [("x.md", b"# X\n\nsome text here")], {})
        with pytest.raises(PermissionDenied):
            knowledge.set_retired(ws, user, "sop-payout-holds", True)
        with pytest.raises(PermissionDenied):
            knowledge.approve_proposal(ws, user, pid)
        with pytest.raises(PermissionDenied):
            knowledge.reject_proposal(ws, user, pid)
        with pytest.raises(PermissionDenied):
            knowledge.list_documents(ws, user)
    assert ws.kb.catalog.document_states()["sop-payout-holds"][0] is not None
    assert demo_env.store.get_proposal(pid).status == "pending"
    assert not (demo_env.home / "uploads").exists()
