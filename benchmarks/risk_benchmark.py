"""Risk flags on real customer messages that are not high-risk: banking77 as a precision check.

The labelled risk sets (``tests/kb/data/risk_tickets.jsonl``, ``demo/tickets.jsonl``) are small
and were written with the detector in view. banking77 (3,080 real banking customer messages,
CC-BY-4.0) was not: none of its messages is a self-harm, threat, child-safety, legal, press or
executive case, so every flag in those categories is a false flag. Lost, stolen or misused
cards and unrecognised transactions are the one overlap: they fit "account takeover with
financial loss", so that category is counted apart.

Runs :func:`kb.risk.assess_risk` lexical-only and with the semantic layer (as drafts do) and
writes JSON to ``benchmarks/results/risk.json`` with per-category counts and examples.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_result  # noqa: E402

from kb.config import Settings  # noqa: E402
from kb.embedder import get_embedder  # noqa: E402
from kb.risk import assess_risk  # noqa: E402

BANKING77 = REPO.parent / "shared" / "datasets" / "banking77" / "test.csv"
#: The one category banking messages can legitimately fall in (stolen or misused cards).
OVERLAP = "account_takeover_financial"


def flag_counts(texts: list[str], embedder=None) -> dict:
    """Tickets flagged high, per category, with a few examples."""
    per_category: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    flagged_outside_overlap = 0
    for text in texts:
        assessment = assess_risk(text, embedder=embedder)
        if not assessment.is_high:
            continue
        for category in assessment.categories:
            per_category[category] += 1
            if len(examples[category]) < 5:
                examples[category].append(text)
        if set(assessment.categories) - {OVERLAP}:
            flagged_outside_overlap += 1
    return {"flagged_outside_account_takeover": flagged_outside_overlap,
            "false_flag_rate_outside_account_takeover": round(flagged_outside_overlap / len(texts), 4),
            "per_category": dict(per_category.most_common()), "examples": dict(examples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=BANKING77)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "risk.json")
    args = parser.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"{args.source}: not found (the shared datasets folder sits beside the repository)")
    with args.source.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    write_result({"machine": machine(), "messages": len(texts),
                  "lexical": flag_counts(texts),
                  "lexical_and_semantic": flag_counts(texts, get_embedder(Settings(_env_file=None)))},
                 args.out)


if __name__ == "__main__":
    main()
