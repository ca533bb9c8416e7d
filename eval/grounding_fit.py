"""Fit the grounding check's cosine thresholds to a deployment's model and reference replies.

A draft sentence is supported by what it cites when its best cosine with a cited sentence
reaches ``REPLYDESK_GROUNDING_MIN_COSINE`` (0.65), or ``..._WITH_OVERLAP`` (0.50) when half its
content words are in the cited passage (:mod:`kb.drafting.grounding`). Those cosines live on
the bundled model's scale: with another embedding model, paraphrases the guidance supports
can be flagged as unsupported, or claims it does not make can pass. This repeats the
original calibration for the configured model, from tickets with reference replies:

* each content sentence of a ticket's ``references`` is scored against the passages of its
  ``relevant_doc_ids`` (a **supported** pair: the reply was written from them) and against
  the passages of one other document of the knowledge base, picked at random but the same
  every run (an **unsupported** pair). Resolved-Q&A collections are never the other
  document: they answer everything a little.
* each setting on a grid (cosine 0.30 to 0.95 by 0.01, the one with overlap from 0.30 up to
  it) is scored by its wrong decisions: supported pairs it rejects plus unsupported pairs it
  accepts. The current setting is kept while it is within 2 % of the pairs of the fewest
  wrong decisions (on a few dozen reference sentences a difference that small is noise), so
  a fit on the model the thresholds were made for changes nothing. Otherwise the setting
  with the fewest wrong decisions is chosen, the one nearest the current of equally good ones.

The ticket format is ``demo/tickets.jsonl``'s (``text``, ``relevant_doc_ids``,
``references``); the knowledge base at ``--home`` must hold the relevant documents.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from kb.config import Settings

MIN_COSINES = tuple(round(0.30 + 0.01 * i, 2) for i in range(66))
#: Share of the pairs within which settings count as equally good.
TOLERANCE = 0.02
#: Fewer pairs than this make the fit rough (a warning says so).
MIN_PAIRS = 20
_PREFIX = Settings.model_config["env_prefix"]


@dataclass(frozen=True)
class GroundingDecisions:
    """What one pair of thresholds decides on the scored pairs."""

    min_cosine: float
    min_cosine_with_overlap: float
    supported_rejected: int
    unsupported_accepted: int

    @property
    def errors(self) -> int:
        """Wrong decisions in all."""
        return self.supported_rejected + self.unsupported_accepted


@dataclass(frozen=True)
class ScoredPair:
    """A reference sentence scored against one document's passages (:meth:`GroundingChecker.score`)."""

    supported: bool  # the passages are the ones the reply was written from
    cosine: float
    overlap: float


def decisions_at(pairs: Sequence[ScoredPair], min_cosine: float, min_cosine_with_overlap: float) -> GroundingDecisions:
    """Rejected supported pairs and accepted unsupported pairs at one setting."""
    from kb.drafting.grounding import supports

    accepted = [supports(p.cosine, p.overlap, min_cosine, min_cosine_with_overlap) for p in pairs]
    return GroundingDecisions(min_cosine, min_cosine_with_overlap,
                              sum(p.supported and not a for p, a in zip(pairs, accepted)),
                              sum(not p.supported and a for p, a in zip(pairs, accepted)))


def slack(pairs: Sequence[ScoredPair]) -> int:
    """How many more wrong decisions than the fewest still count as equally good."""
    return int(TOLERANCE * len(pairs))


def choose(pairs: Sequence[ScoredPair], current: tuple[float, float]) -> GroundingDecisions:
    """``current`` while it is within :func:`slack` of the fewest wrong decisions; else the
    setting with the fewest, nearest ``current`` (in grid steps), then the stricter one.

    Raises:
        ValueError: no pair.
    """
    if not pairs:
        raise ValueError("no sentence pairs to fit on")

    def distance(d: GroundingDecisions) -> float:
        return round(abs(d.min_cosine - current[0]) / 0.01 + abs(d.min_cosine_with_overlap - current[1]) / 0.01, 6)

    grid = [decisions_at(pairs, high, low) for high in MIN_COSINES for low in MIN_COSINES if low <= high]
    fewest = min(d.errors for d in grid)
    now = decisions_at(pairs, *current)
    if now.errors <= fewest + slack(pairs):
        return now
    return min(grid, key=lambda d: (d.errors, distance(d), -d.min_cosine, -d.min_cosine_with_overlap))


def load_reference_tickets(path: Path | str) -> list[dict]:
    """Tickets with ``references`` (a list of replies, or one ``reference_reply``) and ``relevant_doc_ids``.

    Rows without either are skipped: they give no pair.

    Raises:
        eval.retrieval.DatasetError: unreadable file or a malformed line (named by number).
    """
    from eval.retrieval import DatasetError, read_ticket_lines

    rows = []
    for number, item in read_ticket_lines(path):
        references = item.get("references")
        if references is None and item.get("reference_reply"):
            references = [item["reference_reply"]]
        relevant = item.get("relevant_doc_ids") or []
        if not isinstance(references or [], list) or not isinstance(relevant, list):
            raise DatasetError(f"{path}:{number}: \"references\" and \"relevant_doc_ids\" must be lists")
        if references and relevant:
            rows.append({"id": str(item.get("id", number)), "references": [str(r) for r in references],
                         "relevant": [str(d) for d in relevant]})
    return rows


