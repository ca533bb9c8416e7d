"""Knowledge-owner services: documents, versions and diffs, uploads, retire/restore,
the proposed-Q&A queue and the knowledge-gap list. Every change is audited."""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Sequence

from kb.auth import CurrentUser, authorize
from kb.records import GapRecord, ProposalRecord, utcnow
from kb.services.grouping import DEFAULT_THRESHOLD, group_texts
from kb.services.workspace import Workspace
from kb.types import DOC_TYPES, NotFoundError

#: A review-by date this close counts as "due soon".
DUE_SOON_DAYS = 30
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def review_status(review_by: str | None, today: date) -> str:
    """``overdue`` / ``due soon`` / ``ok`` for a review-by date, ``none`` when there is none."""
    if not review_by:
        return "none"
    try:
        due = date.fromisoformat(str(review_by)[:10])
    except ValueError:
        return "none"
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=DUE_SOON_DAYS):
        return "due soon"
    return "ok"


def list_documents(ws: Workspace, actor: CurrentUser, *, query: str = "", doc_types: Sequence[str] = (),
                   status: str = "all", review: str = "all", today: date | None = None) -> list[dict]:
    """Documents with search and filters.

    Args:
        query: words that must all occur in the doc id, title, owner or tags (case-insensitive).
        doc_types: keep these types only (empty: all).
        status: ``all`` | ``active`` | ``retired``.
        review: ``all`` | ``stale`` (overdue or due soon) | ``overdue``.
        today: the date stale warnings are computed against.
    """
    authorize(ws.store, actor, "kb.view")
    today = today or date.today()
    words = [w for w in query.lower().split() if w]
    out = []
    for doc in ws.kb.catalog.list_documents(include_retired=True):
        doc = {**doc, "review_status": review_status(doc.get("review_by"), today)}
        haystack = " ".join([doc["doc_id"], doc["title"] or "", doc.get("owner") or "",
                             " ".join(doc.get("tags") or [])]).lower()
        if any(w not in haystack for w in words):
            continue
        if doc_types and doc["doc_type"] not in doc_types:
            continue
        if status != "all" and doc["status"] != status:
            continue
        if review == "stale" and doc["review_status"] not in ("overdue", "due soon"):
            continue
        if review == "overdue" and doc["review_status"] != "overdue":
            continue
        out.append(doc)
    return out


def document_history(ws: Workspace, actor: CurrentUser, doc_id: str) -> list[dict]:
    """Every version of a document, oldest first."""
    authorize(ws.store, actor, "kb.view")
    return ws.kb.catalog.history(doc_id)


def version_text(ws: Workspace, actor: CurrentUser, doc_id: str, version: int) -> str:
    """The stored text of one version."""
    authorize(ws.store, actor, "kb.view")
    return ws.kb.catalog.version_text(doc_id, version)


@dataclass(frozen=True)
class VersionDiff:
    """A unified diff between two versions and its size."""

    doc_id: str
    old: int
    new: int
    diff: str
    added: int
    removed: int


def diff_versions(ws: Workspace, actor: CurrentUser, doc_id: str, old: int, new: int) -> VersionDiff:
    """Unified line diff (difflib) between two versions of a document."""
    authorize(ws.store, actor, "kb.view")
    catalog = ws.kb.catalog
    a = catalog.version_text(doc_id, old).splitlines()
    b = catalog.version_text(doc_id, new).splitlines()
    lines = list(difflib.unified_diff(a, b, fromfile=f"{doc_id} v{old}", tofile=f"{doc_id} v{new}", lineterm="",
                                      n=2))
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return VersionDiff(doc_id, old, new, "\n".join(lines), added, removed)


def set_retired(ws: Workspace, actor: CurrentUser, doc_id: str, retired: bool) -> int | None:
    """Retire or restore a document; returns the affected version (None: nothing to do)."""
    actor = authorize(ws.store, actor, "kb.retire")
    version = ws.kb.set_retired(doc_id, retired)
    if version is not None:
        ws.store.audit("doc_retire" if retired else "doc_restore", user_id=actor.id, username=actor.username,
                       target=doc_id, details={"version": version})
    return version


