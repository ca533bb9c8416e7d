"""A policy list cut by a chunk boundary still reads under its own condition in a draft."""

from __future__ import annotations

import re

import pytest

from kb.drafting.models import DraftOptions
from kb.drafting.service import draft_reply
from kb.drafting.text import clean_markdown, split_sentences
from kb.types import DocumentMeta, Ticket
from tests.conftest import make_settings

LEVELS = ("regular", "silver", "gold", "platinum", "diamond")
CABINS = ("basic economy", "economy", "premium economy", "business", "first")

POLICY = "# Baggage policy\n\n## Checked bags\n\n" + (
    "Checked bags are weighed at the counter and tagged to the final destination of the trip. "
    "Bags over 23 kg are heavy bags and bags over 32 kg are not accepted on any flight. "
    "Sports equipment, musical instruments and mobility aids follow their own rules below.\n\n"
    "Checked bag allowance:\n") + "".join(
    f"- If the booking user is a {level} member:\n" + "".join(
        f"  - {(i + n) % 5} free checked bags for each {cabin} passenger on the booking\n"
        for n, cabin in enumerate(CABINS))
    for i, level in enumerate(LEVELS)) + "- Each extra bag is 50 dollars.\n"


@pytest.mark.slow
def test_bag_allowance_sentences_keep_their_member_level(tmp_path, embedder):
    from ingest.loaders import load_file
    from ingest.pipeline import Ingestor
    from kb.knowledge_base import KnowledgeBase
    from kb.retrieval import Retriever

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "baggage.md").write_text(POLICY, encoding="utf-8")
    kb = KnowledgeBase(make_settings(tmp_path / "home"), embedder=embedder)
    ingestor = Ingestor(kb)
    report = ingestor.ingest_paths([tmp_path / "docs"])
    assert not report.failed
    # The list is longer than a chunk, so it is cut.
    loaded = load_file(tmp_path / "docs" / "baggage.md", POLICY.encode())
    chunks = ingestor.chunker.chunk(loaded, DocumentMeta(doc_id="baggage.md", title="Baggage policy"))
    assert sum("free checked bags" in c.text for c in chunks) > 1
    for level in ("regular", "gold", "diamond"):
        ticket = Ticket(text=f"I'm a {level} member flying economy. How many checked bags are free?")
        draft = draft_reply(ticket, Retriever(kb), kb.settings, DraftOptions(length="detailed"))
        said = [s for s in split_sentences(draft.text) if "free checked bags" in s]
        assert said, draft.text
        # Each allowance is said under the member level it belongs to, and only the asked
        # level's (the draft used to quote the other levels' allowances beside it).
        for sentence in said:
            level_said = re.findall(r"is an? (\w+) member:", sentence)
            assert level_said == [level], sentence


def test_a_nested_list_closes_its_sentence_where_the_nesting_ends() -> None:
    text = ("Allowance:\n- If regular:\n  - 0 bags in basic\n  - 1 bag in economy\n- If gold:\n"
            "  - 2 bags in basic\n  - 3 bags in economy\n- Each extra bag is 50 dollars\n- Weigh every bag")
    assert split_sentences(clean_markdown(text)) == [
        "Allowance: If regular: 0 bags in basic; 1 bag in economy.",
        "If gold: 2 bags in basic; 3 bags in economy.",
        "Each extra bag is 50 dollars; Weigh every bag.",
    ]


def test_a_list_keeps_its_introduction_across_a_blank_line() -> None:
    text = ("A creator can apply when all of the following are true:\n\n- they are 18 or older;\n"
            "- they have 10,000 followers.\n\nBrands apply separately.\n\n- A loose item.")
    assert split_sentences(clean_markdown(text)) == [
        "A creator can apply when all of the following are true: they are 18 or older; they have 10,000 followers.",
        "Brands apply separately.",
        "A loose item.",
    ]


def test_a_table_reads_as_one_sentence_per_row() -> None:
    text = ("Refund rules:\n\n| Situation | Refundable? | Window |\n|---|---|---|\n"
            "| Unused coins | Yes | 14 days from purchase |\n| Gift already sent | No | — |\n"
            "| Purchase made by a minor without permission | Yes, on a parent's request | 60 days |\n\n"
            "Approved refunds take 5 to 10 business days.")
    assert split_sentences(clean_markdown(text)) == [
        "Refund rules:",
        "Unused coins — refundable: Yes; window: 14 days from purchase.",
        "Gift already sent — refundable: No.",
        "Purchase made by a minor without permission — refundable: Yes, on a parent's request; window: 60 days.",
        "Approved refunds take 5 to 10 business days.",
    ]
    # Pipes without a header rule are not a table.
    assert clean_markdown("a | b | c") == "a | b | c"
