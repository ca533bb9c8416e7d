"""Ingest pipeline on a real Chroma store and SQLite catalog in a temp dir."""

from __future__ import annotations

import pytest

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
