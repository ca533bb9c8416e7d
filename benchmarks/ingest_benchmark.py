"""Ingest throughput: `replydesk ingest` vs raw SentenceTransformer.encode on the same chunks.

Also times an unchanged re-ingest, `replydesk reindex` (every chunk re-embedded, as after a
change of embedding model; here the same model, so the figures compare), peak RSS, and a naive langchain-chroma pipeline
(`Chroma.from_documents` with `HuggingFaceEmbeddings` on the same model and the same
chunks) for comparison. Writes JSON to benchmarks/results/ingest.json.

Usage: python benchmarks/ingest_benchmark.py [--copies N] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
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

from common import machine, write_result  # noqa: E402
from ingest.loaders import split_front_matter  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.embedder import get_embedder, resolve_model  # noqa: E402
from kb.knowledge_base import KnowledgeBase  # noqa: E402

SOURCES = [REPO / "demo" / "kb" / "docs", REPO.parent / "shared" / "datasets" / "policies"]


def build_corpus(target: Path, copies: int) -> int:
    """Markdown corpus: the demo SOPs and the shared policy documents, ``copies`` variants each."""
    files = [p for src in SOURCES if src.is_dir() for p in sorted(src.glob("*.md"))]
    count = 0
    for copy in range(copies):
        for path in files:
            meta, body = split_front_matter(path.read_text(encoding="utf-8"))
            title = f"{meta.get('title') or path.stem} (region {copy + 1})"
            out = target / f"set{copy:02d}" / path.name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(f"---\ndoc_id: {path.stem}-{copy}\ntitle: \"{title}\"\ndoc_type: sop\nlanguage: en\n---\n"
                           f"{body}\n\nApplies to operating region {copy + 1}.\n", encoding="utf-8")
            count += 1
    return count


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ingest.json")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()

    settings = Settings(_env_file=None)
    embedder = get_embedder(settings)
    embedder.encode(["warm up the model"] * 8)
    # Queries no longer load PyTorch; a large ingest does, on its way. Loaded here, as the raw
    # model below is, so neither side's timing includes loading it.
    _ = embedder.model
    work = Path(tempfile.mkdtemp(prefix="replydesk-bench-"))
    try:
        corpus = work / "corpus"
        n_files = build_corpus(corpus, args.copies)

        kb = KnowledgeBase(settings.with_home(work / "home"), embedder=embedder)
        started = time.perf_counter()
        report = Ingestor(kb).ingest_paths([corpus])
        ingest_s = time.perf_counter() - started
        assert not report.failed, report.failed

        started = time.perf_counter()
        again = Ingestor(kb).ingest_paths([corpus])
        reingest_s = time.perf_counter() - started
        assert again.skipped_unchanged == n_files and again.ingested == 0

        reindex = kb.reindex()

        texts = [c.embedding_text() for c in kb.catalog.active_chunks()]
        tokens = [embedder.count_tokens(t) for t in texts]
        from sentence_transformers import SentenceTransformer

        raw_model = SentenceTransformer(resolve_model(settings.embedding_model)[0], device="cpu")
        raw_model.encode(texts[:16])
        started = time.perf_counter()
        raw_model.encode(texts)  # library defaults: batch_size=32
        raw_s = time.perf_counter() - started

        result = {
            "machine": machine(),
            "corpus": {"files": n_files, "chunks": len(texts), "mean_tokens": round(sum(tokens) / len(tokens), 1),
                       "max_tokens": max(tokens)},
            "replydesk_ingest": {"seconds": round(ingest_s, 2), "chunks_per_s": round(len(texts) / ingest_s, 2),
                                 "encode_seconds": round(report.encode_seconds, 2)},
            "raw_encode": {"seconds": round(raw_s, 2), "chunks_per_s": round(len(texts) / raw_s, 2)},
            "ratio_vs_raw_encode": round(raw_s / ingest_s, 3),
            "unchanged_reingest": {"seconds": round(reingest_s, 3), "speedup_vs_first": round(ingest_s / reingest_s, 1)},
            "reindex": {"seconds": round(reindex.seconds, 2), "chunks": reindex.chunks,
                        "chunks_per_s": round(reindex.chunks / reindex.seconds, 2),
                        "ratio_vs_raw_encode": round(raw_s / reindex.seconds, 3)},
        }
        if not args.skip_naive:
            from langchain_chroma import Chroma
            from langchain_core.documents import Document
            from langchain_huggingface import HuggingFaceEmbeddings

            lc_embeddings = HuggingFaceEmbeddings(model_name=resolve_model(settings.embedding_model)[0],
                                                  model_kwargs={"device": "cpu"})
            lc_embeddings.embed_documents(["warm up"])
            documents = [Document(page_content=t) for t in texts]
            started = time.perf_counter()
            Chroma.from_documents(documents, lc_embeddings, persist_directory=str(work / "naive"),
                                  collection_name="naive")
            naive_s = time.perf_counter() - started
            result["naive_langchain_chroma"] = {"seconds": round(naive_s, 2),
                                                "chunks_per_s": round(len(texts) / naive_s, 2),
                                                "ratio_vs_raw_encode": round(raw_s / naive_s, 3)}
            result["replydesk_vs_naive_speedup"] = round(naive_s / ingest_s, 3)
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
