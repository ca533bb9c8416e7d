"""Chroma vector store for the searchable chunks.

The Chroma client is injected: the embedded ``PersistentClient`` under the data home is the
default, a Chroma server (``HttpClient``) works through the same code.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from typing import Any, Sequence

import numpy as np

from kb.blas import one_blas_thread
from kb.config import Settings
from kb.types import Chunk, SearchFilters

_TAG_KEY = re.compile(r"[^a-z0-9_-]+")


def tag_key(tag: str) -> str:
    """Metadata key under which a tag is stored (Chroma metadata values are scalars)."""
    return "tag_" + _TAG_KEY.sub("_", tag.lower())


def make_chroma_client(settings: Settings):
    """The Chroma client configured by ``settings`` (server when ``chroma_host`` is set)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """Flat Chroma metadata of a chunk."""
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id, "version": chunk.version, "ordinal": chunk.ordinal,
        "title": chunk.title, "doc_type": chunk.doc_type, "audience": chunk.audience,
        "region": chunk.region or "", "language": chunk.language or "",
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    if chunk.section:
        meta["section"] = chunk.section
    for tag in chunk.tags:
        meta[tag_key(tag)] = True
    return meta


def chroma_where(filters: SearchFilters | None) -> dict | None:
    """Translate :class:`SearchFilters` into a Chroma ``where`` clause."""
    if filters is None:
        return None
    clauses: list[dict] = []
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": list(filters.doc_types)}})
    if filters.regions:
        clauses.append({"region": {"$in": list(filters.regions)}})
    if filters.languages:
        clauses.append({"language": {"$in": list(filters.languages)}})
    if filters.tags:
        tag_clauses = [{tag_key(t): True} for t in filters.tags]
        clauses.append(tag_clauses[0] if len(tag_clauses) == 1 else {"$or": tag_clauses})
    if filters.titles:
        clauses.append({"title": {"$in": list(filters.titles)}})
    if not filters.include_internal:
        clauses.append({"audience": {"$ne": "internal"}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


#: Similarities closer than this are a tie: re-embedding the same text in another batch moves
#: a float32 cosine by ~1e-7, and the index returns exact ties in no fixed order.
SIMILARITY_RESOLUTION_DECIMALS = 5


def best_first(pairs: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """``(chunk_id, similarity)`` pairs best first; ties (at
    :data:`SIMILARITY_RESOLUTION_DECIMALS`) go to the lower chunk id, so rankings do not
    depend on float noise or the order the index returns them in."""
    return sorted(pairs, key=lambda pair: (-round(pair[1], SIMILARITY_RESOLUTION_DECIMALS), pair[0]))


def _matrix_vector(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` without waking OpenBLAS's thread pool.

    numpy's OpenBLAS keeps its own threads spinning after a product; beside the embedding
    model's forward passes they tripled the time of a query (14 -> 42 ms at 12k chunks).
    When torch is loaded anyway its pool, which the model shares, does the product (14 -> 17
    ms); otherwise (queries embedded without PyTorch) numpy does it on one BLAS thread.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.mv(torch.from_numpy(matrix), torch.from_numpy(vector)).numpy()
    with one_blas_thread():
        return matrix @ vector


class ExactDenseIndex:
    """Brute-force cosine search over the active chunks, held in memory per catalog generation.

    For small knowledge bases a matrix product costs about what the HNSW index does and is
    exact: HNSW misses some true neighbours, and which ones depends on how the graph was
    built, so two ingests of the same corpus ranked differently. The product is memory-bound
    (~2-3 ms at 12k chunks of 384 dimensions beside the model), so large collections stay
    on HNSW.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = -1
        self._ids: Sequence[str] | None = None
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._present = np.zeros(0, dtype=bool)

    def search(self, generation: int, chunk_ids: Sequence[str], load, vector: np.ndarray, n: int,
               mask: np.ndarray | None = None) -> list[tuple[str, float]] | None:
        """Best ``n`` of ``chunk_ids`` (those ``mask`` keeps) as ``(chunk_id, cosine)``.

        ``load(chunk_ids)`` returns ``(unit vectors, present)``; it runs again whenever the
        generation or the id list itself (a new object: the lexical index was reloaded) changes.
        Returns None when nothing usable is cached (the caller falls back to the HNSW index).
        """
        with self._lock:
            if self._generation != generation or self._ids is not chunk_ids:
                self._matrix, self._present = load(chunk_ids)
                self._generation, self._ids = generation, chunk_ids
            matrix, present = self._matrix, self._present
        if (len(present) != len(chunk_ids) or not present.any()
                or (mask is not None and len(mask) != len(chunk_ids))):
            return None
        query = np.asarray(vector, dtype=np.float32)
        query = query / (float(np.linalg.norm(query)) or 1.0)
        keep = present if mask is None else present & mask
        scores = np.where(keep, _matrix_vector(matrix, query), -np.inf)
        n = min(n, int(keep.sum()))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        return best_first([(chunk_ids[i], float(scores[i])) for i in top])


def _reopen_when_replaced(method):
    """Retry once on a fresh handle when the collection was replaced (``replydesk reindex``)
    since this store opened it: the old handle then names a deleted collection."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            from chromadb.errors import NotFoundError as ChromaNotFound

            if not isinstance(exc, ChromaNotFound):
                raise
            # get, not create: in the moment between the swap's two steps, creating one
            # would take the name the new collection is about to be given.
            self.collection = self.client.get_collection(name=self.name, embedding_function=None)
            return method(self, *args, **kwargs)

    return wrapper


class VectorStore:
    """Dense index of active chunks in one Chroma collection (cosine space)."""

    #: Chroma rejects very large single writes; this stays well under its limit.
    WRITE_BATCH = 2000

    def __init__(self, client, collection: str, *, ef_search: int = 400) -> None:
        self.client = client
        self.name = collection
        self.ef_search = ef_search
        self.collection = self._open()

    def _open(self):
        # Only the configuration, not legacy "hnsw:*" metadata beside it: Chroma then ignores
        # the space given in the configuration and builds an L2 index.
        collection = self.client.get_or_create_collection(
            name=self.name, configuration={"hnsw": {"space": "cosine", "ef_search": self.ef_search}},
            embedding_function=None,
        )
        hnsw = (collection.configuration or {}).get("hnsw") or {}
        if hnsw.get("ef_search") != self.ef_search:
            # A collection made earlier keeps its own value; this must run before the first
            # query, which loads the index with the value it then has.
            collection.modify(configuration={"hnsw": {"ef_search": self.ef_search}})
        return collection

    def staging(self) -> "VectorStore":
        """A new, empty store beside this one, for :meth:`replace_with` (a leftover one is emptied)."""
        name = f"{self.name}-reindex"
        if any(getattr(c, "name", c) == name for c in self.client.list_collections()):
            self.client.delete_collection(name)
        return VectorStore(self.client, name, ef_search=self.ef_search)

    def replace_with(self, staging: "VectorStore") -> None:
        """Make ``staging``'s vectors this store's: this collection is dropped, ``staging``'s renamed.

        Chroma has no atomic swap; between the two calls (milliseconds) a dense query finds no
        collection and other processes reopen it by name on their next call.
        """
        self.client.delete_collection(self.name)
        staging.collection.modify(name=self.name)
        self.collection = staging.collection
        staging.name = self.name

    @_reopen_when_replaced
    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Upsert chunks with their vectors (idempotent: ids are deterministic)."""
        for start in range(0, len(chunks), self.WRITE_BATCH):
            part = chunks[start:start + self.WRITE_BATCH]
            self.collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[start:start + len(part)],
                documents=[c.text for c in part],
                metadatas=[chunk_metadata(c) for c in part],
            )

    @_reopen_when_replaced
    def delete_version(self, doc_id: str, version: int) -> None:
        """Remove one version's chunks from the searchable index."""
        self.collection.delete(where={"$and": [{"doc_id": doc_id}, {"version": version}]})

    @_reopen_when_replaced
    def delete_ids(self, chunk_ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        for start in range(0, len(chunk_ids), self.WRITE_BATCH):
            self.collection.delete(ids=list(chunk_ids[start:start + self.WRITE_BATCH]))

    @_reopen_when_replaced
    def delete_doc(self, doc_id: str) -> None:
        """Remove every chunk of ``doc_id``."""
        self.collection.delete(where={"doc_id": doc_id})

    @_reopen_when_replaced
    def count(self) -> int:
        """Number of stored vectors."""
        return self.collection.count()

    @_reopen_when_replaced
    def query(self, vector: np.ndarray, n: int, filters: SearchFilters | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as ``(chunk_id, cosine similarity)``, best first."""
        # Chroma clamps n_results to what is there (and answers an empty collection with no
        # ids), so no count() round trip is needed on the hot path.
        result = self.collection.query(
            query_embeddings=[vector], n_results=n, where=chroma_where(filters), include=["distances"]
        )
        ids = result["ids"][0]
        distances = result["distances"][0]
        return best_first([(cid, 1.0 - float(d)) for cid, d in zip(ids, distances)])

    @_reopen_when_replaced
    def unit_vectors(self, chunk_ids: Sequence[str], batch: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """``(matrix, present)``: the stored vectors of ``chunk_ids`` normalised to unit length,
        one row per id in order (zeros where an id has no vector, ``present`` False)."""
        rows = {cid: i for i, cid in enumerate(chunk_ids)}
        matrix = np.zeros((len(chunk_ids), 0), dtype=np.float32)
        present = np.zeros(len(chunk_ids), dtype=bool)
        for start in range(0, len(chunk_ids), batch):
            got = self.collection.get(ids=list(chunk_ids[start:start + batch]), include=["embeddings"])
            if not got["ids"]:
                continue
            vectors = np.asarray(got["embeddings"], dtype=np.float32)
            if matrix.shape[1] == 0:
                matrix = np.zeros((len(chunk_ids), vectors.shape[1]), dtype=np.float32)
            positions = [rows[cid] for cid in got["ids"]]
            matrix[positions] = vectors
            present[positions] = True
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1.0, norms), present

    def similarities(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> list[tuple[str, float]]:
        """Cosine similarity of ``vector`` to each of ``chunk_ids`` (present ones), best first.

        For a handful of known chunks this beats a filtered ``query``: Chroma answers a
        selective metadata filter by scanning, about 60 ms at 100k chunks.
        """
        ids = list(dict.fromkeys(chunk_ids))
        matrix, present = self.unit_vectors(ids)
        if not present.any():
            return []
        query = np.asarray(vector, dtype=np.float32)
        scores = _matrix_vector(matrix, query / (float(np.linalg.norm(query)) or 1.0))
        return best_first([(ids[i], float(scores[i])) for i in np.flatnonzero(present)])
