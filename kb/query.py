"""From ticket to queries: normalisation of noisy text and use of the earlier conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.types import Ticket

_SPACES = re.compile(r"\s+")
# Fillers of spoken or chatty text carry no meaning and confuse both retrievers.
_FILLERS = re.compile(r"\b(?:u+h+m*|u+m+|hm+|er+m*|ah+|mm+)\b", re.IGNORECASE)
_REPEATS = re.compile(r"\b(\w+)( \1\b)+", re.IGNORECASE)


def normalise_query(text: str) -> str:
    """Collapse whitespace, drop fillers and stutters ("i i guess" -> "i guess")."""
    text = _FILLERS.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return _REPEATS.sub(r"\1", text)


@dataclass(frozen=True)
class SubQuery:
    """One ranked list to produce: which retriever, which text, how much it counts."""

    label: str
    kind: str  # "dense" | "bm25"
    text: str
    weight: float
    linked: bool = False  # restricted to the documents the conversation names


@dataclass
class QueryPlan:
    """The texts to search for one ticket."""

    turn: str
    context: str
    conversation: str
    subqueries: list[SubQuery] = field(default_factory=list)


def plan_query(ticket: Ticket, *, use_context: bool = True, turn_weight: float = 0.5,
               linked_weight: float = 0.0, use_dense: bool = True, use_bm25: bool = True) -> QueryPlan:
    """Build the sub-queries for ``ticket``.

    The whole conversation (earlier turns + message) is the main query. With ``use_context``
    the message is also searched on its own (it says *what* is asked), and, when the
    conversation names documents (``linked_weight`` > 0), the message is searched within
    those documents.
    """
    turn = normalise_query(ticket.text)
    context = normalise_query(ticket.context or "")
    conversation = f"{context} {turn}".strip()
    plan = QueryPlan(turn=turn, context=context, conversation=conversation)
    kinds = [k for k, on in (("dense", use_dense), ("bm25", use_bm25)) if on]
    for kind in kinds:
        plan.subqueries.append(SubQuery(kind, kind, conversation, 1.0))
    if use_context and context and turn_weight > 0 and use_bm25:
        # The message alone, lexically: cheap, and it keeps the words of the actual question
        # from drowning in a long conversation. (A second dense query would cost a second
        # forward pass for no measured gain.)
        plan.subqueries.append(SubQuery("bm25:turn", "bm25", turn, turn_weight))
    if use_context and linked_weight > 0:
        for kind in kinds:
            plan.subqueries.append(SubQuery(f"{kind}:linked", kind, turn or conversation, linked_weight, linked=True))
    return plan
