"""Words one edit away: the shared tolerance for typos and misheard words."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable


class OneEditNeighbours:
    """Finds the words of a fixed vocabulary one edit away from a given word.

    An edit is an insertion, deletion, substitution or swap of neighbours (optimal string
    alignment). Candidates are bucketed by length so a lookup only scans words of length
    ±1, in C (rapidfuzz); answers are cached.

    Args:
        words: the vocabulary.
        min_length: shorter vocabulary words are never proposed (short words are too
            often a different real word one edit away).
    """

    _MAX_CACHE = 50_000

    def __init__(self, words: Iterable[str], *, min_length: int) -> None:
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for word in dict.fromkeys(words):
            if len(word) >= min_length:
                self._by_length[len(word)].append(word)
        self._cache: dict[tuple[str, int | None], list[str]] = {}

    def __call__(self, word: str, limit: int | None = None) -> list[str]:
        """Vocabulary words one edit away from ``word`` (closest first, at most ``limit``)."""
        key = (word, limit)
        found = self._cache.get(key)
        if found is None:
            from rapidfuzz import process
            from rapidfuzz.distance import OSA

            pool = [w for length in (len(word) - 1, len(word), len(word) + 1) for w in self._by_length.get(length, ())]
            found = [m for m, _d, _i in process.extract(word, pool, scorer=OSA.distance, score_cutoff=1, limit=limit)]
            if len(self._cache) > self._MAX_CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found
