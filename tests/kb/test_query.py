from kb.query import correct_to_vocabulary, normalise_query, plan_query, unknown_words, vocabulary_of
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


def test_spelled_out_letters_are_joined_but_words_are_not():
    assert normalise_query("do they have t v or w i f i") == "do they have tv or wifi"
    assert normalise_query("can i a") == "can i a"


def test_near_misses_are_corrected_to_the_named_documents_words_only():
    vocabulary = vocabulary_of(["Does Harbor Grill offer delivery service?", "Are dogs allowed?"])
    assert correct_to_vocabulary("ok do they delver", vocabulary) == ["delivery"]
    assert correct_to_vocabulary("accept reining dols", vocabulary) == ["dogs"]
    # Known words, short words and words far from every vocabulary word stay as they are.
    assert correct_to_vocabulary("is delivery ok for dog owners", vocabulary) == []
    assert correct_to_vocabulary("anything", frozenset()) == []


def test_unknown_words_skip_known_and_capitalised_words():
    known = frozenset({"my", "refund", "is", "late"})
    assert unknown_words("my refnud is late, Selene said", known) == ["refnud", "said"]


def test_numbers_read_out_word_by_word_become_digits_but_counts_stay_words():
    assert (normalise_query("their number is four one five nine two eight and zip nine four one one five")
            == "their number is 415928 and zip 94115")
    # Fewer than three number words are counts or names, not a read-out number.
    assert normalise_query("two or three nights at restaurant one seven") == "two or three nights at restaurant one seven"
    assert normalise_query("call double five one two.") == "call 5512."
