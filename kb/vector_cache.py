"""A per-embedder cache of text vectors shared by retrieval, the risk check, the offline
drafter and the grounding check.

Within one draft the same texts are encoded by several stages (the message is the retrieval
query, a risk unit and the drafter's query); guidance passages repeat across tickets, so
their sentences are encoded once per process; the grounding check finds the drafter's
sentences already encoded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np

_MAX_ENTRIES = 50_000


class SentenceVectors:
    """Encode-once cache of L2-normalised sentence vectors, least recently used out first.

    Args:
        embedder: object with ``encode(list[str]) -> np.ndarray``.
        max_entries: texts kept (about 1.5 kB each at 384 dimensions). The least recently
            used go first: a passage quoted every day stays encoded while one-off tickets
            age out (emptying the whole cache when full made every passage cold at once).
    """

    def __init__(self, embedder, max_entries: int = _MAX_ENTRIES) -> None:
        self.embedder = embedder
        self.max_entries = max_entries
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._cache)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (rows in the same order), encoding only unseen texts."""
        if not texts:
            return np.zeros((0, 1), np.float32)
        unique = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in unique:
                vector = self._cache.get(text)
                if vector is not None:
                    self._cache.move_to_end(text)
                    found[text] = vector
        missing = [t for t in unique if t not in found]
        if missing:
            vectors = np.asarray(self.embedder.encode(missing), dtype=np.float32)
            found.update(zip(missing, vectors))
            with self._lock:
                self._cache.update(zip(missing, vectors))
                while len(self._cache) > self.max_entries:
                    self._cache.popitem(last=False)
        # Read from this call's own rows: another thread may evict them from the cache meanwhile.
        return np.stack([found[t] for t in texts])


_REGISTRY: dict[int, SentenceVectors] = {}
_REGISTRY_LOCK = threading.Lock()


def sentence_vectors(embedder) -> SentenceVectors:
    """The shared cache for ``embedder``."""
    with _REGISTRY_LOCK:
        cache = _REGISTRY.get(id(embedder))
        if cache is None or cache.embedder is not embedder:
            cache = _REGISTRY[id(embedder)] = SentenceVectors(embedder)
        return cache
