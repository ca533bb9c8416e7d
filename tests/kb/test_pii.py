"""Tests for kb.pii: detection on realistic tickets, no false positives, stable placeholders, restore."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kb.pii import PiiRedactor, RedactedText, Redaction, redact

DATA = Path(__file__).parent / "data" / "pii_tickets.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
WITH_PII = [r for r in ROWS if r["expected"]]
WITHOUT_PII = [r for r in ROWS if not r["expected"]]


def _id(row: dict) -> str:
    return row["text"][:50]


def _expected_spans(row: dict) -> list[tuple[str, int, int]]:
    spans = []
    for e in row["expected"]:
        start = row["text"].index(e["value"])
        spans.append((e["kind"], start, start + len(e["value"])))
    return spans


def test_dataset_size_and_kinds() -> None:
    assert len(WITH_PII) >= 30
    assert len(WITHOUT_PII) >= 10
    kinds = {e["kind"] for r in WITH_PII for e in r["expected"]}
    assert kinds >= {"EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS", "ID", "IP", "HANDLE"}


@pytest.mark.parametrize("row", WITH_PII, ids=_id)
def test_expected_pii_is_found_with_its_kind(row: dict) -> None:
    text = row["text"]
    result = redact(text, handles=row["handles"])
    expected = _expected_spans(row)
    for kind, start, end in expected:
        covering = [r for r in result.redactions if r.kind == kind and r.start < end and r.end > start]
        covered = {i for r in covering for i in range(r.start, r.end)}
        missing = [i for i in range(start, end) if i not in covered and not text[i].isspace()]
        assert not missing, f"{kind} {text[start:end]!r} not fully redacted: {result.text!r}"
    for r in result.redactions:
        assert text[r.start:r.end] == r.original
        assert any(r.start < e and r.end > s for _, s, e in expected), f"unexpected {r.kind} {r.original!r}"
    for e in row["expected"]:
        assert e["value"] not in result.text


@pytest.mark.parametrize("row", WITHOUT_PII, ids=_id)
def test_no_false_positives(row: dict) -> None:
    result = redact(row["text"], handles=row["handles"])
    assert result.redactions == ()
    assert result.text == row["text"]


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_round_trip_restore(row: dict) -> None:
    result = redact(row["text"], handles=row["handles"])
    assert result.restore(result.text) == row["text"]


def test_same_value_same_placeholder_and_normalisation() -> None:
    text = "mail a@b.com, then A@B.COM, then c@d.org; call +1 (415) 555-0132 or 415-555-0132"
    result = redact(text)
    by_original = {r.original: r.placeholder for r in result.redactions}
    assert by_original["a@b.com"] == by_original["A@B.COM"] == "<EMAIL_1>"
    assert by_original["c@d.org"] == "<EMAIL_2>"
    assert by_original["+1 (415) 555-0132"] == by_original["415-555-0132"] == "<PHONE_1>"
    assert result.text == "mail <EMAIL_1>, then <EMAIL_1>, then <EMAIL_2>; call <PHONE_1> or <PHONE_1>"
    # placeholders are a pure function of the text
    assert redact(text) == result


def test_placeholders_do_not_collide_with_existing_text() -> None:
    text = "Your template said <EMAIL_1> and <EMAIL_2>; my address is kim@example.com"
    result = redact(text)
    assert [r.placeholder for r in result.redactions] == ["<EMAIL_3>"]
    assert result.text.count("<EMAIL_1>") == 1
    draft = "We will write to <EMAIL_3>, not <EMAIL_1>."
    assert result.restore(draft) == "We will write to kim@example.com, not <EMAIL_1>."


def test_restore_into_generated_text() -> None:
    result = redact("I'm Jo, jo@site.io, card 4111 1111 1111 1111, phone 07911 123456")
    draft = "Hi Jo, we refunded card < CARD_1 > and will call <PHONE_1>; receipt goes to <EMAIL_1>. <ID_1> stays."
    restored = result.restore(draft)
    assert restored == (
        "Hi Jo, we refunded card 4111 1111 1111 1111 and will call 07911 123456; receipt goes to jo@site.io. <ID_1> stays."
    )


def test_handles_only_on_request() -> None:
    text = "@spam_bot_99 keeps tagging me, email me at me@x.io"
    assert [r.kind for r in redact(text).redactions] == ["EMAIL"]
    with_handles = redact(text, handles=True)
    assert [r.kind for r in with_handles.redactions] == ["HANDLE", "EMAIL"]
    assert "@spam_bot_99" not in with_handles.text


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 was declined",  # fails Luhn
        "IBAN GB82 WEST 1234 5698 7654 33",  # fails mod-97
        "version 1.2.3.4 is out, IP-like but a version",
        "SSN 000-12-3456 is not a valid number",
        "order 5551234567 and ticket 7185551234",
    ],
)
def test_checks_reject_lookalikes(text: str) -> None:
    assert redact(text).redactions == ()


def test_extra_patterns() -> None:
    result = redact("creator id CR-88231 and CR-88231 again", extra_patterns={"creator": r"CR-\d{5}"})
    assert result.text == "creator id <CREATOR_1> and <CREATOR_1> again"
    assert result.restore(result.text) == "creator id CR-88231 and CR-88231 again"


def test_redactor_instance_matches_module_function() -> None:
    redactor = PiiRedactor()
    text = ROWS[0]["text"]
    assert redactor.redact(text) == redact(text)
    assert redactor.find(text) == [(r.kind, r.start, r.end) for r in redact(text).redactions]


def test_empty_and_types() -> None:
    assert redact("") == RedactedText("", ())
    r = redact("x@y.com")
    assert isinstance(r.redactions[0], Redaction)
    assert re.fullmatch(r"<EMAIL_\d+>", r.text)
