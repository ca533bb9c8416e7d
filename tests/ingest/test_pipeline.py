"""Ingest pipeline on a real Chroma store and SQLite catalog in a temp dir."""

from __future__ import annotations

import pytest

from ingest.chunking import CHUNKING_RULES
from ingest.pipeline import Ingestor, MetadataDefaults
from kb.retrieval import Retriever
from kb.types import SearchFilters
from tests.ingest.helpers import make_pdf, write

HOLDS_V1 = """---
doc_id: sop-payout-holds
title: Payout holds
doc_type: sop
version: 1
tags: [payments]
---
# Payout holds

## Hold period

A payout hold lasts thirty days while the risk team reviews the account.
"""

HOLDS_V2 = HOLDS_V1.replace("version: 1", "version: 2").replace(
    "A payout hold lasts thirty days", "A payout hold lasts fourteen days")


def search_texts(kb, query: str, **kwargs) -> list[str]:
    return [h.text for h in Retriever(kb).search(query, k=10, **kwargs)]


def test_folder_ingest_reports_failures_and_keeps_the_good_files(keyword_kb, tmp_path):
    docs = tmp_path / "docs"
    write(docs / "holds.md", HOLDS_V1)
    write(docs / "gifts.md", "# Gift refunds\n\nVirtual gifts are refundable within fourteen days.\n")
    write(docs / "empty.md", "")
    write(docs / "image.png", "binary")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    make_pdf(docs / "locked.pdf", [["secret text"]], password="pw")
    report = Ingestor(keyword_kb).ingest_paths([docs])
    failed = {f.path.rsplit("/", 1)[-1]: f.error for f in report.failed}
    assert set(failed) == {"empty.md", "image.png", "broken.pdf", "locked.pdf"}
    assert "empty" in failed["empty.md"] and "unsupported" in failed["image.png"]
    assert "encrypted" in failed["locked.pdf"] and "PDF" in failed["broken.pdf"]
    assert report.ingested == 2 and report.chunks >= 2
    assert any("fourteen days" in t for t in search_texts(keyword_kb, "gift refunds"))


def test_missing_path_and_oversized_file_are_reported(keyword_kb, tmp_path):
    big = write(tmp_path / "big.md", "# Big\n\n" + "x " * 40000)
    kb = keyword_kb
    kb.settings = kb.settings.model_copy(update={"max_file_mb": 0.01})
    report = Ingestor(kb).ingest_paths([big, tmp_path / "nope.md"])
    errors = {f.path.rsplit("/", 1)[-1]: f.error for f in report.failed}
    assert "over the 0.01 MB limit" in errors["big.md"] and errors["nope.md"] == "no such file or folder"


def test_bad_input_never_loses_what_was_stored(keyword_kb, tmp_path):
    write(tmp_path / "a" / "holds.md", HOLDS_V1)
    Ingestor(keyword_kb).ingest_paths([tmp_path / "a"])
    # Same doc_id, but the new file is corrupt front-matter: the stored version must survive.
    write(tmp_path / "b" / "holds.md", "---\ndoc_id: sop-payout-holds\ntitle: [oops\n---\nnew text\n")
    report = Ingestor(keyword_kb).ingest_paths([tmp_path / "b"])
    assert report.failed and report.ingested == 0
    assert any("thirty days" in t for t in search_texts(keyword_kb, "payout hold"))
    assert keyword_kb.catalog.active_versions() == {"sop-payout-holds": 1}


def test_reingest_of_unchanged_files_skips_without_embedding(keyword_kb, keyword_embedder, tmp_path):
    write(tmp_path / "holds.md", HOLDS_V1)
    write(tmp_path / "qa.csv", "question,answer\nHow long is a hold?,Fourteen days.\nRefund?,Yes.\n")
    first = Ingestor(keyword_kb).ingest_paths([tmp_path])
    assert first.ingested == 2 and first.chunks == 3
    calls = len(keyword_embedder.calls)
    second = Ingestor(keyword_kb).ingest_paths([tmp_path])
    assert second.to_dict()["skipped_unchanged"] == 2 and second.ingested == 0 and second.chunks == 0
    assert len(keyword_embedder.calls) == calls
    assert keyword_kb.vectors.count() == 3