@dataclass(frozen=True)
class FileResult:
    """What happened to one uploaded file."""

    name: str
    status: str  # ingested | re-chunked (same text, new chunking rules) | unchanged | failed
    doc_id: str | None = None
    version: int | None = None
    chunks: int = 0
    superseded: bool = False
    error: str | None = None


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("_", base).strip(" .")
    return cleaned or "upload"


def _clean_metadata(metadata: dict) -> dict:
    out = {}
    for key in ("doc_type", "owner", "region", "language", "title", "audience", "effective_date", "review_by",
                "doc_id"):
        value = metadata.get(key)
        if isinstance(value, (date, datetime)):
            value = value.isoformat()[:10]
        if value not in (None, ""):
            out[key] = str(value).strip()
    tags = metadata.get("tags") or ()
    if isinstance(tags, str):
        tags = re.split(r"[,;]", tags)
    out["tags"] = tuple(t.strip() for t in tags if t and t.strip())
    if out.get("doc_type") and out["doc_type"] not in DOC_TYPES:
        raise ValueError(f"doc_type must be one of {', '.join(DOC_TYPES)}")
    return out


def upload_documents(ws: Workspace, actor: CurrentUser, files: Sequence[tuple[str, bytes]],
                     metadata: dict) -> list[FileResult]:
    """Save uploaded files under ``<home>/uploads/<timestamp>/`` and ingest them one by one.

    Metadata from the form fills in what a file does not say itself (front-matter wins).
    A file without its own ``doc_id`` gets its file stem, so uploading a file of the same
    name again makes a new version of the same document.

    Returns:
        One :class:`FileResult` per file, in upload order.
    """
    actor = authorize(ws.store, actor, "kb.upload")
    meta = _clean_metadata(metadata)
    if len(files) > 1:
        # A title or doc id typed into the form can only describe a single file.
        meta.pop("title", None)
        meta.pop("doc_id", None)
    folder = ws.settings.home / "uploads" / utcnow().strftime("%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for name, data in files:
        safe = _safe_name(name)
        path = folder / safe
        path.write_bytes(data)
        file_meta = dict(meta)
        file_meta.setdefault("doc_id", Path(safe).stem)
        report = ws.ingest([path], file_meta)
        if report.failed:
            result = FileResult(safe, "failed", error="; ".join(f.error for f in report.failed))
        elif report.ingested or report.rechunked:
            doc_id = report.doc_ids[0] if report.doc_ids else file_meta["doc_id"]
            version = ws.kb.catalog.document_states().get(doc_id, (None, None, 0))[0]
            result = FileResult(safe, "ingested" if report.ingested else "re-chunked", doc_id=doc_id,
                                version=version, chunks=report.chunks, superseded=bool(report.superseded))
        else:
            result = FileResult(safe, "unchanged", doc_id=file_meta["doc_id"])
        ws.store.audit("doc_upload", user_id=actor.id, username=actor.username, target=result.doc_id or safe,
                       details={"file": safe, "status": result.status, "version": result.version,
                                "chunks": result.chunks, "error": result.error})
        results.append(result)
    return results


# ---- proposed Q&A ---------------------------------------------------------------------
def list_proposals(ws: Workspace, actor: CurrentUser, status: str | None = "pending") -> list[ProposalRecord]:
    """The proposed-Q&A queue (oldest first)."""
    authorize(ws.store, actor, "qa.approve")
    return ws.store.list_proposals(status=status)


def approve_proposal(ws: Workspace, actor: CurrentUser, proposal_id: int, *, question: str | None = None,
                     answer: str | None = None, note: str = "") -> ProposalRecord:
    """Approve a proposal: ingest it as a ``qa`` document, then mark it approved.

    The pair is written to ``<home>/approved_qa/qa-approved-<id>.jsonl`` and ingested as
    doc_id ``qa-approved-<id>``. If ingest fails the proposal stays pending.

    Raises:
        KeyError: unknown proposal. ValueError: not pending, empty text, or the ingest failed.
    """
    actor = authorize(ws.store, actor, "qa.approve")
    proposal = ws.store.get_proposal(proposal_id)
    if proposal is None:
        raise NotFoundError("proposal", proposal_id)
    if proposal.status != "pending":
        raise ValueError(f"proposal {proposal_id} is already {proposal.status}")
    question = (question if question is not None else proposal.question).strip()
    answer = (answer if answer is not None else proposal.answer).strip()
    if not question or not answer:
        raise ValueError("question and answer must not be empty")
    doc_id = f"qa-approved-{proposal_id}"
    folder = ws.settings.home / "approved_qa"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc_id}.jsonl"
    record = {"ticket_id": f"PQ-{proposal_id}", "question": question, "answer": answer}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    title = f"Approved Q&A: {question[:80]}{'…' if len(question) > 80 else ''}"
    report = ws.ingest([path], {"doc_type": "qa", "doc_id": doc_id, "title": title, "audience": "external",
                                "owner": actor.username, "tags": ("qa", "approved")})
    if report.failed:
        raise ValueError("could not ingest the approved Q&A: " + "; ".join(f.error for f in report.failed))
    reviewed = ws.store.review_proposal(proposal_id, status="approved", reviewer_id=actor.id, note=note,
                                        question=question, answer=answer, doc_id=doc_id)
    ws.store.audit("qa_approve", user_id=actor.id, username=actor.username, target=f"proposal {proposal_id}",
                   details={"doc_id": doc_id, "note": note})
    return reviewed


