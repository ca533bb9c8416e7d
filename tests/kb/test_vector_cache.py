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


class _CachingKeywordEmbedder:
    """The keyword embedder with a folder for vectors kept between processes."""

    def __init__(self, inner, folder):
        self.inner, self.folder = inner, folder

    def encode(self, texts):
        return self.inner.encode(texts)

    def vector_cache_dir(self):
        return self.folder


def test_a_fixed_bank_is_read_back_in_a_new_process_instead_of_encoded(keyword_embedder, tmp_path):
    from kb.fingerprint import PROBE_TEXTS
    from kb.vector_cache import persisted_vectors

    bank = ["threat of violence", "payout hold", "refund window", "account locked"]
    embedder = _CachingKeywordEmbedder(keyword_embedder, tmp_path / "vectors")
    first = persisted_vectors(embedder, bank, purpose="bank")
    assert keyword_embedder.calls == [len(PROBE_TEXTS), len(bank)]
    np.testing.assert_allclose(first, keyword_embedder.encode(bank))
    (stored,) = (tmp_path / "vectors").glob("bank-*.npy")

    keyword_embedder.calls.clear()
    # Another process: a fresh wrapper around the same model reads the file; only the probes
    # (which identify the model) are encoded.
    again = persisted_vectors(SentenceVectors(_CachingKeywordEmbedder(keyword_embedder, tmp_path / "vectors")),
                              bank, purpose="bank")
    assert keyword_embedder.calls == [len(PROBE_TEXTS)]
    np.testing.assert_array_equal(again, first)

    # Other texts, another file; a damaged file is encoded again and replaced.
    persisted_vectors(embedder, bank + ["new exemplar"], purpose="bank")
    assert len(list((tmp_path / "vectors").glob("bank-*.npy"))) == 2
    stored.write_bytes(b"not an array")
    keyword_embedder.calls.clear()
    np.testing.assert_allclose(persisted_vectors(embedder, bank, purpose="bank"), first)
    assert keyword_embedder.calls == [len(PROBE_TEXTS), len(bank)]
    assert np.load(stored).shape == (len(bank), keyword_embedder.dimension)


def test_another_model_never_reads_the_bank_of_the_first(keyword_embedder, tmp_path):
    from tests.conftest import WideKeywordEmbedder

    from kb.vector_cache import persisted_vectors

    bank = ["threat of violence", "payout hold"]
    persisted_vectors(_CachingKeywordEmbedder(keyword_embedder, tmp_path), bank, purpose="bank")
    wide = persisted_vectors(_CachingKeywordEmbedder(WideKeywordEmbedder(), tmp_path), bank, purpose="bank")
    assert wide.shape == (2, 512) and len(list(tmp_path.glob("bank-*.npy"))) == 2


def test_embedders_without_a_folder_just_encode(keyword_embedder, tmp_path):
    from kb.vector_cache import persisted_vectors

    vectors = persisted_vectors(SentenceVectors(keyword_embedder), ["payout hold"], purpose="bank")
    assert keyword_embedder.calls == [1] and vectors.shape == (1, keyword_embedder.dimension)


def test_a_read_only_folder_costs_only_the_encoding(keyword_embedder, tmp_path):
    from kb.vector_cache import persisted_vectors

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    vectors = persisted_vectors(_CachingKeywordEmbedder(keyword_embedder, blocked / "vectors"), ["payout hold"],
                                purpose="bank")
    np.testing.assert_allclose(vectors, keyword_embedder.encode(["payout hold"]))
