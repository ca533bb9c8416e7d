"""Fit the semantic risk layer's thresholds to a deployment's model and labelled tickets.

Risk detection has two layers (:mod:`kb.risk`): lexical cues, model-free, and an embedding
layer that flags a sentence when its cosine with a risk exemplar reaches
``REPLYDESK_SEMANTIC_RISK_THRESHOLD`` (0.50) and beats the closest ordinary-ticket exemplar by
``REPLYDESK_SEMANTIC_RISK_MARGIN`` (0.05). Those cosines live on the bundled model's scale; with
another embedding model the layer can miss high-risk tickets or flag ordinary ones, so after a
change of model they should be fitted again from labelled tickets:

* **labelled**: ``text``, optional ``context``, ``risk`` (``"high"`` or ``"normal"``) and, for
  high-risk rows, ``risk_categories`` (the format of ``demo/tickets.jsonl``);
* **normal** (optional): messages known not to be high-risk (``text``, optional ``context``),
  such as ``demo/tickets_not_covered.jsonl``.

Every ticket is read as the desk reads it (a pasted thread taken apart into turns). Each
setting on a grid (threshold 0.30 to 0.70 by 0.01, margin 0 to 0.10 by 0.025) is scored by its
misses (high-risk tickets neither layer flags) first, since a missed self-harm or threat
ticket costs most, then by its false flags (ordinary tickets flagged). Among equally good
settings the one closest to the current one is kept, so a fit on the model the thresholds
were made for changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from kb.config import Settings

THRESHOLDS = tuple(round(0.30 + 0.01 * i, 2) for i in range(41))
MARGINS = (0.0, 0.025, 0.05, 0.075, 0.10)
#: Fewer tickets than this on either side make the fit rough (a warning says so).
MIN_TICKETS = 10
_PREFIX = Settings.model_config["env_prefix"]


@dataclass(frozen=True)
class RiskDecisions:
    """What one threshold and margin decide on the labelled tickets."""

    threshold: float
    margin: float
    misses: int
    false_flags: int


@dataclass(frozen=True)
class ScoredTicket:
    """One ticket, reduced to what the grid needs.

    Attributes:
        high: labelled high-risk.
        lexical: the lexical cues flag it (whatever the thresholds).
        pairs: per sentence and category that carries the category's required elements,
            ``(cosine with its best exemplar, advantage over the best ordinary exemplar)``, as
            :func:`kb.risk.threshold_pairs` puts them (a life-safety category adds an eased pair).
    """

    high: bool
    lexical: bool
    pairs: tuple[tuple[float, float], ...]

    def best(self, margin: float) -> float:
        """The highest exemplar cosine among sentences that beat the ordinary ones by ``margin``."""
        return max((cos for cos, advantage in self.pairs if advantage >= margin - 1e-9), default=-1.0)

    def flagged(self, threshold: float, margin: float) -> bool:
        """Whether the desk flags this ticket at ``threshold`` and ``margin``."""
        return self.lexical or self.best(margin) >= threshold


def decisions_at(tickets: Sequence[ScoredTicket], threshold: float, margin: float,
                 best: Sequence[float] | None = None) -> RiskDecisions:
    """Misses and false flags at one setting.

    Args:
        best: each ticket's :meth:`ScoredTicket.best` at ``margin``, when already computed.
    """
    best = [t.best(margin) for t in tickets] if best is None else best
    flags = [t.lexical or b >= threshold for t, b in zip(tickets, best)]
    return RiskDecisions(threshold, margin, sum(t.high and not f for t, f in zip(tickets, flags)),
                         sum(not t.high and f for t, f in zip(tickets, flags)))


def choose(tickets: Sequence[ScoredTicket], current: tuple[float, float]) -> RiskDecisions:
    """The setting with the fewest misses, then the fewest false flags; ties go to the one
    nearest ``current`` (in grid steps), then to the higher threshold and margin.

    Raises:
        ValueError: no ticket.
    """
    if not tickets:
        raise ValueError("no tickets to fit on")

    def distance(d: RiskDecisions) -> float:
        return round(abs(d.threshold - current[0]) / 0.01 + abs(d.margin - current[1]) / 0.025, 6)

    grid = []
    for margin in MARGINS:
        best = [t.best(margin) for t in tickets]
        grid += [decisions_at(tickets, threshold, margin, best) for threshold in THRESHOLDS]
    return min(grid, key=lambda d: (d.misses, d.false_flags, distance(d), -d.threshold, -d.margin))


def load_risk_tickets(path: Path | str, *, all_normal: bool = False) -> list[dict]:
    """Tickets from JSONL: ``text``, optional ``context``, and ``risk`` unless ``all_normal``.

    Raises:
        eval.retrieval.DatasetError: unreadable file, a malformed line (named by number), or
            no ticket at all.
    """
    from eval.retrieval import DatasetError, read_ticket_lines

    rows = []
    for number, item in read_ticket_lines(path):
        risk = "normal" if all_normal else item.get("risk")
        if risk not in ("high", "normal"):
            raise DatasetError(f"{path}:{number}: \"risk\" must be \"high\" or \"normal\"")
        rows.append({"text": item["text"], "context": str(item.get("context") or ""), "risk": risk})
    return rows


def score_ticket(row: dict, layer) -> ScoredTicket:
    """Read ``row`` as the desk does and keep what the grid needs (see :class:`ScoredTicket`)."""
    from kb.risk import lexical_categories, threshold_pairs
    from kb.thread import as_turns
    from kb.types import Ticket

    turns = as_turns(Ticket(text=row["text"], context=row["context"] or None))
    context = turns.context or ""
    # As the layer reads them: life-safety categories are also flagged a little lower (kb.risk.threshold_pairs).
    pairs = tuple(pair for category, cos, benign, *_ in layer.gated_scores(turns.text, context)
                  for pair in threshold_pairs(category, cos, benign))
    return ScoredTicket(row["risk"] == "high", bool(lexical_categories(turns.text, context)), pairs)


def fit_risk_thresholds(settings: Settings, labelled_path: Path | str, normal_path: Path | str | None = None, *,
                        embedder=None, on_ticket: Callable[[int, int], None] | None = None) -> dict:
    """Fit the semantic risk threshold and margin for the configured embedding model.

    Args:
        settings: the desk's settings (model, current threshold and margin).
        labelled_path: tickets labelled ``risk`` high / normal (:func:`load_risk_tickets`).
        normal_path: optional messages known not to be high-risk.
        embedder: the embedder to use (default: the configured model, loaded here).
        on_ticket: called with ``(tickets done, tickets in all)``.

    Returns:
        A result dict (``kind == "risk_fit"``): counts, the current and the chosen
        decisions, ``recommend``, ``env``, a ``curve`` (misses and false flags per threshold
        at the chosen margin) and the tickets each setting gets wrong (redacted).

    Raises:
        eval.retrieval.DatasetError: bad ticket files, or no high-risk ticket.
    """
    from eval.retrieval import DatasetError
    from kb.embedder import get_embedder
    from kb.pii import redact
    from kb.risk import SemanticRiskLayer, examples_with

    rows = load_risk_tickets(labelled_path)
    if normal_path is not None:
        rows += load_risk_tickets(normal_path, all_normal=True)
    high = sum(r["risk"] == "high" for r in rows)
    if not high:
        raise DatasetError(f"{labelled_path}: no ticket is labelled \"risk\": \"high\"; nothing to fit")
    layer = SemanticRiskLayer(embedder or get_embedder(settings), examples=examples_with(settings.risk_examples))
    scored = []
    for done, row in enumerate(rows, start=1):
        scored.append(score_ticket(row, layer))
        if on_ticket is not None:
            on_ticket(done, len(rows))
    current_setting = (settings.semantic_risk_threshold, settings.semantic_risk_margin)
    current = decisions_at(scored, *current_setting)
    chosen = choose(scored, current_setting)
    warnings = []
    if high < MIN_TICKETS or len(rows) - high < MIN_TICKETS:
        warnings.append(f"only {high} high-risk and {len(rows) - high} ordinary ticket(s): the fit is rough")

    def wrong(threshold: float, margin: float) -> list[dict]:
        return [{"label": r["risk"], "ticket": redact(r["text"], handles=True).text[:160]}
                for r, t in zip(rows, scored)
                if t.high != t.flagged(threshold, margin)]

    best_at_chosen = [t.best(chosen.margin) for t in scored]
    return {
        "kind": "risk_fit",
        "dataset": Path(labelled_path).name + (f" + {Path(normal_path).name}" if normal_path is not None else ""),
        "model": settings.embedding_model,
        "high": high, "normal": len(rows) - high,
        "lexical_misses": sum(t.high and not t.lexical for t in scored),
        "current": asdict(current), "chosen": asdict(chosen),
        "recommend": (chosen.misses, chosen.false_flags) < (current.misses, current.false_flags),
        "env": {f"{_PREFIX}SEMANTIC_RISK_THRESHOLD": f"{chosen.threshold:g}",
                f"{_PREFIX}SEMANTIC_RISK_MARGIN": f"{chosen.margin:g}"},
        "curve": [{"threshold": d.threshold, "misses": d.misses, "false_flags": d.false_flags}
                  for d in (decisions_at(scored, t, chosen.margin, best_at_chosen) for t in THRESHOLDS)],
        "wrong_now": wrong(*current_setting),
        "wrong_chosen": wrong(chosen.threshold, chosen.margin),
        "warnings": warnings,
    }


def leave_one_round_out(embedder, examples: Sequence[dict] | None = None) -> dict:
    """How the semantic layer reads each writing round of the labelled examples when it
    compares with the other rounds only, and with no labelled tickets at all.

    Rows whose ``source`` ends in ``round N`` form round N (``kb/data/risk_examples.jsonl``);
    other rows are always compared with. Only the semantic layer is measured: it is the part
    meant to generalise.

    Returns:
        ``{"round N": {"without": counts, "with_others": counts}, ..., "all rounds": {...}}``
        where counts are ``high``, ``flagged_high``, ``normal``, ``flagged_normal``.
    """
    import re

    from kb.risk import SemanticRiskLayer, labelled_examples

    rows = tuple(labelled_examples() if examples is None else examples)
    pattern = re.compile(r"round (\d+)$")
    round_of = [int(m.group(1)) if (m := pattern.search(str(r.get("source", "")))) else None for r in rows]
    bare = SemanticRiskLayer(embedder, examples=())

    def counts(layer, held: list[dict]) -> dict:
        high = [r for r in held if r["risk"] == "high"]
        normal = [r for r in held if r["risk"] != "high"]
        return {"high": len(high), "flagged_high": sum(bool(layer.flagged(r["text"], r["context"])) for r in high),
                "normal": len(normal),
                "flagged_normal": sum(bool(layer.flagged(r["text"], r["context"])) for r in normal)}

    out: dict = {}
    totals = {"without": Counter(), "with_others": Counter()}
    for number in sorted({n for n in round_of if n is not None}):
        held = [r for r, n in zip(rows, round_of) if n == number]
        others = tuple(r for r, n in zip(rows, round_of) if n != number)
        result = {"without": counts(bare, held), "with_others": counts(SemanticRiskLayer(embedder, examples=others), held)}
        for key, value in result.items():
            totals[key].update(value)
        out[f"round {number}"] = result
    out["all rounds"] = {key: dict(value) for key, value in totals.items()}
    return out
