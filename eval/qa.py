"""Aggregates of QA reviewer rubric scores and specialist edits, from the records store.

Every number is attached to a *draft*: its week (ISO week of the draft's creation), its
queue (the owner of the document that guided it; ``(none)`` when no guidance was used)
and its drafting mode. A rubric score therefore counts in the week its draft was written,
not the week it was reviewed, so one row of the table always describes one population
of drafts.

Definitions (per group):

* ``drafts``: drafts generated; ``sent``: drafts marked sent; ``acceptance_rate`` = sent / drafts;
* ``reviews``: QA rubric scores (a draft may have several reviewers); ``reviewed_drafts``;
* ``score_<criterion>``: mean 1-5 score per rubric criterion, ``score_mean`` the mean of all;
* ``edit_distance_mean`` / ``edit_ratio_mean`` / ``edit_ratio_median``: Levenshtein distance
  between draft and sent text, in characters and normalised 0..1, over sent drafts;
* ``unchanged_rate``: share of sent drafts sent without any edit;
* ``grounding_mean``: mean grounding rate stored with the drafts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from statistics import median
from typing import Callable, Sequence

from kb.records import RUBRIC, DraftRecord, QAScoreRecord

NONE_LABEL = "(none)"


def iso_week(moment: datetime) -> str:
    """``YYYY-Www`` ISO week of a datetime (weeks start on Monday)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


#: How each grouping dimension reads its key from a draft.
DIMENSIONS: dict[str, Callable[[DraftRecord], str]] = {
    "week": lambda d: iso_week(d.created_at),
    "queue": lambda d: d.queue or NONE_LABEL,
    "mode": lambda d: d.mode or NONE_LABEL,
    "risk": lambda d: d.risk_level or NONE_LABEL,
    "topic": lambda d: d.topic or NONE_LABEL,
    "language": lambda d: d.language or NONE_LABEL,
}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarise(drafts: Sequence[DraftRecord], scores: Sequence[QAScoreRecord]) -> dict:
    """The aggregate row of a group of drafts and the QA scores given to them."""
    sent = [d for d in drafts if d.status == "sent"]
    distances = [d.edit_distance for d in sent if d.edit_distance is not None]
    ratios = [d.edit_ratio for d in sent if d.edit_ratio is not None]
    grounding = [d.grounding for d in drafts if d.grounding is not None]
    row: dict = {
        "drafts": len(drafts),
        "sent": len(sent),
        "acceptance_rate": _round(len(sent) / len(drafts)) if drafts else None,
        "reviews": len(scores),
        "reviewed_drafts": len({s.draft_id for s in scores}),
    }
    for name in RUBRIC:
        row[f"score_{name}"] = _round(sum(s.scores[name] for s in scores) / len(scores)) if scores else None
    row["score_mean"] = _round(sum(s.mean for s in scores) / len(scores)) if scores else None
    row["edit_distance_mean"] = _round(sum(distances) / len(distances), 1) if distances else None
    row["edit_ratio_mean"] = _round(sum(ratios) / len(ratios)) if ratios else None
    row["edit_ratio_median"] = _round(median(ratios)) if ratios else None
    row["unchanged_rate"] = _round(sum(1 for d in distances if d == 0) / len(distances)) if distances else None
    row["grounding_mean"] = _round(sum(grounding) / len(grounding)) if grounding else None
    return row


def aggregate_qa(records_store, *, by: Sequence[str] = ("week", "queue", "mode"),
                 since: datetime | None = None) -> dict:
    """QA rubric scores and edit distances per week, per queue and per mode.

    Args:
        records_store: a :class:`kb.records.RecordsStore` (``list_drafts``, ``list_qa_scores``).
        by: grouping dimensions, each aggregated separately (see :data:`DIMENSIONS`).
        since: only drafts created at or after this moment.

    Returns:
        ``{"kind": "qa", "rubric", "overall": row, "groups": {dimension: [{"key", **row}]}}``;
        groups are sorted by key (weeks chronologically).

    Raises:
        ValueError: an unknown dimension.
    """
    unknown = [name for name in by if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown grouping {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}")
    drafts = records_store.list_drafts(since=since)
    known = {d.id: d for d in drafts}
    # Scores of drafts outside the window (or deleted) do not belong to any group.
    scores = [s for s in records_store.list_qa_scores() if s.draft_id in known]
    scores_by_draft: dict[int, list[QAScoreRecord]] = defaultdict(list)
    for score in scores:
        scores_by_draft[score.draft_id].append(score)
    groups: dict[str, list[dict]] = {}
    for name in by:
        key_of = DIMENSIONS[name]
        members: dict[str, list[DraftRecord]] = defaultdict(list)
        for draft in drafts:
            members[key_of(draft)].append(draft)
        groups[name] = [{"key": key, **summarise(items, [s for d in items for s in scores_by_draft[d.id]])}
                        for key, items in sorted(members.items())]
    return {"kind": "qa", "rubric": list(RUBRIC), "since": since.isoformat() if since else None,
            "overall": summarise(drafts, scores), "groups": groups}
