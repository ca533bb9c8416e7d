"""The labelled demo tickets (``demo/tickets.jsonl``) as an evaluation of the demo knowledge base.

Each ticket has ``relevant_doc_ids`` (document level), a ``risk`` label (``high`` /
``normal``) with ``risk_categories``, and some have ``references`` (reply written from the
relevant documents). For every ticket this runs the product's retrieval (top 10, one hit
per document) and the product's ``draft_reply``, then reports:

* retrieval: hit@5, recall@5, MRR@10 over the relevant documents; again with every ticket
  at the end of a long thread (``retrieval_long_thread``: ~350 tokens of a settled,
  unrelated exchange before its own context, :func:`eval.perturb.with_long_thread`), and
  with that whole thread pasted into the message (``retrieval_pasted_thread``,
  :func:`eval.perturb.pasted_into_message`), and pasted as a case feed copies it, newest
  turn first with names and time stamps (``retrieval_newest_first``,
  :func:`eval.perturb.pasted_newest_first`);
* drafts: grounding (supported share of the content sentences of answered drafts),
  citation validity, relevant coverage among the cited documents, insufficient-guidance
  rate, ROUGE-L against the references;
* risk: recall of high-risk tickets, false-flag rate on normal ones, category accuracy
  (a flagged high-risk ticket with at least one expected category), as flagged by the
  drafting service (lexical + semantic layers, as configured).

:data:`DEMO_THRESHOLDS` are the floors (and ceilings) the CI regression test and
``replydesk eval demo --check`` hold the result to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from kb.config import Settings
from kb.types import Ticket

DEMO_TICKETS = Path(__file__).resolve().parents[1] / "demo" / "tickets.jsonl"

#: The same tickets after a long settled thread, with that thread pasted into the message, and
#: pasted as a case feed (newest first, names and time stamps): ``retrieval_<name>`` in results.
_THREAD_VARIANTS = ("long_thread", "pasted_thread", "newest_first")

#: metric -> ("min" | "max", bound). Set a little (about 0.05) below the values measured on
#: the demo KB (see tests/eval/test_demo_regression.py for the measurements).
DEMO_THRESHOLDS: dict[str, tuple[str, float]] = {
    "retrieval.hit@5": ("min", 0.95),
    "retrieval.recall@5": ("min", 0.90),
    "retrieval.mrr@10": ("min", 0.60),
    "retrieval_long_thread.hit@5": ("min", 0.95),
    "retrieval_long_thread.mrr@10": ("min", 0.60),
    "retrieval_pasted_thread.hit@5": ("min", 0.95),
    "retrieval_newest_first.hit@5": ("min", 0.95),
    "drafts.grounding": ("min", 0.95),
    # The offline drafter quotes: a wrong detail in its drafts is a bug, not noise.
    "drafts.wrong_detail_rate": ("max", 0.0),
    "drafts.citation_validity": ("min", 0.95),
    "drafts.relevant_coverage": ("min", 0.70),
    "drafts.cited_relevant_rate": ("min", 0.81),
    "drafts.insufficient_guidance_rate": ("max", 0.09),
    "drafts.rouge_l": ("min", 0.42),
    "risk.recall": ("min", 0.94),
    "risk.false_flag_rate": ("max", 0.15),
}


def load_tickets(path: Path | str = DEMO_TICKETS) -> list[dict]:
    """The labelled tickets of a JSONL file (one object per line)."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _risk_metrics(rows: list[dict]) -> dict:
    high = [r for r in rows if r["expected_risk"] == "high"]
    normal = [r for r in rows if r["expected_risk"] != "high"]
    caught = [r for r in high if r["risk"] == "high"]
    right = [r for r in caught if set(r["expected_categories"]) & set(r["risk_categories"])]
    flagged = [r for r in normal if r["risk"] == "high"]
    return {
        "high": len(high),
        "normal": len(normal),
        "recall": round(len(caught) / len(high), 4) if high else None,
        "false_flag_rate": round(len(flagged) / len(normal), 4) if normal else None,
        "category_accuracy": round(len(right) / len(high), 4) if high else None,
        "missed": [r["id"] for r in high if r["risk"] != "high"],
        "false_flags": [r["id"] for r in flagged],
    }


