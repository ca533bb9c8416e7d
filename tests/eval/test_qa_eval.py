"""QA aggregation over a real SQLite records store: per week, per queue, per mode."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from eval.qa import aggregate_qa, iso_week
from kb.records import RUBRIC, RecordsStore

MONDAY_W10 = datetime(2025, 3, 3, 10, 0, tzinfo=timezone.utc)   # 2025-W10
FRIDAY_W10 = datetime(2025, 3, 7, 16, 0, tzinfo=timezone.utc)   # 2025-W10
MONDAY_W11 = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)   # 2025-W11


def _scores(value: int, **overrides: int) -> dict[str, int]:
    return {name: overrides.get(name, value) for name in RUBRIC}


@pytest.fixture
def store(tmp_path) -> RecordsStore:
    store = RecordsStore(f"sqlite:///{tmp_path / 'records.db'}")
    specialist = store.create_user("spec", "h", "specialist").id
    reviewer = store.create_user("rev", "h", "qa_reviewer").id
    second = store.create_user("rev2", "h", "qa_reviewer").id

    def draft(text: str, *, mode: str, queue: str | None, at: datetime, grounding: float | None = None) -> int:
        return store.add_draft(user_id=specialist, ticket_text="where is my payout", draft_text=text, mode=mode,
                               queue=queue, created_at=at, grounding=grounding)

    a = draft("Your payout is held for 14 days.", mode="offline", queue="creator-payments", at=MONDAY_W10,
              grounding=1.0)
    b = draft("Coins are refundable for 14 days.", mode="llm", queue="gifts-refunds", at=FRIDAY_W10, grounding=0.5)
    c = draft("We are checking with the team.", mode="offline", queue=None, at=MONDAY_W11)
    draft("Not sent, not reviewed.", mode="llm", queue="creator-payments", at=MONDAY_W11)
    store.mark_sent(a, "Your payout is held for 14 days.")            # unchanged: distance 0
    store.mark_sent(b, "Unused coins are refundable for 14 days.")   # edited
    store.mark_sent(c, "We are checking with the payments team.")    # edited
    store.add_qa_score(a, reviewer, _scores(5))
    store.add_qa_score(a, second, _scores(3))
    store.add_qa_score(b, reviewer, _scores(4, accuracy=2))
    return store


def _group(result: dict, dimension: str, key: str) -> dict:
    return next(g for g in result["groups"][dimension] if g["key"] == key)


def test_iso_week() -> None:
    assert iso_week(MONDAY_W10) == "2025-W10" and iso_week(datetime(2025, 1, 1)) == "2025-W01"


def test_overall_counts_scores_and_edits(store) -> None:
    result = aggregate_qa(store)
    overall = result["overall"]
    assert result["kind"] == "qa" and result["rubric"] == list(RUBRIC)
    assert overall["drafts"] == 4 and overall["sent"] == 3 and overall["acceptance_rate"] == 0.75
    assert overall["reviews"] == 3 and overall["reviewed_drafts"] == 2
    assert overall["score_accuracy"] == pytest.approx((5 + 3 + 2) / 3, abs=1e-4)
    assert overall["score_tone"] == pytest.approx(4.0)
    assert overall["unchanged_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert overall["edit_ratio_median"] > 0 and overall["edit_distance_mean"] > 0
    assert overall["grounding_mean"] == pytest.approx(0.75)


def test_groups_by_week_queue_and_mode(store) -> None:
    result = aggregate_qa(store)
    assert [g["key"] for g in result["groups"]["week"]] == ["2025-W10", "2025-W11"]
    w10, w11 = _group(result, "week", "2025-W10"), _group(result, "week", "2025-W11")
    assert (w10["drafts"], w10["sent"], w10["reviews"]) == (2, 2, 3)
    assert (w11["drafts"], w11["sent"], w11["reviews"]) == (2, 1, 0) and w11["score_mean"] is None

    payments = _group(result, "queue", "creator-payments")
    assert payments["drafts"] == 2 and payments["sent"] == 1 and payments["edit_distance_mean"] == 0
    assert payments["score_mean"] == pytest.approx(4.0)  # (5 + 3) / 2 reviewers
    assert _group(result, "queue", "(none)")["drafts"] == 1

    llm = _group(result, "mode", "llm")
    assert llm["reviews"] == 1 and llm["score_accuracy"] == 2 and llm["score_tone"] == 4
    assert llm["edit_ratio_mean"] > 0 and _group(result, "mode", "offline")["sent"] == 2


def test_since_and_custom_dimensions(store) -> None:
    result = aggregate_qa(store, by=("risk",), since=MONDAY_W11)
    assert list(result["groups"]) == ["risk"]
    assert result["overall"]["drafts"] == 2 and result["overall"]["reviews"] == 0
    with pytest.raises(ValueError, match="unknown grouping"):
        aggregate_qa(store, by=("weekday",))


def test_empty_store_has_no_groups_and_no_means(tmp_path) -> None:
    result = aggregate_qa(RecordsStore(f"sqlite:///{tmp_path / 'empty.db'}"))
    assert result["overall"]["drafts"] == 0 and result["overall"]["score_mean"] is None
    assert result["groups"] == {"week": [], "queue": [], "mode": []}


def _eval_parser():
    import argparse
    from pathlib import Path

    from app.cli_eval import register_eval

    parser = argparse.ArgumentParser(prog="replydesk")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=Path)
    ev = parser.add_subparsers(dest="command").add_parser("eval").add_subparsers(dest="eval_command")
    register_eval(ev, common)
    return parser


def test_cli_eval_qa_reads_the_store_of_home_and_writes_a_report(tmp_path, capsys) -> None:
    import json

    from kb.config import Settings

    home = tmp_path / "home"
    home.mkdir()
    store = RecordsStore(Settings(_env_file=None, home=home).records_url)
    user = store.create_user("rev", "h", "qa_reviewer").id
    draft = store.add_draft(user_id=user, ticket_text="t", draft_text="Held for 14 days.", mode="offline",
                            queue="creator-payments", created_at=MONDAY_W10)
    store.mark_sent(draft, "Held for 14 days.")
    store.add_qa_score(draft, user, _scores(4))
    parser = _eval_parser()
    report = tmp_path / "qa.html"
    args = parser.parse_args(["eval", "qa", "--home", str(home), "--json", "--report", str(report)])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall"]["reviews"] == 1 and out["groups"]["queue"][0]["key"] == "creator-payments"
    assert "QA rubric score per week" in report.read_text()

    args = parser.parse_args(["eval", "qa", "--home", str(home), "--by", "mode"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "1 drafts, 1 sent, 1 QA reviews" in text and "by mode:" in text and "by week" not in text


def test_cli_eval_drafts_reports_a_missing_dataset(tmp_path, capsys) -> None:
    args = _eval_parser().parse_args(["eval", "drafts", "--dataset", str(tmp_path / "nope")])
    assert args.func(args) == 1
    assert "nope: dataset folder not found" in capsys.readouterr().err
    args = _eval_parser().parse_args(["eval", "drafts", "--dataset", str(tmp_path), "--limit", "0"])
    assert args.func(args) == 2
