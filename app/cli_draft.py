"""``replydesk draft``: draft a grounded reply to a ticket from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from kb.config import Settings
from kb.drafting.models import CHANNELS


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().with_home(getattr(args, "home", None))


def _read(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def cmd_draft(args: argparse.Namespace) -> int:
    """Run :func:`kb.drafting.service.draft_reply` and print the draft (or its JSON)."""
    from kb.drafting.models import DraftOptions
    from kb.drafting.service import draft_reply
    from kb.knowledge_base import KnowledgeBase
    from kb.retrieval import Retriever
    from kb.types import Ticket

    try:
        text = args.ticket if args.ticket is not None else _read(args.ticket_file)
        context = args.context if args.context is not None else (_read(args.context_file) if args.context_file else "")
    except OSError as exc:
        print(f"replydesk: error: {exc}", file=sys.stderr)
        return 2
    if not text.strip():
        print("replydesk: error: the ticket is empty", file=sys.stderr)
        return 2
    settings = _settings(args)
    kb = KnowledgeBase(settings)
    kb.ensure_lexical()
    options = DraftOptions(tone=args.tone, length=args.length, language=args.language, channel=args.channel)
    from kb.records import RecordsStore

    gap_log = RecordsStore(settings.records_url)
    draft = draft_reply(Ticket(text=text, context=context, channel=args.channel), Retriever(kb), settings, options,
                        gap_log=gap_log)
    if args.json:
        print(json.dumps(draft.to_dict(), indent=2, ensure_ascii=False))
        return 0
    banner = f"[{draft.mode} draft"
    if draft.fallback_reason:
        banner += f"; LLM fallback: {draft.fallback_reason}"
    print(banner + "]")
    if draft.answered:
        print(f"read as a pasted thread; answering its latest customer turn: \"{textwrap.shorten(draft.answered, 160, placeholder=' …')}\"")
    if draft.parallel_sources:
        print("note: the knowledge base answers this question separately for " + "; ".join(draft.parallel_sources)
              + ". Confirm which one the customer means before sending.")
    if draft.staff_only_sources:
        print("note: written for staff, so not quoted: " + "; ".join(draft.staff_only_sources)
              + ". It matches this ticket well; answer from it.")
    if draft.risk.level == "high":
        cats = ", ".join(draft.risk.assessment.categories)
        print(f"HIGH RISK ({cats}); follow: " + "; ".join(
            sorted({f"{h.title} ({h.doc_id})" for h in draft.risk.escalation})))
    print()
    print(draft.text)
    if draft.citations:
        print("\nSources:")
        for c in draft.citations:
            where = ", ".join(x for x in (f"p. {c.page}" if c.page else "", c.section or "") if x)
            print(f"  [{c.n}] {c.title} (v{c.version}{', ' + where if where else ''}) {c.doc_id}")
    checked = (f"{draft.grounding.supported}/{len(draft.grounding.sentences)} sentences supported"
               if draft.grounding.sentences else "no statement of guidance to check")
    print(f"\ngrounding: {checked}; redactions: {draft.redactions}")
    for sentence in draft.grounding.sentences:
        if not sentence.supported:
            why = textwrap.shorten(sentence.problems(), 160, placeholder=' …"')
            print(f"  check: {textwrap.shorten(sentence.text, 90, placeholder=' …')} ({why})")
    if draft.invalid_citations_removed:
        print(f"removed invalid citations: {list(draft.invalid_citations_removed)}")
    return 0


def register(subparsers, common_parent_parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``draft`` command to ``replydesk``'s subparsers."""
    p = subparsers.add_parser("draft", parents=[common_parent_parser], help="draft a grounded reply to a ticket")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--ticket", help="ticket text")
    source.add_argument("--ticket-file", type=Path, help="file with the ticket text")
    earlier = p.add_mutually_exclusive_group()
    earlier.add_argument("--context", help="earlier conversation of the ticket (as for `replydesk search`)")
    earlier.add_argument("--context-file", type=Path, help="file with the earlier conversation")
    p.add_argument("--tone", choices=["friendly", "formal", "empathetic"], default="friendly")
    p.add_argument("--length", choices=["short", "normal", "detailed"], default="normal")
    p.add_argument("--channel", choices=CHANNELS, default="email",
                   help="where the reply goes; it decides the reply's form (default: email)")
    p.add_argument("--language", help="reply language (ISO 639-1); default: the ticket's language")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_draft)
    return p
