from kb.query import (correct_to_vocabulary, normalise_query, plan_query, recent_conversation, unknown_words,
                      vocabulary_of)
from kb.thread import chronological, split_pasted_thread
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


def _words(text: str) -> int:
    return len(text.split())


def test_dense_text_keeps_the_message_and_only_the_end_of_a_long_thread():
    context = " ".join(f"w{i}" for i in range(300))
    text = recent_conversation(context, "is my payout late", _words, window=254, context_tokens=48)
    assert text == " ".join(f"w{i}" for i in range(252, 300)) + " is my payout late"
    # Short conversations are kept whole; without earlier conversation it is the message.
    assert recent_conversation("about my payout", "when", _words, window=254, context_tokens=48) == "about my payout when"
    assert recent_conversation("", "when", _words, window=254, context_tokens=48) == "when"
    # A message that fills the window leaves no room for the conversation.
    long_message = " ".join(["x"] * 260)
    assert recent_conversation("about my payout", long_message, _words, window=254, context_tokens=48) == long_message
    # The window caps the context budget too.
    assert recent_conversation(context, " ".join(["y"] * 250), _words, window=254, context_tokens=48
                               ) == "w297 w298 w299 " + " ".join(["y"] * 250)


def test_whole_words_are_kept_when_the_end_of_the_thread_is_cut():
    # A counter in characters: the cut may not fall inside a word.
    text = recent_conversation("alpha beta gamma delta", "ok", len, window=254, context_tokens=12)
    assert text == "gamma delta ok"


def test_a_long_thread_also_searches_the_message_alone_densely_and_bm25_reads_it_all():
    context = " ".join(f"w{i}" for i in range(300))
    plan = plan_query(Ticket(text="is my payout late", context=context), linked_weight=2.0, count_tokens=_words)
    labels = {q.label: q.text for q in plan.subqueries}
    assert labels["dense"] == labels["dense:linked"] == plan.dense_text
    assert plan.dense_text.startswith("w252 ") and labels["dense:turn"] == "is my payout late"
    assert labels["bm25"] == plan.conversation and plan.conversation.startswith("w0 w1 ")
    # A short conversation is read whole by every list, and the message is not searched twice densely.
    short = plan_query(Ticket(text="when will it arrive", context="about my payout"), count_tokens=_words)
    assert "dense:turn" not in {q.label for q in short.subqueries}
    assert short.dense_text == short.conversation == "about my payout when will it arrive"
    # With no room for earlier turns the dense query is the message, searched once.
    bare = plan_query(Ticket(text="is my payout late", context=context), count_tokens=_words, context_tokens=0)
    assert [q.text for q in bare.subqueries if q.kind == "dense"] == ["is my payout late"]
    # The naive baselines read the whole conversation (use_context off).
    naive = plan_query(Ticket(text="is my payout late", context=context), use_context=False, count_tokens=_words)
    assert [q.text for q in naive.subqueries] == [naive.conversation] * 2


def test_a_thread_pasted_into_the_message_is_taken_apart_at_its_last_customer_turn():
    pasted = ("Customer: hi, my payout is on hold. Agent: Sorry to hear that, let me check. "
              "Customer: how long will it take? Agent: One moment please.")
    assert split_pasted_thread("earlier", pasted) == (
        "earlier Customer: hi, my payout is on hold. Agent: Sorry to hear that, let me check. Agent: One moment please.",
        "how long will it take?")
    plan = plan_query(Ticket(text=pasted), count_tokens=_words)
    labels = {q.label: q.text for q in plan.subqueries}
    assert labels["bm25:turn"] == "how long will it take?" and "payout" in labels["bm25"]


def test_a_feed_in_the_earlier_conversation_box_is_put_oldest_first_so_its_latest_turns_are_read():
    feed = ("Customer (10:15 AM): it says 'risk review'. Agent (10:14 AM): Which status do you see? "
            "Customer (9:00 AM): hi, is anyone there?")
    oldest_first = "Customer: hi, is anyone there? Agent: Which status do you see? Customer: it says 'risk review'."
    assert chronological(feed) == oldest_first
    assert split_pasted_thread(feed, "how long will it take?") == (oldest_first, "how long will it take?")
    plan = plan_query(Ticket(text="how long will it take?", context=feed), count_tokens=_words, context_tokens=6)
    assert plan.dense_text == "see? Customer: it says 'risk review'. how long will it take?"
    for unchanged in ("User: hi. Agent: hello.", "[9:00] User: hi. [9:05] Agent: hello.", "no labels at all"):
        assert chronological(unchanged) == unchanged


def test_search_hints_are_searched_with_the_message_but_name_no_document():
    plan = plan_query(Ticket(text="when will it arrive", context="about my payout", search_hints="Payout holds"),
                      linked_weight=2.0)
    labels = {q.label: q for q in plan.subqueries}
    assert labels["bm25:turn"].text == "when will it arrive\nPayout holds"
    assert labels["dense"].text.endswith("Payout holds")
    assert plan.named_text == "about my payout when will it arrive"
