"""Particulars a cosine cannot see: units, contact channels, links, days, and a reversing "not"."""

from __future__ import annotations

import pytest

from kb.drafting.details import clauses, contradicts, merge, quantities, source_details, unstated
from kb.drafting.grounding import GroundingChecker

POLICY = ("Payouts to a new payout method are held for 14 days. Bank transfers usually arrive within 3 to 5 "
          "business days. To dispute a hold, use the in-app form at help.loopr.example/payouts/holds. "
          "Payouts are sent every Tuesday. Refunds are not available for coins you have already spent. "
          "Follow the release date in *Creator Studio > Payments > Payout status*.")


@pytest.mark.parametrize(("text", "expected"), [
    ("held for 14 days [1]", {("minutes", 14 * 1440)}),
    ("held for two weeks", {("minutes", 14 * 1440)}),
    ("a 14-day hold", {("minutes", 14 * 1440)}),
    ("24h support", {("minutes", 24 * 60)}),
    ("within 3 to 5 business days", {("business days", 3 * 1440), ("business days", 5 * 1440)}),
    ("within one business day", {("business days", 1440)}),
    ("a fee of 5% or 20 percent", {("percent", 5), ("percent", 20)}),
    ("costs $5.00, 10,5 EUR or 3 pounds", {("USD", 5), ("EUR", 10.5), ("GBP", 3)}),
    ("step 3 of the form", set()),
])
def test_quantities_are_read_with_their_units(text, expected):
    assert {(q.unit, q.amount) for q in quantities(text)} == expected


@pytest.mark.parametrize(("sentence", "figures", "details"), [
    ("Payouts to a new method are held for 14 days [1].", (), ()),
    ("Payouts to a new method are held for two weeks [1].", (), ()),          # same quantity, other unit
    ("Payouts to a new method are held for 14 hours [1].", (), ("14 hours",)),
    ("Payouts to a new method are held for 30 days [1].", ("30",), ()),
    ("Transfers arrive within 3 to 5 days [1].", (), ("3 to 5 days",)),        # business days are not days
    ("Call us to dispute the hold [1].", (), ("contact by phone",)),
    ("You can dispute it by email [1].", (), ("contact by email",)),
    ("Dispute it in the app at help.loopr.example/payouts [1].", (), ()),      # part of the cited link
    ("Dispute it at loopr.example/disputes [1].", (), ("loopr.example/disputes",)),
    ("Payouts are sent every Friday [1].", (), ("Friday",)),
    ("Payouts are sent every Tuesday [1].", (), ()),
    ("Open Creator Studio > Payments > Payout status and check the date [1].", (), ()),
    ("Open Payments > Payout status [1].", (), ()),                              # the path's later steps
    ("Open Creator Studio > Payments [1].", (), ()),                             # its first steps
    ("Open Settings > Payments > Payout status [1].", (), ("Settings > Payments > Payout status",)),
    ("Open Creator Studio > Earnings > Payout status [1].", (), ("Creator Studio > Earnings > Payout status",)),
])
def test_unstated_particulars_are_named(sentence, figures, details):
    assert unstated(sentence, source_details(POLICY)) == (figures, details)


@pytest.mark.parametrize(("text", "paths"), [
    ("turn it on under Settings > Security.", [("Settings", "Security")]),
    ("Go to **Settings > Balance > Purchase history**, select it", [("Settings", "Balance", "Purchase history")]),
    ("open Settings > Account status and tap Appeal", [("Settings", "Account status")]),
    ("Open Creator Studio > Payments.", [("Creator Studio", "Payments")]),
    ("if the score is > 5 we review it", []),
])
def test_menu_paths_are_read_step_by_step(text, paths):
    from kb.drafting.details import menu_paths

    assert list(menu_paths(text)) == paths