def test_new_version_supersedes_old_in_one_step_and_keeps_history(keyword_kb, tmp_path):
    write(tmp_path / "v1" / "holds.md", HOLDS_V1)
    write(tmp_path / "v2" / "holds.md", HOLDS_V2)
    Ingestor(keyword_kb).ingest_paths([tmp_path / "v1"])
    report = Ingestor(keyword_kb).ingest_paths([tmp_path / "v2"])
    assert report.superseded == 1 and report.ingested == 1
    texts = search_texts(keyword_kb, "how long does a payout hold last")
    assert any("fourteen days" in t for t in texts)
    assert not any("thirty days" in t for t in texts)
    history = keyword_kb.catalog.history("sop-payout-holds")
    assert [(v["version"], v["status"]) for v in history] == [(1, "superseded"), (2, "active")]
    assert "thirty days" in keyword_kb.catalog.version_text("sop-payout-holds", 1)
    # Old vectors are gone from the searchable index; only the active version remains.
    assert keyword_kb.vectors.count() == len(keyword_kb.catalog.version_chunks("sop-payout-holds", 2))


def test_hits_of_a_version_not_yet_active_are_never_returned(keyword_kb, tmp_path):
    """Vectors written before the catalog flips (mid-ingest) must not be searchable."""
    write(tmp_path / "holds.md", HOLDS_V1)
    Ingestor(keyword_kb).ingest_paths([tmp_path])
    from ingest.chunking import Chunker
    from ingest.loaders import load_markdown
    from kb.types import DocumentMeta

    meta = DocumentMeta(doc_id="sop-payout-holds", title="Payout holds", version=2)
    chunks = Chunker(keyword_kb.embedder.count_tokens).chunk(load_markdown(None, HOLDS_V2.encode()), meta)
    keyword_kb.vectors.add(chunks, keyword_kb.embedder.encode([c.embedding_text() for c in chunks]))
    texts = search_texts(keyword_kb, "payout hold fourteen days")
    assert any("thirty days" in t for t in texts) and not any("fourteen days" in t for t in texts)


def test_older_declared_version_is_refused(keyword_kb, tmp_path):
    write(tmp_path / "v2" / "holds.md", HOLDS_V2)
    write(tmp_path / "v1" / "holds.md", HOLDS_V1)
    Ingestor(keyword_kb).ingest_paths([tmp_path / "v2"])
    report = Ingestor(keyword_kb).ingest_paths([tmp_path / "v1"])
    assert "older than the active version 2" in report.failed[0].error
    assert any("fourteen days" in t for t in search_texts(keyword_kb, "payout hold"))


def test_retire_and_restore(keyword_kb, tmp_path):
    write(tmp_path / "holds.md", HOLDS_V1)
    Ingestor(keyword_kb).ingest_paths([tmp_path])
    assert keyword_kb.set_retired("sop-payout-holds", True) == 1
    assert search_texts(keyword_kb, "payout hold") == []
    assert keyword_kb.catalog.history("sop-payout-holds")[0]["status"] == "retired"
    assert keyword_kb.set_retired("sop-payout-holds", False) == 1
    assert any("thirty days" in t for t in search_texts(keyword_kb, "payout hold"))
    with pytest.raises(KeyError):
        keyword_kb.set_retired("missing", True)


def test_metadata_precedence_front_matter_then_flags_then_defaults(keyword_kb, tmp_path):
    write(tmp_path / "holds.md", HOLDS_V1)
    write(tmp_path / "plain.txt", "Creators can appeal a strike within thirty days of the notice being sent.")
    defaults = MetadataDefaults(doc_type="policy", owner="payments-ops", region="EU", tags=("flagged",))
    Ingestor(keyword_kb).ingest_paths([tmp_path], defaults)
    docs = {d["doc_id"]: d for d in keyword_kb.catalog.list_documents()}
    holds, plain = docs["sop-payout-holds"], docs["plain.txt"]
    assert holds["doc_type"] == "sop" and holds["owner"] == "payments-ops" and holds["tags"] == ["payments", "flagged"]
    assert plain["doc_type"] == "policy" and plain["region"] == "EU" and plain["language"] == "en"
    assert plain["title"] == "Plain"
    hits = Retriever(keyword_kb).search("appeal strike", filters=SearchFilters(regions=("EU",), doc_types=("policy",)))
    assert hits and {h.doc_id for h in hits} == {"plain.txt"}


