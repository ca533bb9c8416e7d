"""Specialist services: draft a reply, mark it sent, feedback, propose Q&A, report missing guidance."""

from __future__ import annotations

import json
import queue
import re
import threading
from dataclasses import dataclass
from typing import Iterator

from kb.auth import AuthError, CurrentUser, authorize
from kb.drafting.models import Draft, DraftOptions, TokenCallback
from kb.records import DraftRecord
from kb.services.workspace import Workspace
from kb.types import Hit, NotFoundError, Ticket

_QUESTION_CHARS = 300


class _RecordingRetriever:
    """Passes searches through to a retriever and keeps what the first one returned.

    ``draft_reply`` searches for the ticket first and then, for high-risk tickets, for the
    escalation procedure; the first result is the guidance the panel shows.
    """

    def __init__(self, inner) -> None:
        self._inner = inner
        self.first: list[Hit] | None = None

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def search(self, *args, **kwargs) -> list[Hit]:
        hits = self._inner.search(*args, **kwargs)
        if self.first is None:
            self.first = list(hits)
        return hits


@dataclass(frozen=True)
class GuidanceItem:
    """One source shown in the guidance panel.

    Attributes:
        hit: the passage.
        kind: ``cited`` (numbered in the draft), ``escalation`` (procedure for a high-risk
            ticket), ``related`` (retrieved, not cited) or ``internal`` (never quotable).
        number: the citation number for ``cited`` items.
    """

    hit: Hit
    kind: str
    number: int | None = None


@dataclass(frozen=True)
class DraftResult:
    """A stored draft and everything the draft page shows with it."""

    draft_id: int
    draft: Draft
    guidance: tuple[GuidanceItem, ...]
    topic: str | None
    queue: str | None


def hit_dict(hit: Hit) -> dict:
    """JSON form of a hit as stored with a draft."""
    return {"chunk_id": hit.chunk_id, "doc_id": hit.doc_id, "title": hit.title, "version": hit.version,
            "doc_type": hit.doc_type, "page": hit.page, "section": hit.section, "audience": hit.audience,
            "score": round(hit.score, 5), "text": hit.text}


def _guidance(draft: Draft, hits: list[Hit]) -> tuple[GuidanceItem, ...]:
    by_chunk = {h.chunk_id: h for h in [*hits, *draft.risk.escalation, *draft.internal_guidance]}
    items: list[GuidanceItem] = []
    seen: set[str] = set()
    for cit in sorted(draft.citations, key=lambda c: c.n):
        hit = by_chunk.get(cit.chunk_id) or Hit(chunk_id=cit.chunk_id, doc_id=cit.doc_id, version=cit.version,
                                                title=cit.title, doc_type="", text=cit.quote, score=0.0,
                                                page=cit.page, section=cit.section)
        items.append(GuidanceItem(hit, "cited", cit.n))
        seen.add(cit.chunk_id)
    for hit in draft.risk.escalation:
        if hit.chunk_id not in seen:
            items.append(GuidanceItem(hit, "escalation"))
            seen.add(hit.chunk_id)
    for hit in [*hits, *draft.internal_guidance]:
        if hit.chunk_id not in seen:
            items.append(GuidanceItem(hit, "internal" if hit.is_internal else "related"))
            seen.add(hit.chunk_id)
    return tuple(items)


def _topic_and_queue(ws: Workspace, draft: Draft, hits: list[Hit]) -> tuple[str | None, str | None]:
    # The document that guided the draft names its topic; its owner is the queue that owns the answer.
    lead = draft.citations[0].doc_id if draft.citations else (hits[0].doc_id if hits and not
                                                              draft.insufficient_guidance else None)
    if lead is None:
        return None, None
    history = ws.kb.catalog.history(lead)
    if not history:
        return None, None
    latest = history[-1]
    return latest.get("title"), latest.get("owner")


