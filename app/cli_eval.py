"""``replydesk eval drafts|qa|demo``: draft evaluation, QA aggregates and the demo regression set.

Wired into :mod:`app.cli` with :func:`register_eval` (next to ``eval retrieval``). Every
command prints a short human summary, or the result as JSON with ``--json``, and writes a
Markdown / HTML / JSON report with ``--report FILE`` (format from the suffix).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from kb.config import Settings
from kb.drafting.models import CHANNELS

REPO = Path(__file__).resolve().parents[1]
DEMO_KB = REPO / "demo" / "kb"


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().with_home(getattr(args, "home", None))


def _fail(message: str, code: int = 2) -> int:
    print(f"replydesk: error: {message}", file=sys.stderr)
    return code


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _progress(label: str, enabled: bool):
    if not enabled:
        return None

    def show(done: int, total: int) -> None:
        print(f"\r{label} {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    return show


def report_path(value: str) -> Path:
    """``--report`` argument type: refuse an unsupported format before any work is done."""
    from eval.report import FORMATS

    path = Path(value).expanduser()
    if path.suffix.lower() not in FORMATS:
        raise argparse.ArgumentTypeError(f"{value}: report format must be one of {', '.join(FORMATS)}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: is a folder; give a file name ending in {', '.join(FORMATS)}")
    return path


def write_outputs(result: dict, args: argparse.Namespace, *, json_without: str | None = None) -> int | None:
    """Write ``--report`` and, with ``--json``, print ``result`` (less its ``json_without`` key).

    Returns:
        An exit code when the report could not be written, else ``None``.
    """
    if args.report is not None:
        from eval.report import ReportError, write_report

        try:
            written = write_report(result, args.report)
        except (ReportError, OSError) as exc:
            return _fail(str(exc), 1)
        print(f"report written to {written}", file=sys.stderr)
    if args.json:
        _print_json({k: v for k, v in result.items() if k != json_without})
    return None


def _print_draft_metrics(metrics: dict) -> None:
    from eval.drafts import DRAFT_RATE_KEYS

    for key in DRAFT_RATE_KEYS:
        value = metrics.get(key)
        print(f"  {key:<28} {'-' if value is None else f'{value:.3f}'}")
    for stage in ("retrieve_ms", "draft_ms", "total_ms"):
        print(f"  {stage + ' p50/p95':<28} {metrics.get(stage + '_p50')} / {metrics.get(stage + '_p95')}")


# ---- eval drafts --------------------------------------------------------------------------
def evaluation_index(args: argparse.Namespace, settings: Settings) -> Path | None:
    """The folder ``--index`` names for the evaluation's own knowledge base, checked.

    Raises:
        ValueError: the folder is a file, or it is the data home (the evaluation corpus
            would be mixed into the product's knowledge base).
    """
    index = getattr(args, "index", None)
    if index is None:
        return None
    index = Path(index).expanduser().resolve()
    if index.exists() and not index.is_dir():
        raise ValueError(f"--index {index}: not a folder")
    if index == Path(settings.home).expanduser().resolve():
        raise ValueError(f"--index {index}: that is the data home; give the evaluation its own folder")
    return index


def run_on_dataset(args: argparse.Namespace, run) -> tuple[dict | None, int | None]:
    """Build the settings and check ``--index``, then ``run(settings, index)``.

    Returns:
        ``(result, None)``, or ``(None, exit code)`` after printing what was wrong with the
        arguments or the dataset.
    """
    from eval.retrieval import DatasetError

    settings = _settings(args)
    try:
        index = evaluation_index(args, settings)
    except ValueError as exc:
        return None, _fail(str(exc))
    try:
        result = run(settings, index)
    except DatasetError as exc:
        return None, _fail(str(exc), 1)
    for warning in result.get("warnings", ()):
        print(f"replydesk: warning: {warning}", file=sys.stderr)
    return result, None


def evaluate(args: argparse.Namespace, run, *, json_without: str | None = None) -> dict | int:
    """:func:`run_on_dataset`, then ``--report`` and ``--json`` (:func:`write_outputs`).

    Returns:
        The result when the caller still prints its summary, or the exit code when the
        command is done (failed, or the JSON was printed).
    """
    result, code = run_on_dataset(args, run)
    if result is None:
        return code
    failed = write_outputs(result, args, json_without=json_without)
    if failed is not None or args.json:
        return failed or 0
    return result


def cmd_eval_drafts(args: argparse.Namespace) -> int:
    """Draft every query of a BEIR folder and score the drafts."""
    from eval.drafts import run_draft_eval
    from ingest.pipeline import ingest_records

    if args.limit is not None and args.limit < 1:
        return _fail("--limit must be at least 1")
    interactive = not args.json and sys.stderr.isatty()
    result = evaluate(args, lambda settings, index: run_draft_eval(
        args.dataset, settings, indexer=ingest_records, limit=args.limit, split=args.split, progress=interactive,
        on_query=_progress("drafted", interactive), keep_home=index, channel=args.channel), json_without="per_query")
    if isinstance(result, int):
        return result
    m, t = result["metrics"], result["timings"]
    print(f"dataset {result['dataset']}: {t['documents']} documents, {m['queries']} drafts "
          f"({', '.join(f'{k}: {v}' for k, v in m['modes'].items())}), {m['answered']} answered")
    _print_draft_metrics(m)
    return 0


# ---- eval calibrate -----------------------------------------------------------------------
def cmd_eval_calibrate(args: argparse.Namespace) -> int:
    """Fit the fusion weights to a labelled BEIR folder; print the settings to use."""
    from eval.calibrate import calibrate_fusion, calibrate_on_tickets
    from ingest.pipeline import ingest_records

    interactive = not args.json and sys.stderr.isatty()
    on_query = _progress("searched", interactive)
    if args.tickets is not None:
        if args.index is not None or args.split is not None:
            return _fail("--index and --split go with --dataset; --tickets uses the knowledge base at --home")

        def run(settings: Settings, _index):
            from kb.knowledge_base import KnowledgeBase

            return calibrate_on_tickets(KnowledgeBase(settings), args.tickets, metric=args.metric, folds=args.folds,
                                        on_query=on_query)
    else:
        def run(settings: Settings, index):
            return calibrate_fusion(args.dataset, settings, indexer=ingest_records, metric=args.metric,
                                    folds=args.folds, keep_home=index, split=args.split, progress=interactive,
                                    on_query=on_query)
    result = evaluate(args, run)
    if isinstance(result, int):
        return result
    cv = result["cross_validated"]
    print(f"dataset {result['dataset']}: {result['queries']} labelled queries, {result['grid_points']} fusion "
          f"settings tried, maximising {result['metric']}")
    print(f"{'':<34}{'hit@5':>8}{'mrr@10':>8}")
    for label, row in (("current settings", result["current"]), ("best on all queries (optimistic)", result["best"]),
                       (f"chosen on held-out folds ({cv['folds']})", cv)):
        print(f"{label:<34}{row['hit@5']:>8.3f}{row['mrr@10']:>8.3f}")
    best = result["best"]["params"]
    print("best: " + ", ".join(f"{k} {v}" for k, v in best.items()))
    if result["recommend"]:
        print(f"cross-validated gain {cv['gain']:+.3f} {result['metric']}: put these in .env (or the environment):")
        for name, value in result["env"].items():
            print(f"  {name}={value}")
    elif cv["gain"] <= 0:
        print(f"keep the current settings: on held-out queries no other setting does better "
              f"({cv['gain']:+.3f} {result['metric']})")
    else:
        print(f"keep the current settings: the cross-validated gain ({cv['gain']:+.3f} {result['metric']}) is too "
              "small for new tickets to notice")
    return 0


# ---- eval threshold -----------------------------------------------------------------------
def cmd_eval_threshold(args: argparse.Namespace) -> int:
    """Fit the insufficient-guidance threshold to answerable and not-covered tickets."""
    from eval.threshold import calibrate_threshold

    interactive = not args.json and sys.stderr.isatty()

    def run(settings: Settings, _index):
        from kb.knowledge_base import KnowledgeBase

        return calibrate_threshold(KnowledgeBase(settings), args.tickets, args.not_covered,
                                   on_ticket=_progress("drafted", interactive))

    result = evaluate(args, run)
    if isinstance(result, int):
        return result
    print(f"{result['answerable']} answerable and {result['not_covered']} not-covered tickets drafted against "
          f"{result['knowledge_base']} ({result['left_out']} left out: their escalation procedure was found)")
    _print_fit(result, [("value", "threshold", ".4f"), ("answerable deferred", "answerable_deferred", ""),
                        ("not covered answered", "uncovered_answered", "")],
               "fewer wrong decisions",
               "keep the current threshold: no other one makes fewer wrong decisions on these tickets")
    return 0


def _print_fit(result: dict, columns: list[tuple[str, str, str]], better: str, keep: str) -> None:
    """A fit's current and chosen settings as a table (``(header, key, format)`` per column),
    then its ``.env`` lines when it recommends them (saying why), else ``keep``."""
    print(f"{'setting':<10}" + "".join(f"{header:>{len(header) + 3}}" for header, _key, _fmt in columns))
    for label in ("current", "chosen"):
        print(f"{label:<10}" + "".join(f"{result[label][key]:>{len(header) + 3}{fmt}}" for header, key, fmt in columns))
    if not result["recommend"]:
        print(keep)
        return
    print(f"{better}: put {'these' if len(result['env']) > 1 else 'this'} in .env (or the environment):")
    for name, value in result["env"].items():
        print(f"  {name}={value}")


# ---- eval risk ----------------------------------------------------------------------------
def cmd_eval_risk(args: argparse.Namespace) -> int:
    """Fit the semantic risk layer's threshold and margin to labelled tickets."""
    from eval.risk_fit import fit_risk_thresholds

    interactive = not args.json and sys.stderr.isatty()

    def run(settings: Settings, _index):
        return fit_risk_thresholds(settings, args.tickets, args.normal, on_ticket=_progress("read", interactive))

    result = evaluate(args, run)
    if isinstance(result, int):
        return result
    print(f"{result['high']} high-risk and {result['normal']} ordinary tickets read with {result['model']} "
          f"({result['lexical_misses']} high-risk ones have no lexical cue: the semantic layer must find them)")
    _print_fit(result, [("threshold", "threshold", "g"), ("margin", "margin", "g"),
                        ("high-risk missed", "misses", ""), ("ordinary flagged", "false_flags", "")],
               "fewer misses or false flags",
               "keep the current settings: no other one misses fewer high-risk tickets or flags fewer ordinary ones")
    for row in result["wrong_chosen"]:
        what = "missed" if row["label"] == "high" else "flagged"
        print(f"  still {what}: {row['ticket']}")
    return 0


# ---- eval grounding -----------------------------------------------------------------------
def cmd_eval_grounding(args: argparse.Namespace) -> int:
    """Fit the grounding check's cosine thresholds to reference replies."""
    from eval.grounding_fit import fit_grounding_thresholds

    interactive = not args.json and sys.stderr.isatty()

    def run(settings: Settings, _index):
        from kb.knowledge_base import KnowledgeBase

        return fit_grounding_thresholds(KnowledgeBase(settings), args.tickets, on_ticket=_progress("read", interactive))

    result = evaluate(args, run, json_without="cosines")
    if isinstance(result, int):
        return result
    print(f"{result['supported_pairs']} reference sentences of {result['tickets']} tickets scored with "
          f"{result['model']} against their own documents and against another one")
    _print_fit(result, [("cosine", "min_cosine", "g"), ("with overlap", "min_cosine_with_overlap", "g"),
                        ("supported rejected", "supported_rejected", ""),
                        ("unsupported accepted", "unsupported_accepted", "")],
               "fewer wrong decisions",
               f"keep the current settings: no other one makes more than {result['slack']} fewer wrong decisions "
               "on these sentences")
    for row in result["wrong_chosen"]:
        what = "rejected though supported" if row["pair"] == "supported" else "accepted though unsupported"
        print(f"  still {what} (cosine {row['cosine']:.2f}): {row['sentence']}")
    return 0


# ---- eval qa ------------------------------------------------------------------------------
def cmd_eval_qa(args: argparse.Namespace) -> int:
    """Aggregate QA rubric scores and edit distances from the records store of ``--home``."""
    from eval.qa import aggregate_qa
    from kb.records import RecordsStore

    settings = _settings(args)
    by = tuple(args.by) if args.by else ("week", "queue", "mode")
    try:
        result = aggregate_qa(RecordsStore(settings.records_url), by=by)
    except ValueError as exc:
        return _fail(str(exc), 2)
    failed = write_outputs(result, args)
    if failed is not None or args.json:
        return failed or 0
    overall = result["overall"]
    print(f"{overall['drafts']} drafts, {overall['sent']} sent, {overall['reviews']} QA reviews; "
          f"mean score {overall['score_mean'] if overall['score_mean'] is not None else '-'}, "
          f"mean edit ratio {overall['edit_ratio_mean'] if overall['edit_ratio_mean'] is not None else '-'}")
    for name, groups in result["groups"].items():
        print(f"by {name}:")
        for g in groups:
            score = "-" if g["score_mean"] is None else f"{g['score_mean']:.2f}"
            ratio = "-" if g["edit_ratio_mean"] is None else f"{g['edit_ratio_mean']:.3f}"
            print(f"  {g['key']:<24} drafts {g['drafts']:>5}  sent {g['sent']:>5}  reviews {g['reviews']:>4}  "
                  f"score {score:>5}  edit ratio {ratio:>6}")
    return 0


# ---- eval demo ----------------------------------------------------------------------------
def build_demo_kb(settings: Settings, home: Path, *, progress: bool = False):
    """Ingest the demo knowledge base into ``home`` (old versions first, then the current ones)."""
    from ingest.pipeline import Ingestor
    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(settings.with_home(home).model_copy(update={"chroma_host": None, "database_url": None}))
    ingestor = Ingestor(kb, progress=progress)
    reports = [ingestor.ingest_paths([DEMO_KB / "v1"]), ingestor.ingest_paths([DEMO_KB / "docs", DEMO_KB / "qa"])]
    failures = [f"{f.path}: {f.error}" for r in reports for f in r.failed]
    if failures:
        raise RuntimeError("demo ingest failed: " + "; ".join(failures))
    return kb


def cmd_eval_demo(args: argparse.Namespace) -> int:
    """Evaluate the labelled demo tickets against a freshly ingested demo KB."""
    from eval.demo_set import check_thresholds, run_demo_eval

    interactive = not args.json and sys.stderr.isatty()
    settings = _settings(args)
    with tempfile.TemporaryDirectory(prefix="replydesk-demo-eval-") as tmp:
        try:
            kb = build_demo_kb(settings, Path(tmp), progress=interactive)
        except RuntimeError as exc:
            return _fail(str(exc), 1)
        result = run_demo_eval(kb, kb.settings, on_ticket=_progress("ticket", interactive))
    failures = check_thresholds(result)
    result["threshold_failures"] = failures
    failed = write_outputs(result, args, json_without="per_ticket")
    if failed is not None:
        return failed
    if not args.json:
        r, k = result["retrieval"], result["risk"]
        print(f"demo set: {result['tickets']} tickets")
        print(f"  retrieval  hit@5 {r['hit@5']:.3f}  recall@5 {r['recall@5']:.3f}  MRR@10 {r['mrr@10']:.3f}")
        for key, label in (("retrieval_long_thread", "after a long thread"),
                           ("retrieval_pasted_thread", "thread pasted as the ticket"),
                           ("retrieval_newest_first", "pasted newest first, time-stamped")):
            t = result[key]
            print(f"  {label}  hit@5 {t['hit@5']:.3f}  recall@5 {t['recall@5']:.3f}  MRR@10 {t['mrr@10']:.3f}")
        print(f"  risk       recall {k['recall']:.3f}  false-flag rate {k['false_flag_rate']:.3f}  "
              f"category accuracy {k['category_accuracy']:.3f}")
        print("  drafts")
        _print_draft_metrics(result["drafts"])
    if args.check:
        for failure in failures:
            print(f"regression: {failure}", file=sys.stderr)
        if failures:
            return 1
        print("all demo thresholds met", file=sys.stderr)
    return 0


# ---- wiring -------------------------------------------------------------------------------
def add_index_argument(parser: argparse.ArgumentParser) -> None:
    """``--index DIR``: keep the evaluation's knowledge base between runs."""
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="keep the evaluation index in DIR and reuse it next time (unchanged documents "
                             "are not embedded again); default: a temporary folder")


