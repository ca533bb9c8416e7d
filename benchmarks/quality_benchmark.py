"""Retrieval quality and latency: replydesk vs a naive langchain-chroma pipeline, same corpus.

Corpus: the demo knowledge base (Markdown, PDF, resolved Q&A CSV). Queries: the 52
labelled demo tickets (earlier conversation + message). Metric: document-level hit@5
and MRR@10 over each ticket's relevant doc ids; again with typos in the messages (every
lower-case word of six letters or more with two middle letters swapped), and again at the
end of a long thread (~350 tokens of a settled, unrelated exchange before the context),
with that whole thread pasted into the ticket, and pasted as a case feed copies it (newest
turn first, names and time stamps on every turn).

Naive pipeline, as a tutorial would build it: text / per-page PDF / per-row CSV documents,
RecursiveCharacterTextSplitter(1000, 200), Chroma.from_documents with
HuggingFaceEmbeddings on the same bundled model, similarity_search(context + message).
Writes JSON to benchmarks/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
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
from common import write_result  # noqa: E402

from eval.perturb import pasted_into_message, pasted_newest_first, with_long_thread, with_typos  # noqa: E402
from ingest.loaders import read_sidecar, split_front_matter  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.embedder import resolve_model  # noqa: E402
from kb.knowledge_base import KnowledgeBase  # noqa: E402
from kb.retrieval import Retriever  # noqa: E402
from kb.types import Ticket  # noqa: E402

DEMO = REPO / "demo"


def doc_id_of(path: Path) -> str:
    if path.suffix == ".md":
        meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
    else:
        meta = read_sidecar(path)
    return str(meta.get("doc_id") or path.name)


def naive_documents():
    """What langchain-community's TextLoader / PyPDFLoader / CSVLoader produce, without the dependency."""
    import csv

    from langchain_core.documents import Document
    from pypdf import PdfReader

    docs = []
    for path in sorted((DEMO / "kb" / "docs").iterdir()):
        if path.suffix == ".md":
            docs.append(Document(page_content=path.read_text(encoding="utf-8"), metadata={"doc_id": doc_id_of(path)}))
        elif path.suffix == ".pdf":
            for page in PdfReader(str(path)).pages:
                docs.append(Document(page_content=page.extract_text() or "", metadata={"doc_id": doc_id_of(path)}))
    qa = DEMO / "kb" / "qa" / "resolved_qa.csv"
    with qa.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            docs.append(Document(page_content="\n".join(f"{k}: {v}" for k, v in row.items()),
                                 metadata={"doc_id": doc_id_of(qa)}))
    return docs


def score(ranked: list[str], relevant: set[str]) -> tuple[float, float]:
    ranked = list(dict.fromkeys(ranked))
    hit = float(bool(relevant & set(ranked[:5])))
    first = next((i for i, d in enumerate(ranked[:10]) if d in relevant), None)
    return hit, (1.0 / (first + 1) if first is not None else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quality.json")
    args = parser.parse_args()
    tickets = [json.loads(line) for line in (DEMO / "tickets.jsonl").read_text().splitlines() if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="replydesk-quality-"))
    result: dict = {"tickets": len(tickets)}
    try:
        settings = Settings(_env_file=None, home=work / "home")
        kb = KnowledgeBase(settings)
        started = time.perf_counter()
        Ingestor(kb).ingest_paths([DEMO / "kb" / "v1"])
        Ingestor(kb).ingest_paths([DEMO / "kb" / "docs", DEMO / "kb" / "qa"])
        ours_ingest = time.perf_counter() - started
        retriever = Retriever(kb)

        from langchain_chroma import Chroma
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        embeddings = HuggingFaceEmbeddings(model_name=resolve_model(settings.embedding_model)[0],
                                           model_kwargs={"device": "cpu"})
        embeddings.embed_query("warm up")
        started = time.perf_counter()
        chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(naive_documents())
        naive = Chroma.from_documents(chunks, embeddings, persist_directory=str(work / "naive"),
                                      collection_name="naive")
        naive_ingest = time.perf_counter() - started

        rows = {"replydesk": [], "naive": []}
        latency = {"replydesk": [], "naive": []}
        for t in tickets:
            relevant = set(t["relevant_doc_ids"])
            started = time.perf_counter()
            hits = retriever.search(Ticket(text=t["text"], context=t.get("context", "")), k=10, dedupe_documents=True)
            latency["replydesk"].append(time.perf_counter() - started)
            rows["replydesk"].append(score([h.doc_id for h in hits], relevant))
            started = time.perf_counter()
            docs = naive.similarity_search(f"{t.get('context', '')} {t['text']}".strip(), k=10)
            latency["naive"].append(time.perf_counter() - started)
            rows["naive"].append(score([d.metadata["doc_id"] for d in docs], relevant))
        for name in rows:
            hits, mrr = zip(*rows[name])
            ms = np.asarray(latency[name]) * 1000
            result[name] = {"hit@5": round(float(np.mean(hits)), 4), "mrr@10": round(float(np.mean(mrr)), 4),
                            "query_ms_p50": round(float(np.percentile(ms, 50)), 1),
                            "query_ms_p95": round(float(np.percentile(ms, 95)), 1),
                            "ingest_seconds": round(ours_ingest if name == "replydesk" else naive_ingest, 1)}
        def variant(rewrite) -> dict:
            """hit@5 / MRR@10 of both pipelines on the tickets rewritten by ``rewrite(text, context)``."""
            pairs: dict[str, list] = {"replydesk": [], "naive": []}
            for t in tickets:
                relevant = set(t["relevant_doc_ids"])
                text, context = rewrite(t["text"], t.get("context", ""))
                hits = retriever.search(Ticket(text=text, context=context), k=10, dedupe_documents=True)
                pairs["replydesk"].append(score([h.doc_id for h in hits], relevant))
                docs = naive.similarity_search(f"{context} {text}".strip(), k=10)
                pairs["naive"].append(score([d.metadata["doc_id"] for d in docs], relevant))
            return {name: {"hit@5": round(float(np.mean([h for h, _ in rows_])), 4),
                           "mrr@10": round(float(np.mean([m for _, m in rows_])), 4)} for name, rows_ in pairs.items()}

        # The same tickets typed in a hurry (messages only; the earlier conversation is kept).
        result["with_typos"] = variant(lambda text, context: (with_typos(text), context))
        # At the end of a long thread: a settled, unrelated exchange (~350 tokens) before their
        # own context; and that whole thread pasted into the ticket.
        result["after_a_long_thread"] = variant(lambda text, context: (text, with_long_thread(context)))
        result["thread_pasted_as_the_ticket"] = variant(lambda text, context: (pasted_into_message(context, text), ""))
        result["case_feed_pasted_newest_first"] = variant(
            lambda text, context: (pasted_newest_first(context, text), ""))
        result["ratios"] = {
            "hit@5": round(result["replydesk"]["hit@5"] / max(result["naive"]["hit@5"], 1e-9), 3),
            "mrr@10": round(result["replydesk"]["mrr@10"] / max(result["naive"]["mrr@10"], 1e-9), 3),
            "query_p95": round(result["replydesk"]["query_ms_p95"] / result["naive"]["query_ms_p95"], 3),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
