"""The reply's form follows its channel: an e-mail signs off, a chat message does not, a public
social reply stays short, a phone reply is a talk track. The grounding check reads only claims."""

from __future__ import annotations

import pytest

from kb.drafting.grounding import content_sentences
from kb.drafting.models import DraftOptions
from kb.drafting.offline import OfflineDrafter
from kb.drafting.prompt import build_messages
from kb.types import Hit, Ticket

HOLDS = Hit(chunk_id="pay::v2::0001", doc_id="sop-payout-holds", version=2, title="Payout holds", doc_type="policy",
            text="Payouts to a new payout method are held for 14 days as a security check. "
                 "After the hold ends your balance is paid on the next Tuesday. "
                 "Bank transfers usually arrive within 3 to 5 business days. "
                 "You can see the release date in your payout settings.",
            score=0.1, dense_score=0.7)
TICKET = Ticket(text="my payout is on hold since I changed my bank account, when will it be paid?")


UPSET = Ticket(text=f"this is ridiculous!! {TICKET.text}")


def _draft(embedder, channel: str, tone: str = "friendly", ticket: Ticket = TICKET):
    return OfflineDrafter(embedder).draft(ticket, [HOLDS], DraftOptions(channel=channel, tone=tone, length="detailed"))


@pytest.mark.parametrize("ticket", [TICKET, UPSET], ids=["calm", "upset"])
@pytest.mark.parametrize("tone", ["friendly", "formal", "empathetic"])
@pytest.mark.parametrize("channel", ["email", "chat", "in-app", "social", "phone"])
def test_only_the_answer_is_a_claim_in_every_channel_and_tone(keyword_embedder, channel, tone, ticket):
    # The empathetic e-mail closing and the formal apology used to count as unsupported claims:
    # 0 of the 52 demo drafts in the empathetic tone showed full grounding.
    draft = _draft(keyword_embedder, channel, tone, ticket)
    claims = content_sentences(draft.text)
    # Greetings, acknowledgements, offers of help and the direct-message pointer are not claims;
    # every claim carries its citation.
    assert claims and all("[1]" in claim for claim in claims), claims


def test_an_email_greets_closes_and_signs_off(keyword_embedder):
    text = _draft(keyword_embedder, "email").text
    assert text.startswith("Hi there,\n\nThanks for reaching out about your payout.")
    assert text.endswith("Best wishes,\nThe Support Team")


@pytest.mark.parametrize("channel", ["chat", "in-app"])
def test_a_chat_message_opens_in_one_line_and_does_not_sign_off(keyword_embedder, channel):
    text = _draft(keyword_embedder, channel).text
    assert text.startswith("Hi there! Thanks for reaching out about your payout.\n\n")
    assert text.endswith("Is there anything else I can help with?")
    assert "Best wishes" not in text and "Support Team" not in text


def test_a_public_social_reply_is_short_and_moves_account_matters_to_a_direct_message(keyword_embedder):
    draft = _draft(keyword_embedder, "social")
    assert "\n" not in draft.text  # one paragraph
    assert len(content_sentences(draft.text)) <= 2  # whatever length was asked for
    assert draft.text.endswith("please send us a direct message so we can look into it privately.")
    assert "Support Team" not in draft.text


def test_a_phone_reply_is_a_talk_track(keyword_embedder):
    text = _draft(keyword_embedder, "phone").text
    assert text.startswith("Thanks for calling about your payout.\n\n")
    assert text.endswith("Is there anything else I can help you with today?")
    assert "Hi there" not in text and "Best wishes" not in text


def test_the_holding_reply_takes_the_channel_form_too(keyword_embedder):
    draft = OfflineDrafter(keyword_embedder).holding_reply(TICKET, DraftOptions(channel="chat"), confidence=0.1,
                                                          threshold=0.3)
    assert draft.insufficient_guidance and "Best wishes" not in draft.text
    assert draft.text.endswith("Is there anything else I can help with?")


@pytest.mark.parametrize("tone", ["friendly", "formal", "empathetic"])
def test_a_holding_reply_has_no_statement_of_guidance_to_check(tone):
    from kb.drafting.grounding import content_sentences, is_boilerplate
    from kb.drafting.offline import _HOLDING

    # The promise to check and come back claims nothing the guidance must support ...
    assert is_boilerplate(_HOLDING[tone])
    draft_text = f"Hi there,\n\nThanks for reaching out.\n\n{_HOLDING[tone]}\n\nBest wishes,\nThe Support Team"
    assert content_sentences(draft_text) == []
    # ... unless it carries particulars, which must be checked.
    assert not is_boilerplate("We are checking with the payments team and will reply as soon as possible; "
                              "holds last 14 days.")
    assert not is_boilerplate("We are checking your payout with the payments team and will reply within 5 days.")


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="channel must be one of"):
        DraftOptions(channel="fax")


def test_the_llm_is_told_the_channel_form():
    def system(channel: str) -> str:
        return build_messages("when is my payout?", "", [HOLDS], tone="friendly", length="normal", language="en",
                              channel=channel)[0][1]

    assert "a sign-off" in system("email")
    assert "no e-mail sign-off or signature" in system("chat")
    assert "at most two sentences" in system("social") and "direct message" in system("social")
    assert "talk track" in system("phone")


CRISIS = Hit(chunk_id="sh::v2::0003", doc_id="sop-self-harm-escalation", version=2, title="Self-harm escalation",
             doc_type="sop", section="Self-harm escalation > Reply template",
             text="> Hi {name},\n>\n> Thank you for telling us how you're feeling. If you are in immediate danger, "
                  "please call your local emergency number now. We're here too, and you can reply to this message.",
             score=0.1, dense_score=0.5)


@pytest.mark.parametrize("channel", ["chat", "in-app", "phone"])
def test_a_reply_that_follows_an_escalation_procedure_ends_with_it(keyword_embedder, channel):
    """After a crisis line, "Is there anything else I can help with?" reads as closing the matter."""
    ticket = Ticket(text="whats the point anymore, this will be my last video")
    draft = OfflineDrafter(keyword_embedder).draft(ticket, [CRISIS, HOLDS], DraftOptions(channel=channel), lead=1)
    assert draft.text.rstrip().endswith("you can reply to this message [1]."), draft.text
    assert "anything else" not in draft.text and {c.doc_id for c in draft.citations} == {"sop-self-harm-escalation"}
    # The same channel without a procedure to follow still offers more help.
    assert "anything else" in _draft(keyword_embedder, channel).text.lower()


def test_an_email_that_follows_an_escalation_procedure_ends_with_it_and_signs_off(keyword_embedder):
    ticket = Ticket(text="whats the point anymore, this will be my last video")
    draft = OfflineDrafter(keyword_embedder, signature="The Support Team").draft(
        ticket, [CRISIS, HOLDS], DraftOptions(channel="email"), lead=1)
    body, signoff = draft.text.rstrip().rsplit("\n\n", 1)
    assert body.endswith("you can reply to this message [1]."), draft.text
    assert signoff.endswith("The Support Team") and "anything else" not in draft.text.lower()
    # Without a procedure to follow, the e-mail still closes with an offer of more help.
    assert "anything else comes up" in _draft(keyword_embedder, "email").text