@pytest.mark.parametrize(("sentence", "details"), [
    ("Open Creator Studio to follow the payout [1].", ()),                      # the source's name
    ("Join the Creator Fund to be paid sooner [1].", ("Creator Fund",)),        # an invented feature
    ("We can also pay you with PayPal [1].", ("PayPal",)),                      # not a dictionary word
    ("Our Support team checks every hold [1].", ()),                           # a common word, capitalised
    ("Sam, your payout is held for 14 days [1].", ()),                          # the customer's name (ticket)
    ("Your payout is held for 14 days [1].", ()),                               # a capital that opens a sentence
])
def test_names_the_sources_do_not_hold_are_unstated(sentence, details):
    known = merge([source_details(POLICY), source_details("Hi, I'm Sam and my payout is stuck")])
    common = frozenset({"support", "team", "fund", "creator", "pay"})
    assert unstated(sentence, known, common)[1] == details


def test_a_name_from_any_passage_given_to_the_drafter_is_not_invented(keyword_embedder):
    checker = GroundingChecker(keyword_embedder)
    text = "The Loopr Trust and Safety team holds new payout methods for 14 days [1]."
    assert checker.report(text, {1: POLICY}).sentences[0].unstated_details == ("Loopr Trust and Safety",)
    other = "Loopr Trust and Safety reviews account takeovers."
    assert checker.report(text, {1: POLICY}, guidance=[POLICY, other]).sentences[0].unstated_details == ()


@pytest.mark.parametrize(("sentence", "details"), [
    ("Open the notification and tap Appeal [1].", ()),
    ("Tap Request a refund now [1].", ()),                          # says more than the label, not another
    ("Open the notification and tap Dispute [1].", ("Dispute",)),   # "dispute" is in the source, not as a button
    ("Select Undo to restore the video [1].", ("Undo",)),
])
def test_labels_to_tap_must_be_the_sources(sentence, details):
    source = "Open the notification, tap Appeal and tell us why; we look at any dispute. Tap Request a refund."
    assert unstated(sentence, source_details(source), frozenset({"dispute", "undo"}))[1] == details


def test_the_ticket_grounds_its_own_numbers_and_dates_but_not_a_contact_channel(keyword_embedder):
    checker = GroundingChecker(keyword_embedder)
    text = ("Payouts to a new payout method are held for 14 days, so the payout you asked about on Friday is "
            "still on hold [1]. You can call us to dispute a hold [1].")
    ticket = "I called on Friday about my payout; can I dispute the hold by phone?"
    first, second = checker.report(text, {1: POLICY}, ticket=ticket).sentences
    assert first.unstated_details == () and first.supported
    assert second.unstated_details == ("contact by phone",) and not second.supported
    assert second.problems() == "states contact by phone, which its sources do not"


def test_clauses_split_conditions_and_conjunctions():
    assert clauses("If she is in danger, please call the police, and stay with her [1].") == [
        "If she is in danger", "please call the police", "stay with her"]


@pytest.mark.parametrize(("mine", "theirs", "expected"), [
    ("Refunds are available for spent coins", "Refunds are not available for spent coins", True),
    ("You can't appeal the strike", "You can appeal the strike", True),
    ("Refunds are not available after 14 days", "Refunds are available within 14 days", False),  # "after" reverses
    ("Spent coins can't be refunded", "Coins you have spent are not refunded", False),           # both negative
])
def test_a_lone_not_reverses_a_claim(mine, theirs, expected):
    assert contradicts(mine, theirs) is expected


@pytest.mark.slow
def test_a_reversed_claim_is_unsupported_however_close(embedder):
    """With the bundled model: the reversed sentence scores as high as the right one."""
    checker = GroundingChecker(embedder)
    text = ("Refunds are available for coins you have already spent [1]. "
            "Payouts to a new payout method are held for 14 days [1].")
    wrong, right = checker.report(text, {1: POLICY}).sentences
    assert wrong.score >= checker.min_cosine  # the cosine alone would pass it
    assert not wrong.supported and wrong.reverses == "Refunds are not available for coins you have already spent."
    assert right.supported and not right.reverses
    assert wrong.problems().startswith("says the opposite of its source")


