from kb.query import normalise_query, plan_query
from kb.types import Ticket


def test_fillers_and_stutters_are_removed():
    assert normalise_query("umm i i guess uh   the  payout") == "i guess the payout"


def test_plan_uses_conversation_turn_and_linked_lists():
    plan = plan_query(Ticket(text="when will it arrive", context="about my payout"), linked_weight=2.0)
    labels = {q.label: q for q in plan.subqueries}
    assert labels["dense"].text == "about my payout when will it arrive"
    assert labels["bm25:turn"].text == "when will it arrive" and labels["dense:linked"].linked
    naive = plan_query(Ticket(text="x y", context="a b"), use_context=False)
    assert [q.label for q in naive.subqueries] == ["dense", "bm25"]
