"""The grounding check on details: false flags on human replies, and wrong details it catches.

A draft sentence can sit close to its source and still be wrong in one particular: "14 hours"
for 14 days, "call us" where the policy says to use the in-app form, a link or a weekday the
source does not give, a "not" that reverses the source. The cosine rule cannot see these;
``kb.drafting.details`` and the reversal check in ``kb.drafting.grounding`` read them.

Two sets of human-written replies with the documents they were written from:

* ``demo``: the reference replies of ``demo/tickets.jsonl`` against every passage of their
  tickets' relevant documents (the demo knowledge base, ingested into ``--home`` or a
  temporary folder);
* ``dstc10``: the agents' spoken replies of ``../shared/datasets/dstc10_faq/references.jsonl``
  against their gold FAQ entry (skipped when the folder is absent).

Every reply sentence cites every passage. **False flags**: human sentences that the detail or
reversal checks call unsupported (each is a sentence its writers stood behind). **Caught**:
the human sentences the check supports, with one particular changed mechanically (a time unit swapped, "not" added
or taken away, a weekday, a link's name, a step of a menu path, the second word of a two-word name, the label after "tap", "in the app" made "by phone"), unsupported under the
rule before these checks (cosine + overlap + figures) and after.

Writes JSON to ``benchmarks/results/grounding_details.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_result  # noqa: E402

DSTC10 = REPO.parent / "shared" / "datasets" / "dstc10_faq"

_UNITS = {"business days": "days", "days": "hours", "day": "hour", "hours": "days", "hour": "day", "weeks": "months",
          "week": "month", "months": "weeks", "month": "week", "minutes": "hours"}
_UNIT = re.compile(r"\b(\d+|two|three|four|five|seven|ten|fourteen|thirty)([\s-]+)"
                   r"(business days|days|day|hours|hour|weeks|week|months|month|minutes)\b")
_AUX = re.compile(r"\b(is|are|can|will|must|should|does|do|was|were|has|have)\b(?! not)")
_NEGATED = re.compile(r"\b(is|are|can|will|must|should|does|do|was|were|has|have|could|would) not\b"
                      r"|\b(\w+)n't\b|\bcannot\b|\bnever\b")
_UNNEGATED = {"won": "will", "don": "do", "doesn": "does", "isn": "is", "aren": "are", "didn": "did", "wasn": "was",
              "ca": "can", "can": "can", "haven": "have", "hasn": "has", "shouldn": "should", "couldn": "could"}
_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_DOMAIN = re.compile(r"\b([a-z0-9-]+)\.(com|org|net|io|help|example)\b")
_MENU_STEP = re.compile(r"> ([A-Z][\w' ]*?)(?= >|[.,;)]| and |$)")
# A two-word capitalised name inside a sentence; its second word gets replaced.
_NAME_PHRASE = re.compile(r"(?<=[a-z,] )([A-Z][a-z]+) ([A-Z][a-z]+)\b(?! >)")
_TAP_LABEL = re.compile(r"\b(?:tap|select|click) ([A-Z][\w?]*)")
_IN_APP = re.compile(r"\b(in the app|in-app)\b", re.IGNORECASE)


def corruptions(sentence: str) -> list[tuple[str, str]]:
    """``(kind, sentence with one particular changed)`` for each kind that applies."""
    out = []
    if m := _UNIT.search(sentence):
        out.append(("unit", sentence[:m.start(3)] + _UNITS[m.group(3)] + sentence[m.end(3):]))
    if m := _NEGATED.search(sentence):
        if m.group(0) in ("cannot", "never"):
            plain = {"cannot": "can", "never": "always"}[m.group(0)]
        else:
            plain = _UNNEGATED.get(m.group(2).lower(), m.group(2)) if m.group(2) else m.group(1)
        out.append(("negation", sentence[:m.start()] + plain + sentence[m.end():]))
    elif m := _AUX.search(sentence):
        out.append(("negation", sentence[:m.end()] + " not" + sentence[m.end():]))
    if m := _WEEKDAY.search(sentence):
        out.append(("weekday", sentence[:m.start()] + ("Sunday" if m.group(1) != "Sunday" else "Monday")
                    + sentence[m.end():]))
    if m := _DOMAIN.search(sentence):
        out.append(("link", sentence[:m.start(1)] + m.group(1) + "-support" + sentence[m.end(1):]))
    if m := _MENU_STEP.search(sentence):
        other = "Security" if m.group(1) != "Security" else "Privacy"
        out.append(("menu path", sentence[:m.start(1)] + other + sentence[m.end(1):]))
    if m := _NAME_PHRASE.search(sentence):
        out.append(("name", sentence[:m.start(2)] + ("Portal" if m.group(2) != "Portal" else "Hub") + sentence[m.end(2):]))
    if m := _TAP_LABEL.search(sentence):
        out.append(("label", sentence[:m.start(1)] + ("Dispute" if m.group(1) != "Dispute" else "Confirm")
                    + sentence[m.end(1):]))
    if m := _IN_APP.search(sentence):
        out.append(("channel", sentence[:m.start()] + "by phone" + sentence[m.end():]))
    return out


def demo_pairs(home: Path) -> list[tuple[str, str, list[str]]]:
    """``(ticket text, reference reply, passages)`` of the demo tickets with references."""
    from eval.grounding_fit import load_reference_tickets
    from kb.config import Settings
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(Settings(_env_file=None).with_home(home))
    texts: dict[str, list[str]] = {}
    for chunk in kb.catalog.active_chunks():
        texts.setdefault(chunk.doc_id, []).append(chunk.text)
    tickets = {str(json.loads(line).get("id")): json.loads(line)
               for line in (REPO / "demo" / "tickets.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()}
    out = []
    for row in load_reference_tickets(REPO / "demo" / "tickets.jsonl"):
        passages = [t for d in row["relevant"] for t in texts.get(d, [])]
        ticket = tickets.get(row["id"], {})
        for reference in row["references"]:
            out.append((f"{ticket.get('context') or ''}\n{ticket.get('text', '')}", reference, passages))
    return out


def dstc10_pairs(folder: Path) -> list[tuple[str, str, list[str]]]:
    """``(ticket text, agent reply, [gold FAQ])`` of the dstc10 references."""
    def rows(name: str) -> dict[str, dict]:
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        return {json.loads(line)["_id"]: json.loads(line) for line in lines if line.strip()}

    corpus, queries, references = rows("corpus.jsonl"), rows("queries.jsonl"), rows("references.jsonl")
    gold = {}
    for line in (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query_id, doc_id, *_ = line.split("\t")
        gold[query_id] = doc_id
    return [(f"{queries[q].get('context', '')}\n{queries[q]['text']}", r["reference_reply"], [corpus[gold[q]]["text"]])
            for q, r in references.items() if q in gold and q in queries]


def measure(checker, pairs: list[tuple[str, str, list[str]]]) -> dict:
    from kb.drafting.grounding import content_sentences
    from kb.drafting.text import figures, split_sentences

    def cited(text: str, passages: list[str]) -> str:
        marks = "".join(f"[{n}]" for n in range(1, len(passages) + 1))
        return " ".join(f"{s} {marks}" for s in split_sentences(text))

    def before(sentence: str, passages: list[str], ticket: str) -> bool:
        """Supported under the rule before the detail checks (cosine + overlap + figures)."""
        cos, lexical = checker.score(sentence, passages)
        known = figures(ticket).union(*(figures(p) for p in passages))
        return checker.supports(cos, lexical) and not figures(sentence) - known

    human = flagged_human = supported_human = 0
    flags: Counter = Counter()
    examples: list[dict] = []
    changed: Counter = Counter()
    caught_before: Counter = Counter()
    caught_after: Counter = Counter()
    missed: list[dict] = []
    for ticket, reply, passages in pairs:
        numbered = {n: p for n, p in enumerate(passages, start=1)}
        for sentence in content_sentences(reply):
            result = checker.report(cited(sentence, passages), numbered, ticket=ticket).sentences
            if not result:
                continue
            human += 1
            s = result[0]
            kinds = [k for k, v in (("figures", s.unstated_figures), ("details", s.unstated_details),
                                    ("reversal", s.reverses)) if v]
            if kinds:
                flagged_human += 1
                flags.update(kinds)
                examples.append({"sentence": sentence, "why": s.problems()})
            if not s.supported:
                continue  # a change can only be caught in a sentence the check supports as written
            supported_human += 1
            for kind, wrong in corruptions(sentence):
                report = checker.report(cited(wrong, passages), numbered, ticket=ticket).sentences
                if not report:
                    continue
                changed[kind] += 1
                caught_before[kind] += not before(wrong, passages, ticket)
                caught_after[kind] += not report[0].supported
                if report[0].supported:
                    missed.append({"kind": kind, "sentence": wrong, "cosine": round(report[0].score, 3)})
    return {"human_sentences": human, "human_supported": supported_human, "human_flagged": flagged_human, "human_flags_by_check": dict(flags),
            "human_flagged_examples": examples,
            "changed": dict(changed), "caught_before": dict(caught_before), "caught_after": dict(caught_after),
            "changed_total": sum(changed.values()), "caught_before_total": sum(caught_before.values()),
            "caught_after_total": sum(caught_after.values()), "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a data home with the demo knowledge base (default: load it "
                                                  "into a temporary folder)")
    parser.add_argument("--dstc10", type=Path, default=DSTC10)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "grounding_details.json")
    args = parser.parse_args()

    from kb.config import Settings
    from kb.drafting.grounding import GroundingChecker
    from kb.embedder import get_embedder

    settings = Settings(_env_file=None, llm_provider="none")
    checker = GroundingChecker.from_settings(get_embedder(settings), settings)
    results = {}
    with tempfile.TemporaryDirectory(prefix="replydesk-grounding-") as tmp:
        home = args.home
        if home is None:
            from app.cli_app import load_demo

            home = Path(tmp)
            load_demo(settings.with_home(home))
        results["demo"] = measure(checker, demo_pairs(home))
    if (args.dstc10 / "references.jsonl").is_file():
        results["dstc10"] = measure(checker, dstc10_pairs(args.dstc10))
    else:
        print(f"{args.dstc10}: not found, dstc10 skipped", file=sys.stderr)
    for name, r in results.items():
        print(f"{name}: {r['human_flagged']} of {r['human_sentences']} human sentences flagged "
              f"({r['human_supported']} supported); changed "
              f"{r['changed_total']}, unsupported before {r['caught_before_total']}, after {r['caught_after_total']}")
        for kind in r["changed"]:
            print(f"  {kind:9} {r['changed'][kind]:3}  before {r['caught_before'].get(kind, 0):3}  "
                  f"after {r['caught_after'].get(kind, 0):3}")
    write_result({"machine": machine(), "sets": results}, args.out)


if __name__ == "__main__":
    main()
