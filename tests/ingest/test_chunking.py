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


def test_markdown_sections_keep_their_lines_as_written():
    from ingest.chunking import split_markdown

    body = ("# Bags ##\n\nChecked bag allowance:\n- If you are a regular member:\n  - 0 free bags\n\n\n\n"
            "Second paragraph.\n```\n# not a heading\n    indented code\n```\n##### Deep heading stays text\n"
            "#hashtag is text\n## Fees\n\t- tabbed item\n## Empty\n### Sub\nSub text.")
    sections = split_markdown(body)
    assert [path for path, _ in sections] == [["Bags"], ["Bags", "Fees"], ["Bags", "Empty", "Sub"]]
    text = sections[0][1]
    # Nesting, one blank line between paragraphs, code and deeper headings survive.
    assert "- If you are a regular member:\n  - 0 free bags\n\nSecond paragraph." in text
    assert "# not a heading\n    indented code" in text
    assert "##### Deep heading stays text\n#hashtag is text" in text
    assert sections[1][1] == "    - tabbed item"


def test_a_piece_that_starts_inside_a_list_carries_the_lines_that_introduce_it():
    members = "".join(f"- If you are a {level} member:\n" + "".join(
        f"  - {n} free bags in cabin {cabin} for {level} members\n" for n, cabin in enumerate("abcd"))
        for level in ("regular", "silver", "gold"))
    body = "## Bags\n\nWe check every bag at the gate. Checked bag allowance:\n" + members + "- Extra bags cost 50 dollars.\n"
    chunker = Chunker(words, max_tokens=60, chunk_tokens=40, overlap_tokens=0)
    chunks = chunker.chunk(markdown(body), META)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert words(chunk.embedding_text()) + 2 <= 60
        lines = chunk.text.splitlines()
        # Every sub-item is read under its own member level, in the chunk itself.
        for i, line in enumerate(lines):
            if line.startswith("  - "):
                level = line.split()[-2]
                parents = [p for p in lines[:i] if p.startswith("- If")]
                assert parents and f"a {level} member" in parents[-1], chunk.text
    later = [c.text for c in chunks[1:]]
    # The paragraph's last sentence opens the list; the rest of it is not repeated.
    assert all(t.startswith("Checked bag allowance:\n") for t in later)
    assert sum("We check every bag" in c.text for c in chunks) == 1


def test_pieces_outside_lists_carry_nothing():
    body = "## Notes\n\n" + "\n".join(f"Line {i} says something about payouts." for i in range(30))
    body += "\nSteps without a colon\n" + "\n".join(f"- step {i}" for i in range(30))
    chunks = Chunker(words, max_tokens=60, chunk_tokens=40, overlap_tokens=0).chunk(markdown(body), META)
    text = "\n".join(c.text for c in chunks)
    assert text.count("Steps without a colon") == 1
    assert all(c.text.count("Line") <= 40 for c in chunks)


def test_list_lead_in_walks_to_the_outermost_introduction():
    from ingest.chunking import list_lead_in

    text = "Intro. Allowance:\n- regular:\n  - a\n    wrapped\n  - b\n- silver:\n  - c\n  - d\n"
    at = text.index("  - d")
    assert list_lead_in(text, at) == "Allowance:\n- silver:"
    assert list_lead_in(text, text.index("- silver")) == "Allowance:"
    assert list_lead_in(text, 0) == ""
    assert list_lead_in("Plain paragraph\n- a\n- b", len("Plain paragraph\n- a\n")) == ""


def test_random_markdown_loses_no_line_and_never_splits_off_a_list_number():
    import random

    rnd = random.Random(5)
    vocabulary = "refund payout hold days creator gift coins bank card appeal strike".split()

    def line() -> str:
        text = " ".join(rnd.choice(vocabulary) for _ in range(rnd.randint(1, 25)))
        kind = rnd.random()
        if kind < 0.3:
            return "  " * rnd.randint(0, 2) + rnd.choice(["-", "*", "1.", "2)"]) + " " + text + rnd.choice(["", ":", "."])
        if kind < 0.35:
            return rnd.choice(["#", "##", "###", "#####"]) + " " + " ".join(text.split()[:4])
        return rnd.choice(["", "```"]) if kind < 0.42 else text + rnd.choice([".", ":", "", "!"])

    from ingest.chunking import split_markdown

    for _ in range(150):
        body = "\n".join(line() for _ in range(rnd.randint(1, 100)))
        chunker = Chunker(words, max_tokens=rnd.choice([80, 256]), chunk_tokens=rnd.choice([40, 200]),
                          overlap_tokens=rnd.choice([0, 16]))
        chunks = chunker.chunk(markdown(body), META)
        joined = "\n".join(c.text for c in chunks)
        for chunk in chunks:
            assert words(chunk.text) <= chunker._budget(META.title, chunk.section), chunk.text
            # A long numbered item is cut after a word, never between "1" and ". ...".
            assert not chunk.text.lstrip().startswith(". ") and chunk.text.strip() not in {"1", "2"}
        for _path, text in split_markdown(body):
            for source_line in text.splitlines():
                assert source_line.strip()[:30] in joined, source_line


def test_a_long_paragraph_is_cut_at_sentence_ends_that_keep_their_stops():
    body = "## Fees\n\n" + "Extra bags cost USD 50. Heavy bags cost 100 dollars more. " * 30
    body += "\n1. " + "Open the booking page and choose bags. " * 20
    chunks = Chunker(words, max_tokens=80, chunk_tokens=40, overlap_tokens=0).chunk(markdown(body), META)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text[0].isalnum() and chunk.text.endswith("."), chunk.text
    assert sum(c.text.startswith("1. Open the booking page") for c in chunks) == 1
    assert "\u00a0" not in "".join(c.text for c in chunks)