@pytest.mark.slow
def test_paraphrases_keep_their_support(embedder):
    """Restating without reversing: other words, a negation on both sides, or a reversing word."""
    checker = GroundingChecker(embedder)
    text = ("Coins that you've already spent can't be refunded [1]. "
            "Once a new payout method is added, its payouts stay on hold for two weeks [1]. "
            "Transfers to your bank normally take 3 to 5 business days [1].")
    report = checker.report(text, {1: POLICY})
    assert [(s.supported, s.reverses, s.unstated_figures, s.unstated_details) for s in report.sentences] == [
        (True, "", (), ())] * 3, report.to_dict()


@pytest.mark.slow
def test_an_llm_draft_with_a_wrong_detail_is_flagged_end_to_end(demo_kb):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from kb.config import Settings
    from kb.drafting.service import draft_reply
    from kb.retrieval import Retriever
    from kb.types import Ticket

    settings = Settings(_env_file=None, llm_provider="none").with_home(demo_kb.settings.home)
    ticket = Ticket(text="I added a new bank account and my payout is on hold. How long will it be held?")
    claim = ("Hi,\n\nPayouts to a new payout method are held for 14 hours [1]. You can call us to have the hold "
             "lifted early [1].\n\nBest wishes,\nThe Support Team")
    llm = GenericFakeChatModel(messages=iter([AIMessage(content=claim)]))
    draft = draft_reply(ticket, Retriever(demo_kb), settings, llm=llm)
    assert draft.mode == "llm" and draft.citations, draft
    held, call = draft.grounding.sentences
    assert (held.supported, held.unstated_details) == (False, ("14 hours",))
    assert (call.supported, call.unstated_details) == (False, ("contact by phone",))
    assert draft.grounding.why_unsupported() == " (details the sources do not state: 14 hours, contact by phone)"


@pytest.mark.slow
def test_paraphrases_of_demo_guidance_state_no_unstated_detail(demo_kb):
    """Replies as an LLM words them (other words, ranges, paths in prose, the platform's name)
    against what the demo knowledge base retrieves: no detail or reversal is flagged."""
    from kb.retrieval import Retriever
    from kb.types import Ticket

    checker = GroundingChecker(demo_kb.embedder)
    cases = {
        "I added a new bank account and my payout is on hold. How long will it be held?": [
            "When you add or change a payout method, Loopr holds payouts to it for 14 days as a security measure.",
            "Once the hold ends, your balance will be included in the next Tuesday payout.",
            "Bank transfers typically take 3-5 business days to arrive.",
            "You can track the release date in Creator Studio under Payments > Payout status."],
        "I want to delete my account. What happens to my data?": [
            "You can delete your account by going to Settings > Account > Deactivate or delete.",
            "If you don't log back in during that period, your account and all of its content will be permanently "
            "deleted.",
            "Backup copies are removed within 90 days."],
        "Can I get a refund for coins I bought 3 days ago? I haven't used them.": [
            "Good news: unused coins can be refunded within 14 days of purchase, so your purchase is still eligible.",
            "To request a refund, open Settings > Balance > Purchase history, select the purchase and tap Request "
            "a refund.",
            "Approved refunds are returned to your original payment method within 5 to 10 business days."],
    }
    for ticket, sentences in cases.items():
        hits = Retriever(demo_kb).search(Ticket(text=ticket), k=5, dedupe_documents=True)
        passages = {n: hit.text for n, hit in enumerate(hits, start=1)}
        marks = "".join(f"[{n}]" for n in passages)
        text = " ".join(f"{s[:-1]} {marks}." for s in sentences)
        report = checker.report(text, passages, ticket=ticket, guidance=[f"{h.title}\n{h.text}" for h in hits])
        assert len(report.sentences) == len(sentences)
        for sentence in report.sentences:
            assert not (sentence.unstated_figures or sentence.unstated_details or sentence.reverses), sentence
