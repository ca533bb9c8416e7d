"""Does comparing with labelled tickets help the semantic risk layer on phrasings it has not seen?

The semantic layer (``kb.risk.SemanticRiskLayer``) compares each ticket sentence with
hand-written exemplars and with the labelled tickets in ``kb/data/risk_examples.jsonl``. The
"fresh phrasings" rows of that file were written in rounds, each before the detector was run
on it. Leave one round out: the layer compares with everything but that round and reads that
round, as it would a new phrasing. The same is done with no labelled tickets at all (the
hand-written exemplars alone). The semantic layer is measured alone, since the keyword cues
were written after reading every round.

Sets that are never among the examples are read by the full layer as shipped, with and without
the labelled tickets: the held-out half of ``tests/kb/data/risk_tickets.jsonl``, the last two rounds
of fresh phrasings (``benchmarks/data/risk_fresh_heldout.jsonl``), the demo tickets, and
banking77's real customer messages (none high-risk; flags outside account takeover
are counted, as in ``risk_benchmark.py``).

Writes ``benchmarks/results/risk_fresh.json``.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_result  # noqa: E402

BANKING77 = REPO.parent / "shared" / "datasets" / "banking77" / "test.csv"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def leave_one_round_out(embedder) -> dict:
    """Per writing round: the semantic layer with the other rounds' tickets, and with none."""
    from eval.risk_fit import leave_one_round_out as run

    out = run(embedder)
    for tag, row in out.items():
        print(f"{tag}: high-risk flagged {row['without']['flagged_high']} -> {row['with_others']['flagged_high']} "
              f"of {row['without']['high']}; ordinary flagged {row['without']['flagged_normal']} -> "
              f"{row['with_others']['flagged_normal']} of {row['without']['normal']}", flush=True)
    return out


def never_seen_sets(embedder) -> dict:
    """Both layers, as drafts run them, with and without the labelled tickets."""
    from kb.risk import RiskAssessment, SemanticRiskLayer, assess_risk

    sets = {"risk_tickets held out": [r for r in _jsonl(REPO / "tests" / "kb" / "data" / "risk_tickets.jsonl")
                                      if r["split"] == "heldout"],
            "fresh phrasings, rounds 11-12 (written last, never among the examples)":
                _jsonl(REPO / "benchmarks" / "data" / "risk_fresh_heldout.jsonl"),
            "demo tickets": _jsonl(REPO / "demo" / "tickets.jsonl")
            + [{**r, "risk": "normal"} for r in _jsonl(REPO / "demo" / "tickets_not_covered.jsonl")]}
    if BANKING77.exists():
        with BANKING77.open(encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            column = next(c for c in reader.fieldnames or () if "text" in c.lower())
            sets["banking77"] = [{"text": row[column], "context": "", "risk": "normal"} for row in reader]
    out = {}
    for label, examples in (("without", ()), ("with", None)):
        layer = SemanticRiskLayer(embedder, examples=examples)
        for name, rows in sets.items():
            results: list[RiskAssessment] = [assess_risk(r["text"], r.get("context") or "", embedder=embedder,
                                                         semantic_layer=layer) for r in rows]
            high = [a for r, a in zip(rows, results) if r["risk"] == "high"]
            normal = [a for r, a in zip(rows, results) if r["risk"] != "high"]
            counts = {"high": len(high), "missed": sum(not a.is_high for a in high), "normal": len(normal),
                      "flagged": sum(a.is_high for a in normal),
                      "flagged_outside_account_takeover": sum(
                          a.is_high and set(a.categories) != {"account_takeover_financial"} for a in normal)}
            out.setdefault(name, {})[label] = counts
            print(f"{name}, {label} labelled tickets: {counts}", flush=True)
    return out


def main() -> None:
    from kb.config import Settings
    from kb.embedder import get_embedder
    from kb.vector_cache import sentence_vectors

    embedder = sentence_vectors(get_embedder(Settings(_env_file=None)))
    result = {"machine": machine(), "leave_one_round_out": leave_one_round_out(embedder),
              "never_among_the_examples": never_seen_sets(embedder)}
    write_result(result, REPO / "benchmarks" / "results" / "risk_fresh.json")


if __name__ == "__main__":
    main()