def reject_proposal(ws: Workspace, actor: CurrentUser, proposal_id: int, note: str = "") -> ProposalRecord:
    """Reject a pending proposal."""
    actor = authorize(ws.store, actor, "qa.approve")
    reviewed = ws.store.review_proposal(proposal_id, status="rejected", reviewer_id=actor.id, note=note)
    ws.store.audit("qa_reject", user_id=actor.id, username=actor.username, target=f"proposal {proposal_id}",
                   details={"note": note})
    return reviewed


# ---- knowledge gaps -------------------------------------------------------------------
@dataclass(frozen=True)
class GapGroup:
    """Open knowledge gaps about (roughly) the same thing."""

    gaps: tuple[GapRecord, ...]
    representative: GapRecord
    last_seen: datetime
    best_titles: tuple[str, ...]
    reported: int

    @property
    def size(self) -> int:
        """Number of gaps in the group."""
        return len(self.gaps)


def knowledge_gap_groups(ws: Workspace, actor: CurrentUser, *, threshold: float = DEFAULT_THRESHOLD
                         ) -> list[GapGroup]:
    """Open knowledge gaps grouped by similar tickets (embeddings), largest group first."""
    authorize(ws.store, actor, "gaps.view")
    gaps = ws.store.list_knowledge_gaps(status="open")
    if not gaps:
        return []
    groups = group_texts([g.ticket_text for g in gaps], ws.embed, threshold)
    out = []
    for group in groups:
        members = tuple(gaps[i] for i in group.members)
        titles = Counter(h.get("title") for g in members for h in g.hits[:1] if h.get("title"))
        out.append(GapGroup(gaps=members, representative=gaps[group.representative],
                            last_seen=max(g.created_at for g in members),
                            best_titles=tuple(t for t, _ in titles.most_common(3)),
                            reported=sum(1 for g in members if g.source == "reported")))
    return out


def resolve_gaps(ws: Workspace, actor: CurrentUser, gap_ids: Sequence[int], note: str = "") -> int:
    """Mark gaps resolved (e.g. after a document was written); returns how many changed."""
    actor = authorize(ws.store, actor, "gaps.view")
    changed = ws.store.set_gap_status(gap_ids, "resolved")
    ws.store.audit("gap_resolve", user_id=actor.id, username=actor.username,
                   target=", ".join(str(i) for i in gap_ids), details={"count": changed, "note": note})
    return changed