def register_eval(eval_subparsers, common: argparse.ArgumentParser) -> None:
    """Add ``drafts``, ``calibrate``, ``threshold``, ``risk``, ``grounding``, ``qa`` and ``demo`` under
    ``replydesk eval``.

    Args:
        eval_subparsers: the sub-parser action of ``replydesk eval``.
        common: the parent parser with ``--home``.
    """
    e = eval_subparsers.add_parser("drafts", parents=[common], help="draft every query of a BEIR folder and "
                                                                    "score the drafts")
    e.add_argument("--dataset", required=True, type=Path)
    e.add_argument("--split", help="qrels split (default: test, or the only one in qrels/)")
    e.add_argument("--limit", type=int, help="draft only the first N queries")
    e.add_argument("--channel", choices=CHANNELS, default="email",
                   help="where the replies go; it decides their form (default: email)")
    add_index_argument(e)
    e.add_argument("--json", action="store_true")
    e.add_argument("--report", type=report_path, help="write a report: .md, .html or .json")
    e.set_defaults(func=cmd_eval_drafts)

    e = eval_subparsers.add_parser("calibrate", parents=[common], help="fit the fusion weights to labelled queries "
                                                                       "(cross-validated)")
    source = e.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", type=Path, help="a labelled BEIR folder (its corpus is ingested into --index)")
    source.add_argument("--tickets", type=Path, help="labelled tickets (JSONL: text, context, relevant_doc_ids) "
                                                     "against the knowledge base at --home")
    e.add_argument("--split", help="qrels split (default: test, or the only one in qrels/)")
    e.add_argument("--metric", choices=["mrr@10", "hit@5"], default="mrr@10", help="what to maximise")
    e.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    add_index_argument(e)
    e.add_argument("--json", action="store_true")
    e.add_argument("--report", type=report_path, help="write a report: .md, .html or .json")
    e.set_defaults(func=cmd_eval_calibrate)

    e = eval_subparsers.add_parser("threshold", parents=[common],
                                   help="fit the confidence below which a draft defers to a knowledge owner "
                                        "(after a change of model or knowledge base)")
    e.add_argument("--tickets", type=Path, required=True,
                   help="tickets the knowledge base covers (JSONL: text, context, relevant_doc_ids)")
    e.add_argument("--not-covered", type=Path, required=True,
                   help="plausible tickets the knowledge base does not cover (JSONL: text, context)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--report", type=report_path, help="write a report: .md, .html or .json")
    e.set_defaults(func=cmd_eval_threshold)

    e = eval_subparsers.add_parser("risk", parents=[common],
                                   help="fit the semantic risk layer's threshold and margin to labelled tickets "
                                        "(after a change of embedding model)")
    e.add_argument("--tickets", type=Path, required=True,
                   help="labelled tickets (JSONL: text, context, risk high|normal), e.g. demo/tickets.jsonl")
    e.add_argument("--normal", type=Path,
                   help="more messages known not to be high-risk (JSONL: text, context)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--report", type=report_path, help="write a report: .md, .html or .json")
    e.set_defaults(func=cmd_eval_risk)

    e = eval_subparsers.add_parser("grounding", parents=[common],
                                   help="fit the grounding check's cosines to reference replies "
                                        "(after a change of embedding model)")
    e.add_argument("--tickets", type=Path, required=True,
                   help="tickets with reference replies (JSONL: text, relevant_doc_ids, references), e.g. "
                        "demo/tickets.jsonl, against the knowledge base at --home")
    e.add_argument("--json", action="store_true")
    e.add_argument("--report", type=report_path, help="write a report: .md, .html or .json")
    e.set_defaults(func=cmd_eval_grounding)

    e = eval_subparsers.add_parser("qa", parents=[common], help="QA rubric scores and edit distances of the "
                                                                "records store, per week / queue / mode")
    e.add_argument("--by", action="append", choices=["week", "queue", "mode", "risk", "topic", "language"],
                   help="grouping (repeatable; default week, queue and mode)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--report", type=report_path, help="write a report: .md, .html or .json")
    e.set_defaults(func=cmd_eval_qa)

    e = eval_subparsers.add_parser("demo", parents=[common], help="the labelled demo tickets as a regression set")
    e.add_argument("--json", action="store_true")
    e.add_argument("--report", type=report_path, help="write a report: .md, .html or .json")
    e.add_argument("--check", action="store_true", help="exit 1 when a metric is below its threshold")
    e.set_defaults(func=cmd_eval_demo)
