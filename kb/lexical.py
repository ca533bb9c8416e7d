"""BM25 index (bm25s) over the active chunks, persisted under the data home.

The index is rebuilt after each change of the searchable set and written atomically
(new folder, then rename); queries load it once and reload only when the catalog's
generation moves on, so nothing is rebuilt per query.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from kb.fuzzy import OneEditNeighbours
from kb.types import Chunk, SearchFilters
from kb.words import words

# A compact English stop list: BM25 gains little from function words and noisy
# transcripts are full of them ("uh", "umm").
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its
me my of on or our she so than that the their them then there these they this to too us was we were what when where
which who will with would you your yours i'm it's that's there's um umm ummm uh uhh hmm ok okay yeah oh
im ive id youre theyre thats whats theres dont didnt doesnt havent hasnt hadnt isnt wasnt werent arent
couldnt wouldnt shouldnt cant wont
""".split())


class _Stemmer:
    _instance = None
    _lock = threading.Lock()

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._instance is None:
                import Stemmer

                cls._instance = Stemmer.Stemmer("english")
            return cls._instance


#: Stored with the index: an index built by another tokenizer is rebuilt before use.
#: 2: words of every script (was: ASCII only, other letters dropped).
#: 3: a title that is only the document's id is no longer indexed with its chunks.
TOKENIZER_VERSION = 3


def tokenize(text: str) -> list[str]:
    """Stemmed content-word tokens of ``text`` (:func:`kb.words.words`: any script; Chinese,
    Japanese and Thai as character pairs)."""
    tokens = [w.split("'")[0] for w in words(text)]
    tokens = [w for w in tokens if w and w not in STOPWORDS]
    return _Stemmer.get().stemWords(tokens)


