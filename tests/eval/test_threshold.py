"""Fitting the insufficient-guidance threshold: the choice rule, the ticket files, and a real run."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from eval.retrieval import DatasetError
from eval.threshold import choose_threshold, decisions_at, load_tickets
from tests.conftest import DEMO_KB

TICKETS = DEMO_KB.parent / "tickets.jsonl"
NOT_COVERED = DEMO_KB.parent / "tickets_not_covered.jsonl"


def test_a_clean_split_is_cut_midway_between_the_two_sets():
    chosen = choose_threshold([0.62, 0.55, 0.71], [0.31, 0.48, 0.2])
    assert chosen.threshold == pytest.approx(0.515) and chosen.errors == 0


def test_fewest_wrong_decisions_and_the_lowest_of_equally_good_thresholds():
    answerable = [0.409, 0.44, 0.5, 0.6]
    uncovered = [0.503, 0.416, 0.396, 0.347]
    chosen = choose_threshold(answerable, uncovered)
    # Between 0.396 and 0.409 (2 uncovered answered) and between 0.416 and 0.44 (1 + 1) tie:
    # the lower one answers every answerable ticket.
    assert (chosen.threshold, chosen.answerable_deferred, chosen.uncovered_answered) == (0.4025, 0, 2)
    assert decisions_at(0.428, answerable, uncovered).errors == chosen.errors
    assert all(decisions_at(t / 1000, answerable, uncovered).errors >= chosen.errors for t in range(0, 1001))


def test_sets_that_overlap_completely_keep_every_answer():
    chosen = choose_threshold([0.3, 0.4], [0.5, 0.6])
    assert chosen.threshold == 0.3 and (chosen.answerable_deferred, chosen.uncovered_answered) == (0, 2)
    with pytest.raises(ValueError):
        choose_threshold([], [0.4])


def test_ticket_files_are_checked_line_by_line(tmp_path):
    good = tmp_path / "t.jsonl"
    good.write_text('{"text": "How do I turn on dark mode?"}\n\n{"text": "why", "context": "earlier"}\n')
    assert [(t.text, t.context) for t in load_tickets(good)] == [("How do I turn on dark mode?", ""),
                                                                  ("why", "earlier")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": "no text"}\n')
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: each line needs a non-empty \"text\""):
        load_tickets(bad)
    with pytest.raises(DatasetError, match="file not found"):
        load_tickets(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="no tickets"):
        load_tickets(tmp_path / "empty.jsonl")


@pytest.mark.slow
def test_the_demo_tickets_reproduce_the_shipped_threshold(demo_kb, tmp_path, capsys):
    home = str(demo_kb.settings.home)
    report = tmp_path / "threshold.md"
    assert main(["eval", "threshold", "--tickets", str(TICKETS), "--not-covered", str(NOT_COVERED), "--home", home,
                 "--report", str(report), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    answerable = [r["confidence"] for r in result["tickets"] if r["set"] == "answerable" and not r["left_out"]]
    uncovered = [r["confidence"] for r in result["tickets"] if r["set"] == "not covered" and not r["left_out"]]
    # 32 answerable since 2026-12-01: a blocked user's new account is no longer flagged as child safety.
    assert (result["answerable"], result["not_covered"]) == (len(answerable), len(uncovered)) == (32, 20)
    # High-risk tickets whose procedure is found never defer, so they do not count.
    assert result["left_out"] == 20
    chosen, current = result["chosen"], result["current"]
    assert max(u for u in uncovered if u < min(answerable)) < chosen["threshold"] < min(answerable)
    assert chosen["uncovered_answered"] == sum(u >= chosen["threshold"] for u in uncovered)
    # The shipped 0.40 defers no answerable ticket and answers at most 2 of the 20 uncovered
    # ones (kb/drafting/confidence.py); the fitted value does no worse.
    assert current["threshold"] == 0.4 and current["answerable_deferred"] == 0
    assert current["uncovered_answered"] <= 2
    assert (chosen["answerable_deferred"] + chosen["uncovered_answered"]
            <= current["answerable_deferred"] + current["uncovered_answered"])
    assert result["recommend"] is (chosen["uncovered_answered"] < current["uncovered_answered"])
    assert "@" not in json.dumps(result["tickets"])  # ticket text is redacted
    text = report.read_text()
    assert f"| current | 0.400 | 0 | {current['uncovered_answered']} |" in text and "## Tickets" in text


def test_cli_names_a_broken_ticket_file(tmp_path, capsys):
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    assert main(["eval", "threshold", "--tickets", str(TICKETS), "--not-covered", str(tmp_path / "broken.jsonl"),
                 "--home", str(tmp_path / "home")]) == 1
    assert "broken.jsonl:1: invalid JSON" in capsys.readouterr().err
