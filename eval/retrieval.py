"""Retrieval evaluation on BEIR-layout datasets, through the product's own retrieval.

Dataset layout: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
``text``, optional ``context``) and ``qrels/test.tsv`` (``query-id``, ``corpus-id``,
``score``). Each corpus entry is ingested as one document into a temporary data home;
every query goes through :class:`kb.retrieval.Retriever` exactly as the app calls it.
Metrics are document-level.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from kb.config import Settings
from kb.types import Ticket

if TYPE_CHECKING:  # pragma: no cover
    from kb.types import IngestReport

METRIC_KEYS = ("hit@5", "recall@5", "recall@10", "mrr@10", "ndcg@10")


class DatasetError(ValueError):
    """The dataset folder is missing files or has malformed rows."""


@dataclass
class BeirDataset:
    """A loaded BEIR-layout dataset."""

    name: str
    corpus: list[dict]
    queries: list[dict]
    qrels: dict[str, dict[str, int]]
    references: dict[str, str] = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
    return rows


def _qrels_path(folder: Path, split: str | None) -> Path:
    qrels_dir = folder / "qrels"
    available = sorted(p.stem for p in qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
    if split is None:
        # BEIR's convention is "test"; a folder that ships only one split means that one.
        split = "test" if "test" in available or len(available) != 1 else available[0]
    path = qrels_dir / f"{split}.tsv"
    if not path.is_file():
        hint = f" (available splits: {', '.join(available)})" if available else ""
        raise DatasetError(f"{path}: file not found{hint}")
    return path


def load_beir(folder: Path | str, split: str | None = None) -> BeirDataset:
    """Load a BEIR-layout folder.

    Args:
        folder: holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
        split: qrels split; by default ``test``, or the only split the folder has.

    Raises:
        DatasetError: a required file is missing or malformed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    corpus = _read_jsonl(folder / "corpus.jsonl")
    queries = _read_jsonl(folder / "queries.jsonl")
    qrels_path = _qrels_path(folder, split)
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.strip().split("\t")
        if not line.strip() or (n == 1 and parts[0] in ("query-id", "query_id", "qid")):
            continue
        if len(parts) < 2:
            raise DatasetError(f"{qrels_path}:{n}: expected query-id<TAB>corpus-id<TAB>score")
        score = int(float(parts[2])) if len(parts) > 2 else 1
        if score > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = score
    references = {}
    ref_path = folder / "references.jsonl"
    if ref_path.is_file():
        references = {r["_id"]: r.get("reference_reply", "") for r in _read_jsonl(ref_path)}
    for row in corpus:
        if "_id" not in row or "text" not in row:
            raise DatasetError(f"{folder / 'corpus.jsonl'}: every entry needs _id and text")
    return BeirDataset(name=folder.name, corpus=corpus, queries=queries, qrels=qrels, references=references)


def query_metrics(ranked_doc_ids: Sequence[str], relevant: dict[str, int]) -> dict[str, float]:
    """Document-level metrics of one ranked list against graded relevance."""
    rel = {d for d, s in relevant.items() if s > 0}
    first = next((i for i, d in enumerate(ranked_doc_ids[:10]) if d in rel), None)
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked_doc_ids[:10]) if d in rel)
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(s / math.log2(i + 2) for i, s in enumerate(ideal))
    return {
        "hit@5": float(any(d in rel for d in ranked_doc_ids[:5])),
        "recall@5": len(rel & set(ranked_doc_ids[:5])) / len(rel) if rel else 0.0,
        "recall@10": len(rel & set(ranked_doc_ids[:10])) / len(rel) if rel else 0.0,
        "mrr@10": 1.0 / (first + 1) if first is not None else 0.0,
        "ndcg@10": dcg / idcg if idcg else 0.0,
    }


def _turn_text(turn) -> str:
    if isinstance(turn, dict):
        return str(turn.get("text") or turn.get("content") or turn.get("utterance") or "")
    return str(turn)


def ticket_of(query: dict) -> Ticket:
    """The ticket a BEIR query stands for.

    ``context`` is the earlier conversation: a string, or a list of turns (strings or
    ``{"text"|"content"|"utterance": ...}`` objects, oldest first); it may also sit in
    ``metadata``.
    """
    context = query.get("context")
    if context is None and isinstance(query.get("metadata"), dict):
        context = query["metadata"].get("context")
    if isinstance(context, (list, tuple)):
        context = "\n".join(t for t in (_turn_text(turn).strip() for turn in context) if t)
    return Ticket(text=str(query.get("text", "") or ""), context=str(context or ""))