def create_draft(ws: Workspace, actor: CurrentUser, ticket: Ticket, options: DraftOptions, *,
                 on_token: TokenCallback | None = None) -> DraftResult:
    """Draft a reply (``kb.drafting.service.draft_reply``) and store it with its ticket (redacted)."""
    from kb.drafting.service import draft_reply

    actor = authorize(ws.store, actor, "draft.create")
    if not ticket.text.strip():
        raise ValueError("paste the ticket text first")
    retriever = _RecordingRetriever(ws.retriever)
    draft = draft_reply(ticket, retriever, ws.settings, options, llm=ws.llm, gap_log=ws.store, on_token=on_token)
    hits = retriever.first or []
    guidance = _guidance(draft, hits)
    topic, queue_name = _topic_and_queue(ws, draft, hits)
    timings = {f"{k}_ms": round(v * 1000, 1) for k, v in draft.timings.items()}
    draft_id = ws.store.add_draft(
        user_id=actor.id, ticket_text=ticket.text, context_text=ticket.context, draft_text=draft.text,
        mode=draft.mode, risk_level=draft.risk.level, risk_categories=draft.risk.assessment.categories,
        hits=[{**hit_dict(g.hit), "kind": g.kind, "n": g.number} for g in guidance],
        citations=[{**c.to_dict(), "chunk_id": c.chunk_id} for c in draft.citations],
        channel=ticket.channel, region=ticket.region, language=draft.language, tone=options.tone,
        length=options.length, queue=queue_name, topic=topic, timings=timings, grounding=draft.grounding.rate,
        insufficient_guidance=draft.insufficient_guidance, fallback_reason=draft.fallback_reason,
        redaction_count=draft.redactions)
    return DraftResult(draft_id, draft, guidance, topic, queue_name)


def stream_draft(ws: Workspace, actor: CurrentUser, ticket: Ticket, options: DraftOptions
                 ) -> Iterator[str | DraftResult]:
    """:func:`create_draft` as a generator for the UI: streamed text pieces (LLM mode), then the result."""
    pieces: queue.Queue = queue.Queue()
    done = object()
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = create_draft(ws, actor, ticket, options, on_token=pieces.put)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc
        finally:
            pieces.put(done)

    worker = threading.Thread(target=run, name="replydesk-app-draft", daemon=True)
    worker.start()
    while (item := pieces.get()) is not done:
        yield item
    worker.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    yield result["value"]  # type: ignore[misc]


def _own_draft(ws: Workspace, actor: CurrentUser, draft_id: int) -> DraftRecord:
    draft = ws.store.get_draft(draft_id)
    if draft is None:
        raise NotFoundError("draft", draft_id)
    if draft.user_id != actor.id and actor.role != "admin":
        raise AuthError("this draft belongs to another specialist")
    return draft


def mark_sent(ws: Workspace, actor: CurrentUser, draft_id: int, final_text: str) -> DraftRecord:
    """Store the text that was sent and its edit distance from the draft."""
    actor = authorize(ws.store, actor, "draft.send")
    _own_draft(ws, actor, draft_id)
    if not final_text.strip():
        raise ValueError("the reply is empty")
    return ws.store.mark_sent(draft_id, final_text)


def give_feedback(ws: Workspace, actor: CurrentUser, draft_id: int, rating: str, reason: str = "") -> int:
    """Thumbs up (``up``) or down (``down``) with an optional reason."""
    actor = authorize(ws.store, actor, "draft.feedback")
    _own_draft(ws, actor, draft_id)
    return ws.store.add_feedback(draft_id, actor.id, rating, reason)


def report_missing_guidance(ws: Workspace, actor: CurrentUser, draft_id: int, note: str = "") -> int:
    """Put the draft's ticket on the knowledge owner's gap list."""
    actor = authorize(ws.store, actor, "gap.report")
    draft = _own_draft(ws, actor, draft_id)
    top = max((h.get("score") or 0.0 for h in draft.hits), default=None)
    gap_id = ws.store.add_knowledge_gap(draft.ticket_text, [{k: v for k, v in h.items() if k != "text"}
                                                           for h in draft.hits], top, source="reported",
                                        reported_by=actor.id, draft_id=draft_id, note=note)
    ws.store.audit("gap_report", user_id=actor.id, username=actor.username, target=f"draft {draft_id}",
                   details={"gap_id": gap_id})
    return gap_id


