from __future__ import annotations

from kb.drafting.escalation import escalation_query
from kb.risk import CATEGORY_LABELS, RiskAssessment
from kb.types import Ticket

SELF_HARM = RiskAssessment("high", ("self_harm",), ())


def test_the_category_labels_join_the_message_of_a_typed_ticket() -> None:
    query = escalation_query(Ticket(text="i took all my pills", context="User: hi"), SELF_HARM)
    assert query == Ticket(text=f"i took all my pills\n{CATEGORY_LABELS['self_harm']}", context="User: hi")


def test_the_category_labels_join_the_latest_customer_turn_of_a_feed_pasted_newest_first() -> None:
    feed = ("Customer (10:20 AM): i took all my pills\n"
            "Agent (10:15 AM): How can I help?\n"
            "Customer (10:14 AM): hi, is anyone there?")
    query = escalation_query(Ticket(text=feed, channel="chat"), SELF_HARM)
    assert query.text == f"i took all my pills\n{CATEGORY_LABELS['self_harm']}"
    assert query.context == "Customer: hi, is anyone there? Agent: How can I help?" and query.channel == "chat"
