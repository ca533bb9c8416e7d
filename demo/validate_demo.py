"""Consistency check for the demo knowledge base.

Checks front-matter of every Markdown source and PDF sidecar, the v1/docs version
pairing, the resolved Q&A CSV and the labelled tickets, then prints counts. Exits
non-zero and lists every problem when something is wrong.

Usage::

    .venv/bin/python demo/validate_demo.py
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
KB = HERE / "kb"

REQUIRED_KEYS = ("doc_id", "title", "doc_type", "version", "effective_date", "review_by", "owner", "region",
                 "language", "tags")
DOC_TYPES = {"sop", "policy"}
AUDIENCES = {"external", "internal"}
RISK_CATEGORIES = {
    "self_harm", "violent_threat", "child_safety", "sexual_exploitation", "doxxing", "legal_threat",
    "regulator_request", "press_enquiry", "executive_escalation", "public_figure_impersonation",
    "account_takeover_financial",
}
QUEUES = {"creator-payments", "account-security", "appeals", "gifts-refunds", "campaigns", "safety", "general"}
CSV_HEADER = ["ticket_id", "question", "answer", "queue", "region", "language", "resolved_date"]
QA_DOC_ID = "qa-resolved"
# Topics whose SOP must carry the `escalation` tag (brief: safety, legal, regulator, press, leadership).
MUST_ESCALATE = {
    "sop-self-harm-escalation", "sop-minor-safety", "sop-violent-threats", "sop-law-enforcement-legal-requests",
    "sop-data-protection-requests", "sop-press-enquiries", "sop-leadership-escalations", "sop-escalation-matrix",
}
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_DOC_ID = re.compile(r"^(sop|pol)-[a-z0-9]+(-[a-z0-9]+)*$")
# Names that only internal sections may contain; user-facing text must never mention them.
INTERNAL_MARKERS = ("loopr-internal.example", "Sentinel", "ModTrace", "Ledger View", "CaseDesk", "GiftTrace",
                    "Marketplace Admin", "PrivacyHub", "OpsDesk", "ts-ato-fin", "ts-vip-trust", "cs-priority",
                    "ts-wellbeing-urgent", "ts-le-response", "legal-intake", "exec-esc", "pay-risk-review",
                    "mkt-disputes", "preserve_90d")


def external_text(body: str, where: str, problems: list[str]) -> str:
    """Return the user-facing part of a body, checking the ``(internal)`` heading convention.

    A ``###`` heading under an internal ``##`` section must itself end in ``(internal)`` so that
    a loader judging each heading alone and one that inherits the flag agree.
    """
    kept: list[str] = []
    in_internal = False
    for line in body.splitlines():
        heading = re.match(r"^(#{1,3}) (.*)$", line)
        if heading:
            level, text = len(heading.group(1)), heading.group(2).rstrip()
            is_internal = text.endswith("(internal)")
            if level <= 2:
                in_internal = is_internal
            elif in_internal and not is_internal:
                problems.append(f"{where}: '{text}' sits in an internal section without the (internal) suffix")
            if is_internal or in_internal:
                continue
        if not in_internal:
            kept.append(line)
    return "\n".join(kept)


def check_leaks(text: str, where: str, problems: list[str]) -> None:
    """Report internal tool, queue or alias names found in user-facing text."""
    for marker in INTERNAL_MARKERS:
        if marker in text:
            problems.append(f"{where}: user-facing text mentions internal name {marker!r}")


def check_meta(meta: object, where: str, problems: list[str]) -> dict:
    """Validate one front-matter mapping and return it (empty dict if unusable)."""
    if not isinstance(meta, dict):
        problems.append(f"{where}: front-matter is not a mapping")
        return {}
    for key in REQUIRED_KEYS:
        if key not in meta:
            problems.append(f"{where}: missing key {key!r}")
    if not _DOC_ID.match(str(meta.get("doc_id", ""))):
        problems.append(f"{where}: doc_id {meta.get('doc_id')!r} is not kebab-case with sop-/pol- prefix")
    if meta.get("doc_type") not in DOC_TYPES:
        problems.append(f"{where}: doc_type {meta.get('doc_type')!r} not in {sorted(DOC_TYPES)}")
    if not isinstance(meta.get("version"), int):
        problems.append(f"{where}: version must be an integer")
    for key in ("effective_date", "review_by"):
        if key in meta and not isinstance(meta[key], dt.date):
            problems.append(f"{where}: {key} is not an ISO date")
    if not isinstance(meta.get("tags"), list) or not meta.get("tags"):
        problems.append(f"{where}: tags must be a non-empty list")
    if meta.get("audience", "external") not in AUDIENCES:
        problems.append(f"{where}: audience {meta.get('audience')!r} not in {sorted(AUDIENCES)}")
    if meta.get("doc_id") in MUST_ESCALATE and "escalation" not in (meta.get("tags") or []):
        problems.append(f"{where}: escalation procedure without the `escalation` tag")
    return meta


def load_markdown(path: Path, problems: list[str]) -> tuple[dict, str]:
    """Parse front-matter and body of a Markdown document."""
    text = path.read_text(encoding="utf-8")
    match = _FRONT.match(text)
    if match is None:
        problems.append(f"{path.relative_to(HERE)}: no front-matter")
        return {}, text
    meta = check_meta(yaml.safe_load(match.group(1)), str(path.relative_to(HERE)), problems)
    return meta, text[match.end():]


def main() -> int:
    """Run every check and print a summary; return the process exit code."""
    problems: list[str] = []
    current: dict[str, dict] = {}
    words: dict[str, int] = {}
    internal_sections = 0

    docs_dir = KB / "docs"
    for path in sorted(docs_dir.glob("*.md")):
        meta, body = load_markdown(path, problems)
        if meta:
            if meta["doc_id"] != path.stem:
                problems.append(f"{path.name}: file name does not match doc_id {meta['doc_id']}")
            current[meta["doc_id"]] = meta
            words[meta["doc_id"]] = len(body.split())
        internal_sections += len(re.findall(r"^#{2,3} .*\(internal\)\s*$", body, re.MULTILINE))
        if meta.get("audience") != "internal":
            check_leaks(external_text(body, path.name, problems), path.name, problems)
        if not re.search(r"^## ", body, re.MULTILINE):
            problems.append(f"{path.name}: no ## headings")

    pdfs = sorted(docs_dir.glob("*.pdf"))
    for pdf in pdfs:
        sidecar = pdf.with_name(pdf.name + ".meta.yaml")
        if not sidecar.exists():
            problems.append(f"{pdf.name}: missing sidecar {sidecar.name}")
            continue
        meta = check_meta(yaml.safe_load(sidecar.read_text(encoding="utf-8")), sidecar.name, problems)
        if meta:
            if (docs_dir / f"{meta['doc_id']}.md").exists():
                problems.append(f"{pdf.name}: also exists as Markdown in docs/")
            current[meta["doc_id"]] = meta
        src = HERE / "pdf_src" / f"{pdf.stem}.md"
        if not src.exists():
            problems.append(f"{pdf.name}: no source in pdf_src/")
        else:
            _, body = load_markdown(src, problems)
            words[pdf.stem] = len(body.split())
            check_leaks(external_text(body, src.name, problems), src.name, problems)
            internal_sections += len(re.findall(r"^#{2,3} .*\(internal\)\s*$", body, re.MULTILINE))
    try:
        import pypdf

        for pdf in pdfs:
            text = " ".join((p.extract_text() or "") for p in pypdf.PdfReader(str(pdf)).pages)
            if len(text.split()) < 200:
                problems.append(f"{pdf.name}: extracted text too short ({len(text.split())} words)")
    except ImportError:
        problems.append("pypdf not installed: PDF text not checked")

    for doc_id, n in words.items():
        if not 400 <= n <= 1200:
            problems.append(f"{doc_id}: {n} words (expected 400-1200)")

    old_versions = 0
    for path in sorted((KB / "v1").glob("*.md")):
        meta, body = load_markdown(path, problems)
        check_leaks(external_text(body, f"v1/{path.name}", problems), f"v1/{path.name}", problems)
        old_versions += 1
        newer = current.get(meta.get("doc_id", ""))
        if newer is None:
            problems.append(f"v1/{path.name}: no current version in docs/")
        elif not meta.get("version", 0) < newer["version"]:
            problems.append(f"v1/{path.name}: version is not older than docs/")
        if not (docs_dir / path.name).exists():
            problems.append(f"v1/{path.name}: no docs/ file with the same name")

    qa_rows = 0
    with (KB / "qa" / "resolved_qa.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != CSV_HEADER:
            problems.append(f"resolved_qa.csv: header {reader.fieldnames} != {CSV_HEADER}")
        seen: set[str] = set()
        for row in reader:
            qa_rows += 1
            if row["ticket_id"] in seen:
                problems.append(f"resolved_qa.csv: duplicate ticket_id {row['ticket_id']}")
            seen.add(row["ticket_id"])
            if row["queue"] not in QUEUES:
                problems.append(f"resolved_qa.csv: {row['ticket_id']} unknown queue {row['queue']!r}")
            check_leaks(row["answer"], f"resolved_qa.csv {row['ticket_id']}", problems)
            if not row["question"].strip() or not row["answer"].strip():
                problems.append(f"resolved_qa.csv: {row['ticket_id']} empty question/answer")
            dt.date.fromisoformat(row["resolved_date"])
    if qa_rows < 70:
        problems.append(f"resolved_qa.csv: only {qa_rows} rows (need >= 70)")

    known = set(current) | {QA_DOC_ID}
    tickets = [json.loads(line) for line in (HERE / "tickets.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    ids = [t["id"] for t in tickets]
    if len(ids) != len(set(ids)):
        problems.append("tickets.jsonl: duplicate ids")
    for t in tickets:
        for key, kind in (("id", str), ("text", str), ("context", str), ("relevant_doc_ids", list),
                          ("risk", str), ("risk_categories", list)):
            if not isinstance(t.get(key), kind):
                problems.append(f"ticket {t.get('id')}: field {key!r} missing or not {kind.__name__}")
        for ref in t.get("references", []):
            check_leaks(ref, f"ticket {t.get('id')} reference", problems)
        for doc_id in t.get("relevant_doc_ids", []):
            if doc_id not in known:
                problems.append(f"ticket {t['id']}: unknown doc_id {doc_id}")
        cats = set(t.get("risk_categories", []))
        if cats - RISK_CATEGORIES:
            problems.append(f"ticket {t['id']}: unknown risk categories {sorted(cats - RISK_CATEGORIES)}")
        if (t.get("risk") == "high") != bool(cats) or t.get("risk") not in {"high", "normal"}:
            problems.append(f"ticket {t['id']}: risk {t.get('risk')!r} inconsistent with categories {sorted(cats)}")
    high = sum(t.get("risk") == "high" for t in tickets)
    with_refs = sum(bool(t.get("references")) for t in tickets)
    covered = set().union(*(t.get("risk_categories", []) for t in tickets))

    today = dt.date.today()
    stale = sorted(d for d, m in current.items() if isinstance(m.get("review_by"), dt.date) and m["review_by"] < today)
    internal_docs = sorted(d for d, m in current.items() if m.get("audience") == "internal")
    escalation = sorted(d for d, m in current.items() if "escalation" in (m.get("tags") or []))

    print(f"current documents : {len(current)} ({len(current) - len(pdfs)} Markdown, {len(pdfs)} PDF)")
    print(f"word counts       : min {min(words.values())}, max {max(words.values())}")
    print(f"older versions    : {old_versions} in v1/")
    print(f"internal sections : {internal_sections}; internal-only docs: {', '.join(internal_docs) or '-'}")
    print(f"escalation-tagged : {len(escalation)}")
    print(f"stale (review_by < {today}): {', '.join(stale) or '-'}")
    print(f"resolved Q&A rows : {qa_rows}")
    print(f"tickets           : {len(tickets)} ({high} high risk, {len(tickets) - high} normal, "
          f"{with_refs} with references)")
    missing_cats = sorted(RISK_CATEGORIES - covered)
    print(f"risk categories   : {len(covered)}/{len(RISK_CATEGORIES)} covered"
          + (f" (missing: {', '.join(missing_cats)})" if missing_cats else ""))
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
