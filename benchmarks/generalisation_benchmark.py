"""Retrieval on a support set nothing was tuned on: banking77 as resolved-Q&A retrieval.

dstc10 and the demo tickets steered the retrieval design; this set did not. It checks that
the product's hybrid retrieval does not lose to the naive single retrievers on a different
kind of support data: short single-message tickets, no earlier conversation, no names.

Derived from ``../shared/datasets/banking77/test.csv`` (real customer queries, 77 intents,
CC-BY-4.0) in a temporary BEIR folder: each intent becomes one knowledge-base document
(title: the intent, text: ``--examples`` resolved questions of that intent, as a resolved
Q&A page would list them); the intent's other questions are the queries, its document the
only relevant one. The split is seeded, so every run scores the same queries.

A second layout, ``per_question``, stores resolved questions one per document, without
titles (the evaluation then titles each document by its id, as it does for any title-less
corpus): ``--per-question`` questions of each intent are documents, ``--queries-per-intent``
others are the queries, and every document of the query's intent is relevant.

Runs the same evaluation as ``replydesk eval retrieval`` (hybrid, rrf, bm25, dense) on both
and writes JSON to ``benchmarks/results/generalisation.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_result  # noqa: E402

from eval.retrieval import run_retrieval_eval  # noqa: E402
from ingest.pipeline import ingest_records  # noqa: E402
from kb.config import Settings  # noqa: E402

BANKING77 = REPO.parent / "shared" / "datasets" / "banking77" / "test.csv"
CONFIGS = ("hybrid", "rrf", "bm25", "dense")


def _shuffled_by_intent(source: Path, seed: int) -> list[tuple[str, list[str]]]:
    """banking77's questions per intent (intents sorted), each list shuffled by one seeded RNG."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    with source.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["category"]].append(row["text"].strip())
    rng = random.Random(seed)
    out = []
    for intent in sorted(by_intent):
        texts = by_intent[intent][:]
        rng.shuffle(texts)
        out.append((intent, texts))
    return out


@contextmanager
def _beir_files(folder: Path):
    """``(add_document, add_query)`` writing a BEIR folder; ``add_query`` numbers the queries."""
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as corpus, \
            (folder / "queries.jsonl").open("w", encoding="utf-8") as queries, \
            (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        count = 0

        def add_document(entry: dict) -> None:
            corpus.write(json.dumps(entry) + "\n")

        def add_query(text: str, relevant: list[str]) -> None:
            nonlocal count
            query_id = f"q{count}"
            count += 1
            queries.write(json.dumps({"_id": query_id, "text": text}) + "\n")
            qrels.writelines(f"{query_id}\t{doc_id}\t1\n" for doc_id in relevant)

        yield add_document, add_query


def write_beir(source: Path, folder: Path, *, examples: int, seed: int) -> dict:
    """Write the derived BEIR folder; returns its sizes."""
    intents = _shuffled_by_intent(source, seed)
    n_queries = 0
    with _beir_files(folder) as (add_document, add_query):
        for intent, texts in intents:
            title = intent.replace("_", " ").capitalize()
            body = "\n".join(f"Q: {text}" for text in texts[:examples])
            add_document({"_id": intent, "title": title, "text": body})
            for text in texts[examples:]:
                add_query(text, [intent])
                n_queries += 1
    return {"documents": len(intents), "queries": n_queries, "examples_per_document": examples, "seed": seed}


def write_per_question_beir(source: Path, folder: Path, *, documents: int, queries_per_intent: int,
                            seed: int) -> dict:
    """Write the one-question-per-document BEIR folder (numeric ids, no titles); returns its sizes."""
    n_docs = n_queries = 0
    with _beir_files(folder) as (add_document, add_query):
        for _intent, texts in _shuffled_by_intent(source, seed):
            doc_ids = [str(n_docs + i) for i in range(len(texts[:documents]))]
            for doc_id, text in zip(doc_ids, texts):
                add_document({"_id": doc_id, "text": text})
            n_docs += len(doc_ids)
            for text in texts[documents:documents + queries_per_intent]:
                add_query(text, doc_ids)
                n_queries += 1
    return {"documents": n_docs, "queries": n_queries, "documents_per_intent": documents, "seed": seed}


def _summary(result: dict, sizes: dict) -> dict:
    configs = result["configs"]
    return {"dataset": sizes,
            "configs": {name: {k: configs[name][k] for k in ("hit@5", "recall@10", "mrr@10", "ndcg@10",
                                                              "latency_ms_p50", "latency_ms_p95")}
                        for name in CONFIGS},
            "hybrid_vs_best_single_mrr": round(configs["hybrid"]["mrr@10"]
                                               / max(configs["bm25"]["mrr@10"], configs["dense"]["mrr@10"]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=BANKING77, help="banking77 test.csv")
    parser.add_argument("--examples", type=int, default=10, help="resolved questions per intent document")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-question", type=int, default=5,
                        help="resolved questions per intent stored one per document in the second layout")
    parser.add_argument("--queries-per-intent", type=int, default=8, help="queries per intent in the second layout")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "generalisation.json")
    args = parser.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"{args.source}: not found (the shared datasets folder sits beside the repository)")
    with tempfile.TemporaryDirectory(prefix="replydesk-generalisation-") as tmp:
        folder = Path(tmp) / "banking77_qa"
        sizes = write_beir(args.source, folder, examples=args.examples, seed=args.seed)
        pages = run_retrieval_eval(folder, Settings(_env_file=None), indexer=ingest_records, configs=CONFIGS)
        folder = Path(tmp) / "banking77_per_question"
        per_question_sizes = write_per_question_beir(args.source, folder, documents=args.per_question,
                                                     queries_per_intent=args.queries_per_intent, seed=args.seed)
        per_question = run_retrieval_eval(folder, Settings(_env_file=None), indexer=ingest_records,
                                          configs=CONFIGS)
    write_result({"machine": machine(), **_summary(pages, sizes),
                  "per_question": _summary(per_question, per_question_sizes)}, args.out)


if __name__ == "__main__":
    main()
