"""Hybrid retrieval: dense (Chroma, cosine) + BM25 (bm25s), fused by weighted reciprocal rank.

The ticket is the query. When a ticket has earlier conversation, the current message
and the whole conversation are searched separately: the message says *what* the user
asks, the conversation often says *which* product, feature or entity it is about. The
dense side reads only the latest turns of a long thread (the encoder would cut the message
off). A title-linking stage adds the documents whose titles the conversation names.

Every hit is checked against the catalog's active versions, so a superseded or retired
version can never be returned, even while an ingest is mid-way.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from kb.config import Settings
from kb.embedder import token_window
from kb.knowledge_base import KnowledgeBase
from kb.lexical import tokenize
from kb.linking import LinkerCache
from kb.store import ExactDenseIndex
from kb.query import correct_to_vocabulary, plan_query, unknown_words, vocabulary_of
from kb.types import Hit, SearchFilters, Ticket
from kb.vector_cache import sentence_vectors


_SETTINGS_DEFAULTS = Settings.model_fields


@dataclass(frozen=True)
class RetrievalConfig:
    """Knobs of the retrieval pipeline (named configurations are compared in evaluation)."""

    name: str = "hybrid"
    use_dense: bool = True
    use_bm25: bool = True
    use_context: bool = True
    use_title_linking: bool = True
    correct_typos: bool = True  # unknown words also searched as the indexed terms one edit away
    candidates: int = 50
    # The product's defaults, from kb.config.Settings; the naive baselines below state the
    # textbook fusion (k 60, equal weights) explicitly.
    rrf_k: int = _SETTINGS_DEFAULTS["rrf_k"].default
    dense_weight: float = _SETTINGS_DEFAULTS["dense_weight"].default
    bm25_weight: float = _SETTINGS_DEFAULTS["bm25_weight"].default
    turn_weight: float = _SETTINGS_DEFAULTS["turn_weight"].default
    entity_weight: float = _SETTINGS_DEFAULTS["entity_weight"].default
    dense_context_tokens: int = _SETTINGS_DEFAULTS["dense_context_tokens"].default

    def list_weight(self, label: str) -> float:
        """How much the ranked list ``label`` counts in the fusion.

        Labels are ``dense`` / ``bm25`` (the conversation), ``bm25:turn`` / ``dense:turn`` (the
        message alone; densely only after a long thread) and ``dense:linked`` / ``bm25:linked``
        (the documents the conversation names).
        """
        kind, _, scope = label.partition(":")
        weight = self.dense_weight if kind == "dense" else self.bm25_weight
        if scope == "turn":
            weight *= self.turn_weight
        elif scope == "linked":
            weight *= self.entity_weight
        return weight


@dataclass(frozen=True)
class RankedList:
    """One retriever's candidates for one query, before fusion (active chunks only, best first)."""

    label: str
    results: tuple[tuple[str, float], ...]


def fuse_ranked_lists(lists: list[RankedList], config: RetrievalConfig) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Weighted reciprocal-rank fusion: ``(chunk_id -> score, chunk_id -> labels of its lists)``."""
    fused: dict[str, float] = defaultdict(float)
    sources: dict[str, list[str]] = defaultdict(list)
    for ranked in lists:
        weight = config.list_weight(ranked.label)
        if weight <= 0:
            continue
        for rank, (cid, _score) in enumerate(ranked.results):
            fused[cid] += weight / (config.rrf_k + rank + 1)
            sources[cid].append(ranked.label)
    return fused, sources


def order_chunks(fused: dict[str, float], *, dedupe_documents: bool = False) -> list[str]:
    """Chunk ids by fused score (ties: lower chunk id first); with ``dedupe_documents`` only the
    best chunk of each document."""
    order = sorted(fused, key=lambda c: (-fused[c], c))
    if not dedupe_documents:
        return order
    seen: set[str] = set()
    deduped = []
    for cid in order:
        doc_id = parse_chunk_id(cid)[0]
        if doc_id not in seen:
            seen.add(doc_id)
            deduped.append(cid)
    return deduped


NAMED_CONFIGS: dict[str, RetrievalConfig] = {
    "bm25": RetrievalConfig(name="bm25", use_dense=False, use_context=False, use_title_linking=False,
                            correct_typos=False),
    "dense": RetrievalConfig(name="dense", use_bm25=False, use_context=False, use_title_linking=False,
                             correct_typos=False),
    "rrf": RetrievalConfig(name="rrf", use_context=False, use_title_linking=False, correct_typos=False, rrf_k=60,
                           dense_weight=1.0),
    "hybrid": RetrievalConfig(name="hybrid"),
}


# Documents a ticket names are searched in memory; a cap keeps that cheap even when a title
# is shared by a very long document.
_LINKED_SCOPE_CHUNKS = 2000
# Spelling correction needs a small vocabulary: in long documents a near miss is often
# a different real word.
_CORRECTION_MAX_CHUNKS = 200


@dataclass(frozen=True)
class _LinkedScope:
    chunk_ids: tuple[str, ...]
    vocabulary: frozenset[str]  # words to correct misheard ones to (empty for large scopes)

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _lexical_pool() -> ThreadPoolExecutor:
    """One small shared worker pool per process for the lexical side of searches."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="replydesk-bm25")
        return _POOL


