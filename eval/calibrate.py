"""Calibrate the fusion weights on labelled queries, with an honest (cross-validated) estimate.

The product fuses up to five ranked lists per ticket (dense and BM25 over the whole
conversation, BM25 over the message alone, dense and BM25 within the documents the
conversation names) by weighted reciprocal rank. The right weights depend on the knowledge
base and the tickets: short single-message questions favour the dense side, spoken or typed
conversations that name an entity favour the named-document lists. This module lets a
knowledge owner fit them to their own labelled tickets instead of trusting our defaults:

1. every query is searched once and its ranked lists are kept;
2. the fusion is replayed for every point of a grid (milliseconds per configuration);
3. the grid point chosen on k-1 folds is scored on the held-out fold, so the reported gain is
   what new tickets would see, not what the grid overfits;
4. new settings are recommended only when that cross-validated gain is real.

Only ratios matter to a reciprocal-rank fusion, so the BM25 weight stays fixed and the dense,
message and named-document weights move relative to it.
"""

from __future__ import annotations

import itertools
import random
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kb.config import Settings

#: The grid searched by default (``bm25_weight`` is the fixed reference).
#: The product's defaults (dense 2, k 30) sit inside it, so a fit can move either way.
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "dense_weight": (0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    "turn_weight": (0.0, 0.25, 0.5, 1.0),
    "entity_weight": (0.0, 1.0, 2.0, 3.0),
    "rrf_k": (20, 30, 60, 100),
}
METRICS = ("hit@5", "mrr@10")
#: Settings are recommended only above this cross-validated gain on the chosen metric.
MIN_GAIN = 0.005


