"""Query latency at 1k / 10k / 100k chunks: replydesk hybrid retrieval vs naive dense-only.

The chunks are synthetic (text drawn from the demo knowledge base's vocabulary, vectors
from real embeddings of demo passages plus noise) so that a 100k-chunk store can be built
without hours of encoding. Queries are the demo tickets (with their earlier
conversation), so query embedding is real and included in every timing.

The naive baseline is langchain-chroma's `similarity_search` over the same collection
with `HuggingFaceEmbeddings` on the same model (query = conversation + message). The same tickets are also timed
naming one of the documents ("I was reading <title>"), which takes the title-linking path,
and at the end of a long thread (eval.perturb.with_long_thread), naive included.
Writes JSON to benchmarks/results/query.json.

Usage: python benchmarks/query_benchmark.py [--sizes 1000 10000 100000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
from common import machine, write_result  # noqa: E402

from eval.perturb import with_long_thread  # noqa: E402
from ingest.chunking import chunk_id  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.embedder import get_embedder, resolve_model  # noqa: E402
from kb.knowledge_base import KnowledgeBase  # noqa: E402
from kb.linking import TitleLinker  # noqa: E402
from kb.retrieval import Retriever  # noqa: E402
from kb.types import Chunk, DocumentMeta, Ticket  # noqa: E402

DEMO = REPO / "demo"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def demo_passages() -> list[str]:
    texts = []
    for path in sorted((DEMO / "kb" / "docs").glob("*.md")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            para = " ".join(para.split())
            if len(para) > 80 and not para.startswith("---"):
                texts.append(para)
    return texts


def build_store(settings: Settings, embedder, size: int, seeds: list[str], seed_vectors: np.ndarray) -> KnowledgeBase:
    rng = np.random.default_rng(size)
    words = re.findall(r"[a-z]+", " ".join(seeds).lower())
    kb = KnowledgeBase(settings, embedder=embedder)
    per_doc = 20
    entries = []
    for d in range(size // per_doc):
        meta = DocumentMeta(doc_id=f"synthetic-{d}", title=f"Synthetic policy {d} " + " ".join(rng.choice(words, 3)),
                            doc_type="sop", version=1, language="en", sha256=str(d))
        chunks, vectors = [], []
        for i in range(per_doc):
            base = int(rng.integers(len(seeds)))
            text = " ".join(rng.choice(words, 60)) + " " + seeds[base][:300]
            chunks.append(Chunk(chunk_id=chunk_id(meta.doc_id, 1, i), doc_id=meta.doc_id, version=1, ordinal=i,
                                text=text, title=meta.title, doc_type="sop", language="en"))
            v = seed_vectors[base] + rng.normal(0, 0.05, seed_vectors.shape[1]).astype(np.float32)
            vectors.append(v / np.linalg.norm(v))
        entries.append((meta, chunks, np.asarray(vectors, dtype=np.float32)))
        if len(entries) == 250:
            kb.commit(entries, rebuild_lexical=False)
            entries = []
    if entries:
        kb.commit(entries, rebuild_lexical=False)
    kb.rebuild_lexical()
    return kb


def app_rss_probe(home: Path) -> None:
    """Child process: what the app holds at this size (streamlit imported, KB open, model
    loaded, searches and offline drafts run); prints its peak RSS in MB."""
    import streamlit  # noqa: F401  - the app process has it loaded

    from kb.drafting.models import DraftOptions
    from kb.drafting.service import draft_reply

    settings = Settings(_env_file=None).with_home(home)
    kb = KnowledgeBase(settings)
    retriever = Retriever(kb)
    tickets = [json.loads(line) for line in (DEMO / "tickets.jsonl").read_text().splitlines() if line.strip()]
    for t in tickets[:20]:
        draft_reply(Ticket(text=t["text"], context=t.get("context", "")), retriever, settings, DraftOptions())
    # VmHWM (peak RSS of this address space): ru_maxrss would carry the parent's peak over fork+exec.
    status = Path("/proc/self/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(round(peak_kb / 1024, 1))


def measure_app_rss(home: Path) -> float:
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--probe", str(home)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "query.json")
    args = parser.parse_args()
    if args.probe:
        app_rss_probe(args.probe)
        return

    settings = Settings(_env_file=None)
    embedder = get_embedder(settings)
    seeds = demo_passages()
    seed_vectors = embedder.encode(seeds)
    tickets = [json.loads(line) for line in (DEMO / "tickets.jsonl").read_text().splitlines() if line.strip()]
    queries = [Ticket(text=t["text"], context=t.get("context", "")) for t in tickets]

    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    lc_embeddings = HuggingFaceEmbeddings(model_name=resolve_model(settings.embedding_model)[0],
                                          model_kwargs={"device": "cpu"})
    results = {"machine": machine(), "sizes": {}}
    work = Path(tempfile.mkdtemp(prefix="replydesk-qbench-"))
    try:
        for size in args.sizes:
            home = work / f"home-{size}"
            started = time.perf_counter()
            kb = build_store(settings.with_home(home), embedder, size, seeds, seed_vectors)
            build_s = time.perf_counter() - started
            # Every timed search encodes its query, as a new ticket does (the queries repeat
            # over --repeats, and the product's retriever would otherwise find them cached).
            retriever = Retriever(kb, cache_query_vectors=False)
            naive = Chroma(client=kb.vectors.client, collection_name=settings.collection,
                           embedding_function=lc_embeddings)
            for q in queries[:3]:
                retriever.search(q)
                naive.similarity_search(f"{q.context} {q.text}", k=5)
            # The same tickets naming one of the documents ("I was reading <title>"): they take
            # the title-linking path, a search within the named documents.
            all_titles = kb.catalog.active_titles()
            titles = [random.Random(size + i).choice(all_titles) for i in range(len(queries))]
            naming = [Ticket(text=q.text, context=f"{q.context} I was reading {title}".strip())
                      for q, title in zip(queries, titles)]
            linker = TitleLinker(all_titles)
            linked_share = sum(bool(linker.link(f"{q.context} {q.text}")) for q in naming) / len(naming)
            # And at the end of a long thread (~350 tokens of settled chat before their context):
            # the dense side reads the latest turns and also the message alone.
            threaded = [Ticket(text=q.text, context=with_long_thread(q.context)) for q in queries]
            hybrid_ms, naive_ms, linked_ms, thread_ms, naive_thread_ms = [], [], [], [], []
            order = list(zip(queries, naming)) * args.repeats
            random.Random(0).shuffle(order)
            for q, named in order:
                t = time.perf_counter()
                naive.similarity_search(f"{q.context} {q.text}".strip(), k=5)
                naive_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                retriever.search(q, k=5)
                hybrid_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                retriever.search(named, k=5)
                linked_ms.append((time.perf_counter() - t) * 1000)
            # In a loop of their own, so the main comparison runs exactly as it always has.
            long_order = threaded * args.repeats
            random.Random(1).shuffle(long_order)
            for long_q in long_order:
                t = time.perf_counter()
                retriever.search(long_q, k=5)
                thread_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                naive.similarity_search(f"{long_q.context} {long_q.text}", k=5)
                naive_thread_ms.append((time.perf_counter() - t) * 1000)
            row = {
                "chunks": kb.vectors.count(), "build_seconds": round(build_s, 1),
                "hybrid_ms": {"p50": round(percentile(hybrid_ms, 50), 2), "p95": round(percentile(hybrid_ms, 95), 2)},
                "naive_dense_ms": {"p50": round(percentile(naive_ms, 50), 2), "p95": round(percentile(naive_ms, 95), 2)},
                "hybrid_naming_a_document_ms": {"p50": round(percentile(linked_ms, 50), 2),
                                                "p95": round(percentile(linked_ms, 95), 2),
                                                "linked_share": round(linked_share, 3)},
                "hybrid_after_a_long_thread_ms": {"p50": round(percentile(thread_ms, 50), 2),
                                                  "p95": round(percentile(thread_ms, 95), 2)},
                "naive_dense_after_a_long_thread_ms": {"p50": round(percentile(naive_thread_ms, 50), 2),
                                                       "p95": round(percentile(naive_thread_ms, 95), 2)},
                "rss_mb_after": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
            row["hybrid_p95_over_naive_p95"] = round(row["hybrid_ms"]["p95"] / row["naive_dense_ms"]["p95"], 3)
            row["hybrid_p50_over_naive_p50"] = round(row["hybrid_ms"]["p50"] / row["naive_dense_ms"]["p50"], 3)
            row["app_process_rss_mb"] = measure_app_rss(home)
            results["sizes"][str(size)] = row
            print(json.dumps({str(size): row}), flush=True)
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(results, args.out)


if __name__ == "__main__":
    main()
