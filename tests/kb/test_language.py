"""Language detection of tickets: other languages are recognised, short English is not misread."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.language import detect_language, english_function_share

TICKETS = [json.loads(line) for line in (Path(__file__).parent / "data" / "language_tickets.jsonl").read_text(
    encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("ticket", TICKETS, ids=lambda t: f"{t['lang']}: {t['text'][:30]}")
def test_support_messages_in_other_languages_are_recognised(ticket):
    assert detect_language(ticket["text"], min_chars=25) == ticket["lang"]


@pytest.mark.parametrize("text", [
    # lingua's fast mode reads these as Indonesian, German, Tagalog and French.
    "my phone has no mobile data, what can I do?",
    "Status of the coins I ordered.",
    "How do I delete my old video?",
    "Can I change my username twice?",
])
def test_short_english_messages_are_english(text):
    assert detect_language(text, min_chars=25) == "en"
    assert english_function_share(text) >= 0.3


def test_too_short_to_tell_gives_the_default():
    assert detect_language("refund pls", "xx", min_chars=20) == "xx"
