"""Report rendering: Markdown tables, HTML with inlined Vega-Lite specs and table fallbacks, JSON."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from eval.report import ReportError, chart_specs, render_html, render_markdown, write_report


def _retrieval_result() -> dict:
    def metrics(hit: float) -> dict:
        return {"hit@5": hit, "recall@5": hit, "recall@10": 1.0, "mrr@10": hit / 2, "ndcg@10": 0.6,
                "queries": 2, "latency_ms_p50": 12.5, "latency_ms_p95": 40.0}

    def rows(second_rank):
        return [{"query_id": "q1", "query": "why is my payout | held?", "first_relevant_rank": 1,
                 "retrieved_titles": ["Payout holds", "Coin refunds"], "retrieved": ["pay", "coins"]},
                {"query_id": "q2", "query": "refund my coins", "first_relevant_rank": second_rank,
                 "retrieved_titles": ["Content appeals"], "retrieved": ["appeals"]}]

    return {"dataset": "tiny", "hit@5": 0.5, "configs": {"hybrid": metrics(0.5), "bm25": metrics(0.25)},
            "per_query": {"hybrid": rows(7), "bm25": rows(None)},
            "timings": {"ingest_seconds": 1.2, "documents": 4, "chunks": 5}}


def _draft_row(qid: str, grounding: float | None, *, insufficient: bool = False) -> dict:
    return {"query_id": qid, "id": qid, "query": f"ticket {qid}", "mode": "offline", "insufficient_guidance":
            insufficient, "grounding": grounding, "citation_validity": 1.0, "relevant": ["pay"],
            "cited_doc_ids": ["pay"], "rouge_l": 0.4, "total_ms": 120.0, "draft": f"Draft text of {qid} [1]."}


DRAFT_METRICS = {"queries": 2, "answered": 1, "modes": {"offline": 2}, "llm_fallbacks": 0, "references": 1,
                 "judged": 0, "citation_validity": 1.0, "grounding": 0.875, "citation_precision": 0.8,
                 "relevant_coverage": 0.5, "cited_relevant_rate": 0.5, "insufficient_guidance_rate": 0.5,
                 "rouge_l": 0.4, "reference_cosine": 0.7, "faithfulness": None, "retrieve_ms_p50": 10.0,
                 "retrieve_ms_p95": 20.0, "draft_ms_p50": 100.0, "draft_ms_p95": 300.0, "total_ms_p50": 110.0,
                 "total_ms_p95": 320.0}


def _drafts_result() -> dict:
    return {"kind": "drafts", "dataset": "tiny", "metrics": DRAFT_METRICS,
            "per_query": [_draft_row("q1", 0.875), _draft_row("q2", None, insufficient=True)],
            "timings": {"documents": 4, "draft_seconds": 1.5, "llm": "none", "judge": False}}


def _qa_result(tmp_path) -> dict:
    from eval.qa import aggregate_qa
    from kb.records import RUBRIC, RecordsStore

    store = RecordsStore(f"sqlite:///{tmp_path / 'records.db'}")
    user = store.create_user("rev", "h", "qa_reviewer").id
    for day, mode, score in ((3, "offline", 5), (11, "llm", 3)):
        draft = store.add_draft(user_id=user, ticket_text="t", draft_text="Held for 14 days.", mode=mode,
                                queue="creator-payments", created_at=datetime(2025, 3, day, tzinfo=timezone.utc))
        store.mark_sent(draft, "Held for up to 14 days.")
        store.add_qa_score(draft, user, {name: score for name in RUBRIC})
    return aggregate_qa(store)


def _demo_result() -> dict:
    rows = [{**_draft_row("t01", 1.0), "first_relevant_rank": 2, "retrieved_titles": ["Payout holds"]},
            {**_draft_row("t02", 1.0), "first_relevant_rank": None, "retrieved_titles": ["Coin refunds"]}]
    return {"kind": "demo", "tickets": 2,
            "retrieval": {"hit@5": 0.5, "recall@5": 0.5, "mrr@10": 0.25, "queries": 2},
            "drafts": DRAFT_METRICS,
            "risk": {"high": 1, "normal": 1, "recall": 1.0, "false_flag_rate": 0.0, "category_accuracy": 1.0,
                     "missed": [], "false_flags": []},
            "per_ticket": rows}


def _table_rows(markdown: str, first_cell: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in markdown.splitlines()
            if line.startswith(f"| {first_cell}")]


def test_retrieval_markdown_has_configs_side_by_side_and_per_query_ranks() -> None:
    md = render_markdown(_retrieval_result())
    assert md.startswith("# Retrieval evaluation: tiny")
    assert "| config | hit@5 | recall@5 | recall@10 | MRR@10 | nDCG@10 | p50 ms | p95 ms | queries |" in md
    hybrid, = _table_rows(md, "hybrid")
    assert hybrid[1] == "0.500" and hybrid[4] == "0.250"
    assert hybrid[6:8] == ["12.5", "40.0"]  # milliseconds keep one decimal, whatever their size
    assert _table_rows(md, "bm25")[0][1] == "0.250"
    q1, = _table_rows(md, "q1")
    assert q1[1] == "why is my payout \\| held?"  # a pipe in a query must not break the table
    assert q1[2:4] == ["1", "1"] and q1[4] == "Payout holds; Coin refunds"
    q2, = _table_rows(md, "q2")
    assert q2[2:4] == ["7", "–"]  # rank per configuration; '–' = not in the top 10


def test_retrieval_html_inlines_chart_specs_and_keeps_table_fallback() -> None:
    page = render_html(_retrieval_result())
    specs = [json.loads(s.replace("<\\/", "</")) for s in
             re.findall(r'<script type="application/json" id="chart-\d+-spec">(.*?)</script>', page, re.S)]
    assert len(specs) == 2 and all("vega-lite" in s["$schema"] for s in specs)
    values = [row for s in specs for data in s.get("datasets", {}).values() for row in data]
    assert {"metric": "hit@5", "config": "bm25", "value": 0.25} in values
    assert {"rank": "6-10", "config": "hybrid", "queries": 1} in values
    assert "<table>" in page and "<td>why is my payout | held?</td>" in page
    assert page.count("<svg") == 2 and "cdn." not in page and "<script src" not in page  # drawn offline
    assert specs == chart_specs(_retrieval_result())
    # Long metric names are angled and not cut short under the bars.
    assert specs[0]["encoding"]["x"]["axis"]["labelLimit"] >= 200


def test_drafts_report_lists_metrics_latency_and_worst_drafts_first() -> None:
    md = render_markdown(_drafts_result())
    assert "| Grounding (supported sentences) | 0.875 |" in md
    assert "| drafting after retrieval | 100.0 | 300.0 |" in md
    assert "| retrieval | 10.0 | 20.0 |" in md
    per_draft = [r[0] for r in _table_rows(md, "q")]
    assert per_draft == ["q1", "q2"]  # unmeasured grounding (holding reply) after measured ones
    page = render_html(_drafts_result())
    assert "Draft quality (0-1)" in page and "<td>Draft text of q1 [1].</td>" in page


def test_qa_report_has_weekly_rubric_chart_and_tables(tmp_path) -> None:
    result = _qa_result(tmp_path)
    md = render_markdown(result)
    assert "## By week" in md and "## By queue" in md and "## By mode" in md
    weeks = [r[0] for r in _table_rows(md, "2025-W")]
    assert weeks == ["2025-W10", "2025-W11"]
    page = render_html(result)
    assert "QA rubric score per week" in page and "Mean edit ratio per mode" in page
    assert page.count('type="application/json"') == 6  # two charts per grouping


def test_demo_report_marks_failed_thresholds() -> None:
    md = render_markdown(_demo_result())
    hit, = [r for r in _table_rows(md, "retrieval.hit@5")]
    assert hit[1] == "0.500" and hit[3] == "FAIL"
    assert "NOT met" in md
    risk, = [r for r in _table_rows(md, "risk.recall")]
    assert risk[3] == "ok"


@pytest.mark.parametrize("suffix", [".md", ".html", ".json"])
def test_write_report_picks_the_format_from_the_suffix(tmp_path, suffix) -> None:
    path = write_report(_retrieval_result(), tmp_path / "out" / f"report{suffix}")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        assert json.loads(text)["per_query"]["hybrid"][0]["query_id"] == "q1"
    elif suffix == ".md":
        assert text.startswith("# Retrieval evaluation")
    else:
        assert text.startswith("<!DOCTYPE html>") and "<svg" in text


def test_unsupported_suffix_and_unknown_result_are_errors(tmp_path) -> None:
    with pytest.raises(ReportError, match="must be one of"):
        write_report(_retrieval_result(), tmp_path / "report.pdf")
    with pytest.raises(ReportError, match="unknown result"):
        render_markdown({"something": 1})


def _calibration_result(recommend: bool) -> dict:
    params = {"dense_weight": 2.0, "bm25_weight": 1.0, "turn_weight": 1.0, "entity_weight": 3.0, "rrf_k": 100}
    best = {**params, "entity_weight": 0.0, "rrf_k": 30}
    return {"kind": "calibration", "dataset": "tickets", "queries": 40, "metric": "mrr@10", "grid_points": 241,
            "current": {"params": params, "hit@5": 0.9, "mrr@10": 0.7},
            "best": {"params": best, "hit@5": 0.95, "mrr@10": 0.8},
            "cross_validated": {"folds": 2, "hit@5": 0.93, "mrr@10": 0.75, "gain": 0.05,
                                "chosen_per_fold": [best, params]},
            "recommend": recommend, "env": {"REPLYDESK_RRF_K": "30"} if recommend else {},
            "seconds": {"search": 1.0, "total": 1.2}}


def test_calibration_report_gives_the_verdict_the_scores_and_the_settings_per_fold() -> None:
    md = render_markdown(_calibration_result(recommend=True))
    assert md.startswith("# Fusion calibration: tickets")
    assert "Recommended: the cross-validated gain is +0.050 mrr@10" in md and "`REPLYDESK_RRF_K=30`" in md
    assert _table_rows(md, "cross-validated")[0][1:] == ["0.930", "0.750"]
    assert [row[0] for row in _table_rows(md, "fold")] == ["fold 1", "fold 2"]
    assert "Keep the current settings" in render_markdown(_calibration_result(recommend=False))
    page = render_html(_calibration_result(recommend=True))
    assert "<code>REPLYDESK_RRF_K=30</code>" in page and page.count("<svg") == 1
