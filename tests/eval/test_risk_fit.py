"""Fitting the semantic risk layer's threshold and margin: the choice rule, the files, real models."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from eval.retrieval import DatasetError
from eval.risk_fit import ScoredTicket, choose, decisions_at, load_risk_tickets
from tests.conftest import DEMO_KB, make_settings

TICKETS = DEMO_KB.parent / "tickets.jsonl"
NOT_COVERED = DEMO_KB.parent / "tickets_not_covered.jsonl"
POLICE = next(row["text"] for row in map(json.loads, TICKETS.read_text(encoding="utf-8").splitlines())
              if row["id"] == "t11")
KNIFE = ("a guy in my comments said he knows what school I go to and he'll be waiting for me with a knife on "
         "monday. i'm scared to go")


def _ticket(high: bool, *pairs: tuple[float, float], lexical: bool = False) -> ScoredTicket:
    return ScoredTicket(high=high, lexical=lexical, pairs=tuple(pairs))


def test_fewer_misses_beat_fewer_false_flags():
    tickets = [_ticket(True, (0.47, 0.12)),                   # caught only below 0.48
               _ticket(False, (0.46, 0.02)), _ticket(False, (0.45, 0.2)),
               _ticket(True, lexical=True), _ticket(False, (0.9, -0.1))]
    chosen = choose(tickets, (0.50, 0.05))
    # Only a threshold of 0.47 or less catches the high-risk ticket; at 0.47 with a margin
    # above 0.02 neither ordinary one is flagged. 0.47 / 0.05 is the nearest such setting.
    assert (chosen.misses, chosen.false_flags) == (0, 0)
    assert (chosen.threshold, chosen.margin) == (0.47, 0.05)
    assert decisions_at(tickets, 0.50, 0.05).misses == 1
    assert decisions_at(tickets, 0.40, 0.0) == type(chosen)(0.40, 0.0, 0, 2)


def test_settings_that_are_already_best_are_kept():
    tickets = [_ticket(True, (0.6, 0.2)), _ticket(False, (0.3, 0.1)), _ticket(False, (0.55, 0.01))]
    chosen = choose(tickets, (0.50, 0.05))
    assert (chosen.threshold, chosen.margin, chosen.misses, chosen.false_flags) == (0.5, 0.05, 0, 0)
    with pytest.raises(ValueError):
        choose([], (0.5, 0.05))


def test_ticket_files_need_a_risk_label_unless_all_normal(tmp_path):
    labelled = tmp_path / "risk.jsonl"
    labelled.write_text('{"text": "I want to hurt myself", "risk": "high"}\n{"text": "dark mode?", "risk": "normal",'
                        ' "context": "hi"}\n')
    assert [r["risk"] for r in load_risk_tickets(labelled)] == ["high", "normal"]
    unlabelled = tmp_path / "plain.jsonl"
    unlabelled.write_text('{"text": "How do I turn on dark mode?"}\n{"text": "why", "risk": "high"}\n')
    with pytest.raises(DatasetError, match=r"plain\.jsonl:1: \"risk\" must be \"high\" or \"normal\""):
        load_risk_tickets(unlabelled)
    assert [r["risk"] for r in load_risk_tickets(unlabelled, all_normal=True)] == ["normal", "normal"]


def test_cli_names_a_bad_file_and_a_set_without_high_risk_tickets(tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text('{"text": "x", "risk": "maybe"}\n')
    assert main(["eval", "risk", "--tickets", str(tmp_path / "bad.jsonl"), "--home", str(tmp_path / "h")]) == 1
    assert 'bad.jsonl:1: "risk" must be "high" or "normal"' in capsys.readouterr().err
    (tmp_path / "calm.jsonl").write_text('{"text": "dark mode?", "risk": "normal"}\n')
    assert main(["eval", "risk", "--tickets", str(tmp_path / "calm.jsonl"), "--home", str(tmp_path / "h")]) == 1
    assert "no ticket is labelled" in capsys.readouterr().err


@pytest.mark.slow
def test_the_bundled_model_keeps_the_shipped_settings(tmp_path, capsys):
    report = tmp_path / "risk.md"
    assert main(["eval", "risk", "--tickets", str(TICKETS), "--normal", str(NOT_COVERED), "--home", str(tmp_path / "h"),
                 "--report", str(report), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["high"], result["normal"]) == (18, 54)
    # Nearly half the demo's high-risk tickets have no lexical cue (t04's knife threat got one
    # with "i'm scared"): the semantic layer finds them all.
    assert result["lexical_misses"] == 8 and result["current"]["misses"] == 0
    assert result["recommend"] is False
    assert (result["chosen"]["threshold"], result["chosen"]["margin"]) == (0.5, 0.05)
    assert "| current | 0.500 | 0.050 | 0 |" in report.read_text()


@pytest.mark.slow
def test_another_model_gets_settings_that_catch_what_the_shipped_ones_miss(projected_model, tmp_path):
    from eval.risk_fit import fit_risk_thresholds
    from kb.embedder import get_embedder
    from kb.risk import assess_risk

    settings = make_settings(tmp_path / "h", embedding_model=str(projected_model))
    result = fit_risk_thresholds(settings, TICKETS, NOT_COVERED)
    current, chosen = result["current"], result["chosen"]
    # With the shipped 0.50 / 0.05 this model misses a police request about a missing child.
    # (It missed the knife threat too until threats were read with an eased threshold,
    # kb.risk.threshold_pairs.)
    # (ticket text in the report is redacted and cut short)
    assert current["misses"] == 1 and {r["ticket"][:20] for r in result["wrong_now"] if r["label"] == "high"} == {
        POLICE[:20]}
    assert chosen["misses"] == 0 and chosen["false_flags"] <= current["false_flags"]
    assert result["recommend"] is True
    # The recommended values, set as the desk sets them, flag the request.
    embedder = get_embedder(settings)
    assert assess_risk(KNIFE, embedder=embedder).is_high
    assert not assess_risk(POLICE, embedder=embedder).is_high
    fitted = assess_risk(POLICE, embedder=embedder, semantic_threshold=float(
        result["env"]["REPLYDESK_SEMANTIC_RISK_THRESHOLD"]), semantic_margin=float(
        result["env"]["REPLYDESK_SEMANTIC_RISK_MARGIN"]))
    assert fitted.is_high  # as a legal or law-enforcement case: either category routes it to Legal
    # ... and so does the desk once they are in the settings.
    from ingest.pipeline import Ingestor
    from kb.drafting.service import draft_reply
    from kb.knowledge_base import KnowledgeBase
    from kb.retrieval import Retriever
    from kb.types import Ticket

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "police.md").write_text("# Police requests\n\nA request from the police is passed to the "
                                                 "law-enforcement response team at once.\n", encoding="utf-8")
    for values, level in (({}, "normal"), ({"semantic_risk_threshold": chosen["threshold"],
                                            "semantic_risk_margin": chosen["margin"]}, "high")):
        desk = settings.model_copy(update={"llm_provider": "none", **values})
        kb = KnowledgeBase(desk, embedder=embedder)
        assert not Ingestor(kb).ingest_paths([tmp_path / "docs"]).failed
        assert draft_reply(Ticket(text=POLICE), Retriever(kb), desk).risk.assessment.level == level
