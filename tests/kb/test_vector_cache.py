"""The shared text-vector cache: each text encoded once, least recently used out first."""

from __future__ import annotations

import numpy as np

from kb.vector_cache import SentenceVectors, sentence_vectors


def test_only_unseen_texts_are_encoded_and_rows_follow_the_request(keyword_embedder):
    cache = SentenceVectors(keyword_embedder)
    first = cache.encode(["payout hold", "refund window"])
    again = cache.encode(["refund window", "payout hold", "refund window", "bank transfer"])
    assert keyword_embedder.calls == [2, 1]
    np.testing.assert_allclose(again[1], first[0])
    np.testing.assert_allclose(again[0], again[2])
    np.testing.assert_allclose(again, keyword_embedder.encode(
        ["refund window", "payout hold", "refund window", "bank transfer"]), atol=1e-6)
    assert cache.encode([]).shape[0] == 0


def test_the_least_recently_used_text_goes_first_when_full(keyword_embedder):
    cache = SentenceVectors(keyword_embedder, max_entries=2)
    cache.encode(["alpha", "beta"])
    cache.encode(["alpha"])  # used again: beta is now the oldest
    cache.encode(["gamma"])
    assert len(cache) == 2
    keyword_embedder.calls.clear()
    cache.encode(["alpha", "gamma"])
    assert keyword_embedder.calls == []
    cache.encode(["beta"])
    assert keyword_embedder.calls == [1]


def test_one_cache_per_embedder(keyword_embedder):
    from tests.conftest import KeywordEmbedder

    assert sentence_vectors(keyword_embedder) is sentence_vectors(keyword_embedder)
    assert sentence_vectors(KeywordEmbedder()) is not sentence_vectors(keyword_embedder)