def test_qa_rows_are_one_chunk_each_and_filterable(keyword_kb, tmp_path):
    write(tmp_path / "qa.jsonl", '{"question": "When are payouts sent?", "answer": "Every Monday.", "queue": "payments"}\n'
                                 '{"question": "Can I rename my shop?", "answer": "Once every 30 days."}\n')
    write(tmp_path / "holds.md", HOLDS_V1)
    Ingestor(keyword_kb).ingest_paths([tmp_path])
    hits = Retriever(keyword_kb).search("payouts monday", filters=SearchFilters(doc_types=("qa",)))
    assert hits[0].text == "Q: When are payouts sent?\nA: Every Monday." and hits[0].doc_type == "qa"
    assert len(keyword_kb.catalog.version_chunks("qa.jsonl", 1)) == 2


def test_duplicate_doc_id_in_one_run_is_refused(keyword_kb, tmp_path):
    write(tmp_path / "a.md", HOLDS_V1)
    write(tmp_path / "b.md", HOLDS_V2)
    report = Ingestor(keyword_kb).ingest_paths([tmp_path])
    assert report.ingested == 1 and "also used by" in report.failed[0].error


LONG_SOP = "# Refund timelines\n\n" + "".join(
    f"Step {n}: the specialist checks the order, the payment and the delivery record before a refund. "
    for n in range(1, 31)) + "\n"


def _rechunk_setup(settings, keyword_embedder, tmp_path, **sizes):
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(settings.model_copy(update=sizes), embedder=keyword_embedder)
    return kb, Ingestor(kb)


def _stored_ids(kb) -> set[str]:
    return set(kb.vectors.collection.get(include=[])["ids"])


def test_new_chunk_sizes_cut_unchanged_documents_again_in_place(settings, keyword_embedder, tmp_path):
    docs = tmp_path / "docs"
    write(docs / "holds.md", HOLDS_V1.replace("version: 1", "version: 3"))
    write(docs / "refunds.md", LONG_SOP)
    kb, ingestor = _rechunk_setup(settings, keyword_embedder, tmp_path)
    assert ingestor.ingest_paths([docs]).ingested == 2
    before = {d["doc_id"]: d for d in kb.catalog.list_documents()}
    ingested_at = kb.catalog.history("refunds.md")[0]["ingested_at"]

    small, ingestor = _rechunk_setup(settings, keyword_embedder, tmp_path, chunk_tokens=64, chunk_overlap_tokens=8)
    report = ingestor.ingest_paths([docs])
    # The short SOP is cut as before: only its record changes. The long one is cut again.
    assert (report.ingested, report.rechunked, report.skipped_unchanged, report.superseded) == (0, 1, 1, 0)
    assert small.catalog.history("sop-payout-holds")[0]["chunking"] == f"rules {CHUNKING_RULES}; 64 tokens, 8 overlap"
    after = {d["doc_id"]: d for d in small.catalog.list_documents()}
    # Same versions (the knowledge owner's "version: 3" stays 3), no new history, more and smaller chunks.
    assert {d: v["active_version"] for d, v in after.items()} == {"sop-payout-holds": 3, "refunds.md": 1}
    assert [h["version"] for h in small.catalog.history("refunds.md")] == [1]
    assert small.catalog.history("refunds.md")[0]["ingested_at"] == ingested_at
    assert small.catalog.history("refunds.md")[0]["chunking"] == f"rules {CHUNKING_RULES}; 64 tokens, 8 overlap"
    assert after["refunds.md"]["chunks"] > before["refunds.md"]["chunks"]
    assert _stored_ids(small) == {c.chunk_id for c in small.catalog.active_chunks()}
    assert any("Step 30:" in t for t in search_texts(small, "step 30 delivery record"))
    again = ingestor.ingest_paths([docs])
    assert (again.rechunked, again.skipped_unchanged) == (0, 2)

    # Back to the larger size: fewer chunks, and the ids past the new last one are gone.
    large, ingestor = _rechunk_setup(settings, keyword_embedder, tmp_path)
    assert ingestor.ingest_paths([docs]).rechunked == 1
    assert large.catalog.counts()["chunks"] == sum(d["chunks"] for d in before.values())
    assert _stored_ids(large) == {c.chunk_id for c in large.catalog.active_chunks()}


