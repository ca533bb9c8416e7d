"""Which embedding model made a knowledge base's vectors, and whether the configured one did.

Vectors of two models cannot be compared. A query embedded by one model against the
vectors of another either fails (another dimension) or, worse, returns confident
nonsense (the same dimension). So a knowledge base records a fingerprint of its model at
its first write: the model's name, its dimension and its vectors of a few fixed
sentences. A knowledge base written before fingerprints existed is checked instead by
re-embedding a few of its stored chunks (see :meth:`kb.knowledge_base.KnowledgeBase.embedder`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
import numpy as np

from kb.types import SetupError

#: Fixed sentences whose vectors identify a model; short, so fingerprinting costs one small batch.
PROBE_TEXTS: tuple[str, ...] = (
    "How do I get a refund for an order that never arrived?",
    "Escalate any threat of violence to the safety team at once.",
    "My account was locked after too many failed sign-in attempts.",
)
#: Two runs of one model agree to ~1e-6 (batching, CPU kernels); any other model is far below.
SAME_MODEL_MIN_COSINE = 0.995
#: Stored chunk vectors vs. the configured model re-embedding them (legacy check). Looser than
#: the probes because a chunk's embedding text may have been built by an older release.
LEGACY_MIN_COSINE = 0.8


class EmbeddingMismatchError(SetupError):
    """The configured embedding model is not the one that made the stored vectors."""


def model_label(embedder) -> str:
    """A readable name of ``embedder``'s model (its configured name or path, else its class)."""
    return str(getattr(embedder, "model_name", None) or type(embedder).__name__)


@dataclass(frozen=True)
class EmbeddingFingerprint:
    """Name, dimension and probe vectors of one embedding model."""

    model: str
    dimension: int
    probes: tuple[tuple[float, ...], ...]

    @classmethod
    def of(cls, embedder) -> "EmbeddingFingerprint":
        """Fingerprint ``embedder`` by embedding :data:`PROBE_TEXTS`."""
        vectors = np.asarray(embedder.encode(list(PROBE_TEXTS)), dtype=np.float32)
        return cls(model=model_label(embedder), dimension=int(vectors.shape[1]),
                   probes=tuple(tuple(round(float(x), 6) for x in row) for row in vectors))

    def to_json(self) -> str:
        """Compact JSON for the catalog."""
        return json.dumps({"model": self.model, "dimension": self.dimension, "probes": self.probes},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "EmbeddingFingerprint":
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(model=str(data["model"]), dimension=int(data["dimension"]),
                   probes=tuple(tuple(float(x) for x in row) for row in data["probes"]))

    def matches(self, other: "EmbeddingFingerprint") -> bool:
        """Whether ``other`` is the same model: same dimension and (nearly) the same probe vectors.

        The name is not compared: one model may be configured by name here and by folder there.
        """
        if self.dimension != other.dimension or len(self.probes) != len(other.probes):
            return False
        return min_row_cosine(np.asarray(self.probes), np.asarray(other.probes)) >= SAME_MODEL_MIN_COSINE


def min_row_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest cosine between matching rows of two equally shaped matrices."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min(np.sum(a * b, axis=1) / np.where(norms == 0, 1.0, norms)))


def mismatch_error(home: Path, stored: str | None, stored_dimension: int | None,
                   configured: EmbeddingFingerprint) -> EmbeddingMismatchError:
    """The error that tells a user what differs and the two ways out.

    Args:
        home: the data home.
        stored: name of the model that made the vectors; None when unknown (written before
            fingerprints were recorded).
        stored_dimension: their dimension, when known.
        configured: the configured model's fingerprint.
    """
    made_by = (f"'{stored}'" if stored else "a different model") + (
        f" ({stored_dimension} dimensions)" if stored_dimension else "")
    return EmbeddingMismatchError(
        f"the knowledge base in {home} was embedded with {made_by}, but the configured embedding model is "
        f"'{configured.model}' ({configured.dimension} dimensions); its vectors cannot be searched with it. "
        f"Run `replydesk reindex --home {home}` to re-embed every document with the configured model, "
        "or set REPLYDESK_EMBEDDING_MODEL back to the model that made them.")


def legacy_vectors_match(stored: np.ndarray, present: np.ndarray, fresh: np.ndarray) -> bool:
    """Whether stored chunk vectors were made by the model that made ``fresh`` from the same chunks.

    Args:
        stored: stored vectors, one row per chunk (zeros where ``present`` is False).
        present: which rows of ``stored`` exist.
        fresh: the configured model's vectors of the same chunks.
    """
    if not present.any():
        return True
    if stored.shape[1] != fresh.shape[1]:
        return False
    cosines = np.sum(stored[present] * _unit(fresh[present]), axis=1)
    return float(np.mean(cosines)) >= LEGACY_MIN_COSINE


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)

