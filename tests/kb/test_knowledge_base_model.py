"""The knowledge base knows which embedding model made its vectors, and re-embeds on request.

Real Chroma and SQLite in temp homes; the keyword embedder stands in for "the model" where
only identity matters (two keyword embedders of other dimensions are two models).
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from ingest.pipeline import ingest_records
from kb.fingerprint import EmbeddingFingerprint, EmbeddingMismatchError, min_row_cosine
from kb.knowledge_base import KnowledgeBase
from kb.retrieval import Retriever
from kb.types import SetupError, Ticket
from tests.conftest import KeywordEmbedder, WideKeywordEmbedder

RECORDS = [
    ("sop-refunds", "Refunds", "Refunds for undelivered orders are issued within five business days."),
    ("sop-lockout", "Account lockout", "An account locks after five failed sign-in attempts; unlock it by email."),
    ("sop-payouts", "Creator payouts", "Payouts are held for thirty days while the risk team reviews the account."),
]


class ShuffledKeywordEmbedder(KeywordEmbedder):
    """Another model of the same dimension (keywords land on other axes)."""

    def encode(self, texts):
        return super().encode(texts)[:, ::-1].copy()


class FailingEmbedder(WideKeywordEmbedder):
    """Stops after ``ok_calls`` encodes, as a killed or crashed job would."""

    def __init__(self, ok_calls: int) -> None:
        super().__init__()
        self.ok_calls = ok_calls

    def encode(self, texts):
        if self.ok_calls == 0:
            raise RuntimeError("encoder crashed")
        self.ok_calls -= 1
        return super().encode(texts)


def _top_doc(kb: KnowledgeBase, query: str) -> str:
    return Retriever(kb).search(Ticket(text=query), k=1)[0].doc_id


def _state(kb: KnowledgeBase) -> tuple:
    return kb.catalog.counts(), kb.catalog.active_versions(), [kb.catalog.history(d) for d, *_ in RECORDS]


def test_first_write_records_the_model_and_the_same_model_opens_it(settings, keyword_embedder):
    kb = KnowledgeBase(settings, embedder=keyword_embedder)
    assert kb.recorded_fingerprint() is None
    ingest_records(kb, RECORDS)
    recorded = kb.recorded_fingerprint()
    assert recorded is not None and recorded.model == "KeywordEmbedder" and recorded.dimension == 256

    reopened = KnowledgeBase(settings, embedder=KeywordEmbedder())
    assert _top_doc(reopened, "failed sign-in attempts locked") == "sop-lockout"


@pytest.mark.parametrize("other", [WideKeywordEmbedder, ShuffledKeywordEmbedder], ids=["dimension", "same-dimension"])
def test_another_model_is_refused_with_the_way_out_and_nothing_changes(settings, keyword_embedder, other):
    ingest_records(KnowledgeBase(settings, embedder=keyword_embedder), RECORDS)
    kb = KnowledgeBase(settings, embedder=other())
    before = _state(kb)
    with pytest.raises(EmbeddingMismatchError) as caught:
        Retriever(kb).search(Ticket(text="refund"), k=3)
    message = str(caught.value)
    assert str(settings.home) in message and "'KeywordEmbedder' (256 dimensions)" in message
    assert f"'{other.__name__}' ({other.dimension} dimensions)" in message
    assert "replydesk reindex" in message and "REPLYDESK_EMBEDDING_MODEL" in message
    assert isinstance(caught.value, SetupError)
    # Ingest is refused as well, as a whole and before anything is written.
    with pytest.raises(EmbeddingMismatchError):
        ingest_records(kb, [("sop-new", "New", "A new procedure for chargebacks.")])
    assert _state(kb) == before and kb.vectors.count() == 3


def test_reindex_re_embeds_everything_and_keeps_documents_and_history(settings, keyword_embedder):
    old = KnowledgeBase(settings, embedder=keyword_embedder)
    ingest_records(old, RECORDS)
    ingest_records(old, [("sop-refunds", "Refunds", "Refunds for undelivered orders are issued within ten days.")])
    assert _top_doc(old, "refund undelivered") == "sop-refunds"
    before = _state(old)

    kb = KnowledgeBase(settings, embedder=WideKeywordEmbedder())
    seen = []
    report = kb.reindex(progress=lambda done, total: seen.append((done, total)))
    assert (report.chunks, report.model, report.dimension, report.previous_model) == (
        3, "WideKeywordEmbedder", 512, "KeywordEmbedder")
    assert seen[-1] == (3, 3)
    assert _state(kb) == before  # documents, versions, superseded history untouched
    assert kb.vectors.count() == 3
    matrix, present = kb.vectors.unit_vectors([c.chunk_id for c in kb.catalog.active_chunks()])
    assert present.all() and matrix.shape[1] == 512
    assert _top_doc(kb, "payouts held risk review") == "sop-payouts"
    assert _top_doc(kb, "refund undelivered") == "sop-refunds"
    assert "ten days" in Retriever(kb).search(Ticket(text="refund undelivered"), k=1)[0].text

    # The process still configured with the old model notices at its next search.
    with pytest.raises(EmbeddingMismatchError, match="'WideKeywordEmbedder' \\(512 dimensions\\)"):
        Retriever(old).search(Ticket(text="refund"), k=1)
    # And new documents land in the new index.
    ingest_records(kb, [("sop-chargebacks", "Chargebacks", "Chargebacks are answered by the payments team.")])
    assert _top_doc(kb, "chargebacks payments team") == "sop-chargebacks"


def test_an_interrupted_reindex_changes_nothing_and_can_be_run_again(settings, keyword_embedder, monkeypatch):
    import kb.knowledge_base as knowledge_base

    monkeypatch.setattr(knowledge_base, "_REINDEX_STEP", 1)
    ingest_records(KnowledgeBase(settings, embedder=keyword_embedder), RECORDS)
    crashing = KnowledgeBase(settings, embedder=FailingEmbedder(ok_calls=2))
    with pytest.raises(RuntimeError, match="encoder crashed"):
        crashing.reindex()
    # The old model still searches the old vectors: nothing was swapped.
    same = KnowledgeBase(settings, embedder=KeywordEmbedder())
    assert _top_doc(same, "failed sign-in attempts locked") == "sop-lockout"
    assert same.recorded_fingerprint().dimension == 256

    again = KnowledgeBase(settings, embedder=WideKeywordEmbedder())
    assert again.reindex().chunks == 3
    assert again.vectors.count() == 3 and _top_doc(again, "failed sign-in attempts locked") == "sop-lockout"


def test_documents_ingested_while_a_reindex_runs_are_embedded_too(settings, keyword_embedder, monkeypatch):
    import kb.knowledge_base as knowledge_base

    monkeypatch.setattr(knowledge_base, "_REINDEX_STEP", 1)
    ingest_records(KnowledgeBase(settings, embedder=keyword_embedder), RECORDS)
    other_process = KnowledgeBase(settings, embedder=KeywordEmbedder())
    calls = []

    def ingest_meanwhile(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) == 1:  # still the old model's index: the write is allowed
            ingest_records(other_process, [("sop-chargebacks", "Chargebacks", "Chargebacks go to the payments team.")])
            ingest_records(other_process, [("sop-refunds", "Refunds", "Refunds now take ten days.")])

    kb = KnowledgeBase(settings, embedder=WideKeywordEmbedder())
    assert kb.reindex(progress=ingest_meanwhile).chunks == 4
    assert calls[-1] == (4, 4)
    active = {c.chunk_id for c in kb.catalog.active_chunks()}
    matrix, present = kb.vectors.unit_vectors(sorted(active))
    assert present.all() and matrix.shape[1] == 512 and kb.vectors.count() == 4
    assert _top_doc(kb, "chargebacks payments team") == "sop-chargebacks"
    assert "ten days" in Retriever(kb).search(Ticket(text="refunds"), k=1)[0].text


def test_a_knowledge_base_from_before_fingerprints_is_checked_by_its_stored_vectors(settings, keyword_embedder):
    ingest_records(KnowledgeBase(settings, embedder=keyword_embedder), RECORDS)
    kb = KnowledgeBase(settings, embedder=keyword_embedder)
    with kb.catalog.session() as session, session.begin():
        session.execute(text("DELETE FROM kb_index_info"))
    assert kb.recorded_fingerprint() is None

    with pytest.raises(EmbeddingMismatchError, match="embedded with a different model \\(256 dimensions\\)"):
        KnowledgeBase(settings, embedder=ShuffledKeywordEmbedder()).embedder
    assert kb.recorded_fingerprint() is None

    assert _top_doc(KnowledgeBase(settings, embedder=KeywordEmbedder()), "payouts held") == "sop-payouts"
    assert kb.recorded_fingerprint().model == "KeywordEmbedder"  # recorded once it matched


def test_fingerprints_compare_by_vectors_not_by_name(keyword_embedder):
    a = EmbeddingFingerprint.of(keyword_embedder)
    renamed = EmbeddingFingerprint(model="/models/keywords", dimension=a.dimension, probes=a.probes)
    assert a.matches(renamed) and EmbeddingFingerprint.from_json(a.to_json()) == a
    assert not a.matches(EmbeddingFingerprint.of(ShuffledKeywordEmbedder()))
    assert not a.matches(EmbeddingFingerprint.of(WideKeywordEmbedder()))
    assert min_row_cosine(np.eye(3), np.eye(3)) == pytest.approx(1.0)


def test_a_store_opened_before_a_reindex_follows_the_new_collection(settings, keyword_embedder):
    ingest_records(KnowledgeBase(settings, embedder=keyword_embedder), RECORDS)
    reader = KnowledgeBase(settings, embedder=WideKeywordEmbedder())  # opened before the swap
    assert reader.vectors.count() == 3
    KnowledgeBase(settings, embedder=WideKeywordEmbedder()).reindex()
    ids = [c.chunk_id for c in reader.catalog.active_chunks()]
    matrix, present = reader.vectors.unit_vectors(ids)
    assert present.all() and matrix.shape[1] == 512
    assert _top_doc(reader, "creator payouts held") == "sop-payouts"
