"""The dense index on a real embedded Chroma in a temp dir."""

from __future__ import annotations

import chromadb
import numpy as np

from kb.store import VectorStore
from kb.types import Chunk


def _chunks(n: int) -> list[Chunk]:
    return [Chunk(chunk_id=f"d{i}::v1::0", doc_id=f"d{i}", version=1, ordinal=0, text=f"passage {i}",
                  title=f"Doc {i}", doc_type="sop") for i in range(n)]


def _recall_at_50(store: VectorStore, matrix: np.ndarray, queries: np.ndarray) -> float:
    ids = np.array([f"d{i}::v1::0" for i in range(len(matrix))])
    normed = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    shares = []
    for query in queries:
        exact = set(ids[np.argsort(-(normed @ query))[:50]])
        shares.append(len(exact & {cid for cid, _ in store.query(query, 50)}) / 50)
    return float(np.mean(shares))


def test_dense_candidates_are_nearly_the_exact_top_50(tmp_path):
    # Random 384-d vectors are a hard case for HNSW; with Chroma's default ef_search (100)
    # a good share of the true top 50 is missed, and fusion never sees those chunks.
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((4000, 384)).astype(np.float32)
    queries = rng.standard_normal((20, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    chunks = _chunks(len(matrix))

    store = VectorStore(chromadb.PersistentClient(path=str(tmp_path / "wide")), "chunks", ef_search=400)
    store.add(chunks, matrix)
    assert store.collection.configuration["hnsw"]["space"] == "cosine"
    wide = _recall_at_50(store, matrix, queries)

    narrow_store = VectorStore(chromadb.PersistentClient(path=str(tmp_path / "narrow")), "chunks", ef_search=100)
    narrow_store.add(chunks, matrix)
    narrow = _recall_at_50(narrow_store, matrix, queries)

    assert wide >= 0.95
    assert wide > narrow


def test_a_collection_made_earlier_gets_the_configured_ef_search(tmp_path):
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    # How collections were created before ef_search was configurable.
    client.get_or_create_collection(name="chunks", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    store = VectorStore(chromadb.PersistentClient(path=str(tmp_path / "chroma")), "chunks", ef_search=300)
    hnsw = store.collection.configuration["hnsw"]
    assert hnsw["ef_search"] == 300 and hnsw["space"] == "cosine"
