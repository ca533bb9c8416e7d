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

    def vector_cache_dir(self):
        """The wrapped embedder's folder for vectors kept between processes, or None."""
        inner = getattr(self.embedder, "vector_cache_dir", None)
        return inner() if inner is not None else None

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


def persisted_vectors(embedder, texts: Sequence[str], *, purpose: str) -> np.ndarray:
    """Vectors of a fixed list of texts (an exemplar bank), kept on disk between processes.

    Encoding the risk layer's ~1,000 exemplars costs about a second of every CLI command and
    app start that assesses risk. Embedders that name a folder for such files
    (``vector_cache_dir()``, the real model's) keep them there; others just encode. A file is
    named by the model's vectors of fixed probe sentences and by the texts, so another model or
    an edited bank never reads it; a damaged file is encoded again and replaced.

    Args:
        embedder: object with ``encode(list[str]) -> np.ndarray`` (and optionally ``vector_cache_dir()``).
        texts: the texts, in the order of the rows returned.
        purpose: a short file-name prefix (``"risk-bank"``).
    """
    import hashlib
    import os
    import tempfile
    from pathlib import Path

    from kb.fingerprint import PROBE_TEXTS

    folder_of = getattr(embedder, "vector_cache_dir", None)
    folder = folder_of() if folder_of is not None else None
    texts = list(texts)
    if folder is None or not texts:
        return np.asarray(embedder.encode(texts), dtype=np.float32)
    probes = np.asarray(embedder.encode(list(PROBE_TEXTS)), dtype=np.float32)
    digest = hashlib.sha256(np.round(probes, 5).astype(np.float32).tobytes())
    digest.update("\0".join(texts).encode("utf-8"))
    path = Path(folder) / f"{purpose}-{digest.hexdigest()[:32]}.npy"
    try:
        stored = np.load(path, allow_pickle=False)
        if stored.shape == (len(texts), probes.shape[1]) and stored.dtype == np.float32 and np.isfinite(stored).all():
            return stored
    except (OSError, ValueError):
        pass
    vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".vectors-", suffix=".npy", dir=path.parent)
        with os.fdopen(handle, "wb") as out:
            np.save(out, vectors, allow_pickle=False)
        os.replace(temp, path)
    except OSError:
        pass  # a read-only cache only costs the encoding next time
    return vectors
