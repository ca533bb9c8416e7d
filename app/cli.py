"""``replydesk`` command line: ingest, search, documents, evaluation.

The CLI is an edge: it builds :class:`kb.config.Settings`, calls one core function per
command and renders the result (human text, or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from kb.config import Settings
from kb.types import NotFoundError, SetupError


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().with_home(getattr(args, "home", None))


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _fail(message: str, code: int = 2) -> int:
    print(f"replydesk: error: {message}", file=sys.stderr)
    return code


def _open_kb(settings: Settings):
    from kb.knowledge_base import KnowledgeBase

    return KnowledgeBase(settings)


# ---- ingest ---------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.pipeline import Ingestor, MetadataDefaults

    settings = _settings(args)
    defaults = MetadataDefaults(doc_type=args.doc_type, owner=args.owner, region=args.region, language=args.language,
                                tags=tuple(args.tag or ()), doc_id=args.doc_id, title=args.title,
                                audience=args.audience, effective_date=args.effective_date, review_by=args.review_by)
    kb = _open_kb(settings)
    show_progress = not args.no_progress and sys.stderr.isatty()
    report = Ingestor(kb, progress=show_progress).ingest_paths(args.paths, defaults)
    for failure in report.failed:
        print(f"error: {failure.path}: {failure.error}", file=sys.stderr)
    if args.json:
        _print_json(report.to_dict())
    else:
        rechunked = f"{report.rechunked} re-chunked (new chunking rules or sizes), " if report.rechunked else ""
        print(f"ingested {report.ingested} document(s), {report.chunks} chunk(s); "
              f"{report.skipped_unchanged} unchanged, {rechunked}{report.superseded} superseded, "
              f"{len(report.failed)} failed ({report.seconds:.1f}s)")
    return 1 if report.failed else 0


# ---- search ---------------------------------------------------------------------------
def cmd_reindex(args: argparse.Namespace) -> int:
    kb = _open_kb(_settings(args))
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=kb.catalog.counts()["chunks"], unit="chunk", desc="reindex", file=sys.stderr,
                   dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        report = kb.reindex(progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        _print_json({"chunks": report.chunks, "model": report.model, "dimension": report.dimension,
                     "previous_model": report.previous_model, "seconds": round(report.seconds, 3)})
    else:
        before = f" (were: '{report.previous_model}')" if report.previous_model else ""
        print(f"re-embedded {report.chunks} chunk(s) with '{report.model}', {report.dimension} dimensions"
              f"{before} ({report.seconds:.1f}s)")
    return 0


def _filters(args: argparse.Namespace):
    from kb.types import SearchFilters

    return SearchFilters(doc_types=tuple(args.doc_type or ()), regions=tuple(args.region or ()),
                         languages=tuple(args.language or ()), tags=tuple(args.tag or ()))


def hit_to_dict(hit) -> dict:
    """JSON form of a :class:`kb.types.Hit`."""
    return {"doc_id": hit.doc_id, "title": hit.title, "version": hit.version, "doc_type": hit.doc_type,
            "page": hit.page, "section": hit.section, "audience": hit.audience, "score": round(hit.score, 5),
            "dense_score": None if hit.dense_score is None else round(hit.dense_score, 4),
            "bm25_score": None if hit.bm25_score is None else round(hit.bm25_score, 4),
            "chunk_id": hit.chunk_id, "text": hit.text}


def cmd_search(args: argparse.Namespace) -> int:
    from kb.retrieval import Retriever
    from kb.types import Ticket

    settings = _settings(args)
    kb = _open_kb(settings)
    kb.ensure_lexical()
    hits = Retriever(kb).search(Ticket(text=args.text, context=args.context or ""), k=args.k,
                                filters=_filters(args), dedupe_documents=args.per_doc)
    if args.json:
        _print_json({"query": args.text, "hits": [hit_to_dict(h) for h in hits]})
        return 0
    if not hits:
        print("no results (is the knowledge base empty? run `replydesk ingest PATH`)")
        return 0
    for n, hit in enumerate(hits, start=1):
        where = ", ".join(x for x in (f"p. {hit.page}" if hit.page else "", hit.section or "") if x)
        flag = " [internal]" if hit.is_internal else ""
        print(f"[{n}] {hit.title} (v{hit.version}, {hit.doc_type}{', ' + where if where else ''}){flag}  "
              f"score {hit.score:.4f}")
        print(f"    {hit.doc_id}")
        snippet = " ".join(hit.text.split())
        print(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")
    return 0


# ---- docs -----------------------------------------------------------------------------
def cmd_docs(args: argparse.Namespace) -> int:
    settings = _settings(args)
    kb = _open_kb(settings)
    catalog = kb.catalog
    if args.docs_command == "list":
        docs = catalog.list_documents(include_retired=args.all)
        if args.json:
            _print_json(docs)
        else:
            for d in docs:
                print(f"{d['doc_id']:<45} v{d['active_version'] or d['latest_version']:<3} {d['status']:<8} "
                      f"{d['doc_type']:<7} {d['chunks']:>4} chunks  {d['title']}")
            print(f"{len(docs)} document(s)")
        return 0
    history = catalog.history(args.doc_id)
    if not history:
        return _fail(f"unknown document '{args.doc_id}' (see `replydesk docs list --all`)", 1)
    if args.docs_command == "history":
        if args.json:
            _print_json(history)
        else:
            for v in history:
                print(f"v{v['version']:<3} {v['status']:<10} ingested {v['ingested_at'][:19]}  "
                      f"effective {v['effective_date'] or '-'}  sha256 {v['sha256'][:12]}  {v['source_file']}")
        return 0
    if args.docs_command == "show":
        current = next((v for v in reversed(history) if v["status"] == "active"), history[-1])
        version = args.version or current["version"]
        meta = next((v for v in history if v["version"] == version), None)
        if meta is None:
            return _fail(f"'{args.doc_id}' has no version {version}", 1)
        text = catalog.version_text(args.doc_id, version)
        if args.json:
            _print_json({**meta, "text": text})
        else:
            for key in ("doc_id", "title", "doc_type", "version", "status", "effective_date", "review_by", "owner",
                        "region", "language", "tags", "audience", "source_file", "sha256", "chunks"):
                print(f"{key:>15}: {meta.get(key)}")
            print()
            print(text)
        return 0
    retire = args.docs_command == "retire"
    version = kb.set_retired(args.doc_id, retire)
    verb = "retired" if retire else "restored"
    if version is None:
        print(f"{args.doc_id}: nothing to do (already {verb})")
    else:
        print(f"{args.doc_id}: version {version} {verb}")
    return 0


# ---- eval -----------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from app.cli_eval import run_on_dataset, write_outputs
    from eval.retrieval import run_retrieval_eval
    from ingest.pipeline import ingest_records

    configs = args.config or ["hybrid"]
    result, code = run_on_dataset(args, lambda settings, index: run_retrieval_eval(
        args.dataset, settings, indexer=ingest_records, configs=configs, split=args.split,
        progress=not args.json and sys.stderr.isatty(), keep_home=index))
    if result is None:
        return code
    failed = write_outputs(result, args, json_without="per_query")
    if failed is not None:
        return failed
    if not args.json:
        print(f"dataset {result['dataset']}: {result['timings']['documents']} documents, "
              f"{result['configs'][configs[0]]['queries']} queries")
        header = f"{'config':<10}" + "".join(f"{k:>11}" for k in ("hit@5", "recall@5", "recall@10", "mrr@10",
                                                                    "ndcg@10", "p95 ms"))
        print(header)
        for name, m in result["configs"].items():
            print(f"{name:<10}" + "".join(f"{m[k]:>11.3f}" for k in ("hit@5", "recall@5", "recall@10", "mrr@10",
                                                                     "ndcg@10")) + f"{m['latency_ms_p95']:>11.1f}")
    return 0


# ---- parser ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``replydesk`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=Path, help="data home (default: $REPLYDESK_HOME or ./data)")
    parser = argparse.ArgumentParser(prog="replydesk", description="Knowledge base and reply drafter for support "
                                                                   "and escalation specialists.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="ingest files or folders")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--doc-type", choices=["sop", "policy", "qa"])
    p.add_argument("--owner")
    p.add_argument("--region")
    p.add_argument("--language")
    p.add_argument("--tag", action="append", help="repeatable")
    p.add_argument("--doc-id", help="doc_id for a single file")
    p.add_argument("--title")
    p.add_argument("--audience", choices=["external", "internal"])
    p.add_argument("--effective-date")
    p.add_argument("--review-by")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("reindex", parents=[common], help="re-embed every document with the configured embedding "
                                                         "model (after changing REPLYDESK_EMBEDDING_MODEL)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("search", parents=[common], help="search the knowledge base")
    p.add_argument("text")
    p.add_argument("--context", help="earlier conversation of the ticket")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--doc-type", action="append", choices=["sop", "policy", "qa"])
    p.add_argument("--region", action="append")
    p.add_argument("--language", action="append")
    p.add_argument("--tag", action="append")
    p.add_argument("--per-doc", action="store_true", help="best chunk per document only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("docs", parents=[common], help="list and manage documents")
    docs = p.add_subparsers(dest="docs_command", required=True)
    d = docs.add_parser("list", parents=[common])
    d.add_argument("--all", action="store_true", help="include retired documents")
    d.add_argument("--json", action="store_true")
    for name in ("show", "history", "retire", "restore"):
        d = docs.add_parser(name, parents=[common])
        d.add_argument("doc_id")
        d.add_argument("--json", action="store_true")
        if name == "show":
            d.add_argument("--version", type=int)
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("eval", parents=[common], help="evaluate retrieval and drafts")
    ev = p.add_subparsers(dest="eval_command", required=True)
    e = ev.add_parser("retrieval", parents=[common], help="BEIR-layout retrieval evaluation")
    e.add_argument("--dataset", required=True, type=Path)
    e.add_argument("--split", help="qrels split (default: test, or the only one in qrels/)")
    e.add_argument("--config", action="append", help="bm25 | dense | rrf | hybrid (repeatable)")
    e.add_argument("--json", action="store_true")
    from app import cli_app, cli_draft
    from app.cli_eval import add_index_argument, register_eval, report_path

    e.add_argument("--report", type=report_path, help="write a report with per-query rows (.md, .html or .json)")
    e.set_defaults(func=cmd_eval)

    add_index_argument(e)

    register_eval(ev, common)
    cli_draft.register(sub, common)
    cli_app.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``replydesk`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NotFoundError as exc:
        return _fail(str(exc), 1)
    except SetupError as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
