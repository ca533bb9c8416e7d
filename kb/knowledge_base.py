"""The knowledge base facade: catalog + Chroma + BM25 + embedder behind one object.

Writers (ingest, retire, restore) go through :meth:`KnowledgeBase.commit` and friends so
the three stores change in an order that never exposes a half-written state:

1. new chunks are upserted into Chroma (not yet searchable: the catalog still names the
   old version active, and every hit is checked against the catalog);
2. one SQL transaction makes the new versions active and the old ones superseded;
3. the BM25 index is rebuilt from the catalog and swapped in atomically;
4. the old versions' vectors are deleted from Chroma (their text stays in history).
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from kb.catalog import Catalog
from kb.config import Settings
from kb.embedder import TextEmbedder, get_embedder
from kb.lexical import LexicalIndex
from kb.store import VectorStore, make_chroma_client
from kb.types import Chunk, DocumentMeta, NotFoundError


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
        self._active: tuple[int, dict[str, int]] = (-1, {})

    @property
    def embedder(self) -> TextEmbedder:
        """The embedder (loaded lazily on first use)."""
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
        return self._embedder

    # ---- state ------------------------------------------------------------------
    def active_versions(self) -> tuple[int, dict[str, int]]:
        """``(generation, doc_id -> active version)``, cached per generation."""
        generation = self.catalog.generation()
        if self._active[0] != generation:
            self._active = (generation, self.catalog.active_versions())
        return self._active

    def ensure_lexical(self) -> None:
        """Rebuild the BM25 index when it lags the catalog (e.g. after a crash mid-ingest)."""
        generation = self.catalog.generation()
        meta = self.settings.bm25_dir / "meta.json"
        if generation and not meta.is_file():
            self.rebuild_lexical()
            return
        if meta.is_file():
            import json

            if json.loads(meta.read_text()).get("generation") != generation:
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
            if all_chunks:
                vectors = np.concatenate([v for _, chunks, v in entries if len(chunks)])
                self.vectors.add(all_chunks, vectors)
            superseded = self.catalog.activate_versions([(meta, chunks) for meta, chunks, _ in entries])
            if rebuild_lexical:
                self.rebuild_lexical()
            for doc_id, version in superseded:
                self.vectors.delete_version(doc_id, version)
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
                self.vectors.add(chunks, self.embedder.encode([c.embedding_text() for c in chunks]))
            version = self.catalog.set_retired(doc_id, False)
            if version is not None:
                self.rebuild_lexical()
            return version