@dataclass(frozen=True)
class FusionParams:
    """The fusion settings calibration moves."""

    dense_weight: float
    bm25_weight: float
    turn_weight: float
    entity_weight: float
    rrf_k: int

    def env(self) -> dict[str, str]:
        """The ``REPLYDESK_*`` environment lines that select these settings."""
        prefix = Settings.model_config["env_prefix"]
        return {f"{prefix}{name.upper()}": str(value) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class CapturedQuery:
    """One labelled query's ranked lists, ready to be fused again and again."""

    labels: tuple[str, ...]
    ranks: np.ndarray  # (lists, chunks) 0-based rank of each chunk in each list, -1 when absent
    doc_of_chunk: np.ndarray  # (chunks,) index of the chunk's document; chunks sorted by id
    relevant_docs: np.ndarray  # indices of the relevant documents among the candidates


def capture_query(lists, relevant: set[str]) -> CapturedQuery:
    """Turn a query's :class:`kb.retrieval.RankedList` s into arrays (chunks sorted by id, as
    the product breaks score ties)."""
    from kb.retrieval import parse_chunk_id

    chunk_ids = sorted({cid for ranked in lists for cid, _score in ranked.results})
    column = {cid: i for i, cid in enumerate(chunk_ids)}
    ranks = np.full((len(lists), len(chunk_ids)), -1, dtype=np.int64)
    for row, ranked in enumerate(lists):
        for rank, (cid, _score) in enumerate(ranked.results):
            ranks[row, column[cid]] = rank
    doc_ids = [parse_chunk_id(cid)[0] for cid in chunk_ids]
    doc_index = {d: i for i, d in enumerate(dict.fromkeys(doc_ids))}
    return CapturedQuery(labels=tuple(ranked.label for ranked in lists), ranks=ranks,
                         doc_of_chunk=np.asarray([doc_index[d] for d in doc_ids], dtype=np.int64),
                         relevant_docs=np.asarray([i for d, i in doc_index.items() if d in relevant],
                                                  dtype=np.int64))


def replay(query: CapturedQuery, configs: Sequence, rrf_k: int) -> np.ndarray:
    """Rank (0-based) of the first relevant document under each configuration, as the product's
    fusion would order the documents (``inf`` when no relevant document is a candidate).

    ``configs`` are :class:`kb.retrieval.RetrievalConfig` s sharing ``rrf_k``.
    """
    n_configs = len(configs)
    if not query.relevant_docs.size or not query.ranks.size:
        return np.full(n_configs, np.inf)
    weights = np.asarray([[cfg.list_weight(label) for label in query.labels] for cfg in configs])
    denominators = np.where(query.ranks >= 0, rrf_k + query.ranks + 1, 0).astype(np.float64)
    scores = np.zeros((n_configs, query.ranks.shape[1]))
    in_fusion = np.zeros_like(scores, dtype=bool)
    # Same float operations, in the same order, as kb.retrieval.fuse_ranked_lists.
    for row in range(len(query.labels)):
        present = query.ranks[row] >= 0
        active = weights[:, row] > 0
        if present.any() and active.any():
            scores[np.ix_(active, present)] += weights[active, row][:, None] / denominators[row, present][None, :]
            in_fusion[np.ix_(active, present)] = True
    n_docs = int(query.doc_of_chunk.max()) + 1
    doc_score = np.full((n_configs, n_docs), -np.inf)
    np.maximum.at(doc_score.T, query.doc_of_chunk, np.where(in_fusion, scores, -np.inf).T)
    # A document is represented by its best chunk, the lowest chunk id among equals.
    chunk_order = np.arange(query.ranks.shape[1])
    is_best = in_fusion & (scores == doc_score[:, query.doc_of_chunk])
    representative = np.full((n_configs, n_docs), np.iinfo(np.int64).max)
    np.minimum.at(representative.T, query.doc_of_chunk, np.where(is_best, chunk_order[None, :], np.iinfo(np.int64).max).T)
    retrieved = np.isfinite(doc_score)
    best_rank = np.full(n_configs, np.inf)
    for doc in query.relevant_docs:
        ok = retrieved[:, doc]
        ahead = retrieved & ((doc_score > doc_score[:, [doc]])
                             | ((doc_score == doc_score[:, [doc]]) & (representative < representative[:, [doc]])))
        rank = np.where(ok, ahead.sum(axis=1), np.inf)
        best_rank = np.minimum(best_rank, rank)
    return best_rank


def metrics_of(ranks: np.ndarray) -> dict[str, np.ndarray]:
    """hit@5 and MRR@10 from 0-based first-relevant ranks."""
    return {"hit@5": (ranks < 5).astype(np.float64),
            "mrr@10": np.where(ranks < 10, 1.0 / (np.minimum(ranks, 1e9) + 1), 0.0)}


def _check_options(metric: str, folds: int) -> None:
    from eval.retrieval import DatasetError

    if metric not in METRICS:
        raise DatasetError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    if folds < 2:
        raise DatasetError("cross-validation needs at least 2 folds")


def calibrate_fusion(dataset_dir: Path | str, settings: Settings, *, indexer, metric: str = "mrr@10",
                     folds: int = 5, seed: int = 13, grid: dict[str, Sequence[float]] | None = None,
                     keep_home: Path | None = None, split: str | None = None, progress: bool = False,
                     on_query: Callable[[int, int], None] | None = None) -> dict:
    """Fit the fusion weights to a labelled BEIR dataset (its corpus is ingested for the purpose).

    Args:
        dataset_dir: BEIR folder with qrels.
        settings: the current settings (their weights are the baseline).
        indexer: ingests the corpus (:func:`ingest.pipeline.ingest_records`).
        metric: what to maximise, ``mrr@10`` or ``hit@5``.
        folds: cross-validation folds (at least 2; fewer queries than folds means one query each).
        seed: fold assignment seed.
        grid: values to search per parameter (default :data:`DEFAULT_GRID`).
        keep_home: keep the evaluation index here (reused next time).
        split: qrels split.
        progress: show the ingest progress bar.
        on_query: called with ``(done, total)`` while the queries are searched.

    Returns:
        See :func:`calibrate_retriever`; ``dataset`` is the folder's name.

    Raises:
        eval.retrieval.DatasetError: bad dataset, unknown metric, no labelled queries.
    """
    from eval.retrieval import DatasetError, build_eval_kb, load_beir, ticket_of
    from kb.retrieval import Retriever

    _check_options(metric, folds)
    dataset = load_beir(dataset_dir, split)
    labelled = [(ticket_of(q), {d for d, s in dataset.qrels.get(str(q["_id"]), {}).items() if s > 0})
                for q in dataset.queries]
    labelled = [(ticket, relevant) for ticket, relevant in labelled if relevant]
    if not labelled:
        raise DatasetError(f"{dataset_dir}: no query has a relevant document in the qrels")
    with tempfile.TemporaryDirectory(prefix="replydesk-calibrate-") as tmp:
        kb, _report = build_eval_kb(dataset, settings, keep_home or Path(tmp), indexer=indexer, progress=progress)
        result = calibrate_retriever(Retriever(kb), labelled, dataset=dataset.name, metric=metric, folds=folds,
                                     seed=seed, grid=grid, on_query=on_query)
    return {**result, "warnings": dataset.warnings}


def load_labelled_tickets(path: Path | str) -> list[tuple]:
    """Labelled tickets from a JSONL file: one object per line with ``text``, optional
    ``context`` and ``relevant_doc_ids`` (the format of ``demo/tickets.jsonl``).

    Lines without relevant documents are skipped (they label something else, e.g. risk).

    Raises:
        eval.retrieval.DatasetError: unreadable file or a malformed line (named by number).
    """
    import json

    from eval.retrieval import DatasetError
    from kb.types import Ticket

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    labelled = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise DatasetError(f"{path}:{number}: each line needs a \"text\" string")
        relevant = item.get("relevant_doc_ids", [])
        if not isinstance(relevant, list) or not all(isinstance(d, str) for d in relevant):
            raise DatasetError(f"{path}:{number}: \"relevant_doc_ids\" must be a list of document ids")
        if relevant:
            labelled.append((Ticket(text=item["text"], context=str(item.get("context") or "")), set(relevant)))
    if not labelled:
        raise DatasetError(f"{path}: no ticket lists relevant_doc_ids")
    return labelled


def calibrate_on_tickets(kb, tickets_path: Path | str, *, metric: str = "mrr@10", folds: int = 5, seed: int = 13,
                         grid: dict[str, Sequence[float]] | None = None,
                         on_query: Callable[[int, int], None] | None = None) -> dict:
    """Fit the fusion weights to labelled tickets against a live knowledge base.

    Args:
        kb: the :class:`kb.knowledge_base.KnowledgeBase` the tickets were labelled against.
        tickets_path: JSONL of labelled tickets (:func:`load_labelled_tickets`).
        metric, folds, seed, grid, on_query: as for :func:`calibrate_fusion`.

    Raises:
        eval.retrieval.DatasetError: bad tickets file, options, an empty knowledge base, or
            labels naming documents the knowledge base does not have.
    """
    from eval.retrieval import DatasetError
    from kb.retrieval import Retriever

    _check_options(metric, folds)
    labelled = load_labelled_tickets(tickets_path)
    _generation, active = kb.active_versions()
    if not active:
        raise DatasetError(f"the knowledge base at {kb.settings.home} has no documents; ingest them first")
    unknown = sorted({d for _t, relevant in labelled for d in relevant} - set(active))
    if unknown:
        raise DatasetError(f"{tickets_path}: {len(unknown)} relevant document id(s) are not active in the knowledge "
                           f"base at {kb.settings.home}: {', '.join(unknown[:5])}")
    return calibrate_retriever(Retriever(kb), labelled, dataset=Path(tickets_path).name, metric=metric, folds=folds,
                               seed=seed, grid=grid, on_query=on_query)


def calibrate_retriever(retriever, labelled: list[tuple], *, dataset: str, metric: str = "mrr@10", folds: int = 5,
                        seed: int = 13, grid: dict[str, Sequence[float]] | None = None,
                        on_query: Callable[[int, int], None] | None = None) -> dict:
    """Search each labelled ticket once with ``retriever`` and replay the fusion over the grid.

    Args:
        retriever: a :class:`kb.retrieval.Retriever`; its configuration is the baseline.
        labelled: ``(ticket, relevant document ids)`` pairs.
        dataset: a name for the report.
        metric, folds, seed, grid, on_query: as for :func:`calibrate_fusion`.

    Returns:
        ``{"kind": "calibration", "dataset", "queries", "metric", "current", "best",
        "cross_validated", "recommend", "env", "grid_points", "seconds"}``.
    """
    _check_options(metric, folds)
    grid = {**DEFAULT_GRID, **(grid or {})}
    started = time.perf_counter()
    current_cfg = retriever.config
    # Every list must exist to be re-weighted, so capture with all of them switched on.
    capturing = retriever.with_config(replace(current_cfg, turn_weight=current_cfg.turn_weight or 1.0,
                                              entity_weight=current_cfg.entity_weight or 1.0))
    captured = []
    for done, (ticket, relevant) in enumerate(labelled, start=1):
        captured.append(capture_query(capturing.ranked_lists(ticket), relevant))
        if on_query is not None:
            on_query(done, len(labelled))
    search_seconds = time.perf_counter() - started

    current = FusionParams(current_cfg.dense_weight, current_cfg.bm25_weight, current_cfg.turn_weight,
                           current_cfg.entity_weight, current_cfg.rrf_k)
    points = [current] + [FusionParams(d, current.bm25_weight, t, e, int(k)) for d, t, e, k in itertools.product(
        grid["dense_weight"], grid["turn_weight"], grid["entity_weight"], grid["rrf_k"])]
    points = list(dict.fromkeys(points))  # the current settings first, once
    ranks = np.empty((len(points), len(captured)))
    by_k: dict[int, list[int]] = {}
    for index, point in enumerate(points):
        by_k.setdefault(point.rrf_k, []).append(index)
    for rrf_k, indices in by_k.items():
        configs = [replace(current_cfg, dense_weight=points[i].dense_weight, bm25_weight=points[i].bm25_weight,
                           turn_weight=points[i].turn_weight, entity_weight=points[i].entity_weight, rrf_k=rrf_k)
                   for i in indices]
        for column, query in enumerate(captured):
            ranks[indices, column] = replay(query, configs, rrf_k)
    scores = metrics_of(ranks)
    target = scores[metric]

    def summary(index: int) -> dict:
        return {name: round(float(values[index].mean()), 4) for name, values in scores.items()}

    # Ties go to the current settings (index 0), then to the grid's order.
    best = int(np.argmax(target.mean(axis=1)))
    rng = random.Random(seed)
    order = list(range(len(captured)))
    rng.shuffle(order)
    fold_of = np.empty(len(captured), dtype=np.int64)
    for position, column in enumerate(order):
        fold_of[column] = position % min(folds, len(captured))
    held_out = {name: np.empty(len(captured)) for name in scores}
    chosen = []
    for fold in range(min(folds, len(captured))):
        train, test = fold_of != fold, fold_of == fold
        pick = int(np.argmax(target[:, train].mean(axis=1)))
        chosen.append(asdict(points[pick]))
        for name in scores:
            held_out[name][test] = scores[name][pick, test]
    cross_validated = {name: round(float(values.mean()), 4) for name, values in held_out.items()}
    gain = cross_validated[metric] - float(target[0].mean())
    recommend = best != 0 and gain >= MIN_GAIN
    return {
        "kind": "calibration", "dataset": dataset, "queries": len(captured), "metric": metric,
        "current": {"params": asdict(current), **summary(0)},
        "best": {"params": asdict(points[best]), **summary(best)},
        "cross_validated": {"folds": min(folds, len(captured)), **cross_validated,
                            "gain": round(gain, 4), "chosen_per_fold": chosen},
        "recommend": recommend,
        "env": points[best].env() if recommend else {},
        "grid_points": len(points),
        "seconds": {"search": round(search_seconds, 1), "total": round(time.perf_counter() - started, 1)},
    }
