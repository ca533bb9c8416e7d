"""Finding the escalation procedure a high-risk ticket must follow."""

from __future__ import annotations

from dataclasses import replace

from kb.vector_cache import sentence_vectors
from kb.risk import CATEGORY_LABELS, RiskAssessment, lexical_categories
from kb.thread import as_turns
from kb.types import Hit, SearchFilters, Ticket

#: Escalation procedures are SOPs tagged ``escalation`` (see the demo KB's front-matter).
ESCALATION_FILTER = SearchFilters(doc_types=("sop",), tags=("escalation",))


def procedure_categories(ticket: Ticket, risk: RiskAssessment) -> tuple[str, ...]:
    """The categories whose procedure the ticket follows: the first (most severe) one a cue
    phrase flags, when one does, else every flagged one. A second, semantic-only category
    ("pay him or he posts my photos" also lands near impersonation) must not pick the
    procedure of a ticket the cues have placed already."""
    turns = as_turns(ticket)
    lexical = lexical_categories(turns.text, turns.context or "")
    first = next((c for c in risk.categories if c in lexical), None)
    return (first,) if first else tuple(risk.categories)


def escalation_query(ticket: Ticket, risk: RiskAssessment) -> Ticket:
    """The ticket with its procedure's category labels (:func:`procedure_categories`) as
    search hints, searched with its message, so that category's own SOP ranks first. A
    thread pasted into the ticket is taken apart first: appended to the paste, the labels
    would join whichever turn was pasted last, the oldest one in a feed copied newest first.
    Hints are never read as the user naming a document: the label "Regulator, government or
    law-enforcement request" linked the law-enforcement SOP by its title, so a data-protection
    regulator's letter got that procedure."""
    labels = "; ".join(CATEGORY_LABELS[c] for c in procedure_categories(ticket, risk))
    turns = as_turns(ticket)
    return replace(turns, search_hints=labels)


#: Passages searched per passage returned: the procedure is chosen on the evidence of all of them.
_CANDIDATES_PER_PASSAGE = 3


def procedure_first(hits: list[Hit], k: int) -> list[Hit]:
    """The best ``k`` of ``hits`` (fused order), led by the best passage of the procedure with
    the most evidence: the document whose passages' fused scores sum highest (ties: the one
    whose best passage ranks first). Its non-internal passages come first, so the procedure
    and its template are that document's.

    Which procedure applies is a question about documents: one passage of a neighbouring
    SOP can outrank each single passage of the right one ("threats to life" in the
    law-enforcement SOP for a threat of violence) while the right SOP has several passages
    near the top. The flagged demo high-risk tickets, typed, pasted as a feed and behind a
    long thread (52 searches, ``rrf_k`` 30): the first procedure was a relevant one for 48
    by the best passage and 49 by the sum (52 once the category labels became search hints).
    """
    totals: dict[str, float] = {}
    for h in hits:
        totals[h.doc_id] = totals.get(h.doc_id, 0.0) + h.score
    if not totals:
        return []
    winner = max(totals, key=totals.get)  # ties: the first maximum, i.e. the earliest-ranked document
    lead = next((h for h in hits if h.doc_id == winner and not h.is_internal),
                next(h for h in hits if h.doc_id == winner))
    return [lead, *(h for h in hits if h is not lead)][:k]


def find_escalation(retriever, ticket: Ticket, risk: RiskAssessment, k: int = 4) -> tuple[Hit, ...]:
    """Passages of the escalation procedure for a high-risk ticket.

    Searches escalation-tagged SOPs with the ticket plus the risk categories' labels (if
    none is tagged, the whole knowledge base) and puts the procedure with the most evidence
    first (:func:`procedure_first`). When none of the
    passages found is the procedure's reply template, its templates are added.
    A normal ticket has no escalation procedure.

    Args:
        retriever: a :class:`kb.retrieval.Retriever`.
        ticket: the ticket.
        risk: its risk assessment.
        k: passages to return (internal passages included: they are for the specialist).
    """
    if not risk.is_high:
        return ()
    from kb.drafting.offline import is_reply_template

    query = escalation_query(ticket, risk)
    candidates = retriever.search(query, k=k * _CANDIDATES_PER_PASSAGE, filters=ESCALATION_FILTER)
    if not candidates:
        candidates = retriever.search(query, k=k * _CANDIDATES_PER_PASSAGE)
    hits = procedure_first(candidates, k)
    procedure = next((h for h in hits if not h.is_internal), None)
    # Only a cue phrase lets the procedure lead the reply (see kb.drafting.service), so only
    # then does the reply need the procedure's template.
    turns = as_turns(ticket)
    cued = bool(lexical_categories(turns.text, turns.context or "") & set(risk.categories))
    if cued and procedure is not None and not any(is_reply_template(h) for h in hits if not h.is_internal):
        # The passages nearest the ticket can all be about the procedure ("Purpose and scope",
        # "How to respond"); the reply it prescribes is its template, so its templates join
        # them (read from the catalog: no second search) and the drafter picks one.
        chunks = retriever.kb.catalog.version_chunks(procedure.doc_id, procedure.version)
        hits = [*hits, *(Hit.from_chunk(c, 0.0) for c in chunks
                         if c.audience != "internal" and is_reply_template(c))]
    return tuple(best_template_first(retriever, turns.text, hits))


def best_template_first(retriever, message: str, hits: list[Hit]) -> list[Hit]:
    """``hits`` with their reply templates reordered, the one that fits ``message`` first.

    A procedure can have several templates ("Reply template", "Reply template: someone
    worried about another user"). Each template passage is compared whole, section heading
    included, with the message: its stored vector is read from the store, so only the
    message is encoded. A document's templates swap places among themselves only (the
    search decided which procedure comes first); other passages keep their places.
    """
    from kb.drafting.offline import is_reply_template

    slots_of: dict[str, list[int]] = {}
    for i, h in enumerate(hits):
        if not h.is_internal and is_reply_template(h):
            slots_of.setdefault(h.doc_id, []).append(i)
    choices = [slots for slots in slots_of.values() if len(slots) > 1]
    if not choices or not message.strip():
        return list(hits)
    vector = sentence_vectors(retriever.kb.embedder).encode([message])[0]
    fit = dict(retriever.kb.vectors.similarities(vector, [hits[i].chunk_id for s in choices for i in s]))
    ordered = list(hits)
    for slots in choices:
        for slot, i in zip(slots, sorted(slots, key=lambda i: (-fit.get(hits[i].chunk_id, -1.0), i))):
            ordered[slot] = hits[i]
    return ordered
