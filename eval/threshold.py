"""Fit the insufficient-guidance threshold to a deployment's own tickets.

A draft defers to a knowledge owner (a holding reply, and a knowledge gap logged) when the
best dense cosine among its passages is below ``REPLYDESK_DRAFT_MIN_CONFIDENCE``. Cosines
live on each model's own scale, so the shipped 0.40 (see :mod:`kb.drafting.confidence`)
holds for the bundled model and the demo knowledge base; after a change of model or of
knowledge base it should be fitted again, from two sets of tickets:

* **answerable**: tickets the knowledge base covers (the labelled tickets used for fusion
  calibration: ``text``, ``context``, ``relevant_doc_ids``);
* **not covered**: plausible tickets it does not cover (``text``, optional ``context``).

Every ticket is drafted offline exactly as the desk drafts it (same retrieval, risk and
escalation path), with the threshold lifted so its confidence is always measured. Tickets
whose escalation procedure is found are left out: those are never deferred. The threshold
chosen makes the fewest wrong decisions (answerable tickets deferred plus uncovered tickets
answered); among equally good ones it takes the lowest, since the specialist reviews every
draft with its guidance beside it, while a holding reply leaves them nothing. It sits midway
between the two confidences around it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from kb.config import Settings

#: Fewer tickets than this in either set make the fitted threshold rough (a warning says so).
MIN_TICKETS = 10
_ENV_NAME = f"{Settings.model_config['env_prefix']}DRAFT_MIN_CONFIDENCE"


@dataclass(frozen=True)
class ThresholdDecisions:
    """What a threshold decides on the two ticket sets."""

    threshold: float
    answerable_deferred: int
    uncovered_answered: int

    @property
    def errors(self) -> int:
        """Wrong decisions in all."""
        return self.answerable_deferred + self.uncovered_answered


def decisions_at(threshold: float, answerable: Sequence[float], uncovered: Sequence[float]) -> ThresholdDecisions:
    """Count the wrong decisions ``threshold`` makes (a draft defers when confidence < threshold)."""
    return ThresholdDecisions(threshold=threshold,
                              answerable_deferred=sum(score < threshold for score in answerable),
                              uncovered_answered=sum(score >= threshold for score in uncovered))


def choose_threshold(answerable: Sequence[float], uncovered: Sequence[float]) -> ThresholdDecisions:
    """The lowest threshold with the fewest wrong decisions, midway between neighbouring confidences.

    Raises:
        ValueError: either set is empty.
    """
    if not answerable or not uncovered:
        raise ValueError("both an answerable and a not-covered ticket set are needed")
    scores = sorted(set(answerable) | set(uncovered))
    # Confidences carry four decimals, so a midpoint is exact at five: what the environment gets.
    candidates = [scores[0]] + [round((low + high) / 2, 5) for low, high in zip(scores, scores[1:])]
    candidates.append(round(scores[-1] + 0.0001, 5))
    best: ThresholdDecisions | None = None
    for candidate in candidates:  # ascending: the first of equally good ones is the lowest
        decided = decisions_at(candidate, answerable, uncovered)
        if best is None or decided.errors < best.errors:
            best = decided
    assert best is not None
    return best


def load_tickets(path: Path | str) -> list:
    """Tickets from a JSONL file: one object per line with ``text`` and optional ``context``.

    Raises:
        eval.retrieval.DatasetError: unreadable file, a malformed line (named by number), or
            no ticket at all.
    """
    from eval.retrieval import read_ticket_lines
    from kb.types import Ticket

    return [Ticket(text=item["text"], context=str(item.get("context") or "")) for _n, item in read_ticket_lines(path)]


def calibrate_threshold(kb, answerable_path: Path | str, uncovered_path: Path | str, *,
                        on_ticket: Callable[[int, int], None] | None = None) -> dict:
    """Draft both ticket sets against ``kb`` and fit the insufficient-guidance threshold.

    Args:
        kb: the :class:`kb.knowledge_base.KnowledgeBase` the tickets are drafted against.
        answerable_path: labelled tickets the knowledge base covers
            (:func:`eval.calibrate.load_labelled_tickets`).
        uncovered_path: tickets it does not cover (:func:`load_tickets`).
        on_ticket: called with ``(tickets done, tickets in all)``.

    Returns:
        A result dict (``kind == "threshold"``): counts, the current and the chosen
        decisions, ``recommend``, ``env`` and one row per ticket (redacted text).

    Raises:
        eval.retrieval.DatasetError: bad ticket files or an empty knowledge base.
    """
    from eval.calibrate import load_labelled_tickets
    from eval.retrieval import DatasetError
    from kb.drafting.models import DraftOptions
    from kb.drafting.service import draft_reply
    from kb.pii import redact
    from kb.retrieval import Retriever

    answerable_tickets = [ticket for ticket, _relevant in load_labelled_tickets(answerable_path)]
    uncovered_tickets = load_tickets(uncovered_path)
    _generation, active = kb.active_versions()
    if not active:
        raise DatasetError(f"the knowledge base at {kb.settings.home} has no documents; ingest them first")
    current = kb.settings.draft_min_confidence
    # Lifted so that no draft defers and each one's confidence is measured; offline, as a
    # deferral never reaches the LLM either.
    lifted = kb.settings.model_copy(update={"draft_min_confidence": float("-inf"), "llm_provider": "none"})
    retriever = Retriever(kb)
    everything = [("answerable", t) for t in answerable_tickets] + [("not covered", t) for t in uncovered_tickets]
    rows, scores = [], {"answerable": [], "not covered": []}
    for done, (group, ticket) in enumerate(everything, start=1):
        draft = draft_reply(ticket, retriever, lifted, DraftOptions())
        escalated = any(not h.is_internal for h in draft.risk.escalation)
        confidence = round(float(draft.confidence or 0.0), 4)
        rows.append({"set": group, "ticket": redact(ticket.text, handles=True).text[:160],
                     "confidence": confidence, "left_out": "escalation procedure found" if escalated else ""})
        if not escalated:
            scores[group].append(confidence)
        if on_ticket is not None:
            on_ticket(done, len(everything))
    warnings = []
    for group, values in scores.items():
        if len(values) < MIN_TICKETS:
            warnings.append(f"only {len(values)} {group} ticket(s) without an escalation procedure: "
                            "the fitted threshold is rough")
    if not scores["answerable"] or not scores["not covered"]:
        raise DatasetError("every ticket of one set found its escalation procedure; nothing to fit")
    chosen = choose_threshold(scores["answerable"], scores["not covered"])
    now = decisions_at(current, scores["answerable"], scores["not covered"])
    return {
        "kind": "threshold",
        "dataset": f"{Path(answerable_path).name} + {Path(uncovered_path).name}",
        "knowledge_base": str(kb.settings.home),
        "answerable": len(scores["answerable"]), "not_covered": len(scores["not covered"]),
        "left_out": sum(1 for r in rows if r["left_out"]),
        "current": asdict(now), "chosen": asdict(chosen),
        "recommend": chosen.errors < now.errors,
        "env": {_ENV_NAME: f"{chosen.threshold:.5f}".rstrip("0").rstrip(".")},
        "tickets": sorted(rows, key=lambda r: -r["confidence"]),
        "warnings": warnings,
    }