class LexicalIndex:
    """A persisted bm25s index of the active chunks with per-chunk filter fields."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._retriever = None
        self._chunk_ids: list[str] = []
        self._fields: dict[str, list | np.ndarray] = {}
        self._external: np.ndarray | None = None
        self._by_title: dict[str, list[int]] | None = None
        self._one_edit: OneEditNeighbours | None = None
        self._generation = -1
        self._lock = threading.Lock()

    # ---- build ------------------------------------------------------------------
    def rebuild(self, chunks: Sequence[Chunk], generation: int) -> None:
        """Index ``chunks`` and persist atomically, tagged with the catalog generation."""
        import bm25s

        tmp = self.folder.with_name(self.folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        corpus_tokens = [tokenize(c.embedding_text()) or ["_empty_"] for c in chunks]
        fields = {
            "doc_type": [c.doc_type for c in chunks], "region": [c.region or "" for c in chunks],
            "language": [c.language or "" for c in chunks], "audience": [c.audience for c in chunks],
            "tags": [list(c.tags) for c in chunks], "title": [c.title for c in chunks],
        }
        if chunks:
            retriever = bm25s.BM25()
            retriever.index(corpus_tokens, show_progress=False)
            retriever.save(str(tmp / "bm25"))
        (tmp / "meta.json").write_text(json.dumps({"generation": generation, "tokenizer": TOKENIZER_VERSION,
                                                   "chunk_ids": [c.chunk_id for c in chunks],
                                                   "fields": fields}))
        old = self.folder.with_name(self.folder.name + f".old{os.getpid()}")
        with self._lock:
            if self.folder.exists():
                os.replace(self.folder, old)
            os.replace(tmp, self.folder)
            shutil.rmtree(old, ignore_errors=True)
            self._generation = -1

    # ---- query ------------------------------------------------------------------
    def _ensure_loaded(self, generation: int) -> None:
        if self._generation == generation:
            return
        with self._lock:
            if self._generation == generation:
                return
            meta_file = self.folder / "meta.json"
            # Lookups derived from the index are rebuilt lazily for the new generation.
            self._by_title, self._one_edit = None, None
            if not meta_file.is_file():
                self._retriever, self._chunk_ids, self._fields = None, [], {}
                self._generation = generation
                return
            import bm25s

            meta = json.loads(meta_file.read_text())
            self._chunk_ids = meta["chunk_ids"]
            # Arrays once per generation: converting 100k-long lists on every query costs milliseconds.
            self._fields = {name: (values if name == "tags" else np.asarray(values))
                            for name, values in meta["fields"].items()}
            self._external = self._fields["audience"] != "internal" if "audience" in self._fields else None
            self._retriever = bm25s.BM25.load(str(self.folder / "bm25")) if self._chunk_ids else None
            self._generation = meta["generation"] if meta["generation"] == generation else generation

    def _mask(self, filters: SearchFilters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        n = len(self._chunk_ids)
        if filters.titles:
            mask = np.zeros(n, dtype=bool)
            mask[self._positions_matching(filters)] = True
            return mask
        mask = np.ones(n, dtype=bool)
        for name, wanted in (("doc_type", filters.doc_types), ("region", filters.regions),
                             ("language", filters.languages)):
            if wanted:
                mask &= np.isin(self._fields[name], list(wanted))
        if filters.tags:
            wanted_tags = set(filters.tags)
            mask &= np.fromiter((bool(wanted_tags & set(t)) for t in self._fields["tags"]), dtype=bool, count=n)
        if not filters.include_internal:
            mask &= self._external
        return mask

    def _positions_matching(self, filters: SearchFilters) -> list[int]:
        """Positions of the chunks that pass ``filters`` (which name ``titles``), via a title index."""
        with self._lock:
            if self._by_title is None:
                by_title: dict[str, list[int]] = {}
                for position, title in enumerate(self._fields.get("title", ())):
                    by_title.setdefault(str(title), []).append(position)
                self._by_title = by_title
            by_title = self._by_title
        positions = sorted(p for title in dict.fromkeys(filters.titles) for p in by_title.get(title, ()))
        fields = self._fields
        wanted_tags = set(filters.tags)
        return [p for p in positions
                if (not filters.doc_types or fields["doc_type"][p] in filters.doc_types)
                and (not filters.regions or fields["region"][p] in filters.regions)
                and (not filters.languages or fields["language"][p] in filters.languages)
                and (not wanted_tags or wanted_tags & set(fields["tags"][p]))
                and (filters.include_internal or fields["audience"][p] != "internal")]

    def indexed_chunk_ids(self, generation: int) -> list[str]:
        """Ids of every indexed (active) chunk, in index order (do not modify the list)."""
        self._ensure_loaded(generation)
        return self._chunk_ids

    def filter_mask(self, filters: SearchFilters | None, generation: int) -> np.ndarray | None:
        """Which indexed chunks pass ``filters``, aligned with :meth:`indexed_chunk_ids`
        (None: all of them)."""
        self._ensure_loaded(generation)
        return self._mask(filters)

    def chunk_ids_matching(self, filters: SearchFilters, generation: int) -> list[str]:
        """Ids of the indexed chunks that pass ``filters``, which must name ``titles``.

        Looked up through a title index, so the cost follows the few named documents,
        not the size of the knowledge base.
        """
        if not filters.titles:
            raise ValueError("chunk_ids_matching needs filters.titles")
        self._ensure_loaded(generation)
        return [self._chunk_ids[p] for p in self._positions_matching(filters)]

    def corrections(self, query_tokens: Sequence[str], generation: int) -> list[str]:
        """Indexed terms that unknown query terms most likely stand for (typos: "refnud" -> "refund").

        A term the index does not know cannot match anything, so adding its near neighbours
        (one edit, terms of five letters or more, at most three each) only adds evidence.
        """
        self._ensure_loaded(generation)
        retriever = self._retriever
        if retriever is None:
            return []
        vocab = retriever.vocab_dict
        unknown = [t for t in dict.fromkeys(query_tokens) if len(t) >= 5 and t.isalpha() and t not in vocab]
        if not unknown:
            return []
        with self._lock:
            if self._one_edit is None:
                self._one_edit = OneEditNeighbours((t for t in vocab if t.isalpha()), min_length=4)
            one_edit = self._one_edit
        return [near for term in unknown for near in one_edit(term, limit=3)]

    def search(self, query_tokens: list[str], n: int, generation: int,
               filters: SearchFilters | None = None) -> list[tuple[str, float]]:
        """Top chunks by BM25 as ``(chunk_id, score)``, best first."""
        self._ensure_loaded(generation)
        retriever = self._retriever
        if retriever is None:
            return []
        vocab = retriever.vocab_dict
        tokens = [t for t in query_tokens if t in vocab]
        if not tokens:
            return []
        mask = self._mask(filters)
        scores = retriever.get_scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        # Only matching chunks can rank: selecting among them, not among all N, keeps the
        # cost with the query's postings (argpartition over 100k scores alone is ~0.5 ms).
        matching = np.flatnonzero(scores > 0)
        if matching.size > n:
            matching = matching[np.argpartition(-scores[matching], n - 1)[:n]]
        top = matching[np.argsort(-scores[matching], kind="stable")]
        return [(self._chunk_ids[i], float(scores[i])) for i in top]
