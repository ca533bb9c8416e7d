"""Finding the escalation procedure a high-risk ticket must follow."""

from __future__ import annotations

from dataclasses import replace

from kb.risk import CATEGORY_LABELS, RiskAssessment
from kb.thread import as_turns
from kb.types import Hit, SearchFilters, Ticket

#: Escalation procedures are SOPs tagged ``escalation`` (see the demo KB's front-matter).
ESCALATION_FILTER = SearchFilters(doc_types=("sop",), tags=("escalation",))


def escalation_query(ticket: Ticket, risk: RiskAssessment) -> Ticket:
    """The ticket with the flagged categories' labels appended to its message, so the category's
    own SOP ranks first. A thread pasted into the ticket is taken apart first: appended to the
    paste, the labels would join whichever turn was pasted last, the oldest one in a feed
    copied newest first."""
    labels = "; ".join(CATEGORY_LABELS[c] for c in risk.categories)
    turns = as_turns(ticket)
    return replace(turns, text=f"{turns.text}\n{labels}".strip())


def find_escalation(retriever, ticket: Ticket, risk: RiskAssessment, k: int = 4) -> tuple[Hit, ...]:
    """Passages of the escalation procedure for a high-risk ticket.

    Searches escalation-tagged SOPs with the ticket plus the risk categories' labels; if
    none is tagged, the best match in the whole knowledge base is used. A normal ticket
    has no escalation procedure.

    Args:
        retriever: a :class:`kb.retrieval.Retriever`.
        ticket: the ticket.
        risk: its risk assessment.
        k: passages to return (internal passages included: they are for the specialist).
    """
    if not risk.is_high:
        return ()
    query = escalation_query(ticket, risk)
    hits = retriever.search(query, k=k, filters=ESCALATION_FILTER)
    if not hits:
        hits = retriever.search(query, k=k)
    return tuple(hits)
