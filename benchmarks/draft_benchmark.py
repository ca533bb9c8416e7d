"""Offline draft latency after retrieval, on the demo knowledge base and its 52 labelled tickets.

Two passes in one process: *cold* (every passage seen for the first time, so its
sentences are encoded) and *warm* (sentence vectors cached, as in a long-running app).
"After retrieval" = risk assessment + escalation lookup + drafting + citation validation
+ grounding report. Writes JSON to benchmarks/results/draft.json.

Usage: python benchmarks/draft_benchmark.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
from common import machine, write_result  # noqa: E402

from ingest.pipeline import Ingestor  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.drafting.models import DraftOptions  # noqa: E402
from kb.drafting.service import draft_reply  # noqa: E402
from kb.knowledge_base import KnowledgeBase  # noqa: E402
from kb.retrieval import Retriever  # noqa: E402
from kb.types import Ticket  # noqa: E402


def stats(values: list[float]) -> dict:
    ms = np.asarray(values) * 1000
    return {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "draft.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="replydesk-dbench-"))
    try:
        settings = Settings(_env_file=None, home=work)
        kb = KnowledgeBase(settings)
        Ingestor(kb).ingest_paths([REPO / "demo" / "kb" / "v1"])
        Ingestor(kb).ingest_paths([REPO / "demo" / "kb" / "docs", REPO / "demo" / "kb" / "qa"])
        retriever = Retriever(kb)
        tickets = [json.loads(line) for line in (REPO / "demo" / "tickets.jsonl").read_text().splitlines() if line]
        # Model, risk exemplars and language detector load on first use: not part of a draft.
        draft_reply(Ticket(text="warm up: when is my payout sent?"), retriever, settings, DraftOptions())
        result = {"machine": machine(), "embedding_runtime": kb.embedding_runtime(),
                  "tickets": len(tickets)}
        for phase in ("cold", "warm"):
            rows = [draft_reply(Ticket(text=t["text"], context=t.get("context", "")), retriever, settings,
                                DraftOptions()).timings for t in tickets]
            result[phase] = {
                "retrieval_ms": stats([r["retrieve"] for r in rows]),
                "after_retrieval_ms": stats([r["total"] - r["retrieve"] for r in rows]),
                "total_ms": stats([r["total"] for r in rows]),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