def test_new_chunking_rules_cut_documents_again_and_changed_ones_get_a_new_version(
        settings, keyword_embedder, tmp_path, monkeypatch):
    import ingest.chunking

    docs = tmp_path / "docs"
    write(docs / "holds.md", HOLDS_V1)
    write(docs / "refunds.md", LONG_SOP)
    kb, ingestor = _rechunk_setup(settings, keyword_embedder, tmp_path)
    ingestor.ingest_paths([docs])
    monkeypatch.setattr(ingest.chunking, "CHUNKING_RULES", ingest.chunking.CHUNKING_RULES + 1)
    write(docs / "holds.md", HOLDS_V2)
    # New rules whose cuts differ for the refunds SOP (a smaller budget stands in for them).
    monkeypatch.setattr(Ingestor, "chunker", property(lambda self: _small_chunker(self)))
    report = Ingestor(kb).ingest_paths([docs])
    assert (report.ingested, report.superseded, report.rechunked) == (1, 1, 1)
    assert kb.catalog.active_versions() == {"sop-payout-holds": 2, "refunds.md": 1}
    assert all(h["chunking"].startswith(f"rules {ingest.chunking.CHUNKING_RULES};")
               for d in ("sop-payout-holds", "refunds.md") for h in kb.catalog.history(d)[-1:])


def _small_chunker(ingestor):
    from ingest.chunking import Chunker

    return Chunker(ingestor.kb.embedder.count_tokens, max_tokens=256, chunk_tokens=64, overlap_tokens=8)


def test_new_rules_that_cut_a_document_as_before_only_record_themselves(settings, keyword_embedder, tmp_path,
                                                                        monkeypatch):
    import ingest.chunking

    docs = tmp_path / "docs"
    write(docs / "refunds.md", LONG_SOP)
    kb, ingestor = _rechunk_setup(settings, keyword_embedder, tmp_path)
    ingestor.ingest_paths([docs])
    chunks_before = kb.catalog.active_chunks()
    encoded = list(keyword_embedder.calls)
    monkeypatch.setattr(ingest.chunking, "CHUNKING_RULES", ingest.chunking.CHUNKING_RULES + 1)
    report = Ingestor(kb).ingest_paths([docs])
    assert (report.rechunked, report.skipped_unchanged, report.ingested) == (0, 1, 0)
    assert keyword_embedder.calls == encoded  # nothing embedded
    assert kb.catalog.history("refunds.md")[-1]["chunking"].startswith(f"rules {ingest.chunking.CHUNKING_RULES};")
    assert kb.catalog.active_chunks() == chunks_before
    assert Ingestor(kb).ingest_paths([docs]).skipped_unchanged == 1


def test_documents_ingested_before_chunking_was_recorded_get_it_recorded(keyword_kb, keyword_embedder, tmp_path):
    import json

    from sqlalchemy import select, update

    from kb.catalog import VersionRow

    docs = tmp_path / "docs"
    write(docs / "refunds.md", LONG_SOP)
    Ingestor(keyword_kb).ingest_paths([docs])
    with keyword_kb.catalog.session() as session, session.begin():
        meta = json.loads(session.execute(select(VersionRow.meta_json)).scalar())
        del meta["chunking"]
        session.execute(update(VersionRow).values(meta_json=json.dumps(meta)))
    encoded = list(keyword_embedder.calls)
    assert Ingestor(keyword_kb).ingest_paths([docs]).skipped_unchanged == 1
    assert keyword_embedder.calls == encoded  # today's rules cut it the same: nothing to embed
    assert keyword_kb.catalog.history("refunds.md")[0]["chunking"].startswith("rules ")
