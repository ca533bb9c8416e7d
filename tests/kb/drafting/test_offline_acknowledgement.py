"""The offline draft's acknowledgement names the ticket's topic only when it is sure of it."""

from __future__ import annotations

import pytest

from kb.drafting.models import DraftOptions
from kb.drafting.offline import OfflineDrafter, acknowledgement, topic_of
from kb.types import Hit, Ticket


@pytest.mark.parametrize(("text", "topic"), [
    ("my payout has been on hold for a week", "your payout"),
    ("I sent coins to a creator but they never arrived", "your coins and gifts"),
    ("You removed my video for no reason", "your content and account status"),
    ("I would like a refund on the extra pound I was charged.", "your refund"),
    ("Please delete my account right now!", "your request to delete your account"),
    # Other support domains use these words for other things (banking77 messages).
    ("Why is my cash withdrawal still pending?", None),
    ("I have been waiting longer than expected for my bank card", None),
    ("I bought a brand new phone, how do I move my card to it?", None),
    ("Is a copy of the police report necessary for completing the report process?", None),
    ("I just joined with you guys and my top up is still pending", None),
    ("my card was declined in the city centre, what does that mean?", None),
    ("my marketplace order never arrived", None),
    ("what do I need to join the creator marketplace?", "the Creator Marketplace"),
])
def test_topics_are_named_only_by_words_that_mean_them(text, topic):
    assert topic_of(Ticket(text=text)) == topic


def test_the_guidance_the_reply_draws_on_must_be_about_the_topic_too():
    ticket = Ticket(text="can I get a refund if I cancel the booking?")
    assert topic_of(ticket, "Cancellations: refunds are issued within 14 days.") == "your refund"
    assert topic_of(ticket, "Cancellations made 48 hours ahead are free of charge.") is None


@pytest.mark.parametrize("tone", ["friendly", "formal", "empathetic"])
def test_without_a_topic_the_acknowledgement_names_none(tone):
    said = acknowledgement(tone, Ticket(text="do they have outdoor seating?"))
    assert "your message" not in said and "{topic}" not in said and said.endswith(".")
    upset = acknowledgement(tone, Ticket(text="this is ridiculous, do they have outdoor seating??"))
    assert upset != said


def test_a_draft_from_another_domain_does_not_name_a_platform_topic(keyword_embedder):
    # A hotel knowledge base: "bank" and "withdrawal" used to make this "about your payout".
    hit = Hit(chunk_id="faq-atm::v1::0000", doc_id="faq-atm", version=1, title="Grant Hotel (hotel)", doc_type="qa",
              text="Q: Is there an ATM?\nA: There is an ATM for cash withdrawal in the lobby of the Grant Hotel.",
              score=0.1, dense_score=0.6)
    ticket = Ticket(text="is there a bank machine for a cash withdrawal at the hotel?")

    draft = OfflineDrafter(keyword_embedder).draft(ticket, [hit], DraftOptions())

    assert "Thanks for reaching out.\n" in draft.text
    assert "payout" not in draft.text and "your message" not in draft.text
    assert "ATM for cash withdrawal in the lobby" in draft.text
