"""``draft_reply``: from ticket to a validated, grounded draft.

Steps: retrieve (the same hybrid retrieval as search) -> assess risk (lexical +
semantic layers) -> for high risk, find the escalation procedure -> decide whether the
guidance is sufficient -> draft (LLM when configured, else offline; offline also when
the LLM fails) -> validate citations -> grounding report -> log knowledge gaps.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace
from typing import Iterator

from kb.config import Settings
from kb.drafting.citations import validate_citations
from kb.drafting.confidence import is_insufficient, retrieval_confidence
from kb.drafting.escalation import find_escalation
from kb.drafting.grounding import COSINE_SUPPORTED, COSINE_WITH_OVERLAP, GroundingChecker
from kb.drafting.llm import LLMDrafter, LLMUnavailable, cooldown_for, make_chat_model, redact_ticket
from kb.drafting.models import Draft, DraftOptions, DraftRisk, KnowledgeGapLog, TokenCallback
from kb.drafting.offline import OfflineDrafter
from kb.drafting.parallel import ParallelAnswers, parallel_answers
from kb.vector_cache import sentence_vectors
from kb.pii import redact
from kb.risk import assess_risk
from kb.thread import as_turns
from kb.types import Hit, Ticket

log = logging.getLogger(__name__)

# One offline drafter / grounding checker per embedder: both cache sentence vectors.
_OFFLINE: dict[int, OfflineDrafter] = {}
_CHECKERS: dict[int, GroundingChecker] = {}


def _offline_for(embedder, signature: str, context_tokens: int) -> OfflineDrafter:
    drafter = _OFFLINE.get(id(embedder))
    if (drafter is None or drafter.embedder is not embedder or drafter.signature != signature
            or drafter.context_tokens != context_tokens):
        drafter = _OFFLINE[id(embedder)] = OfflineDrafter(embedder, signature=signature,
                                                          context_tokens=context_tokens)
    return drafter


def _checker_for(embedder, settings: Settings | None) -> GroundingChecker:
    thresholds = ((settings.grounding_min_cosine, settings.grounding_min_cosine_with_overlap) if settings is not None
                  else (COSINE_SUPPORTED, COSINE_WITH_OVERLAP))
    checker = _CHECKERS.get(id(embedder))
    if (checker is None or checker.embedder is not embedder
            or (checker.min_cosine, checker.min_cosine_with_overlap) != thresholds):
        checker = _CHECKERS[id(embedder)] = GroundingChecker(embedder, min_cosine=thresholds[0],
                                                             min_cosine_with_overlap=thresholds[1])
    return checker


def _merge(first: tuple[Hit, ...] | list[Hit], second: list[Hit]) -> list[Hit]:
    seen: set[str] = set()
    out = []
    for h in list(first) + list(second):
        if h.chunk_id not in seen:
            seen.add(h.chunk_id)
            out.append(h)
    return out


def hit_summary(hit: Hit) -> dict:
    """What a knowledge-gap record keeps about a hit (no passage text)."""
    return {"doc_id": hit.doc_id, "chunk_id": hit.chunk_id, "title": hit.title, "section": hit.section,
            "score": round(hit.score, 5), "dense_score": None if hit.dense_score is None else round(hit.dense_score, 4)}


def finalise(draft: Draft, passages: dict[int, Hit], embedder, settings: Settings | None = None, *,
             ticket: Ticket | None = None) -> Draft:
    """Validate citations against ``passages`` and attach the grounding report.

    Args:
        draft: a drafter's output.
        passages: citation number -> the external passage that number was given for.
        embedder: the text embedder for the grounding check.
        settings: the grounding thresholds (default: the shipped ones).
        ticket: the ticket, whose own numbers a draft may repeat without a source.
    """
    start = time.perf_counter()
    check = validate_citations(draft.text, frozenset(passages))
    used = set(check.used)
    citations = tuple(c for c in draft.citations if c.n in used)
    validated = time.perf_counter()
    ticket_text = f"{ticket.context or ''}\n{ticket.text}" if ticket is not None else ""
    grounding = _checker_for(embedder, settings).report(
        check.text, {n: passages[n].text for n in used}, ticket=ticket_text,
        guidance=[f"{hit.title}\n{hit.text}" for hit in passages.values()])
    timings = dict(draft.timings, validate=validated - start, grounding=time.perf_counter() - validated)
    return replace(draft, text=check.text, citations=citations, grounding=grounding,
                   invalid_citations_removed=tuple(sorted(set(draft.invalid_citations_removed) | set(check.removed))),
                   timings=timings)


def draft_reply(ticket: Ticket, retriever, settings: Settings, options: DraftOptions | None = None, *,
                llm=None, gap_log: KnowledgeGapLog | None = None, on_token: TokenCallback | None = None,
                k: int | None = None) -> Draft:
    """Draft a grounded reply to ``ticket``.

    Args:
        ticket: the ticket (text, earlier conversation, optional language).
        retriever: a :class:`kb.retrieval.Retriever` over the knowledge base.
        settings: configuration (LLM provider, thresholds, signature).
        options: tone, length, language; defaults are friendly / normal / ticket's language.
        llm: an :class:`~kb.drafting.llm.LLMDrafter` or a LangChain chat model; ``None``
            builds one from ``settings`` unless ``llm_provider`` is ``"none"``.
        gap_log: receives tickets without confident guidance (redacted text only).
        on_token: called with streamed pieces of an LLM draft (placeholders restored).
        k: passages to retrieve (default ``settings.draft_top_k``).

    Returns:
        The validated :class:`Draft`. LLM failures never raise: the offline drafter takes
        over and ``fallback_reason`` says why.
    """
    options = options or DraftOptions()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    hits = retriever.search(ticket, k=k or settings.draft_top_k)
    t1 = time.perf_counter()
    timings["retrieve"] = t1 - t0
    embedder = retriever.kb.embedder
    # A thread pasted into the ticket box is assessed as its turns: speaker labels and time
    # stamps glued to a sentence blur what it says to the semantic layer.
    turns = as_turns(ticket)
    assessment = assess_risk(turns.text, turns.context, embedder=embedder if settings.draft_semantic_risk else None,
                             semantic_threshold=settings.semantic_risk_threshold,
                             semantic_margin=settings.semantic_risk_margin, extra_examples=settings.risk_examples)
    t2 = time.perf_counter()
    timings["risk"] = t2 - t1
    escalation = find_escalation(retriever, ticket, assessment, k=settings.draft_escalation_k)
    timings["escalation"] = time.perf_counter() - t2
    risk = DraftRisk(assessment, escalation)

    language = options.language or ticket.language
    if language is None:
        from kb.language import detect_language

        # The reply follows the language of the turn it answers; a short turn says too little,
        # then the whole ticket decides.
        language = detect_language(turns.text, None, min_chars=25)
        if language is None and turns.text != ticket.text:
            language = detect_language(ticket.text, None, min_chars=25)
        language = language or "en"
    options = replace(options, language=language)

    # High risk: the category's own procedure (its user-facing template) leads the guidance.
    working = _merge([h for h in escalation if not h.is_internal], hits)
    internal = tuple(h for h in _merge(escalation, hits) if h.is_internal)
    confidence = retrieval_confidence(list(hits) + list(escalation))
    escalation_found = any(not h.is_internal for h in escalation)
    insufficient = is_insufficient(confidence, settings.draft_min_confidence, escalation_found=escalation_found)
    # One question answered per hotel / product / plan: the ticket's own subject only, or
    # the specialist is asked to confirm which one (a holding reply quotes nothing).
    parallel = ParallelAnswers() if insufficient else parallel_answers(
        working, sentence_vectors(embedder), f"{ticket.context or ''}\n{ticket.text}")
    working = [h for h in working if parallel.keeps(h)]
    redaction, _, _ = redact_ticket(ticket)
    offline = _offline_for(embedder, settings.draft_signature, settings.dense_context_tokens)

    t3 = time.perf_counter()
    fallback_reason = None
    if insufficient:
        draft = offline.holding_reply(ticket, options, confidence=confidence,
                                      threshold=settings.draft_min_confidence)
        if gap_log is not None:
            # The question asked, not a whole pasted thread, is what the knowledge owner needs.
            gap_log.log_knowledge_gap(redact(turns.text, handles=True).text, [hit_summary(h) for h in hits],
                                      confidence)
    else:
        drafter = cooldown = None
        if llm is not None or settings.llm_provider != "none":
            cooldown = cooldown_for(settings, llm)
            # During a cool-down no client is even built: the draft goes offline at once.
            skipped = cooldown.skip_reason()
            if skipped:
                fallback_reason = f"LLM skipped: {skipped}"
            else:
                try:
                    drafter = llm if isinstance(llm, LLMDrafter) else LLMDrafter(llm or make_chat_model(settings))
                except Exception as exc:  # misconfiguration must not stop the desk
                    fallback_reason = f"LLM not available: {type(exc).__name__}: {str(exc)[:160]}"
        draft = None
        if drafter is not None:
            try:
                draft = drafter.draft(ticket, working, options, on_token=on_token, risk=assessment,
                                      parallel_subjects=parallel.unresolved)
            except LLMUnavailable as exc:
                fallback_reason = f"LLM call failed: {exc}"
                cooldown.record_failure(exc)
            else:
                cooldown.record_success()
        if draft is None:
            # The procedure leads the reply only on a lexical flag: semantic-only flags (less
            # precise) show the procedure to the specialist without rewriting the answer.
            lexical_high = assess_risk(turns.text, turns.context).is_high
            lead = sum(1 for h in escalation if not h.is_internal) if lexical_high else 0
            draft = offline.draft(ticket, working, options, lead=lead)
    timings["draft"] = time.perf_counter() - t3

    if draft.mode == "llm":
        passages = {n: h for n, h in enumerate((h for h in working if not h.is_internal), start=1)}
    else:
        by_chunk = {h.chunk_id: h for h in working}
        passages = {c.n: by_chunk[c.chunk_id] for c in draft.citations}
    draft = finalise(draft, passages, embedder, settings, ticket=ticket)
    timings.update({k_: v for k_, v in draft.timings.items() if k_ in ("validate", "grounding")})
    timings["total"] = time.perf_counter() - t0
    return replace(draft, risk=risk, insufficient_guidance=insufficient, redactions=len(redaction.redactions),
                   fallback_reason=fallback_reason, timings=timings, language=language, confidence=confidence,
                   internal_guidance=internal, answered=turns.text if turns.text != ticket.text else None,
                   parallel_sources=parallel.unresolved,
                   # A high-risk ticket's banner already sends the specialist to its procedure.
                   staff_only_sources=() if assessment.is_high else draft.staff_only_sources)


_DONE = object()


def stream_reply(ticket: Ticket, retriever, settings: Settings, options: DraftOptions | None = None, *,
                 llm=None, gap_log: KnowledgeGapLog | None = None) -> Iterator[str | Draft]:
    """Generator form of :func:`draft_reply` for a UI: yields text pieces, then the final :class:`Draft`.

    The pieces are the raw stream (useful for showing progress); the final draft is the
    validated one and may differ (invalid citations removed, offline fallback).
    """
    pieces: queue.Queue = queue.Queue()
    result: dict[str, object] = {}

    def _run() -> None:
        try:
            result["draft"] = draft_reply(ticket, retriever, settings, options, llm=llm, gap_log=gap_log,
                                          on_token=pieces.put)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc
        finally:
            pieces.put(_DONE)

    worker = threading.Thread(target=_run, name="replydesk-draft", daemon=True)
    worker.start()
    while True:
        item = pieces.get()
        if item is _DONE:
            break
        yield item
    worker.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    yield result["draft"]  # type: ignore[misc]
