"""A per-embedder cache of text vectors shared by retrieval, the risk check, the offline
drafter and the grounding check.

Within one draft the same texts are encoded by several stages (the message is the retrieval
query, a risk unit and the drafter's query); guidance passages repeat across tickets, so
their sentences are encoded once per process; the grounding check finds the drafter's
sentences already encoded.
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

_MAX_ENTRIES = 50_000


class SentenceVectors:
    """Encode-once cache of L2-normalised sentence vectors.

    Args:
        embedder: object with ``encode(list[str]) -> np.ndarray``.
    """

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (rows in the same order), encoding only unseen texts."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = np.asarray(self.embedder.encode(missing), dtype=np.float32)
            with self._lock:
                if len(self._cache) + len(missing) > _MAX_ENTRIES:
                    self._cache.clear()
                self._cache.update(zip(missing, vectors))
        with self._lock:
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)


_REGISTRY: dict[int, SentenceVectors] = {}
_REGISTRY_LOCK = threading.Lock()


def sentence_vectors(embedder) -> SentenceVectors:
    """The shared cache for ``embedder``."""
    with _REGISTRY_LOCK:
        cache = _REGISTRY.get(id(embedder))
        if cache is None or cache.embedder is not embedder:
            cache = _REGISTRY[id(embedder)] = SentenceVectors(embedder)
        return cache
