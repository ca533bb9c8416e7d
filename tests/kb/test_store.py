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


def test_exact_index_returns_the_true_top_n_and_honours_the_mask(tmp_path):
    from kb.store import ExactDenseIndex, best_first

    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((3000, 384)).astype(np.float32)
    store = VectorStore(chromadb.PersistentClient(path=str(tmp_path / "chroma")), "chunks")
    store.add(_chunks(len(matrix)), matrix)
    ids = [f"d{i}::v1::0" for i in range(len(matrix))] + ["never-stored::v1::0"]
    normed = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    loads = []

    def load(chunk_ids):
        loads.append(len(chunk_ids))
        return store.unit_vectors(chunk_ids)

    index = ExactDenseIndex()
    for seed in range(5):
        query = np.random.default_rng(100 + seed).standard_normal(384).astype(np.float32)
        scores = normed @ (query / np.linalg.norm(query))
        top = np.argsort(-scores)[:50]
        got = index.search(7, ids, load, query, 50)
        assert {cid for cid, _ in got} == {ids[i] for i in top}  # exact
        assert got == best_first(got) and np.allclose([s for _, s in got], scores[top], atol=1e-5)
    assert loads == [len(ids)]  # loaded once for the generation; the missing id is never returned

    mask = np.zeros(len(ids), dtype=bool)
    mask[:10] = True
    mask[-1] = True
    masked = index.search(7, ids, load, matrix[3], 50, mask)
    assert {cid for cid, _ in masked} == set(ids[:10]) and masked[0][0] == ids[3]
    # A new generation or a new id list reloads; nothing stored means "ask the HNSW index".
    index.search(8, ids, load, matrix[3], 5)
    assert loads == [len(ids), len(ids)]
    assert index.search(9, ["none::v1::0"], load, matrix[3], 5) is None


def test_similarity_ties_are_broken_by_chunk_id():
    from kb.store import best_first

    noisy = [("b::v1::0", 0.50000004), ("a::v1::0", 0.49999998), ("c::v1::0", 0.7)]
    assert [cid for cid, _ in best_first(noisy)] == ["c::v1::0", "a::v1::0", "b::v1::0"]
