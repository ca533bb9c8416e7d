from __future__ import annotations

from kb.drafting.escalation import escalation_query, procedure_first
from kb.risk import CATEGORY_LABELS, RiskAssessment
from kb.types import Hit, Ticket

SELF_HARM = RiskAssessment("high", ("self_harm",), ())


def test_the_category_labels_join_the_message_of_a_typed_ticket() -> None:
    query = escalation_query(Ticket(text="i took all my pills", context="User: hi"), SELF_HARM)
    assert query == Ticket(text="i took all my pills", context="User: hi",
                           search_hints=CATEGORY_LABELS["self_harm"])


def test_the_category_labels_join_the_latest_customer_turn_of_a_feed_pasted_newest_first() -> None:
    feed = ("Customer (10:20 AM): i took all my pills\n"
            "Agent (10:15 AM): How can I help?\n"
            "Customer (10:14 AM): hi, is anyone there?")
    query = escalation_query(Ticket(text=feed, channel="chat"), SELF_HARM)
    assert query.text == "i took all my pills" and query.search_hints == CATEGORY_LABELS["self_harm"]
    assert query.context == "Customer: hi, is anyone there? Agent: How can I help?" and query.channel == "chat"


def _hit(doc_id: str, n: int, score: float, audience: str = "external") -> Hit:
    return Hit(chunk_id=f"{doc_id}::v1::{n:04d}", doc_id=doc_id, version=1, title=doc_id, doc_type="sop",
               text=f"{doc_id} passage {n}", score=score, audience=audience)


def test_the_procedure_with_the_most_evidence_leads_even_when_another_has_the_best_passage() -> None:
    hits = [_hit("law-enforcement", 11, 0.105), _hit("threats", 3, 0.100), _hit("threats", 4, 0.095),
            _hit("recovery", 4, 0.093), _hit("threats", 7, 0.090), _hit("law-enforcement", 9, 0.020)]
    ordered = procedure_first(hits, k=4)
    assert [h.chunk_id for h in ordered] == ["threats::v1::0003", "law-enforcement::v1::0011",
                                             "threats::v1::0004", "recovery::v1::0004"]


def test_the_leading_passage_is_one_the_user_may_see_and_ties_go_to_the_best_passage() -> None:
    hits = [_hit("a", 1, 0.5), _hit("b", 1, 0.25, audience="internal"), _hit("b", 2, 0.25)]
    assert procedure_first(hits, k=3) == hits  # a tie: a's passage ranks first
    hits = [_hit("a", 1, 0.5), _hit("b", 1, 0.375, audience="internal"), _hit("b", 2, 0.25)]
    assert [h.chunk_id for h in procedure_first(hits, k=2)] == ["b::v1::0002", "a::v1::0001"]
    assert procedure_first([], k=4) == []
