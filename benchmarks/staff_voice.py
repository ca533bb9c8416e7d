"""Drafts over policies written for staff: what the offline drafter says to the user.

Agent-facing policies (``../shared/datasets/policies``: an airline, a retail and a telecom
policy from tau2-bench, written for the agents who apply them) speak of "the user" in the
third person, give "the agent" duties and name the agent's tools. A reply quoted from them
must say the rules to the user ("You need to ...") and leave the staff's steps out.

With ``--corpus abcd`` the knowledge base is ABCD's agent guidelines instead
(``../shared/datasets/abcd_guidelines/guidelines.json``: 10 flows, 55 subflows of steps for the
agent, converted to one Markdown file per flow) and the tickets
``benchmarks/data/abcd_tickets.jsonl`` (12 customer messages, written before any draft was
read). Nothing of either steered the drafter's rules; here almost nothing should be quoted, and
the drafts should point at the staff sections instead (``staff_only_sources``).

Ingests the policies into a folder (``--index``, kept between runs) or a temporary one,
drafts the tickets of ``benchmarks/data/agent_policy_tickets.jsonl`` (18 customer messages,
6 per domain) offline, and writes every draft's body sentences for a person to read, with
three counts that only *flag* sentences for that reading (a sentence can speak to staff
without any of these words): sentences that still speak of "the user", "the customer" or
"the caller"; that name an agent; that name a function (``toggle_roaming()``).
Writes JSON to ``benchmarks/results/staff_voice.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_result  # noqa: E402

POLICIES = REPO.parent / "shared" / "datasets" / "policies"
TICKETS = REPO / "benchmarks" / "data" / "agent_policy_tickets.jsonl"
ABCD = REPO.parent / "shared" / "datasets" / "abcd_guidelines" / "guidelines.json"
ABCD_TICKETS = REPO / "benchmarks" / "data" / "abcd_tickets.jsonl"
FLAGS = {"third_person_reader": re.compile(r"\bthe (?:user|customer|caller)(?:'s)?\b", re.IGNORECASE),
         "names_an_agent": re.compile(r"\bagents?\b", re.IGNORECASE),
         "names_a_function": re.compile(r"\w\(\s*\)|\b[a-z]+_[a-z_]+\("),
         # ABCD's steps name the buttons of the agent's console: "[Pull up Account]".
         "names_a_console_button": re.compile(r"\[[A-Z][A-Za-z -]+\]")}


def abcd_markdown(guidelines: Path, folder: Path) -> list[Path]:
    """ABCD's flows as Markdown: one file per flow titled with its description, a section per
    subflow (instructions, then the steps with their sub-points as nested items)."""
    flows = json.loads(guidelines.read_text(encoding="utf-8"))
    paths = []
    for flow, spec in flows.items():
        # The description is a tag ("refunds and returns"): a subtitle, not a sentence.
        lines = [f"# {flow}: {spec['description']}" if spec.get("description") else f"# {flow}", ""]
        for subflow, content in spec["subflows"].items():
            lines += [f"## {subflow}", ""] + [f"{text}" for text in content.get("instructions", [])] + [""]
            for action in content.get("actions", []):
                lines.append(f"- {action['text']}")
                lines += [f"  - {sub}" for sub in action.get("subtext", [])]
            lines.append("")
        path = folder / (re.sub(r"[^a-z0-9]+", "-", flow.lower()).strip("-") + ".md")
        path.write_text("\n".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def body_sentences(text: str) -> list[str]:
    """The sentences between the acknowledgement and the closing of an offline e-mail draft."""
    from kb.drafting.text import split_sentences

    paragraphs = text.split("\n\n")
    return [s for paragraph in paragraphs[2:-2] for s in split_sentences(paragraph)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["tau2", "abcd"], default="tau2",
                        help="tau2's agent policies (default) or ABCD's agent guidelines")
    parser.add_argument("--policies", type=Path, default=POLICIES)
    parser.add_argument("--tickets", type=Path)
    parser.add_argument("--index", type=Path, help="knowledge-base folder to keep (default: a temporary one)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    abcd = args.corpus == "abcd"
    args.tickets = args.tickets or (ABCD_TICKETS if abcd else TICKETS)
    args.out = args.out or REPO / "benchmarks" / "results" / ("staff_voice_abcd.json" if abcd else "staff_voice.json")
    source = ABCD if abcd else args.policies
    if not source.exists():
        raise SystemExit(f"{source}: not found (the shared datasets folder sits beside the repository)")

    from ingest.pipeline import Ingestor, MetadataDefaults
    from kb.config import Settings
    from kb.drafting.models import DraftOptions
    from kb.drafting.service import draft_reply
    from kb.knowledge_base import KnowledgeBase
    from kb.retrieval import Retriever
    from kb.types import Ticket

    with tempfile.TemporaryDirectory(prefix="replydesk-staff-voice-") as tmp:
        settings = Settings(_env_file=None, llm_provider="none").with_home(args.index or Path(tmp))
        kb = KnowledgeBase(settings)
        if abcd:
            (Path(tmp) / "abcd").mkdir()
        documents = abcd_markdown(ABCD, Path(tmp) / "abcd") if abcd else sorted(args.policies.glob("*.md"))
        report = Ingestor(kb).ingest_paths(documents, MetadataDefaults(doc_type="policy"))
        if report.failed:
            raise SystemExit(f"ingest failed: {report.failed}")
        retriever = Retriever(kb)
        drafts = []
        for line in args.tickets.read_text(encoding="utf-8").splitlines():
            ticket = json.loads(line)
            draft = draft_reply(Ticket(text=ticket["text"]), retriever, settings, DraftOptions())
            sentences = [] if draft.insufficient_guidance else body_sentences(draft.text)
            drafts.append({"id": ticket["id"], "ticket": ticket["text"], "insufficient_guidance": draft.insufficient_guidance,
                           "sentences": sentences, "staff_only_sources": list(draft.staff_only_sources),
                           "flagged": {name: [s for s in sentences if pattern.search(s)] for name, pattern in FLAGS.items()}})
    sentences = sum(len(d["sentences"]) for d in drafts)
    write_result({"machine": machine(), "policies": [p.name for p in documents],
                  "drafts": len(drafts), "holding_replies": sum(d["insufficient_guidance"] for d in drafts),
                  "staff_only_notes": sum(bool(d["staff_only_sources"]) for d in drafts),
                  "sentences": sentences,
                  "flagged_sentences": {name: sum(len(d["flagged"][name]) for d in drafts) for name in FLAGS},
                  "per_draft": drafts}, args.out)


if __name__ == "__main__":
    main()