def run_demo_eval(kb, settings: Settings, *, tickets_path: Path | str = DEMO_TICKETS,
                  on_ticket: Callable[[int, int], None] | None = None) -> dict:
    """Evaluate retrieval, drafts and risk detection on the labelled demo tickets.

    Args:
        kb: a :class:`kb.knowledge_base.KnowledgeBase` holding the demo KB.
        settings: configuration for drafting (thresholds, LLM).
        tickets_path: the labelled tickets.
        on_ticket: called with ``(done, total)`` after each ticket.

    Returns:
        ``{"kind": "demo", "tickets", "retrieval": {...}, "retrieval_long_thread": {...},
        "retrieval_pasted_thread": {...}, "retrieval_newest_first": {...}, "drafts": {...}, "risk": {...}, "per_ticket": [...]}``.
    """
    from eval.drafts import RecordingRetriever, measure_draft, summarise_rows
    from eval.perturb import pasted_into_message, pasted_newest_first, with_long_thread
    from eval.retrieval import query_metrics
    from kb.drafting.grounding import GroundingChecker
    from kb.drafting.service import draft_reply
    from kb.retrieval import Retriever

    tickets = load_tickets(tickets_path)
    kb.ensure_lexical()
    # The metric searches leave the shared vector cache alone: the draft of each ticket then
    # meets it as a new ticket (its retrieval timings are not a cache hit).
    base = Retriever(kb, cache_query_vectors=False)
    retriever = RecordingRetriever(Retriever(kb))
    checker = GroundingChecker.from_settings(kb.embedder, settings)
    rows = []
    for done, item in enumerate(tickets, start=1):
        ticket = Ticket(text=item["text"], context=item.get("context", "") or "")
        relevant = {d: 1 for d in item.get("relevant_doc_ids", [])}
        hits = base.search(ticket, k=10, dedupe_documents=True)
        ranked = [h.doc_id for h in hits]
        retrieval = query_metrics(ranked, relevant)
        first = next((i + 1 for i, d in enumerate(ranked) if d in relevant), None)
        variants = dict(zip(_THREAD_VARIANTS, (
            Ticket(text=ticket.text, context=with_long_thread(ticket.context)),
            Ticket(text=pasted_into_message(ticket.context, ticket.text)),
            Ticket(text=pasted_newest_first(ticket.context, ticket.text)))))
        variant_metrics = {f"{name}_{key}": value for name, variant in variants.items()
                           for key, value in query_metrics([h.doc_id for h in base.search(
                               variant, k=10, dedupe_documents=True)], relevant).items()}
        retriever.reset()
        draft = draft_reply(ticket, retriever, settings)
        row = measure_draft(draft, retriever.retrieved, relevant, references=item.get("references", ()),
                            embedder=kb.embedder, checker=checker)
        rows.append({"id": item["id"], "query": item["text"], "expected_risk": item.get("risk", "normal"),
                     "expected_categories": item.get("risk_categories", []), "first_relevant_rank": first,
                     "retrieved": ranked[:5], "retrieved_titles": [h.title for h in hits[:5]],
                     **{f"retrieval_{k}": v for k, v in retrieval.items()}, **variant_metrics, **row})
        if on_ticket is not None:
            on_ticket(done, len(tickets))
    with_relevant = [r for r in rows if r["relevant"]]
    n = len(with_relevant) or 1

    def summary(prefix: str) -> dict:
        return {key: round(sum(r[f"{prefix}{key}"] for r in with_relevant) / n, 4)
                for key in ("hit@5", "recall@5", "mrr@10")}

    retrieval_summary = summary("retrieval_")
    retrieval_summary["queries"] = len(with_relevant)
    return {"kind": "demo", "tickets": len(rows), "retrieval": retrieval_summary,
            **{f"retrieval_{name}": summary(f"{name}_") for name in _THREAD_VARIANTS},
            "drafts": summarise_rows(rows), "risk": _risk_metrics(rows), "per_ticket": rows}


def metric_value(result: dict, name: str) -> float | None:
    """A metric of a demo result by dotted name (``"retrieval.hit@5"``)."""
    section, _, key = name.partition(".")
    return result.get(section, {}).get(key)


def check_thresholds(result: dict, thresholds: dict[str, tuple[str, float]] = DEMO_THRESHOLDS) -> list[str]:
    """Human-readable failures of ``result`` against ``thresholds`` (empty when all pass).

    A metric that could not be measured (``None``) fails: a silent gap must not pass CI.
    """
    failures = []
    for name, (kind, bound) in thresholds.items():
        value = metric_value(result, name)
        if value is None:
            failures.append(f"{name}: not measured")
        elif kind == "min" and value < bound:
            failures.append(f"{name} = {value:.3f} is below the floor {bound:.2f}")
        elif kind == "max" and value > bound:
            failures.append(f"{name} = {value:.3f} is above the ceiling {bound:.2f}")
    return failures
