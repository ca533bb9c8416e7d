"""Which sentences the offline drafter may say to the user depends on whom the document was written for."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.drafting.models import DraftOptions
from kb.drafting.offline import OfflineDrafter, candidates
from kb.types import Hit, Ticket

FARES = ("You can change your ticket online up to 24 hours before departure. "
         "Internal flights can be changed free of charge. "
         "Specialists should check the fare class before promising a free change.")


def _draft(embedder, doc_type: str, text: str = FARES, question: str = "can I change my ticket for free?"):
    hit = Hit(chunk_id="fares::v1::0000", doc_id="fares", version=1, title="Changing your ticket", doc_type=doc_type,
              text=text, score=0.1, dense_score=0.6)
    return OfflineDrafter(embedder).draft(Ticket(text=question), [hit], DraftOptions(length="detailed"))


@pytest.mark.parametrize("doc_type", ["qa", "policy"])
def test_words_customers_use_are_quoted_from_documents_written_for_them(keyword_embedder, doc_type):
    # "ticket" and "internal" used to mark a sentence as talk between specialists in every
    # document: an airline's FAQ gave a holding reply with no answer.
    draft = _draft(keyword_embedder, doc_type)

    assert not draft.insufficient_guidance
    assert "You can change your ticket online up to 24 hours before departure [1]." in draft.text
    assert "Internal flights can be changed free of charge [1]." in draft.text
    assert "Specialists should" not in draft.text  # still an instruction to the desk


def test_an_sop_is_written_for_specialists_and_its_desk_talk_stays_out(keyword_embedder):
    draft = _draft(keyword_embedder, "sop")

    assert "ticket online" not in draft.text and "Specialists" not in draft.text
    assert draft.citations == ()


def test_a_faq_answer_without_markers_is_preferred_like_a_resolved_answer(keyword_embedder):
    answer = Hit(chunk_id="faq::v1::0000", doc_id="faq", version=1, title="Seat selection", doc_type="qa",
                 text="Seats can be chosen for free during online check-in.", score=0.1, dense_score=0.6)
    rule = Hit(chunk_id="pol::v1::0000", doc_id="pol", version=1, title="Seat policy", doc_type="policy",
               text="Seat selection is free during online check-in for every fare.", score=0.1, dense_score=0.6)
    draft = OfflineDrafter(keyword_embedder).draft(Ticket(text="can I choose my seat for free at check-in?"),
                                                   [rule, answer], DraftOptions(length="short"))

    assert draft.citations[0].doc_id == "faq"


def test_a_sentence_that_repeats_part_of_a_chosen_one_is_not_said_twice(keyword_embedder):
    sop = Hit(chunk_id="sop::v1::0000", doc_id="sop-campaigns", version=1, title="Campaign disputes", doc_type="policy",
              text="All campaign videos must carry the Paid partnership label, which the campaign workspace adds "
                   "automatically when the video is posted from the workspace.", score=0.2, dense_score=0.6)
    qa = Hit(chunk_id="qa::v1::0000", doc_id="qa-resolved", version=1, title="Resolved Q&A", doc_type="qa",
             text="Q: Does my video need a label?\nA: All campaign videos must carry the Paid partnership label. "
                  "Creators have 48 hours to add a missing label after being notified.", score=0.1, dense_score=0.5)
    draft = OfflineDrafter(keyword_embedder).draft(Ticket(text="does my campaign video need the paid partnership label?"),
                                                   [sop, qa], DraftOptions(length="detailed"))

    assert draft.text.count("must carry the Paid partnership label") == 1


@pytest.mark.slow
def test_a_longer_sentence_that_restates_a_chosen_one_is_not_added(embedder):
    # The two say the same list in different words (cosine ~0.6, under the redundancy bar):
    # the reader would read it twice.
    faq = Hit(chunk_id="faq::v1::0000", doc_id="faq-join", version=1, title="Resolved Q&A", doc_type="qa",
              text="Q: Can I join the Creator Marketplace?\nA: To join, creators need to be 18 or older, have at "
                   "least 10,000 followers, have posted at least 3 public videos in the last 28 days, and have fewer "
                   "than 2 active strikes.", score=0.2, dense_score=0.6)
    policy = Hit(chunk_id="pol::v1::0000", doc_id="pol-join", version=1, title="Creator Marketplace eligibility",
                 doc_type="policy",
                 text="A creator can apply to the Creator Marketplace when all of the following are true: they are 18 "
                      "or older and have verified their identity in Creator Studio > Payments > Verify identity; their "
                      "account has at least 10,000 followers; they have posted at least 3 public videos in the last 28 "
                      "days; their account has fewer than 2 active strikes; they live in a country where Creator "
                      "Marketplace payouts are supported.", score=0.1, dense_score=0.55)
    draft = OfflineDrafter(embedder).draft(Ticket(text="Can I join the creator marketplace? I have 8,000 followers "
                                                       "and I'm 17."), [faq, policy], DraftOptions())

    assert draft.text.count("10,000 followers") == 1 and "To join, creators need" in draft.text


def test_a_sentence_leaning_on_one_the_draft_does_not_say_is_left_out(keyword_embedder):
    text = ("Specialists check the payout hold in Ledger view first. "
            "After that the payout is sent in the next Tuesday payout run. "
            "Payouts are sent every Tuesday once the balance reaches 50 dollars.")
    draft = _draft(keyword_embedder, "policy", text, "is my payout sent on Tuesday?")

    assert "Payouts are sent every Tuesday once the balance reaches 50 dollars [1]." in draft.text
    assert "After that" not in draft.text
    # With the sentence it leans on said, it may follow it.
    said = _draft(keyword_embedder, "policy", "New payout methods are held for 14 days. After that the payout is "
                  "sent in the next Tuesday payout run.", "when is my payout sent after the 14 day hold?")
    assert "held for 14 days [1]. After that the payout is sent" in said.text


def test_notes_on_a_documents_own_history_are_not_quoted(keyword_embedder):
    text = ("Unused coins can be refunded within 14 days of purchase. "
            "Version 2 extends the refund window for unused coins to 14 days.")
    draft = _draft(keyword_embedder, "policy", text, "can I get a refund for unused coins?")

    assert "Unused coins can be refunded within 14 days of purchase [1]." in draft.text
    assert "Version 2" not in draft.text


@pytest.mark.parametrize("doc_type", ["policy", "qa", "sop"])
def test_instructions_about_the_user_stay_out_of_every_document_type(keyword_embedder, doc_type):
    # An airline's agent policy ingested as a policy: its commands about "the user" were quoted.
    text = ("Do not add checked bags that the user does not need. Each extra checked bag costs 50 dollars. "
            "The agent must ask if the user wants travel insurance for the checked bags. "
            "Never pack batteries in checked bags.")
    draft = _draft(keyword_embedder, doc_type, text, "how much is an extra checked bag, and can I pack batteries in checked bags?")

    assert "does not need" not in draft.text and "The agent" not in draft.text
    if doc_type != "sop":
        assert "Each extra checked bag costs 50 dollars [1]." in draft.text
        # A command to the reader is theirs to follow.
        assert "Never pack batteries in checked bags [1]." in draft.text


AGENT_POLICY = Path(__file__).parent / "data" / "agent_policy.md"
#: What only staff would read: duties of "the agent", tool calls, the document addressing its staff readers.
STAFF_TALK = ("the agent", "find_order()", "for agents", "store agent", "Ask the customer", "called once", "transfer to",
              # The steps of a section whose commands and "you" are the staff's, and what points back to them.
              "Check the bill status", "payment request", "This will change", "Investigate", "phone number")


@pytest.fixture(scope="module")
def agent_policy_kb(tmp_path_factory, embedder):
    """A policy written for store staff, ingested with the real model."""
    from ingest.pipeline import Ingestor
    from kb.knowledge_base import KnowledgeBase
    from tests.conftest import make_settings

    kb = KnowledgeBase(make_settings(tmp_path_factory.mktemp("agent-policy")), embedder=embedder)
    report = Ingestor(kb).ingest_paths([AGENT_POLICY])
    assert not report.failed, report.failed
    return kb


@pytest.mark.slow
@pytest.mark.parametrize(("question", "says"), [
    ("my headphones arrived but I want to return them, can the refund go to my gift card?",
     ["You need to confirm the order number and the items to be returned",
      "You must choose where the refund goes"]),
    ("can I exchange my jacket for a bigger size? what about the price difference?",
     ["You pay the price difference, or it is refunded to you"]),
    ("can I cancel my order? it hasn't shipped", []),
    ("my bill is overdue and my account got locked, how long until it is unlocked after I pay?",
     ["A locked account is unlocked within one hour of the payment"]),
])
def test_a_policy_written_for_staff_is_said_to_the_user(agent_policy_kb, question, says):
    # A retail agent policy's drafts quoted "The agent must first look up the order with
    # find_order()" and "The user needs to confirm ..." to the customer.
    from kb.config import Settings
    from kb.drafting.service import draft_reply
    from kb.retrieval import Retriever

    settings = Settings(_env_file=None, llm_provider="none").with_home(agent_policy_kb.settings.home)
    draft = draft_reply(Ticket(text=question), Retriever(agent_policy_kb), settings, DraftOptions(length="detailed"))

    assert not draft.insufficient_guidance
    for sentence in says:
        assert sentence in draft.text
    assert not [talk for talk in STAFF_TALK if talk.lower() in draft.text.lower()], draft.text
    assert "the user" not in draft.text.lower()
    if any(sentence.startswith("You") for sentence in says):
        # The citation quotes the policy as written, so the specialist sees what was rephrased.
        assert any("The user" in c.quote for c in draft.citations)


def test_a_gift_card_is_not_coins_and_gifts(keyword_embedder):
    refund = Hit(chunk_id="r::v1::0000", doc_id="refunds", version=1, title="Refunds", doc_type="policy",
                 text="A refund can go to the original card or to a store gift card.", score=0.1, dense_score=0.6)
    draft = OfflineDrafter(keyword_embedder).draft(Ticket(text="can my refund go to my gift card?"), [refund],
                                                   DraftOptions())

    assert "coins and gifts" not in draft.text
    assert "about your refund" in draft.text


def test_a_section_written_only_for_staff_is_pointed_out_not_quoted(keyword_embedder):
    staff = Hit(chunk_id="p::v1::0000", doc_id="policy", version=1, title="Store agent policy", doc_type="policy",
                section="Store agent policy > Look up an order", score=0.2, dense_score=0.7,
                text="The agent must look up the order with find_order() before changing anything. "
                     "Verify the customer's email address first.")
    user = Hit(chunk_id="p::v1::0001", doc_id="policy", version=1, title="Store agent policy", doc_type="policy",
               section="Store agent policy > Cancel", score=0.1, dense_score=0.5,
               text="A pending order can be cancelled before it ships, and the refund follows at once.")
    ticket = Ticket(text="how do you look up my order before you cancel it?")
    draft = OfflineDrafter(keyword_embedder).draft(ticket, [staff, user], DraftOptions())
    assert draft.staff_only_sources == ("Store agent policy > Look up an order",)
    assert "find_order" not in draft.text and "pending order can be cancelled" in draft.text
    assert draft.to_dict()["staff_only_sources"] == ["Store agent policy > Look up an order"]
    # A section with something for the user, or a staff-only one ranked below the best two, is not pointed out.
    assert OfflineDrafter(keyword_embedder).draft(ticket, [user], DraftOptions()).staff_only_sources == ()
    assert OfflineDrafter(keyword_embedder).draft(ticket, [user, user, staff], DraftOptions()).staff_only_sources == ()


@pytest.mark.slow
def test_the_cli_says_which_staff_section_to_answer_from(agent_policy_kb, capsys):
    from app.cli import main

    assert main(["draft", "--home", str(agent_policy_kb.settings.home),
                 "--ticket", "Can you look up my order? Do you need my email address and zip code first?"]) == 0
    out = capsys.readouterr().out
    assert "note: written for staff, so not quoted: Store agent policy > Look up an order" in out
    assert "find_order" not in out


def _hit(n: int, section: str, text: str) -> Hit:
    return Hit(chunk_id=f"t::v1::{n:04d}", doc_id="telecom", version=1, title="Telecom agent policy", doc_type="policy",
               section=section, text=text, score=0.3 - n / 10, dense_score=0.7 - n / 10)


def test_a_section_for_staff_keeps_its_steps_out_even_across_chunks(keyword_embedder):
    # tau2's telecom policy: "Investigate if the line is suspended" and "You should always check that
    # the bill is overdue" (the second half of a section whose first half helps "the user") were quoted.
    first = _hit(0, "Policy > Overdue bill", "You can help the user pay an overdue bill. Check the bill status to make sure "
                                               "it is overdue. Send the user a payment request for the overdue bill. "
                                               "This will change the status of the overdue bill to awaiting payment.")
    second = _hit(1, "Policy > Overdue bill", "A user can only have one overdue bill awaiting payment at a time. "
                                                "You should always check that the bill is overdue before a payment request.")
    third = _hit(2, "Manual > Suspension", "If the line is suspended, the user will not have service for the overdue bill. "
                                           "Investigate if the line is suspended for the overdue bill.")
    quotable = [c.text for c in candidates([first, second, third])]

    assert quotable == ["A user can only have one overdue bill awaiting payment at a time.",
                        "If the line is suspended, you will not have service for the overdue bill."]
    draft = OfflineDrafter(keyword_embedder).draft(Ticket(text="my bill is overdue, can I pay it? is my line suspended?"),
                                                   [first, second, third], DraftOptions(length="detailed"))
    for staff in ("Check the bill", "payment request", "This will change", "You should always", "Investigate"):
        assert staff not in draft.text, draft.text
    # Seen alone, the second chunk says nothing about its readers: its "you" would be the user's.
    assert "You should always check that the bill is overdue before a payment request." in [
        c.text for c in candidates([second])]


def test_a_step_a_passage_repeats_is_said_once(keyword_embedder):
    hit = Hit(chunk_id="s::v1::0000", doc_id="steps", version=1, title="Returns", doc_type="policy", score=0.2,
              dense_score=0.7, text="Returns are free within 30 days. Keep the receipt for the return. "
                                    "Exchanges are free within 30 days. Keep the receipt for the return.")
    draft = OfflineDrafter(keyword_embedder).draft(Ticket(text="are returns free? do I keep the receipt for the return?"),
                                                   [hit], DraftOptions(length="detailed"))
    assert draft.text.count("Keep the receipt for the return") == 1, draft.text
