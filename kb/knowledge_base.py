"""The knowledge base facade: catalog + Chroma + BM25 + embedder behind one object.

Writers (ingest, retire, restore) go through :meth:`KnowledgeBase.commit` and friends so
the three stores change in an order that never exposes a half-written state:

1. new chunks are upserted into Chroma (not yet searchable: the catalog still names the
   old version active, and every hit is checked against the catalog);
2. one SQL transaction makes the new versions active and the old ones superseded;
3. the BM25 index is rebuilt from the catalog and swapped in atomically;
4. the old versions' vectors are deleted from Chroma (their text stays in history).

A version cut again under new chunking rules keeps its number: its new chunks overwrite
the vectors of the same ids in step 1 (a hit between steps 1 and 2 pairs a new vector with
the old text of the same passage), step 2 swaps its chunk text, and ids past its new last
chunk are deleted in step 4.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from kb.catalog import Catalog
from kb.config import Settings
from kb.embedder import TextEmbedder, get_embedder
from kb.fingerprint import EmbeddingFingerprint, legacy_vectors_match, mismatch_error, model_label
from kb.lexical import LexicalIndex
from kb.store import VectorStore, make_chroma_client
from kb.types import Chunk, DocumentMeta, NotFoundError

#: Catalog key of the embedding model's fingerprint.
EMBEDDING_KEY = "embedding"
#: Stored chunks re-embedded to check a knowledge base written before fingerprints existed.
_LEGACY_SAMPLE = 4
#: Chunks embedded per step of a reindex (progress granularity; the embedder batches inside).
_REINDEX_STEP = 512


@dataclass(frozen=True)
class ReindexReport:
    """What :meth:`KnowledgeBase.reindex` did."""

    chunks: int
    model: str
    dimension: int
    previous_model: str | None
    seconds: float


class KnowledgeBase:
    """Stores and indexes of one data home.

    Args:
        settings: configuration (data home, collection, model).
        client: a Chroma client; defaults to the one ``settings`` describes.
        embedder: the text embedder; defaults to the shared sentence-transformers model.
    """

    def __init__(self, settings: Settings, *, client=None, embedder: TextEmbedder | None = None) -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(settings.records_url)
        self.vectors = VectorStore(client if client is not None else make_chroma_client(settings),
                                   settings.collection, ef_search=settings.hnsw_ef_search)
        self.lexical = LexicalIndex(settings.bm25_dir)
        self._embedder = embedder
        self._write_lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._active: tuple[int, dict[str, int]] = (-1, {})
        self._fingerprint: EmbeddingFingerprint | None = None
        #: The stored fingerprint the embedder was last found to match ("" = nothing stored yet).
        self._checked: str | None = None

    @property
    def embedder(self) -> TextEmbedder:
        """The embedder (loaded lazily on first use), checked against the stored vectors.

        Raises:
            EmbeddingMismatchError: the stored vectors were made by another model.
        """
        embedder = self._raw_embedder()
        if self._checked is None:
            self._check_embedder()
        return embedder

    def _raw_embedder(self) -> TextEmbedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
        return self._embedder

    def embedding_runtime(self) -> str:
        """What runs the embedding model (ONNX Runtime / PyTorch, and why), without loading it."""
        embedder = self._raw_embedder()
        status = getattr(embedder, "backend_status", None)
        return status() if status else type(embedder).__name__

    def recorded_fingerprint(self) -> EmbeddingFingerprint | None:
        """Fingerprint of the model that made the stored vectors (None before the first write)."""
        stored = self.catalog.index_info(EMBEDDING_KEY)
        return EmbeddingFingerprint.from_json(stored) if stored else None

    def embedding_fingerprint(self) -> EmbeddingFingerprint:
        """The configured embedder's fingerprint (computed once)."""
        if self._fingerprint is None:
            self._fingerprint = EmbeddingFingerprint.of(self._raw_embedder())
        return self._fingerprint

    def _check_embedder(self) -> None:
        with self._check_lock:
            if self._checked is not None:
                return
            stored = self.catalog.index_info(EMBEDDING_KEY)
            current = self.embedding_fingerprint()
            if stored is not None:
                recorded = EmbeddingFingerprint.from_json(stored)
                if not recorded.matches(current):
                    raise mismatch_error(self.settings.home, recorded.model, recorded.dimension, current)
                self._checked = stored
                return
            sample = self.catalog.sample_active_chunks(_LEGACY_SAMPLE)
            if not sample:
                self._checked = ""
                return
            # Written before fingerprints: compare a few stored vectors with fresh ones.
            stored_vectors, present = self.vectors.unit_vectors([c.chunk_id for c in sample])
            fresh = np.asarray(self._raw_embedder().encode([c.embedding_text() for c in sample]), dtype=np.float32)
            if not legacy_vectors_match(stored_vectors, present, fresh):
                dimension = stored_vectors.shape[1] if present.any() else None
                raise mismatch_error(self.settings.home, None, dimension, current)
            self._checked = current.to_json()
            self.catalog.set_index_info(EMBEDDING_KEY, self._checked)

    def _fingerprint_for_write(self) -> str | None:
        """Before vectors are written: the stored fingerprint, after checking the embedder against it.

        Run under the write lock, so a reindex by another process since the last check is seen.
        """
        stored = self.catalog.index_info(EMBEDDING_KEY)
        if stored is not None and stored != self._checked:
            self._checked = None
            self._check_embedder()
        return stored

    # ---- state ------------------------------------------------------------------
    def active_versions(self) -> tuple[int, dict[str, int]]:
        """``(generation, doc_id -> active version)``, cached per generation."""
        generation = self.catalog.generation()
        if self._active[0] != generation:
            if self._checked and self.catalog.index_info(EMBEDDING_KEY) != self._checked:
                # Another process re-embedded the knowledge base: check the model again.
                self._checked = None
            self._active = (generation, self.catalog.active_versions())
        return self._active

    def ensure_lexical(self) -> None:
        """Rebuild the BM25 index when it lags the catalog (e.g. after a crash mid-ingest) or
        was built by another tokenizer (an older version of replydesk)."""
        from kb.lexical import TOKENIZER_VERSION

        generation = self.catalog.generation()
        meta = self.settings.bm25_dir / "meta.json"
        if generation and not meta.is_file():
            self.rebuild_lexical()
            return
        if meta.is_file():
            import json

            stored = json.loads(meta.read_text())
            if stored.get("generation") != generation or stored.get("tokenizer", 1) != TOKENIZER_VERSION:
                self.rebuild_lexical()

    def rebuild_lexical(self) -> None:
        """Rebuild the BM25 index from the catalog's active chunks."""
        generation = self.catalog.generation()
        self.lexical.rebuild(self.catalog.active_chunks(), generation)

    # ---- writes -----------------------------------------------------------------
    def commit(self, entries: Sequence[tuple[DocumentMeta, Sequence[Chunk], np.ndarray]],
               *, rebuild_lexical: bool = True) -> list[tuple[str, int]]:
        """Make new document versions searchable (see the module docstring for the order).

        Returns:
            ``(doc_id, version)`` of every version that was superseded.
        """
        if not entries:
            return []
        with self._write_lock:
            all_chunks = [c for _, chunks, _ in entries for c in chunks]
            # Versions cut again in place: their ids beyond the new last chunk must go.
            _generation, active = self.active_versions()
            new_ids = {c.chunk_id for c in all_chunks}
            stale = [cid for meta, _, _ in entries if active.get(meta.doc_id) == meta.version
                     for cid in (c.chunk_id for c in self.catalog.version_chunks(meta.doc_id, meta.version))
                     if cid not in new_ids]
            if all_chunks:
                # Vectors made by an injected embedder are fingerprinted; bare ones (tests) are not.
                stored = self._fingerprint_for_write() if self._embedder is not None else ""
                vectors = np.concatenate([v for _, chunks, v in entries if len(chunks)])
                self.vectors.add(all_chunks, vectors)
                if stored is None:
                    self._checked = self.embedding_fingerprint().to_json()
                    self.catalog.set_index_info(EMBEDDING_KEY, self._checked)
            superseded = self.catalog.activate_versions([(meta, chunks) for meta, chunks, _ in entries])
            if rebuild_lexical:
                self.rebuild_lexical()
            for doc_id, version in superseded:
                self.vectors.delete_version(doc_id, version)
            if stale:
                self.vectors.delete_ids(stale)
            return superseded

    def set_retired(self, doc_id: str, retired: bool) -> int | None:
        """Retire or restore a document; returns the affected version or None if nothing changed.

        Restoring re-embeds the version's stored chunks, since retiring removed its vectors.

        Raises:
            KeyError: unknown ``doc_id``.
        """
        with self._write_lock:
            if retired:
                version = self.catalog.set_retired(doc_id, True)
                if version is not None:
                    self.rebuild_lexical()
                    self.vectors.delete_version(doc_id, version)
                return version
            history = self.catalog.history(doc_id)
            if not history:
                raise NotFoundError("document", doc_id)
            latest = history[-1]
            chunks = self.catalog.version_chunks(doc_id, latest["version"])
            if chunks and latest["status"] != "active":
                self._fingerprint_for_write()
                self.vectors.add(chunks, self.embedder.encode([c.embedding_text() for c in chunks]))
            version = self.catalog.set_retired(doc_id, False)
            if version is not None:
                self.rebuild_lexical()
            return version

    def reindex(self, *, progress: Callable[[int, int], None] | None = None) -> ReindexReport:
        """Re-embed every active chunk with the configured model and swap the new vectors in.

        For a change of embedding model (or of how chunks are embedded). The chunks' text
        comes from the catalog, so source files are not needed; documents, versions and
        history are untouched. The old vectors stay searchable until the new ones are
        complete; if the job stops early, nothing changed and it can simply be run again.

        Args:
            progress: called with ``(chunks done, chunks in all)`` after each step.
        """
        started = time.perf_counter()
        with self._write_lock:
            embedder = self._raw_embedder()
            previous = self.catalog.index_info(EMBEDDING_KEY)
            staging = self.vectors.staging()
            embedded: dict[str, str] = {}
            while True:
                # Another process may ingest meanwhile: repeat until the catalog holds nothing new.
                active = self.catalog.active_chunks()
                gone = set(embedded) - {c.chunk_id for c in active}
                if gone:  # retired or superseded meanwhile
                    staging.delete_ids(sorted(gone))
                    for chunk_id in gone:
                        del embedded[chunk_id]
                pending = [c for c in active if embedded.get(c.chunk_id) != c.embedding_text()]
                if not pending:
                    break
                total = len(embedded) + len(pending)
                for start in range(0, len(pending), _REINDEX_STEP):
                    part = pending[start:start + _REINDEX_STEP]
                    texts = [c.embedding_text() for c in part]
                    staging.add(part, np.asarray(embedder.encode(texts), dtype=np.float32))
                    embedded.update((c.chunk_id, t) for c, t in zip(part, texts))
                    if progress is not None:
                        progress(min(len(embedded), total), total)
            self.vectors.replace_with(staging)
            fingerprint = self.embedding_fingerprint()
            self._checked = fingerprint.to_json()
            self.catalog.set_index_info(EMBEDDING_KEY, self._checked, bump=True)
            self.rebuild_lexical()
        return ReindexReport(chunks=len(active), model=model_label(embedder), dimension=fingerprint.dimension,
                             previous_model=EmbeddingFingerprint.from_json(previous).model if previous else None,
                             seconds=time.perf_counter() - started)
