"""Records store on real SQLite: migrations, drafts, feedback, QA scores, gaps, proposals, audit."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import IntegrityError

from kb.db import Base, get_engine
from kb.records import RUBRIC, RecordsStore, alembic_config, migrate, utcnow


def _url(tmp_path, name="records.db") -> str:
    return f"sqlite:///{tmp_path / name}"


@pytest.fixture
def store(tmp_path) -> RecordsStore:
    return RecordsStore(_url(tmp_path))


def _scores(value: int = 4) -> dict[str, int]:
    return {name: value for name in RUBRIC}


# ---- migrations -----------------------------------------------------------------------
def test_fresh_database_is_migrated_to_head_and_matches_the_models(tmp_path):
    url = _url(tmp_path, "fresh.db")
    assert migrate(url) == "upgraded"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == head
            tables = set(inspect(conn).get_table_names())
            # The initial revision creates the catalog tables too, not only the records tables.
            assert {"kb_documents", "kb_versions", "kb_chunks", "kb_state", "users", "drafts", "feedback",
                    "qa_scores", "knowledge_gaps", "proposed_qa", "audit_log", "app_state"} <= tables
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diffs == []
    finally:
        engine.dispose()


def test_database_built_by_create_all_is_stamped_then_upgrades_cleanly(tmp_path):
    url = _url(tmp_path, "created.db")
    get_engine(url)  # what `replydesk ingest` does first: create_all without Alembic
    assert migrate(url) == "stamped"
    assert migrate(url) == "upgraded"  # now versioned: later runs go through Alembic
    with sqlite3.connect(tmp_path / "created.db") as conn:
        (revision,) = conn.execute("select version_num from alembic_version").fetchone()
    assert revision == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_a_database_at_0001_opened_by_this_release_first_still_upgrades(tmp_path):
    from alembic import command

    url = _url(tmp_path, "old.db")
    command.upgrade(alembic_config(url), "0001")
    get_engine(url)  # `replydesk ingest` of this release: create_all adds kb_index_info before Alembic runs
    assert migrate(url) == "upgraded"
    with sqlite3.connect(tmp_path / "old.db") as conn:
        (revision,) = conn.execute("select version_num from alembic_version").fetchone()
        assert conn.execute("select count(*) from kb_index_info").fetchone() == (0,)
    assert revision == ScriptDirectory.from_config(alembic_config(url)).get_current_head() == "0002"


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    from alembic import command

    url = _url(tmp_path, "roundtrip.db")
    migrate(url)
    config = alembic_config(url)
    command.downgrade(config, "base")
    with sqlite3.connect(tmp_path / "roundtrip.db") as conn:
        names = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert names <= {"alembic_version"}
    command.upgrade(config, "head")
    with sqlite3.connect(tmp_path / "roundtrip.db") as conn:
        names = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"users", "drafts", "kb_documents"} <= names


def test_store_uses_wal_journal(store, tmp_path):
    store.create_user("a", "hash", "admin")
    with sqlite3.connect(tmp_path / "records.db") as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"


# ---- users --------------------------------------------------------------------------
def test_usernames_are_unique_case_insensitively(store):
    store.create_user("Alice", "h1", "specialist")
    with pytest.raises(ValueError, match="already exists"):
        store.create_user("alice", "h2", "admin")
    assert store.find_user("ALICE").username == "Alice"


def test_new_password_clears_demo_flag(store):
    user = store.create_user("demo", "h", "specialist", is_demo=True)
    assert store.get_user(user.id).is_demo
    store.update_user(user.id, role="qa_reviewer")
    assert store.get_user(user.id).is_demo  # other changes keep it
    store.update_user(user.id, password_hash="h2")
    assert not store.get_user(user.id).is_demo


# ---- drafts ---------------------------------------------------------------------------
def test_draft_ticket_is_redacted_before_storage(store, tmp_path):
    user = store.create_user("s", "h", "specialist")
    draft_id = store.add_draft(user_id=user.id, ticket_text="Email me at jane.doe@example.com or +44 7911 123456",
                               context_text="My card 4111 1111 1111 1111 was charged", draft_text="Hi",
                               mode="offline", hits=[{"doc_id": "d", "text": "x" * 5000}])
    draft = store.get_draft(draft_id)
    assert "jane.doe@example.com" not in draft.ticket_text and "<EMAIL_1>" in draft.ticket_text
    assert "4111" not in draft.context_text
    assert len(draft.hits[0]["text"]) < 2000  # passages are trimmed
    raw = (tmp_path / "records.db").read_bytes() + (tmp_path / "records.db-wal").read_bytes()
    assert b"jane.doe@example.com" not in raw


def test_mark_sent_stores_final_text_and_levenshtein_distance(store):
    draft_id = store.add_draft(user_id=None, ticket_text="t", draft_text="kitten", mode="offline",
                               timings={"total_ms": 12.5})
    sent = store.mark_sent(draft_id, "sitting")
    assert sent.status == "sent" and sent.final_text == "sitting"
    assert sent.edit_distance == 3
    assert sent.edit_ratio == pytest.approx(3 / 7)
    assert sent.total_ms == 12.5 and sent.sent_at is not None
    unchanged = store.add_draft(user_id=None, ticket_text="t", draft_text="same", mode="offline")
    assert store.mark_sent(unchanged, "same").edit_distance == 0
    # Citation markers are for the specialist: sending the reply without them is no edit.
    cited = store.add_draft(user_id=None, ticket_text="t", draft_text="Holds last 14 days [1][2].\n\nBye",
                            mode="offline")
    assert store.mark_sent(cited, "Holds last 14 days.\n\nBye").edit_distance == 0
    with pytest.raises(KeyError) as missing:
        store.mark_sent(999, "x")
    # Shown as is by the app's error banner and the CLI.
    assert str(missing.value) == "unknown draft 999"


def test_list_drafts_filters_by_status_and_time(store):
    old = store.add_draft(user_id=None, ticket_text="a", draft_text="a", mode="offline",
                          created_at=utcnow() - timedelta(days=40))
    new = store.add_draft(user_id=None, ticket_text="b", draft_text="b", mode="llm")
    store.mark_sent(new, "b!")
    assert [d.id for d in store.list_drafts()] == [new, old]
    assert [d.id for d in store.list_drafts(status="sent")] == [new]
    assert [d.id for d in store.list_drafts(since=utcnow() - timedelta(days=30))] == [new]


# ---- feedback and QA scores -------------------------------------------------------------
def test_feedback_validates_rating(store):
    draft_id = store.add_draft(user_id=None, ticket_text="t", draft_text="d", mode="offline")
    store.add_feedback(draft_id, None, "down", "  cites the wrong SOP ")
    assert [(f.rating, f.reason) for f in store.list_feedback(draft_id)] == [("down", "cites the wrong SOP")]
    with pytest.raises(ValueError):
        store.add_feedback(draft_id, None, "meh")
    with pytest.raises(KeyError):
        store.add_feedback(12345, None, "up")


def test_qa_scores_validate_and_replace(store):
    reviewer = store.create_user("r", "h", "qa_reviewer")
    draft_id = store.add_draft(user_id=None, ticket_text="t", draft_text="d", mode="offline")
    with pytest.raises(ValueError):
        store.add_qa_score(draft_id, reviewer.id, {**_scores(), "tone": 6})
    with pytest.raises(ValueError):
        store.add_qa_score(draft_id, reviewer.id, {"accuracy": 3})
    store.add_qa_score(draft_id, reviewer.id, _scores(2), "first")
    store.add_qa_score(draft_id, reviewer.id, _scores(5), "second")
    scores = store.list_qa_scores(draft_id)
    assert len(scores) == 1 and scores[0].comment == "second" and scores[0].mean == 5.0
    assert store.scored_draft_ids() == {draft_id}


def test_database_rejects_out_of_range_scores_even_past_the_store(store):
    from kb.records import QAScoreRow

    reviewer = store.create_user("r", "h", "qa_reviewer")
    draft_id = store.add_draft(user_id=None, ticket_text="t", draft_text="d", mode="offline")
    with store.session() as session:
        session.add(QAScoreRow(draft_id=draft_id, reviewer_id=reviewer.id, comment="", **_scores(9)))
        with pytest.raises(IntegrityError):
            session.commit()


# ---- knowledge gaps -------------------------------------------------------------------
def test_log_knowledge_gap_matches_the_drafting_protocol(store):
    from kb.drafting.models import KnowledgeGapLog

    assert isinstance(store, KnowledgeGapLog)
    store.log_knowledge_gap("How do I export my data to bob@example.org?", [{"doc_id": "x", "title": "X"}], 0.12)
    (gap,) = store.list_knowledge_gaps()
    assert gap.source == "auto" and gap.top_score == pytest.approx(0.12)
    assert "bob@example.org" not in gap.ticket_text and gap.hits[0]["title"] == "X"
    assert store.set_gap_status([gap.id], "resolved") == 1
    assert store.list_knowledge_gaps() == []
    assert len(store.list_knowledge_gaps(status=None)) == 1


# ---- proposals and audit ----------------------------------------------------------------
def test_proposal_review_happens_once(store):
    owner = store.create_user("o", "h", "knowledge_owner")
    pid = store.propose_qa("Q?", "A.", proposed_by=None)
    assert [p.id for p in store.list_proposals()] == [pid]
    done = store.review_proposal(pid, status="approved", reviewer_id=owner.id, doc_id="qa-approved-1")
    assert done.status == "approved" and done.reviewer == "o" and done.doc_id == "qa-approved-1"
    with pytest.raises(ValueError, match="already approved"):
        store.review_proposal(pid, status="rejected", reviewer_id=owner.id)
    with pytest.raises(ValueError):
        store.review_proposal(pid, status="maybe", reviewer_id=owner.id)
    assert store.list_proposals() == []


def test_audit_never_stores_password_fields(store):
    store.audit("user_create", username="admin", target="bob", details={"role": "admin", "password": "s3cret!!",
                                                                        "new_password": "x"})
    (entry,) = store.list_audit()
    assert entry.details == {"role": "admin"}
    assert store.list_audit(action="nope") == []


def test_counts_and_app_state(store):
    store.add_draft(user_id=None, ticket_text="t", draft_text="d", mode="offline")
    store.propose_qa("q", "a", proposed_by=None)
    counts = store.counts()
    assert counts["drafts"] == 1 and counts["drafts_sent"] == 0 and counts["proposals_pending"] == 1
    assert store.get_state("demo_loaded") is None
    store.set_state("demo_loaded", "1")
    store.set_state("demo_loaded", "1")
    assert store.get_state("demo_loaded") == "1"
