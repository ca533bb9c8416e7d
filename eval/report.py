"""Evaluation reports for knowledge owners: Markdown, self-contained HTML, or JSON.

:func:`write_report` picks the format from the file suffix and the content from the
result's shape: the dict of :func:`eval.retrieval.run_retrieval_eval` (has ``configs``),
of :func:`eval.drafts.run_draft_eval` (``kind == "drafts"``), of
:func:`eval.qa.aggregate_qa` (``kind == "qa"``) or of :func:`eval.demo_set.run_demo_eval`
(``kind == "demo"``).

HTML reports carry their charts built with Altair, rendered to inline SVG offline with
vl-convert (no JavaScript, no network), plus the Vega-Lite specifications for reuse. Every
number a chart shows is also in a plain HTML table right below it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

FORMATS = (".md", ".html", ".json")
_MAX_CELL = 160


class ReportError(ValueError):
    """The result has an unknown shape or the file suffix is not supported."""


# ---- a format-neutral document -----------------------------------------------------------
@dataclass
class Table:
    """A table: header and rows of plain values (rendered escaped)."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Section:
    """A titled part of a report: paragraphs, tables and charts (Altair charts, HTML only)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Any] = field(default_factory=list)


@dataclass
class Document:
    """A whole report."""

    title: str
    intro: list[str]
    sections: list[Section]


class Milliseconds(float):
    """A duration shown with one decimal, whatever its size."""


def _ms(value: Any) -> Milliseconds | None:
    return None if value is None else Milliseconds(value)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, Milliseconds):
        return f"{value:.1f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    if isinstance(value, (list, tuple)):
        return "; ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 1] + "…"


# ---- charts (Altair) ---------------------------------------------------------------------
def _bar_chart(records: list[dict], *, x: str, y: str, color: str | None = None, title: str = "",
               y_title: str | None = None, domain: tuple[float, float] | None = None):
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame(records)
    if frame.empty:
        return None
    scale = alt.Scale(domain=list(domain)) if domain else alt.Undefined
    # Long metric names must stay readable under the bars, not be clipped.
    encoding = {"x": alt.X(f"{x}:N", title=None, sort=None, axis=alt.Axis(labelAngle=-40, labelLimit=260)),
                "y": alt.Y(f"{y}:Q", title=y_title or y, scale=scale),
                "tooltip": [alt.Tooltip(c) for c in frame.columns]}
    if color:
        encoding["color"] = alt.Color(f"{color}:N", legend=alt.Legend(labelLimit=320))
        encoding["xOffset"] = alt.XOffset(f"{color}:N")
    return alt.Chart(frame, title=title).mark_bar().encode(**encoding).properties(width=460, height=240)


def _line_chart(records: list[dict], *, x: str, y: str, color: str, title: str = "",
                domain: tuple[float, float] | None = None, numeric_x: bool = False):
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame(records)
    if frame.empty:
        return None
    scale = alt.Scale(domain=list(domain)) if domain else alt.Undefined
    return (alt.Chart(frame, title=title).mark_line(point=True)
            .encode(x=alt.X(f"{x}:Q", title=x, scale=alt.Scale(zero=False)) if numeric_x
                    else alt.X(f"{x}:N", title=None, sort=None), y=alt.Y(f"{y}:Q", scale=scale),
                    color=alt.Color(f"{color}:N"), tooltip=[alt.Tooltip(c) for c in frame.columns])
            .properties(width=460, height=240))


# ---- retrieval ---------------------------------------------------------------------------
_RETRIEVAL_COLUMNS = (("hit@5", "hit@5"), ("recall@5", "recall@5"), ("recall@10", "recall@10"),
                      ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"), ("latency_ms_p50", "p50 ms"),
                      ("latency_ms_p95", "p95 ms"))
_RANK_BUCKETS = ("1", "2", "3", "4", "5", "6-10", "not in top 10")


def _rank_bucket(rank: int | None) -> str:
    if rank is None or rank > 10:
        return "not in top 10"
    return str(rank) if rank <= 5 else "6-10"


def _retrieval_document(result: dict) -> Document:
    configs: dict[str, dict] = result["configs"]
    names = list(configs)
    timings = result.get("timings", {})
    intro = [f"Dataset **{result.get('dataset', '?')}**: {timings.get('documents', '?')} documents "
             f"({timings.get('chunks', '?')} chunks, ingested in {timings.get('ingest_seconds', '?')} s), "
             f"{configs[names[0]].get('queries', '?')} queries with relevance judgements.",
             "Metrics are document-level: *hit@5* = a relevant document is among the first five results; "
             "*recall@k* = share of the relevant documents in the first k; *MRR@10* = 1 / rank of the first "
             "relevant document (0 when it is not in the top 10); *nDCG@10* rewards relevant documents "
             "ranked higher."]
    summary = Section("Summary by retrieval configuration",
                      paragraphs=["One row per configuration, side by side."])
    summary.tables.append(Table(["config", *[label for _, label in _RETRIEVAL_COLUMNS], "queries"],
                                [[name, *[_ms(configs[name].get(k)) if k.startswith("latency") else configs[name].get(k)
                                          for k, _ in _RETRIEVAL_COLUMNS],
                                  configs[name].get("queries")] for name in names]))
    summary.charts.append(_bar_chart(
        [{"metric": label, "config": name, "value": configs[name][key]}
         for key, label in _RETRIEVAL_COLUMNS[:5] for name in names],
        x="metric", y="value", color="config", title="Retrieval quality by configuration", domain=(0, 1)))
    per_query: dict[str, list[dict]] = result.get("per_query", {}) or {}
    sections = [summary]
    if per_query:
        ranks = Section("Rank of the first relevant document",
                        paragraphs=["How many queries found their first relevant document at each rank."])
        counts = {name: {b: 0 for b in _RANK_BUCKETS} for name in per_query}
        for name, rows in per_query.items():
            for row in rows:
                counts[name][_rank_bucket(row.get("first_relevant_rank"))] += 1
        ranks.tables.append(Table(["rank", *per_query], [[b, *[counts[n][b] for n in per_query]]
                                                         for b in _RANK_BUCKETS]))
        ranks.charts.append(_bar_chart([{"rank": b, "config": n, "queries": counts[n][b]}
                                        for b in _RANK_BUCKETS for n in per_query],
                                       x="rank", y="queries", color="config",
                                       title="First relevant document: rank"))
        sections.append(ranks)
        first = names[0] if names[0] in per_query else next(iter(per_query))
        by_id = {name: {str(r["query_id"]): r for r in rows} for name, rows in per_query.items()}
        table_rows = []
        for row in per_query[first]:
            qid = str(row["query_id"])
            table_rows.append([qid, row.get("query", ""),
                               *[by_id[n].get(qid, {}).get("first_relevant_rank") for n in per_query],
                               row.get("retrieved_titles", [])])
        queries = Section("Per query",
                          paragraphs=[f"Rank of the first relevant document per configuration ('–' = not in the "
                                      f"top 10) and the titles retrieved by **{first}** (top 5). Start with the "
                                      f"rows where every configuration shows '–': the knowledge base may lack "
                                      f"the answer, or name it differently from how users ask."])
        queries.tables.append(Table(["query id", "query", *[f"rank ({n})" for n in per_query],
                                     f"retrieved titles ({first})"], table_rows))
        sections.append(queries)
    return Document(f"Retrieval evaluation: {result.get('dataset', '')}", intro, sections)


# ---- drafts ------------------------------------------------------------------------------
_DRAFT_LABELS = {
    "citation_validity": "Citation validity",
    "grounding": "Grounding (supported sentences)",
    "wrong_detail_rate": "Sentences with a wrong detail",
    "citation_precision": "Citation precision",
    "relevant_coverage": "Relevant documents cited",
    "cited_relevant_rate": "Drafts citing a relevant document",
    "insufficient_guidance_rate": "Insufficient guidance",
    "rouge_l": "ROUGE-L vs reference",
    "reference_cosine": "Cosine vs reference",
    "faithfulness": "Faithfulness (LLM judge)",
}
_DRAFT_DEFINITIONS = [
    "*Citation validity*: share of the citations that point at a passage the retriever returned.",
    "*Grounding*: share of the content sentences of answered drafts supported by the passages they cite "
    "(the product's offline check: sentence embeddings and word overlap).",
    "*Sentences with a wrong detail*: share of those sentences that state a figure, unit, contact channel, "
    "link or day their sources do not, or reverse the source sentence they restate (lower is better; "
    "they are unsupported in *Grounding* too).",
    "*Citation precision*: share of (sentence, citation) pairs where that one passage supports the sentence.",
    "*Relevant documents cited*: share of each query's relevant documents among the cited ones.",
    "*Insufficient guidance*: drafts that defer to a knowledge owner because retrieval was not confident.",
    "*ROUGE-L* / *cosine*: similarity of the draft to the human reference reply, where there is one.",
    "*Faithfulness*: share of the draft's claims an LLM judge finds supported by the cited passages "
    "(only with an LLM configured).",
]


def _latency_rows(metrics: dict) -> list[list[Any]]:
    return [[label, _ms(metrics.get(f"{key}_p50")), _ms(metrics.get(f"{key}_p95"))]
            for key, label in (("retrieve_ms", "retrieval"), ("draft_ms", "drafting after retrieval"),
                               ("total_ms", "total"))]


def _draft_sections(metrics: dict, rows: Sequence[dict], *, id_key: str) -> list[Section]:
    quality = Section("Draft quality", paragraphs=list(_DRAFT_DEFINITIONS))
    quality.paragraphs.insert(0, f"{metrics.get('queries')} drafts ({_fmt(metrics.get('modes'))}); "
                                 f"{metrics.get('answered')} answered, the rest deferred for insufficient "
                                 f"guidance; {metrics.get('llm_fallbacks', 0)} LLM fallbacks; "
                                 f"{metrics.get('references', 0)} with a reference reply; "
                                 f"{metrics.get('judged', 0)} judged by an LLM.")
    values = [(label, metrics.get(key)) for key, label in _DRAFT_LABELS.items()]
    quality.tables.append(Table(["metric", "value"], [[label, value] for label, value in values]))
    quality.charts.append(_bar_chart([{"metric": label, "value": value} for label, value in values
                                      if value is not None], x="metric", y="value",
                                     title="Draft quality (0-1)", domain=(0, 1)))
    latency = Section("Latency (milliseconds)")
    latency.tables.append(Table(["stage", "p50", "p95"], _latency_rows(metrics)))
    per = Section("Per draft", paragraphs=["Unsupported sentences and missing relevant documents first: "
                                           "sorted by grounding, lowest first."])
    ordered = sorted(rows, key=lambda r: (r.get("grounding") is None, r.get("grounding") or 0.0))
    per.tables.append(Table(
        ["id", "query", "mode", "insufficient", "grounding", "validity", "relevant", "cited", "ROUGE-L",
         "total ms", "draft", "unsupported sentences"],
        [[r.get(id_key), r.get("query"), r.get("mode"), r.get("insufficient_guidance"), r.get("grounding"),
          r.get("citation_validity"), r.get("relevant"), r.get("cited_doc_ids"), r.get("rouge_l"),
          _ms(r.get("total_ms")), r.get("draft"), r.get("checks") or ""] for r in ordered]))
    return [quality, latency, per]


def _drafts_document(result: dict) -> Document:
    timings = result.get("timings", {})
    intro = [f"Dataset **{result.get('dataset', '?')}**: {timings.get('documents', '?')} documents, "
             f"{result['metrics'].get('queries')} queries drafted in {timings.get('draft_seconds', '?')} s "
             f"with the product's drafting service (LLM: {timings.get('llm', 'none')}; judge: "
             f"{'yes' if timings.get('judge') else 'no'}; channel: {timings.get('channel', 'email')})."]
    return Document(f"Draft evaluation: {result.get('dataset', '')}", intro,
                    _draft_sections(result["metrics"], result.get("per_query", []), id_key="query_id"))


# ---- QA aggregates -----------------------------------------------------------------------
def _qa_document(result: dict) -> Document:
    rubric = result.get("rubric", [])
    overall = result.get("overall", {})
    intro = [f"{overall.get('drafts', 0)} drafts, {overall.get('sent', 0)} sent, {overall.get('reviews', 0)} "
             f"QA reviews" + (f" since {result['since']}" if result.get("since") else "") + ".",
             "Rubric scores are 1-5 means; *edit ratio* is the normalised Levenshtein distance between the "
             "draft and the text that was sent (0 = sent unchanged). A score counts in the week its draft "
             "was written."]
    columns = ["drafts", "sent", "acceptance_rate", "reviews", *[f"score_{c}" for c in rubric], "score_mean",
               "edit_distance_mean", "edit_ratio_mean", "edit_ratio_median", "unchanged_rate", "grounding_mean"]
    headers = [c.replace("score_", "").replace("_", " ") for c in columns]
    sections = [Section("Overall", tables=[Table(headers, [[overall.get(c) for c in columns]])])]
    for name, groups in result.get("groups", {}).items():
        section = Section(f"By {name}")
        section.tables.append(Table([name, *headers], [[g["key"], *[g.get(c) for c in columns]] for g in groups]))
        score_points = [{name: g["key"], "criterion": c, "score": g[f"score_{c}"]} for g in groups for c in rubric
                        if g.get(f"score_{c}") is not None]
        if name == "week":
            section.charts.append(_line_chart(score_points, x=name, y="score", color="criterion",
                                              title="QA rubric score per week", domain=(1, 5)))
        else:
            section.charts.append(_bar_chart(score_points, x=name, y="score", color="criterion",
                                             title=f"QA rubric score per {name}", domain=(1, 5)))
        section.charts.append(_bar_chart([{name: g["key"], "edit_ratio_mean": g["edit_ratio_mean"]}
                                          for g in groups if g.get("edit_ratio_mean") is not None],
                                         x=name, y="edit_ratio_mean", title=f"Mean edit ratio per {name}",
                                         y_title="edit ratio (0 = unchanged)", domain=(0, 1)))
        sections.append(section)
    return Document("QA review and edit report", intro, sections)


# ---- demo set ----------------------------------------------------------------------------
def _demo_document(result: dict) -> Document:
    from eval.demo_set import DEMO_THRESHOLDS, check_thresholds, metric_value

    failures = check_thresholds(result)
    intro = [f"{result.get('tickets')} labelled demo tickets "
             f"({result['risk'].get('high')} high risk, {result['risk'].get('normal')} normal).",
             "Regression thresholds: " + ("all met." if not failures else "NOT met: " + "; ".join(failures))]
    summary = Section("Summary against the regression thresholds")
    rows = []
    for name, (kind, bound) in DEMO_THRESHOLDS.items():
        value = metric_value(result, name)
        ok = value is not None and (value >= bound if kind == "min" else value <= bound)
        rows.append([name, value, f"{'≥' if kind == 'min' else '≤'} {bound:.2f}", "ok" if ok else "FAIL"])
    summary.tables.append(Table(["metric", "value", "threshold", "status"], rows))
    summary.charts.append(_bar_chart([{"metric": r[0], "value": r[1], "status": r[3]} for r in rows
                                      if r[1] is not None], x="metric", y="value", color="status",
                                     title="Demo metrics", domain=(0, 1)))
    risk = result["risk"]
    risk_section = Section("Risk detection", paragraphs=[
        f"Recall {_fmt(risk.get('recall'))} of {risk.get('high')} high-risk tickets, false-flag rate "
        f"{_fmt(risk.get('false_flag_rate'))} of {risk.get('normal')} normal tickets, category accuracy "
        f"{_fmt(risk.get('category_accuracy'))}. Missed: {_fmt(risk.get('missed')) or '–'}. "
        f"False flags: {_fmt(risk.get('false_flags')) or '–'}."])
    paragraphs = ["Rank of the first relevant document ('–' = not in the top 10) and the titles retrieved (top 5)."]
    for key, what in (("retrieval_long_thread", "at the end of a long thread (a settled, unrelated exchange of "
                                                "about 350 tokens before their own context)"),
                      ("retrieval_pasted_thread", "with that whole thread pasted into the ticket"),
                      ("retrieval_newest_first", "with that thread pasted as a case feed copies it (newest turn "
                                                 "first, with names and time stamps)")):
        variant = result.get(key)
        if variant:
            paragraphs.append(f"The same tickets {what}: hit@5 {_fmt(variant.get('hit@5'))}, recall@5 "
                              f"{_fmt(variant.get('recall@5'))}, MRR@10 {_fmt(variant.get('mrr@10'))}.")
    retrieval = Section("Retrieval per ticket", paragraphs=paragraphs)
    retrieval.tables.append(Table(["id", "ticket", "relevant", "rank", "retrieved titles"],
                                  [[r["id"], r["query"], r["relevant"], r["first_relevant_rank"],
                                    r["retrieved_titles"]] for r in result.get("per_ticket", [])]))
    return Document("Demo regression set", intro,
                    [summary, risk_section, retrieval,
                     *_draft_sections(result["drafts"], result.get("per_ticket", []), id_key="id")])


# ---- fusion calibration ------------------------------------------------------------------
_PARAM_LABELS = (("dense_weight", "dense"), ("bm25_weight", "BM25"), ("turn_weight", "message alone"),
                 ("entity_weight", "named documents"), ("rrf_k", "k"))


def _calibration_document(result: dict) -> Document:
    cv = result["cross_validated"]
    metric = result["metric"]
    intro = [f"{result['queries']} labelled queries of **{result['dataset']}**; {result['grid_points']} fusion "
             f"settings replayed from one search per query; maximising {metric}.",
             "*Best on all queries* is optimistic (chosen and scored on the same queries). *Cross-validated* "
             f"chooses on {cv['folds'] - 1} of {cv['folds']} folds and scores on the fold left out: what new "
             "tickets would see."]
    if result["recommend"]:
        verdict = (f"Recommended: the cross-validated gain is {cv['gain']:+.3f} {metric}. Put these lines in "
                   "`.env` (or the environment): " + ", ".join(f"`{k}={v}`" for k, v in result["env"].items()) + ".")
    else:
        verdict = f"Keep the current settings: the cross-validated gain is {cv['gain']:+.3f} {metric}."
    rows = [["current settings", result["current"]["hit@5"], result["current"]["mrr@10"]],
            ["best on all queries (optimistic)", result["best"]["hit@5"], result["best"]["mrr@10"]],
            ["cross-validated", cv["hit@5"], cv["mrr@10"]]]
    summary = Section("Result", paragraphs=[verdict], tables=[Table(["", "hit@5", "MRR@10"], rows)])
    short = ("current", "best (optimistic)", "cross-validated")
    summary.charts.append(_bar_chart([{"setting": name, "metric": m, "value": r[i]} for name, r in zip(short, rows)
                                      for i, m in ((1, "hit@5"), (2, "MRR@10"))],
                                     x="metric", y="value", color="setting", title="Fusion settings", domain=(0, 1)))
    settings = Section("Settings", paragraphs=["Weights are relative to BM25 (only ratios matter to a "
                                               "reciprocal-rank fusion); one row per fold for the cross-validated "
                                               "choice."])
    header = ["", *[label for _, label in _PARAM_LABELS]]
    param_rows = [["current", *[result["current"]["params"][k] for k, _ in _PARAM_LABELS]],
                  ["best", *[result["best"]["params"][k] for k, _ in _PARAM_LABELS]]]
    param_rows += [[f"fold {i + 1}", *[p[k] for k, _ in _PARAM_LABELS]] for i, p in enumerate(cv["chosen_per_fold"])]
    settings.tables.append(Table(header, param_rows))
    return Document(f"Fusion calibration: {result['dataset']}", intro, [summary, settings])


def _threshold_chart(rows: list[dict], *, current: float, chosen: float):
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame([{"rank": i + 1, "confidence": r["confidence"], "set": r["set"], "ticket": r["ticket"][:80]}
                          for i, r in enumerate(rows)])
    if frame.empty:
        return None
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("rank:O", title="tickets, highest confidence first", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("confidence:Q"), color=alt.Color("set:N"), tooltip=["set", "confidence", "ticket"])
    lines = pd.DataFrame([{"threshold": current, "which": "current"}, {"threshold": chosen, "which": "chosen"}])
    rules = alt.Chart(lines).mark_rule(strokeDash=[5, 3], color="black").encode(
        y="threshold:Q", tooltip=["which", "threshold"])
    return (bars + rules).properties(width=460, height=240, title="Confidence per ticket; dashed: thresholds")


def _threshold_document(result: dict) -> Document:
    env = ", ".join(f"`{k}={v}`" for k, v in result["env"].items())
    intro = [f"{result['answerable']} answerable and {result['not_covered']} not-covered tickets "
             f"(**{result['dataset']}**) drafted offline against `{result['knowledge_base']}`; "
             f"{result['left_out']} left out because their escalation procedure was found (never deferred).",
             "A draft defers to a knowledge owner when its confidence (best dense cosine of its passages) is "
             "below the threshold. The chosen threshold makes the fewest wrong decisions, the lowest of equally "
             "good ones."]
    verdict = (f"Recommended: {env} (fewer wrong decisions)." if result["recommend"]
               else "Keep the current threshold: no other one makes fewer wrong decisions on these tickets.")
    rows = [[label, result[label]["threshold"], result[label]["answerable_deferred"],
             result[label]["uncovered_answered"]] for label in ("current", "chosen")]
    summary = Section("Result", paragraphs=[verdict],
                      tables=[Table(["", "threshold", "answerable deferred", "not covered answered"], rows)])
    tickets = result["tickets"]
    summary.charts.append(_threshold_chart([r for r in tickets if not r["left_out"]],
                                           current=result["current"]["threshold"],
                                           chosen=result["chosen"]["threshold"]))
    detail = Section("Tickets", tables=[Table(["set", "confidence", "left out", "ticket (redacted)"],
                                              [[r["set"], r["confidence"], r["left_out"], r["ticket"]]
                                               for r in tickets])])
    return Document(f"Insufficient-guidance threshold: {result['dataset']}", intro, [summary, detail])


def _risk_fit_document(result: dict) -> Document:
    env = ", ".join(f"`{k}={v}`" for k, v in result["env"].items())
    intro = [f"{result['high']} high-risk and {result['normal']} ordinary tickets (**{result['dataset']}**) read "
             f"with `{result['model']}`; {result['lexical_misses']} of the high-risk ones have no lexical cue, so "
             "only the semantic layer can flag them.",
             "Each threshold (0.30 to 0.70) and margin (0 to 0.10) is scored by the high-risk tickets it misses, "
             "then by the ordinary tickets it flags; among equally good settings the one nearest the current one "
             "is kept."]
    verdict = (f"Recommended: {env} (fewer misses or false flags)." if result["recommend"]
               else "Keep the current settings: no other one misses fewer high-risk tickets or flags fewer "
                    "ordinary ones.")
    rows = [[label, result[label]["threshold"], result[label]["margin"], result[label]["misses"],
             result[label]["false_flags"]] for label in ("current", "chosen")]
    summary = Section("Result", paragraphs=[verdict],
                      tables=[Table(["", "threshold", "margin", "high-risk missed", "ordinary flagged"], rows)])
    curve = [{"threshold": r["threshold"], "count": r[key], "what": label} for r in result["curve"]
             for key, label in (("misses", "high-risk missed"), ("false_flags", "ordinary flagged"))]
    summary.charts.append(_line_chart(curve, x="threshold", y="count", color="what", numeric_x=True,
                                      title=f"Wrong decisions per threshold (margin {result['chosen']['margin']:g})"))
    wrong = Section("Tickets the settings get wrong", tables=[
        Table(["setting", "label", "ticket (redacted)"],
              [[label, row["label"], row["ticket"]] for label, key in (("current", "wrong_now"), ("chosen", "wrong_chosen"))
               for row in result[key]])])
    return Document(f"Semantic risk thresholds: {result['dataset']}", intro, [summary, wrong])


def _grounding_fit_document(result: dict) -> Document:
    env = ", ".join(f"`{k}={v}`" for k, v in result["env"].items())
    intro = [f"{result['supported_pairs']} content sentences of the reference replies of {result['tickets']} tickets "
             f"(**{result['dataset']}**), read with `{result['model']}` against `{result['knowledge_base']}`: each "
             "is scored against its ticket's relevant documents (supported) and against one other document "
             "(unsupported).",
             "A sentence is supported when its best cosine with a cited sentence reaches the cosine, or the lower "
             "one when half its content words are in the passage. The current setting is kept while it is within "
             f"{result['slack']} wrong decisions of the best; otherwise the best is chosen."]
    verdict = (f"Recommended: {env} (fewer wrong decisions)." if result["recommend"]
               else "Keep the current settings: no other one makes clearly fewer wrong decisions.")
    rows = [[label, result[label]["min_cosine"], result[label]["min_cosine_with_overlap"],
             result[label]["supported_rejected"], result[label]["unsupported_accepted"]]
            for label in ("current", "chosen")]
    summary = Section("Result", paragraphs=[verdict], tables=[Table(
        ["", "cosine", "with overlap", "supported rejected", "unsupported accepted"], rows)])
    curve = [{"cosine": r["min_cosine"], "count": r[key], "what": label} for r in result["curve"]
             for key, label in (("supported_rejected", "supported rejected"),
                                ("unsupported_accepted", "unsupported accepted"))]
    summary.charts.append(_line_chart(curve, x="cosine", y="count", color="what", numeric_x=True,
                                      title="Wrong decisions per cosine (cosine with overlap "
                                            f"{result['chosen']['min_cosine_with_overlap']:g} or the cosine)"))
    wrong = Section("Sentences the settings get wrong", tables=[
        Table(["setting", "pair", "cosine", "sentence (redacted)"],
              [[label, row["pair"], row["cosine"], row["sentence"]]
               for label, key in (("current", "wrong_now"), ("chosen", "wrong_chosen")) for row in result[key]])])
    return Document(f"Grounding thresholds: {result['dataset']}", intro, [summary, wrong])


# ---- dispatch and rendering --------------------------------------------------------------
def build_document(result: dict) -> Document:
    """The report document for any supported evaluation result.

    Raises:
        ReportError: the result has an unknown shape.
    """
    builders = {"drafts": _drafts_document, "qa": _qa_document, "demo": _demo_document,
                "calibration": _calibration_document, "threshold": _threshold_document,
                "risk_fit": _risk_fit_document, "grounding_fit": _grounding_fit_document}
    kind = result.get("kind")
    if kind in builders:
        doc = builders[kind](result)
    elif "configs" in result:
        doc = _retrieval_document(result)
    else:
        raise ReportError("unknown result: expected a retrieval, drafts, calibration, threshold, risk, grounding, qa or "
                          "demo evaluation")
    if result.get("warnings"):
        # What the loader set aside changes what the figures mean, so it comes first.
        doc.sections.insert(0, Section("Dataset warnings", paragraphs=[str(w) for w in result["warnings"]]))
    return doc


def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|")


def render_markdown(result: dict) -> str:
    """The report as GitHub-flavoured Markdown (tables only; charts are HTML-only)."""
    doc = build_document(result)
    out = [f"# {doc.title}", "", *[p + "\n" for p in doc.intro]]
    for section in doc.sections:
        out += [f"## {section.title}", ""]
        out += [p + "\n" for p in section.paragraphs]
        for table in section.tables:
            out.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
            out.append("|" + "|".join("---" for _ in table.columns) + "|")
            out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table.rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _inline_markdown(text: str) -> str:
    # Only `code`, **bold** and *italic* are used in report paragraphs.
    import re

    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"\*(.+?)\*", r"<em>\1</em>", escaped)


_CSS = """
svg{overflow:visible}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;background:#f3f4f6;padding:0 .25em;
border-radius:3px}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1f2328;line-height:1.45;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem .8rem;border-radius:6px}
.chart{margin:.5rem 0}
"""


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = "".join(f'<td class="num">{html.escape(_fmt(v))}</td>' if isinstance(v, (int, float))
                        and not isinstance(v, bool) else f"<td>{html.escape(_fmt(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def chart_specs(result: dict) -> list[dict]:
    """The Vega-Lite specifications of the charts of a report (data inlined)."""
    doc = build_document(result)
    return [chart.to_dict() for section in doc.sections for chart in section.charts if chart is not None]


def _svg(chart) -> str:
    """The chart as inline SVG, rendered offline by vl-convert."""
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_json(indent=None))


def render_html(result: dict) -> str:
    """The report as one self-contained HTML page: inline SVG charts and their tables, no scripts to load."""
    doc = build_document(result)
    parts = [f"<h1>{html.escape(doc.title)}</h1>", *[f"<p>{_inline_markdown(p)}</p>" for p in doc.intro]]
    specs: list[str] = []
    for section in doc.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{_inline_markdown(p)}</p>" for p in section.paragraphs]
        for chart in section.charts:
            if chart is None:
                continue
            n = len(specs)
            # "</" inside a <script> block would end it early; JSON allows the escaped form.
            specs.append(chart.to_json(indent=None).replace("</", "<\\/"))
            parts.append(f'<div class="chart" id="chart-{n}">{_svg(chart)}</div>'
                         f'<script type="application/json" id="chart-{n}-spec">{specs[-1]}</script>')
        parts += [_html_table(t) for t in section.tables]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def render_json(result: dict) -> str:
    """The full result (per-query rows included) as indented JSON."""
    return json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n"


def write_report(result: dict, path: Path | str) -> Path:
    """Write ``result`` as a report; the format follows the suffix (``.md``, ``.html``, ``.json``).

    Raises:
        ReportError: unsupported suffix, or (Markdown and HTML) a result of unknown shape.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ReportError(f"{path}: report format must be one of {', '.join(FORMATS)}")
    if suffix == ".json":
        text = render_json(result)
    elif suffix == ".md":
        text = render_markdown(result)
    else:
        text = render_html(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