def fit_grounding_thresholds(kb, tickets_path: Path | str, *,
                             on_ticket: Callable[[int, int], None] | None = None) -> dict:
    """Fit the grounding cosines for the knowledge base's embedding model.

    Args:
        kb: a :class:`kb.knowledge_base.KnowledgeBase` holding the tickets' relevant documents;
            its settings give the current thresholds.
        tickets_path: tickets with reference replies (:func:`load_reference_tickets`).
        on_ticket: called with ``(tickets done, tickets in all)``.

    Returns:
        A result dict (``kind == "grounding_fit"``): pair counts, the current and the chosen
        decisions, ``recommend``, ``env``, a ``curve`` (wrong decisions per cosine at the chosen
        cosine with overlap), the cosines of both kinds of pair, and the reference sentences
        each setting gets wrong.

    Raises:
        eval.retrieval.DatasetError: no ticket with references whose documents the knowledge
            base holds, or no other document to contrast them with.
    """
    from eval.retrieval import DatasetError
    from kb.drafting.grounding import GroundingChecker, content_sentences
    from kb.pii import redact

    settings = kb.settings
    rows = load_reference_tickets(tickets_path)
    metas = kb.catalog.active_metas()
    usable = [r for r in rows if all(d in metas for d in r["relevant"])]
    missing = sorted({d for r in rows for d in r["relevant"] if d not in metas})
    if not usable:
        where = f"; missing: {', '.join(missing[:5])}" if missing else ""
        raise DatasetError(f"{tickets_path}: no ticket has \"references\" and \"relevant_doc_ids\" that the knowledge "
                           f"base at {settings.home} holds{where}")
    texts: dict[str, list[str]] = {}
    for chunk in kb.catalog.active_chunks():
        texts.setdefault(chunk.doc_id, []).append(chunk.text)
    contrast = sorted(d for d, meta in metas.items() if meta.doc_type != "qa" and d in texts)
    checker = GroundingChecker.from_settings(kb.embedder, settings)
    pairs: list[ScoredPair] = []
    sentences: list[tuple[str, str]] = []  # (ticket id, sentence) per pair
    for done, row in enumerate(usable, start=1):
        others = [d for d in contrast if d not in row["relevant"]]
        if not others:
            raise DatasetError(f"{tickets_path}: ticket {row['id']}: the knowledge base has no other document to "
                               "contrast its references with")
        other = random.Random(row["id"]).choice(others)
        own = [t for d in row["relevant"] for t in texts.get(d, [])]
        for reference in row["references"]:
            for sentence in content_sentences(reference):
                for supported, passages in ((True, own), (False, texts[other])):
                    cos, lexical = checker.score(sentence, passages)
                    pairs.append(ScoredPair(supported, round(cos, 4), round(lexical, 4)))
                    sentences.append((row["id"], sentence))
        if on_ticket is not None:
            on_ticket(done, len(usable))
    if not pairs:
        raise DatasetError(f"{tickets_path}: the references have no content sentence to fit on")
    current_setting = (settings.grounding_min_cosine, settings.grounding_min_cosine_with_overlap)
    current = decisions_at(pairs, *current_setting)
    chosen = choose(pairs, current_setting)
    supported_pairs = sum(p.supported for p in pairs)
    warnings = []
    if supported_pairs < MIN_PAIRS:
        warnings.append(f"only {supported_pairs} reference sentence(s): the fit is rough")
    if missing:
        warnings.append(f"{len(rows) - len(usable)} ticket(s) left out: the knowledge base lacks "
                        f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")

    def wrong(min_cosine: float, min_cosine_with_overlap: float) -> list[dict]:
        from kb.drafting.grounding import supports

        return [{"ticket": ticket, "pair": "supported" if p.supported else "unsupported", "cosine": p.cosine,
                 "sentence": redact(sentence, handles=True).text[:160]}
                for p, (ticket, sentence) in zip(pairs, sentences)
                if p.supported != supports(p.cosine, p.overlap, min_cosine, min_cosine_with_overlap)]

    return {
        "kind": "grounding_fit",
        "dataset": Path(tickets_path).name,
        "model": settings.embedding_model,
        "knowledge_base": str(settings.home),
        "tickets": len(usable), "pairs": len(pairs), "supported_pairs": supported_pairs,
        "current": asdict(current), "chosen": asdict(chosen),
        "recommend": chosen.errors < current.errors,
        "slack": slack(pairs),
        "env": {f"{_PREFIX}GROUNDING_MIN_COSINE": f"{chosen.min_cosine:g}",
                f"{_PREFIX}GROUNDING_MIN_COSINE_WITH_OVERLAP": f"{chosen.min_cosine_with_overlap:g}"},
        "curve": [{"min_cosine": d.min_cosine, "supported_rejected": d.supported_rejected,
                   "unsupported_accepted": d.unsupported_accepted}
                  for d in (decisions_at(pairs, high, min(chosen.min_cosine_with_overlap, high))
                            for high in MIN_COSINES)],
        "cosines": [{"pair": "supported" if p.supported else "unsupported", "cosine": p.cosine} for p in pairs],
        "wrong_now": wrong(*current_setting),
        "wrong_chosen": wrong(chosen.min_cosine, chosen.min_cosine_with_overlap),
        "warnings": warnings,
    }
