"""Group similar short texts (tickets) by their embeddings.

Used for the knowledge-gap list (tickets that found no guidance, grouped so one missing
document shows up as one group) and for repeat-complaint clusters on the QA dashboard.

The method is greedy centroid clustering on L2-normalised vectors: texts are taken in
order, each joins the group whose centroid is most similar when that cosine similarity
reaches ``threshold``, otherwise it starts a new group. It is deterministic, needs no
number of clusters up front and is fast for the hundreds-to-thousands of tickets a
dashboard shows (O(n * groups)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Cosine similarity at which two all-MiniLM-L6-v2 ticket embeddings count as "the same complaint".
DEFAULT_THRESHOLD = 0.6


@dataclass(frozen=True)
class Group:
    """One group of similar texts.

    Attributes:
        members: indices into the input, in input order.
        representative: index of the member closest to the group centroid.
        cohesion: mean cosine similarity of the members to the centroid (1.0 for a singleton).
    """

    members: tuple[int, ...]
    representative: int
    cohesion: float

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)


def group_vectors(vectors: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[Group]:
    """Group rows of ``vectors`` (L2-normalised) by cosine similarity; largest groups first."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) == 0:
        return []
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, vector in enumerate(vectors):
        if sums:
            centroids = np.stack(sums)
            centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
            sims = centroids @ vector
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                sums[best] = sums[best] + vector
                members[best].append(i)
                continue
        sums.append(vector.copy())
        members.append([i])
    groups = []
    for total, idx in zip(sums, members):
        centroid = total / max(float(np.linalg.norm(total)), 1e-12)
        sims = vectors[idx] @ centroid
        groups.append(Group(members=tuple(idx), representative=idx[int(np.argmax(sims))],
                            cohesion=float(np.mean(sims))))
    groups.sort(key=lambda g: (-g.size, g.members[0]))
    return groups


def group_texts(texts: Sequence[str], embed, threshold: float = DEFAULT_THRESHOLD) -> list[Group]:
    """Embed ``texts`` with ``embed(texts) -> ndarray`` and group them (see :func:`group_vectors`)."""
    if not texts:
        return []
    return group_vectors(embed(list(texts)), threshold)