def parse_chunk_id(chunk_id: str) -> tuple[str, int]:
    """``(doc_id, version)`` encoded in a chunk id."""
    doc_id, version, _ordinal = chunk_id.rsplit("::", 2)
    return doc_id, int(version[1:])


class Retriever:
    """Search the active chunks of a :class:`KnowledgeBase`.

    Args:
        kb: the knowledge base.
        config: retrieval configuration; defaults come from the settings.
        cache_query_vectors: keep query vectors in the process's shared text-vector cache
            (:mod:`kb.vector_cache`), so the drafter and the risk check find the message
            already encoded and a redraft of the same ticket encodes nothing. Off, every
            search encodes its query (what a latency benchmark of new queries needs).
    """

    def __init__(self, kb: KnowledgeBase, config: RetrievalConfig | None = None, *,
                 cache_query_vectors: bool = True) -> None:
        self.kb = kb
        self.cache_query_vectors = cache_query_vectors
        settings = kb.settings
        self.config = config or RetrievalConfig(candidates=settings.retrieval_candidates, rrf_k=settings.rrf_k,
                                                dense_weight=settings.dense_weight, bm25_weight=settings.bm25_weight,
                                                entity_weight=settings.entity_weight,
                                                turn_weight=settings.turn_weight,
                                                dense_context_tokens=settings.dense_context_tokens)
        self._linkers = LinkerCache()
        self._linked_scopes: dict[tuple[int, SearchFilters], _LinkedScope] = {}
        self._exact = ExactDenseIndex()
        self._pool = _lexical_pool()

    def with_config(self, config: RetrievalConfig) -> "Retriever":
        """A retriever over the same knowledge base with another configuration."""
        other = Retriever(self.kb, config, cache_query_vectors=self.cache_query_vectors)
        other._linkers = self._linkers
        other._linked_scopes = self._linked_scopes
        other._exact = self._exact
        other._pool = self._pool
        return other

    def _linked_scope(self, generation: int, filters: SearchFilters) -> "_LinkedScope":
        """The chunks of the documents a ticket names (within ``filters``) and their words."""
        key = (generation, filters)
        scope = self._linked_scopes.get(key)
        if scope is None:
            chunk_ids = self.kb.lexical.chunk_ids_matching(filters, generation)[:_LINKED_SCOPE_CHUNKS]
            vocabulary: frozenset[str] = frozenset()
            if len(chunk_ids) <= _CORRECTION_MAX_CHUNKS:
                vocabulary = vocabulary_of(c.text for c in self.kb.catalog.chunks_by_id(chunk_ids).values())
            scope = _LinkedScope(tuple(chunk_ids), vocabulary)
            if len(self._linked_scopes) > 256:
                self._linked_scopes.clear()
            self._linked_scopes[key] = scope
        return scope

    def _dense_candidates(self, generation: int, vector, n: int, filters: SearchFilters | None
                          ) -> list[tuple[str, float]]:
        """Nearest active chunks: exact in memory for knowledge bases up to
        ``exact_search_max_chunks`` chunks, else Chroma's HNSW index."""
        limit = self.kb.settings.exact_search_max_chunks
        if limit:
            chunk_ids = self.kb.lexical.indexed_chunk_ids(generation)
            if 0 < len(chunk_ids) <= limit:
                mask = self.kb.lexical.filter_mask(filters, generation)
                results = self._exact.search(generation, chunk_ids, self.kb.vectors.unit_vectors, vector, n, mask)
                if results is not None:
                    return results
        return self.kb.vectors.query(vector, n, filters)

    def ranked_lists(self, query: str | Ticket, filters: SearchFilters | None = None) -> list[RankedList]:
        """The candidate lists :meth:`search` fuses for ``query`` (used to calibrate the fusion)."""
        return self._ranked_lists(query, filters)[0]

    def _ranked_lists(self, query: str | Ticket, filters: SearchFilters | None
                      ) -> tuple[list[RankedList], dict[str, float], dict[str, float]]:
        ticket = query if isinstance(query, Ticket) else Ticket(text=query)
        cfg = self.config
        generation, active = self.kb.active_versions()
        if not active:
            return [], {}, {}
        count_tokens, window = token_window(self.kb.embedder) if cfg.use_dense else (None, 0)
        plan = plan_query(ticket, use_context=cfg.use_context, turn_weight=cfg.turn_weight,
                          linked_weight=cfg.entity_weight if cfg.use_title_linking else 0.0,
                          use_dense=cfg.use_dense, use_bm25=cfg.use_bm25, count_tokens=count_tokens,
                          window=window, context_tokens=cfg.dense_context_tokens)
        linked_titles: tuple[str, ...] = ()
        if any(q.linked for q in plan.subqueries):
            linker = self._linkers.get(generation, self.kb.catalog.active_titles)
            linked_titles = tuple(link.title for link in linker.link(plan.named_text))
        subqueries = [q for q in plan.subqueries if not q.linked or linked_titles]
        n = cfg.candidates
        base = filters or SearchFilters()

        def where(q) -> SearchFilters | None:
            return replace(base, titles=linked_titles) if q.linked else filters

        known_words_of = getattr(self.kb.embedder, "known_words", None)
        # Without the model's dictionary every rare real word would look like a typo.
        known_words = known_words_of() if known_words_of is not None and cfg.correct_typos else frozenset()

        def tokens_of(q) -> list[str]:
            tokens = tokenize(q.text)
            if q.linked:
                # Within the named documents a near-miss word almost surely means their word.
                vocabulary = self._linked_scope(generation, where(q)).vocabulary
                tokens += tokenize(" ".join(correct_to_vocabulary(q.text, vocabulary)))
            elif known_words:
                # Typos: words neither the model's dictionary nor the index knows.
                unknown = unknown_words(q.text, known_words)
                if unknown:
                    tokens += self.kb.lexical.corrections(tokenize(" ".join(unknown)), generation)
            return tokens

        def lexical_lists() -> list[tuple[str, list[tuple[str, float]]]]:
            return [(q.label, self.kb.lexical.search(tokens_of(q), n, generation, where(q)))
                    for q in subqueries if q.kind == "bm25"]

        ranked_lists: list[tuple[str, list[tuple[str, float]]]] = []
        dense_scores: dict[str, float] = {}
        bm25_scores: dict[str, float] = {}
        dense_texts = list(dict.fromkeys(q.text for q in subqueries if q.kind == "dense"))
        encoder = sentence_vectors(self.kb.embedder) if self.cache_query_vectors else self.kb.embedder
        vectors = dict(zip(dense_texts, encoder.encode(dense_texts))) if dense_texts else {}
        # BM25 runs beside the Chroma query, not beside the embedding: torch already keeps both
        # cores busy, and a third busy thread stalls its parallel kernels (measured at 100k
        # chunks: p95 27.6 -> 25.0 ms, p50 17.5 -> 17.1 ms).
        lexical_future = self._pool.submit(lexical_lists) if cfg.use_bm25 else None
        for q in subqueries:
            if q.kind == "dense":
                if q.linked:
                    # Scored in memory: a Chroma query filtered to a few titles scans the collection.
                    scope = self._linked_scope(generation, where(q))
                    results = self.kb.vectors.similarities(vectors[q.text], scope.chunk_ids)[:n]
                else:
                    results = self._dense_candidates(generation, vectors[q.text], n, where(q))
                for cid, score in results:
                    dense_scores[cid] = max(dense_scores.get(cid, -1.0), score)
                ranked_lists.append((q.label, results))
        if lexical_future is not None:
            for label, results in lexical_future.result():
                for cid, score in results:
                    bm25_scores[cid] = max(bm25_scores.get(cid, 0.0), score)
                ranked_lists.append((label, results))

        def is_active(cid: str) -> bool:
            doc_id, version = parse_chunk_id(cid)
            return active.get(doc_id) == version

        lists = [RankedList(label, tuple((cid, score) for cid, score in results if is_active(cid)))
                 for label, results in ranked_lists]
        return lists, dense_scores, bm25_scores

    def search(self, query: str | Ticket, k: int = 5, filters: SearchFilters | None = None,
               *, dedupe_documents: bool = False) -> list[Hit]:
        """Best ``k`` hits for a query or ticket.

        Args:
            query: free text, or a :class:`Ticket` whose earlier conversation is used too.
            k: number of hits.
            filters: metadata filters.
            dedupe_documents: keep only the best chunk of each document.
        """
        lists, dense_scores, bm25_scores = self._ranked_lists(query, filters)
        fused, sources = fuse_ranked_lists(lists, self.config)
        if not fused:
            return []
        top = order_chunks(fused, dedupe_documents=dedupe_documents)[:k]
        chunks = self.kb.catalog.chunks_by_id(top)
        hits = []
        for cid in top:
            chunk = chunks.get(cid)
            if chunk is None:
                continue
            hits.append(Hit.from_chunk(chunk, fused[cid], dense_score=dense_scores.get(cid),
                                       bm25_score=bm25_scores.get(cid), rank_sources=tuple(sources[cid])))
        return hits
