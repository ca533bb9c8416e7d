"""How the offline drafter weighs the words a ticket shares with a candidate sentence."""

from __future__ import annotations

import pytest

from kb.drafting.offline import _Candidate, _lexical, distinctive_weights
from kb.drafting.text import content_tokens

SENTENCES = ["Refunds to a card are back within 5 to 10 business days.",
             "Refunds to a bank account are back within 3 business days.",
             "Refunds to PayPal are back within 1 business day.",
             "Refunds for gifts that were already sent are not possible."]


def _cands():
    return [_Candidate(0, i, s, s, 0.7) for i, s in enumerate(SENTENCES)]


def test_words_every_sentence_shares_weigh_less_than_the_one_that_tells_them_apart():
    weights = distinctive_weights(_cands())
    assert weights["paypal"] == 1.0 and weights["gifts"] == 1.0
    assert weights["refunds"] < weights["business"] < weights["paypal"]
    assert all(0 < w <= 1 for w in weights.values())


def test_the_ticket_s_distinctive_word_counts_more_than_the_words_all_sentences_share():
    ticket = set(content_tokens("how many business days until PayPal refunds are back?"))
    card, bank, paypal, _gifts = SENTENCES
    weights = distinctive_weights(_cands())
    plain = _lexical(ticket, paypal) / _lexical(ticket, card)
    weighted = _lexical(ticket, paypal, weights) / _lexical(ticket, card, weights)
    assert weighted > plain * 1.1
    assert _lexical(ticket, card, weights) == pytest.approx(_lexical(ticket, bank, weights))
    # No shared word, no score; a ticket word no candidate has weighs fully (the same for all).
    assert _lexical(ticket, "Nothing in common here.", weights) == 0.0
    assert _lexical({"zebra", "paypal"}, paypal, weights) < _lexical({"paypal"}, paypal, weights)
