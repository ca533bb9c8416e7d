"""A draft sentence that states a number its sources do not is not grounded, however close its wording."""

from __future__ import annotations

import pytest

from kb.drafting.grounding import GroundingChecker
from kb.drafting.text import figures

POLICY = "Payouts to a new payout method are held for 14 days. Holds above USD 10,000 are reviewed by hand."


@pytest.mark.parametrize(("text", "expected"), [
    ("held for 14 days [2]", {"14"}),                          # a citation marker is not a number
    ("above USD 10,000 or 2,5 %", {"10000", "2.5"}),
    ("fourteen days, twenty hours", {"14", "20"}),
    ("costs $5.00, opens at 3:30pm", {"5", "3:30"}),
    ("no numbers here", set()),
    ("one of our team will check", set()),                     # "one" is a pronoun as often as a number
])
def test_figures_are_normalised(text, expected):
    assert figures(text) == expected


def test_a_wrong_figure_is_unsupported_and_named(keyword_embedder):
    checker = GroundingChecker(keyword_embedder)
    report = checker.report("Payouts to a new payout method are held for 30 days [1]. "
                            "Payouts to a new payout method are held for fourteen days [1].", {1: POLICY})
    wrong, right = report.sentences
    # The wording is the policy's, so the cosine alone calls both supported.
    assert wrong.score > 0.8 and right.score > 0.8
    assert (wrong.supported, wrong.unstated_figures) == (False, ("30",))
    assert (right.supported, right.unstated_figures) == (True, ())
    assert report.to_dict()["sentences"][0]["unstated_figures"] == ["30"]


def test_numbers_from_the_ticket_need_no_source(keyword_embedder):
    checker = GroundingChecker(keyword_embedder)
    text = "Payouts to a new payout method such as your card ending 4242 are held for 14 days [1]."
    assert not checker.report(text, {1: POLICY}).sentences[0].supported
    report = checker.report(text, {1: POLICY}, ticket="my new card ending 4242 has a payout on hold")
    assert report.sentences[0].supported


@pytest.mark.slow
def test_an_llm_draft_with_a_wrong_figure_is_flagged_end_to_end(demo_kb):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from kb.config import Settings
    from kb.drafting.service import draft_reply
    from kb.retrieval import Retriever
    from kb.types import Ticket

    settings = Settings(_env_file=None, llm_provider="none").with_home(demo_kb.settings.home)
    ticket = Ticket(text="I added a new bank account and my payout is on hold. How long will it be held?")
    claim = "Hi,\n\nPayouts to a new payout method are held for 30 days [1].\n\nBest wishes,\nThe Support Team"
    llm = GenericFakeChatModel(messages=iter([AIMessage(content=claim)]))
    draft = draft_reply(ticket, Retriever(demo_kb), settings, llm=llm)
    assert draft.mode == "llm" and draft.citations, draft
    [sentence] = [s for s in draft.grounding.sentences if "held for" in s.text]
    assert not sentence.supported and sentence.unstated_figures == ("30",)