# ---- proposed Q&A -----------------------------------------------------------------------
def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def extract_question(ticket_text: str) -> str:
    """The user's question: their sentences ending in '?' (at most two), else the first two sentences."""
    sentences = _sentences(" ".join(ticket_text.split()))
    questions = [s for s in sentences if s.endswith("?")]
    picked = questions[:2] or sentences[:2]
    text = " ".join(picked)
    return text if len(text) <= _QUESTION_CHARS else text[:_QUESTION_CHARS].rsplit(" ", 1)[0] + "…"


def extract_answer(reply: str) -> str:
    """The reusable part of a sent reply: its claims, without greeting, sign-off or citation markers."""
    from kb.drafting.grounding import content_sentences
    from kb.drafting.text import strip_citations

    sentences = [" ".join(strip_citations(s).split()) for s in content_sentences(reply)]
    # Removing "[1]" from "14 days [1]." leaves a space before the full stop.
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(s for s in sentences if s))


def _llm_summary(ws: Workspace, ticket_text: str, reply: str) -> tuple[str, str] | None:
    from kb.drafting.llm import make_chat_model

    try:
        model = ws.llm or make_chat_model(ws.settings, streaming=False)
        prompt = ("Turn this resolved support exchange into a reusable FAQ entry. Reply with JSON only: "
                  '{"question": "<the user\'s question, general, one or two sentences>", '
                  '"answer": "<the answer, user-facing, no greeting or sign-off>"}.\n\n'
                  f"<ticket>\n{ticket_text}\n</ticket>\n<reply>\n{reply}\n</reply>")
        raw = model.invoke(prompt)
        content = getattr(raw, "content", raw)
        match = re.search(r"\{.*\}", str(content), re.DOTALL)
        data = json.loads(match.group(0)) if match else {}
        question, answer = str(data.get("question", "")).strip(), str(data.get("answer", "")).strip()
        return (question, answer) if question and answer else None
    except Exception:  # noqa: BLE001 - an unreachable LLM falls back to extraction
        return None


def suggest_qa(ws: Workspace, actor: CurrentUser, draft_id: int) -> tuple[str, str, str]:
    """A question/answer pair from a sent draft: by the LLM when configured, else extracted.

    Returns:
        ``(question, answer, method)`` with method ``llm`` or ``extracted``.
    """
    actor = authorize(ws.store, actor, "qa.propose")
    draft = _own_draft(ws, actor, draft_id)
    reply = draft.final_text or draft.draft_text
    if ws.llm is not None or ws.settings.llm_provider != "none":
        summary = _llm_summary(ws, draft.ticket_text, reply)
        if summary:
            return summary[0], summary[1], "llm"
    return extract_question(draft.ticket_text), extract_answer(reply), "extracted"


def propose_qa(ws: Workspace, actor: CurrentUser, draft_id: int, question: str, answer: str) -> int:
    """Send a Q&A pair from a sent reply to the knowledge owner's queue."""
    actor = authorize(ws.store, actor, "qa.propose")
    draft = _own_draft(ws, actor, draft_id)
    if draft.status != "sent":
        raise AuthError("mark the reply as sent before proposing it as Q&A")
    if not question.strip() or not answer.strip():
        raise ValueError("question and answer must not be empty")
    proposal_id = ws.store.propose_qa(question, answer, proposed_by=actor.id, draft_id=draft_id)
    ws.store.audit("qa_propose", user_id=actor.id, username=actor.username, target=f"proposal {proposal_id}",
                   details={"draft_id": draft_id})
    return proposal_id
