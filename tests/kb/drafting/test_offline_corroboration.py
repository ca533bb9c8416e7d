"""The offline drafter cites the policy beside a resolved Q&A answer when the policy says the same."""

from __future__ import annotations

import pytest

from kb.drafting.models import DraftOptions
from kb.drafting.offline import OfflineDrafter
from kb.types import Hit, Ticket

QA = ("Q: My payout is on hold since I changed my bank account. Is my money gone?\n"
      "A: No, your balance is safe. Payouts to a new payout method are held for 14 days as a security check.")


def _hit(doc_id: str, text: str, doc_type: str, audience: str = "external") -> Hit:
    return Hit(chunk_id=f"{doc_id}::v1::0000", doc_id=doc_id, version=1, title=doc_id, doc_type=doc_type,
               text=text, score=0.1, audience=audience, dense_score=0.6)


def _draft(embedder, policy_text: str, *, audience: str = "external"):
    hits = [_hit("qa-resolved", QA, "qa"), _hit("sop-payout-holds", policy_text, "sop", audience)]
    ticket = Ticket(text="my payout is on hold since I changed my bank account, is my money gone?")
    return OfflineDrafter(embedder).draft(ticket, hits, DraftOptions())


def test_a_policy_sentence_saying_the_same_is_cited_beside_the_answer(keyword_embedder):
    draft = _draft(keyword_embedder, "Payouts to a new payout method are held for 14 days as a security check. "
                                     "Holds protect creators from account takeovers.")

    assert "security check [1][2]." in draft.text
    assert [c.doc_id for c in draft.citations] == ["qa-resolved", "sop-payout-holds"]
    assert draft.citations[1].quote == "Payouts to a new payout method are held for 14 days as a security check."


@pytest.mark.parametrize("policy_text", [
    # a different number is a different rule: no corroboration
    "Payouts to a new payout method are held for 7 days as a security check.",
    # unrelated policy text
    "Brand campaigns include up to two revision rounds before a dispute can be opened.",
])
def test_a_policy_that_does_not_say_the_same_is_not_cited(keyword_embedder, policy_text):
    draft = _draft(keyword_embedder, policy_text)

    assert "][" not in draft.text
    assert [c.doc_id for c in draft.citations] == ["qa-resolved"]


def test_an_internal_passage_is_never_cited_as_corroboration(keyword_embedder):
    hits = [_hit("qa-resolved", QA, "qa"),
            _hit("sop-payout-holds", "Payouts to a new payout method are held for 14 days as a security check.",
                 "sop", audience="internal")]
    drafter = OfflineDrafter(keyword_embedder)
    ticket = Ticket(text="my payout is on hold since I changed my bank account, is my money gone?")

    draft = drafter.draft(ticket, hits, DraftOptions())

    assert [c.doc_id for c in draft.citations] == ["qa-resolved"]
    assert "][" not in draft.text
