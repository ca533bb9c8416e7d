"""Pasted threads taken apart: chat transcripts, case feeds, e-mail replies."""

from kb.thread import split_pasted_thread


def test_an_email_reply_is_its_new_text_and_the_quoted_mail_is_earlier_conversation():
    reply = "How long will it take?\n\nOn Mon, 23 Nov 2026 at 10:02, Loopr Support <help@loopr.example>\nwrote:\n> Your payout is on hold."
    context, message = split_pasted_thread("", reply)
    # The envelope ("On ... wrote:") and the quote marks are not what was said.
    assert (context, message) == ("Your payout is on hold.", "How long will it take?")
    assert split_pasted_thread("", "Thanks!\n-----Original Message-----\nFrom: support")[1] == "Thanks!"


def test_labels_with_names_and_time_stamps_are_turns_and_a_feed_copied_newest_first_is_read_backwards():
    oldest_first = ("Jane Doe (Customer): my payout is on hold. Sam (Agent): Sorry, checking. "
                    "Jane Doe (Customer): how long will it take?")
    expected = ("earlier Customer: my payout is on hold. Agent: Sorry, checking.", "how long will it take?")
    assert split_pasted_thread("earlier", oldest_first) == expected
    # The same thread as case feeds print it, newest first; names and stamps leave the context.
    for feed in ("Customer (Nov 28, 2026, 10:20 AM): how long will it take?\n"
                 "Agent (Nov 28, 2026, 10:15 AM): Sorry, checking.\n"
                 "Customer (Nov 28, 2026, 9:59 AM): my payout is on hold.",
                 "[10:20] Customer: how long will it take? [10:15] Agent: Sorry, checking. "
                 "[10:14] Customer: my payout is on hold.",
                 "Jane Doe (Customer) - 1:05 PM: how long will it take? Sam (Agent) - 12:40 PM: Sorry, checking. "
                 "Jane Doe (Customer) - 11:50 AM: my payout is on hold.",
                 "Customer [01/12/2026 09:00]: how long will it take? Agent [30/11/2026 18:00]: Sorry, checking. "
                 "Customer [30/11/2026 17:00]: my payout is on hold.",
                 "2026-11-28 10:20 Customer: how long will it take? 2026-11-27 18:00 Agent: Sorry, checking. "
                 "2026-11-27 17:00 Customer: my payout is on hold."):
        assert split_pasted_thread("earlier", feed) == expected, feed
    # Stamps running forwards, or not in one direction, keep the order as pasted.
    ascending = ("[10:14] Customer: my payout is on hold. [10:15] Agent: Sorry, checking. "
                 "[10:20] Customer: how long will it take?")
    assert split_pasted_thread("earlier", ascending) == expected
    mixed = "[10:14] Customer: payout on hold. [10:20] Agent: checking. [10:15] Customer: how long?"
    assert split_pasted_thread("", mixed)[1] == "how long?"


def test_a_quoted_mail_chain_becomes_earlier_conversation_oldest_first() -> None:
    chain = ("Any news?\n\nOn Tue, 24 Nov 2026 at 09:00, Loopr Support <help@loopr.example> wrote:\n"
             "> We are checking your payout.\n> On Mon, 23 Nov 2026 at 18:00, Jane <jane@example.com> wrote:\n"
             ">> My payout is on hold.")
    assert split_pasted_thread("", chain) == ("My payout is on hold. We are checking your payout.", "Any news?")


def test_without_time_stamps_the_agents_opening_words_tell_which_end_is_oldest():
    newest_first = ("Customer: how long will it take? Agent: Your payout is on a security hold. "
                    "Customer: my payout is on hold. Agent: Hi, thanks for reaching out, my name is Sam.")
    assert split_pasted_thread("", newest_first) == (
        "Agent: Hi, thanks for reaching out, my name is Sam. Customer: my payout is on hold. "
        "Agent: Your payout is on a security hold.", "how long will it take?")
    # Oldest first: the opening comes first, whatever is said later.
    oldest_first = ("Agent: Thanks for contacting Loopr, my name is Sam. Customer: my payout is on hold. "
                    "Agent: Thanks for your patience while I check. If you need more, my name is Sam, just ask. "
                    "Customer: how long will it take?")
    assert split_pasted_thread("", oldest_first)[1] == "how long will it take?"
    # No opening at either end: the order as pasted; a closing thanks is not an opening.
    plain = "Agent: Sure, let me check. Customer: payout on hold. Agent: Thanks for your patience. Customer: how long?"
    assert split_pasted_thread("", plain)[1] == "how long?"
    closing = ("Customer: my payout is on hold. Agent: Sorry to hear that, let me check. Customer: ok thanks. "
               "Agent: It is released now. Thanks for contacting Loopr, have a great day! Customer: how long until it lands?")
    assert split_pasted_thread("", closing)[1] == "how long until it lands?"


def test_an_outlook_reply_is_its_new_text_and_the_mail_below_its_header_is_earlier_conversation():
    reply = ("Thanks, and how long will it take?\n\nFrom: Loopr Support <help@loopr.example>\n"
             "Sent: Monday, 23 November 2026 10:02\nTo: Jane Doe\nSubject: RE: Re: payout\n\nYour payout is on hold.")
    context, message = split_pasted_thread("", reply)
    assert (context, message) == ("payout Your payout is on hold.", "Thanks, and how long will it take?")


def test_ordinary_messages_are_not_taken_for_pasted_threads():
    for text in ("my username: sam_lee and my payout is late", "Support: please help, my payout is late",
                 "> quoting is all there is", "Error: payout failed. Reason: unknown",
                 "the stream (user): 10:15: ok and my friend (customer): hi",
                 "From: my old account, sent two payouts that never arrived",
                 "at 10:15 Customer: said hi and then nothing"):
        assert split_pasted_thread("ctx", text) == ("ctx", text)
