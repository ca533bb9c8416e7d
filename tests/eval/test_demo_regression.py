"""The labelled demo tickets as a CI regression set: the build fails when retrieval, grounding or risk drop.

Measured on the demo KB (v1 then current docs + resolved Q&A, bundled all-MiniLM-L6-v2,
offline drafter, default settings) with ``run_demo_eval`` over the 52 tickets of
``demo/tickets.jsonl``:

* retrieval (top 10, one hit per document): hit@5 1.000, recall@5 0.942, MRR@10 0.680 (fusion
  weights of 2026-11-30; before: recall@5 0.952, MRR@10 0.649);
* the same retrieval with every ticket at the end of a long thread (``eval.perturb.EARLIER_THREAD``,
  ~350 tokens of a settled, unrelated exchange before the ticket's own context): hit@5 1.000,
  recall@5 0.933, MRR@10 0.661. Before dense queries read only the message and the latest
  48 tokens of the thread (and the message alone when the thread is longer), the encoder
  read the start of the thread and cut the message off: hit@5 0.442, MRR@10 0.282;
* the same with that whole thread pasted into the ticket (``eval.perturb.pasted_into_message``):
  hit@5 1.000, recall@5 0.933, MRR@10 0.661 (0.308 / 0.240 / 0.172 before pasted threads were
  taken apart at their last customer turn);
* the same thread pasted as a case feed copies it, newest turn first with names and time stamps
  (``eval.perturb.pasted_newest_first``): hit@5 1.000, recall@5 0.933, MRR@10 0.646 (0.846 /
  0.760 / 0.378 before labels with names and stamps counted as turns and backward stamps
  reversed the thread);
* drafts: grounding 1.000 (every content sentence supported), citation validity 1.000,
  relevant coverage 0.750, drafts citing a relevant document 0.865 (0.654 / 0.769 before
  the offline drafter cited the SOP that corroborates a resolved Q&A answer; the remaining
  misses mostly cite only ``qa-resolved``), insufficient guidance 0.000, ROUGE-L to the
  reference replies 0.477 (0.439 before the word overlap was weighted by rarity);
* risk (lexical + semantic, as ``draft_reply`` runs it): recall 1.000 (18/18), false-flag
  rate 0.088 (3/34: t43 threatens a regulator complaint, t44 asks for the CEO, t52 is a
  classmate's harassment), category accuracy 1.000. It was 0.147 (5/34) before a negated
  public-figure word ("I'm not famous", t41) stopped counting and a semantic legal threat had
  to name the law (t37, "can Loopr make them pay?"); both fixes were steered by those two
  tickets and cost nothing on tests/kb/data/risk_tickets.jsonl (with the semantic layer:
  recall 1.0; false flags 1.6 % dev after a semantic public-figure flag was made to need a
  public figure, 0 % held out). Earlier, before the lexical warning-sign cues
  (pills taken, "won't be around to see", goodbyes, "what's the point anymore"), recall was
  0.778 (misses t01, t02, t03, t05): the set is no longer fully held out for self-harm.

:data:`eval.demo_set.DEMO_THRESHOLDS` sits about 0.05 below each of these (ceilings about
0.05 above); ``replydesk eval demo --check`` applies the same thresholds.
"""

from __future__ import annotations

import argparse
import copy
import json

import pytest

from eval.demo_set import DEMO_THRESHOLDS, check_thresholds, load_tickets, metric_value

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_result(demo_kb):
    from eval.demo_set import run_demo_eval

    return run_demo_eval(demo_kb, demo_kb.settings)


def test_demo_set_meets_every_regression_threshold(demo_result) -> None:
    summary = {name: metric_value(demo_result, name) for name in DEMO_THRESHOLDS}
    print("\n[demo regression] " + json.dumps(summary))
    assert check_thresholds(demo_result) == []


def test_demo_result_covers_every_labelled_ticket(demo_result) -> None:
    tickets = load_tickets()
    assert demo_result["tickets"] == len(tickets) == len(demo_result["per_ticket"])
    assert demo_result["risk"]["high"] == sum(1 for t in tickets if t["risk"] == "high")
    assert demo_result["drafts"]["references"] == sum(1 for t in tickets if t.get("references"))
    for row in demo_result["per_ticket"]:
        assert row["relevant"], row["id"]
        # the offline drafter never cites what it did not retrieve
        assert row["citation_validity"] in (None, 1.0), row["id"]


def test_threshold_check_fails_on_a_drop(demo_result) -> None:
    worse = copy.deepcopy(demo_result)
    worse["retrieval"]["hit@5"] = DEMO_THRESHOLDS["retrieval.hit@5"][1] - 0.01
    worse["drafts"]["grounding"] = None
    worse["risk"]["false_flag_rate"] = DEMO_THRESHOLDS["risk.false_flag_rate"][1] + 0.01
    failures = check_thresholds(worse)
    assert len(failures) == 3
    assert any(f.startswith("retrieval.hit@5") and "below" in f for f in failures)
    assert "drafts.grounding: not measured" in failures
    assert any(f.startswith("risk.false_flag_rate") and "above" in f for f in failures)


def test_cli_eval_demo_check_exit_codes(demo_result, demo_kb, monkeypatch, tmp_path, capsys) -> None:
    import app.cli_eval as cli_eval
    import eval.demo_set as demo_set

    parser = argparse.ArgumentParser(prog="replydesk")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home")
    ev = parser.add_subparsers(dest="command").add_parser("eval").add_subparsers(dest="eval_command")
    cli_eval.register_eval(ev, common)
    # The demo KB of the session fixture stands in for the CLI's own temporary ingest.
    monkeypatch.setattr(cli_eval, "build_demo_kb", lambda settings, home, progress=False: demo_kb)
    current = {"result": demo_result}
    monkeypatch.setattr(demo_set, "run_demo_eval", lambda kb, settings, **kw: copy.deepcopy(current["result"]))

    report = tmp_path / "demo.md"
    args = parser.parse_args(["eval", "demo", "--check", "--json", "--report", str(report)])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["threshold_failures"] == [] and "per_ticket" not in out
    assert "## Summary against the regression thresholds" in report.read_text()

    worse = copy.deepcopy(demo_result)
    worse["drafts"]["grounding"] = 0.5
    current["result"] = worse
    args = parser.parse_args(["eval", "demo", "--check"])
    assert args.func(args) == 1
    assert "regression: drafts.grounding = 0.500 is below the floor" in capsys.readouterr().err
    args = parser.parse_args(["eval", "demo"])
    assert args.func(args) == 0  # without --check a drop is reported, not fatal