#: Ingests ``(doc_id, title, text)`` records into a knowledge base and returns the report.
#: The app passes :func:`ingest.pipeline.ingest_records`; ``eval`` itself imports only ``kb``.
CorpusIndexer = Callable[..., "IngestReport"]


def build_eval_kb(dataset: BeirDataset, settings: Settings, home: Path, *, indexer: CorpusIndexer,
                  progress: bool = False):
    """Ingest the corpus into ``home`` with ``indexer``; returns ``(knowledge base, ingest report)``.

    A ``home`` kept from an earlier run is reused: unchanged entries are not embedded again.

    Raises:
        DatasetError: ``home`` holds documents that are not in this dataset's corpus (an index
            kept for another dataset would mix the two).
    """
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(settings.with_home(home).model_copy(update={"chroma_host": None, "database_url": None}))
    _generation, active = kb.active_versions()
    if active:
        foreign = sorted(set(active) - {str(e["_id"]) for e in dataset.corpus})
        if foreign:
            raise DatasetError(f"{home}: this index holds {len(foreign)} documents that are not in {dataset.name} "
                               f"(e.g. {foreign[0]}); keep one index folder per dataset")
    report = indexer(kb, ((str(e["_id"]), e.get("title") or str(e["_id"]), e["text"]) for e in dataset.corpus),
                     progress=progress)
    return kb, report


def evaluate_retriever(retriever, dataset: BeirDataset, *, k: int = 10) -> dict:
    """Run every query with qrels through ``retriever``; aggregate and per-query results."""
    per_query = []
    latencies = []
    for query in dataset.queries:
        relevant = dataset.qrels.get(str(query["_id"]))
        if not relevant:
            continue
        started = time.perf_counter()
        hits = retriever.search(ticket_of(query), k=k, dedupe_documents=True)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = [h.doc_id for h in hits]
        metrics = query_metrics(ranked, relevant)
        first = next((i + 1 for i, d in enumerate(ranked) if d in relevant), None)
        per_query.append({"query_id": query["_id"], "query": query.get("text", ""), "first_relevant_rank": first,
                          "retrieved_titles": [h.title for h in hits[:5]], "retrieved": ranked[:5], **metrics})
    n = len(per_query) or 1
    summary = {key: round(sum(q[key] for q in per_query) / n, 4) for key in METRIC_KEYS}
    lat = sorted(latencies) or [0.0]
    summary.update({"queries": len(per_query),
                    "latency_ms_p50": round(lat[len(lat) // 2], 2),
                    "latency_ms_p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2)})
    return {"metrics": summary, "per_query": per_query}


def run_retrieval_eval(dataset_dir: Path | str, settings: Settings, *, indexer: CorpusIndexer,
                       configs: Sequence[str] = ("hybrid",), progress: bool = False,
                       keep_home: Path | None = None, split: str | None = None) -> dict:
    """Evaluate one or more named retrieval configurations on a BEIR dataset.

    ``indexer`` ingests the corpus (the CLI passes :func:`ingest.pipeline.ingest_records`).

    Returns:
        ``{"dataset", "configs": {name: metrics}, "per_query": {name: [...]}, "timings": {...}}``;
        the first configuration's metrics are also at the top level.
    """
    from kb.retrieval import NAMED_CONFIGS, Retriever

    unknown = [c for c in configs if c not in NAMED_CONFIGS]
    if unknown:
        raise DatasetError(f"unknown retrieval config(s) {', '.join(unknown)}; choose from {', '.join(NAMED_CONFIGS)}")
    dataset = load_beir(dataset_dir, split)
    with tempfile.TemporaryDirectory(prefix="replydesk-eval-") as tmp:
        home = keep_home or Path(tmp)
        started = time.perf_counter()
        kb, report = build_eval_kb(dataset, settings, home, indexer=indexer, progress=progress)
        ingest_seconds = time.perf_counter() - started
        base = Retriever(kb)
        results, per_query = {}, {}
        for name in configs:
            cfg = NAMED_CONFIGS[name]
            if name == "hybrid":
                cfg = base.config
            evaluation = evaluate_retriever(base.with_config(cfg), dataset)
            results[name], per_query[name] = evaluation["metrics"], evaluation["per_query"]
    first = results[configs[0]]
    return {"dataset": dataset.name, **{k: first[k] for k in METRIC_KEYS}, "configs": results,
            "per_query": per_query,
            "timings": {"ingest_seconds": round(ingest_seconds, 2), "documents": len(dataset.corpus),
                        "chunks": report.chunks, "query_ms_p50": first["latency_ms_p50"],
                        "query_ms_p95": first["latency_ms_p95"]}}
