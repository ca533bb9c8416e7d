"""Chunking: heading paths, internal sections, window sizing, deterministic ids."""

from __future__ import annotations

import pytest

from ingest.chunking import Chunker, chunk_id
from ingest.loaders import LoadedFile
from kb.types import DocumentMeta, Section


def words(text: str) -> int:
    return len(text.split())


def markdown(body: str) -> LoadedFile:
    return LoadedFile(sections=[Section(text=body)], is_markdown=True, raw_text=body)


META = DocumentMeta(doc_id="sop-x", title="Payout holds", version=2)


def test_markdown_sections_keep_heading_path_and_internal_flag():
    body = ("# Payout holds\n\nIntro.\n\n## Reply template\n\nHolds last 14 days.\n\n"
            "## Escalation steps (internal)\n\nPing #payments-oncall.\n\n### Thresholds\n\nOver $5k.\n")
    chunks = Chunker(words, max_tokens=256).chunk(markdown(body), META)
    by_section = {c.section: c for c in chunks}
    assert by_section["Payout holds > Reply template"].audience == "external"
    assert by_section["Payout holds > Escalation steps (internal)"].audience == "internal"
    # A subsection of an internal section inherits the marking.
    assert by_section["Payout holds > Escalation steps (internal) > Thresholds"].audience == "internal"


def test_long_sections_are_split_to_fit_the_window_with_header():
    body = "## Long\n\n" + " ".join(f"word{i}." for i in range(2000))
    chunker = Chunker(words, max_tokens=128, chunk_tokens=100, overlap_tokens=10)
    chunks = chunker.chunk(markdown(body), META)
    assert len(chunks) > 15
    for c in chunks:
        assert words(c.embedding_text()) + 2 <= 128


def test_chunk_ids_are_deterministic_and_ordered():
    body = "## A\n\nalpha.\n\n## B\n\nbeta.\n"
    first = Chunker(words).chunk(markdown(body), META)
    second = Chunker(words).chunk(markdown(body), META)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second] == [chunk_id("sop-x", 2, 0), chunk_id("sop-x", 2, 1)]


def test_pdf_pages_are_never_merged():
    loaded = LoadedFile(sections=[Section(text="## P1\n\none", page=1), Section(text="two", page=2)], is_markdown=True)
    chunks = Chunker(words).chunk(loaded, META)
    assert [c.page for c in chunks] == [1, 2]


def test_whole_document_internal_audience_marks_every_chunk():
    meta = DocumentMeta(doc_id="d", title="T", audience="internal")
    chunks = Chunker(words).chunk(markdown("## A\n\nx.\n\n## B\n\ny."), meta)
    assert {c.audience for c in chunks} == {"internal"}


@pytest.mark.slow
def test_real_tokenizer_chunks_fit_all_minilm_window(embedder):
    counter = embedder.token_counter()
    chunker = Chunker(counter, max_tokens=embedder.max_tokens, chunk_tokens=200, overlap_tokens=32)
    body = "## Section with a fairly long heading about creator payouts\n\n" + (
        "Creators whose payouts are held for a risk review receive an email with the reason and the date. " * 120)
    chunks = chunker.chunk(markdown(body), META)
    assert len(chunks) > 5
    assert max(counter(c.embedding_text()) for c in chunks) + 2 <= embedder.max_tokens
    # Overlap: consecutive pieces share text.
    assert any(a.text[-40:].split()[-1] in b.text[:400] for a, b in zip(chunks, chunks[1:]))
