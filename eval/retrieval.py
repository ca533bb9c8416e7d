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
    """A loaded BEIR-layout dataset (ids are strings; ``warnings`` says what was set aside)."""

    name: str
    corpus: list[dict]
    queries: list[dict]
    qrels: dict[str, dict[str, int]]
    references: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of a JSONL file."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    rows = []
    try:
        with path.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
                if not isinstance(row, dict):
                    raise DatasetError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
                rows.append((n, row))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return rows


def read_ticket_lines(path: Path | str) -> list[tuple[int, dict]]:
    """:func:`read_jsonl` for ticket files: every line needs a non-empty ``text`` string.

    Raises:
        DatasetError: unreadable file, a malformed line (named by number), or no ticket at all.
    """
    rows = read_jsonl(Path(path))
    for number, item in rows:
        if not isinstance(item.get("text"), str) or not item["text"].strip():
            raise DatasetError(f"{path}:{number}: each line needs a non-empty \"text\" string")
    if not rows:
        raise DatasetError(f"{path}: no tickets")
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


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _example(ids: list[str]) -> str:
    return f"e.g. {ids[0]!r}" + (f", {ids[1]!r}" if len(ids) > 1 else "")


def _unique_rows(path: Path, rows: list[tuple[int, dict]], required: tuple[str, ...]) -> list[dict]:
    """Rows with their ``_id`` as a string; every row must have ``required`` and a new ``_id``."""
    first_line: dict[str, int] = {}
    checked = []
    for n, row in rows:
        missing = [key for key in required if row.get(key) is None]
        if missing:
            raise DatasetError(f"{path}:{n}: missing {' and '.join(missing)}")
        for key in required[1:]:
            if not isinstance(row[key], str):
                raise DatasetError(f"{path}:{n}: {key} must be a string, got {type(row[key]).__name__}")
        row_id = str(row["_id"]).strip()
        if not row_id:
            raise DatasetError(f"{path}:{n}: empty _id")
        if row_id in first_line:
            raise DatasetError(f"{path}:{n}: duplicate _id {row_id!r} (first at line {first_line[row_id]})")
        first_line[row_id] = n
        checked.append({**row, "_id": row_id})
    return checked


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    for n, line in enumerate(lines, start=1):
        parts = [p.strip() for p in line.split("\t")]
        if not line.strip() or (n == 1 and parts[0].lower() in ("query-id", "query_id", "qid")):
            continue
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise DatasetError(f"{path}:{n}: expected query-id<TAB>corpus-id<TAB>score")
        try:
            score = int(float(parts[2])) if len(parts) > 2 and parts[2] else 1
        except ValueError:
            raise DatasetError(f"{path}:{n}: score {parts[2]!r} is not a number") from None
        if score > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = score
    return qrels


def load_beir(folder: Path | str, split: str | None = None) -> BeirDataset:
    """Load a BEIR-layout folder.

    Corpus entries without any text are set aside, and judgements that name a query or a
    document the folder does not hold are reported; both go to ``warnings`` and the rest is
    evaluated.

    Args:
        folder: holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
        split: qrels split; by default ``test``, or the only split the folder has.

    Raises:
        DatasetError: a required file is missing or malformed (named with its line), an
            ``_id`` repeats, or no query has a relevant document.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    corpus = _unique_rows(corpus_path, read_jsonl(corpus_path), ("_id",))
    queries = _unique_rows(queries_path, read_jsonl(queries_path), ("_id", "text"))
    qrels_path = _qrels_path(folder, split)
    qrels = _read_qrels(qrels_path)
    warnings: list[str] = []
    kept = []
    empty = []
    for entry in corpus:
        text, title = entry.get("text"), entry.get("title")
        text = text.strip() if isinstance(text, str) else ""
        title = title.strip() if isinstance(title, str) else ""
        if not text and not title:
            empty.append(entry["_id"])
            continue
        # A title-only entry (a question without its answer) is still a document to find.
        kept.append({**entry, "text": text or title, "title": title})
    if empty:
        warnings.append(f"{corpus_path}: {_count(len(empty), 'entry', 'entries')} without text or title set aside "
                        f"({_example(empty)})")
    query_ids = {q["_id"] for q in queries}
    doc_ids = {e["_id"] for e in kept}
    unknown_queries = [q for q in qrels if q not in query_ids]
    if unknown_queries:
        warnings.append(f"{qrels_path}: {_count(len(unknown_queries), 'judged query', 'judged queries')} not in "
                        f"{queries_path.name}, so not evaluated ({_example(unknown_queries)})")
    unknown_docs = sorted({d for q, judged in qrels.items() if q in query_ids for d in judged if d not in doc_ids})
    if unknown_docs:
        warnings.append(f"{qrels_path}: {_count(len(unknown_docs), 'relevant document', 'relevant documents')} "
                        f"not in the corpus; they count as relevant but can never be retrieved "
                        f"({_example(unknown_docs)})")
    if not any(q in qrels for q in query_ids):
        raise DatasetError(f"{qrels_path}: no query of {queries_path.name} has a relevant document here")
    references = {}
    ref_path = folder / "references.jsonl"
    if ref_path.is_file():
        references = {str(r["_id"]): str(r.get("reference_reply") or "") for _n, r in read_jsonl(ref_path)
                      if r.get("_id") is not None}
    return BeirDataset(name=folder.name, corpus=kept, queries=queries, qrels=qrels, references=references,
                       warnings=warnings)


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
        # Each configuration's latency includes encoding its queries (a shared cache would
        # hand every configuration after the first its query vectors for free).
        base = Retriever(kb, cache_query_vectors=False)
        results, per_query = {}, {}
        for name in configs:
            cfg = NAMED_CONFIGS[name]
            if name == "hybrid":
                cfg = base.config
            evaluation = evaluate_retriever(base.with_config(cfg), dataset)
            results[name], per_query[name] = evaluation["metrics"], evaluation["per_query"]
    first = results[configs[0]]
    return {"dataset": dataset.name, **{k: first[k] for k in METRIC_KEYS}, "configs": results,
            "per_query": per_query, "warnings": dataset.warnings,
            "timings": {"ingest_seconds": round(ingest_seconds, 2), "documents": len(dataset.corpus),
                        "chunks": report.chunks, "query_ms_p50": first["latency_ms_p50"],
                        "query_ms_p95": first["latency_ms_p95"]}}
