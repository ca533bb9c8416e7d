"""The resources one data home needs, opened lazily and shared by the service functions."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from kb.config import Settings
from kb.records import RecordsStore
from kb.types import IngestReport

log = logging.getLogger(__name__)

#: A ticket-like probe for :meth:`Workspace.warm_up` (never stored, never shown).
_WARM_UP_PROBE = "warm-up: is my payout on hold?"

#: Memoised text embeddings kept per workspace (about 30 MB at 384 dimensions).
_MAX_CACHED_VECTORS = 20000

#: ``(knowledge base, paths, metadata) -> IngestReport``. The app supplies it (it wraps
#: ``ingest.pipeline.Ingestor``), because ``kb`` must not import ``ingest``. ``metadata``
#: holds the fields of ``ingest.pipeline.MetadataDefaults``.
IngestRunner = Callable[[Any, Sequence[Path], dict], IngestReport]


class Workspace:
    """Settings, records store, knowledge base and retriever of one data home.

    Args:
        settings: configuration.
        ingest_runner: how to ingest files (needed for uploads and Q&A approval).
        kb: an already opened knowledge base (tests inject one with a small embedder).
        llm: a chat model handed to the drafter; None builds one from the settings when an
            LLM provider is configured.
    """

    def __init__(self, settings: Settings, *, ingest_runner: IngestRunner | None = None, kb=None,
                 llm=None) -> None:
        self.settings = settings
        self.store = RecordsStore(settings.records_url)
        self._ingest_runner = ingest_runner
        self._kb = kb
        self._retriever = None
        self.llm = llm
        # Re-entrant: ``retriever`` opens ``kb`` while holding it.
        self._lock = threading.RLock()
        self._vectors: dict[str, object] = {}

    @property
    def kb(self):
        """The knowledge base (opened on first use; its BM25 index is brought up to date)."""
        if self._kb is None:
            with self._lock:
                if self._kb is None:
                    from kb.knowledge_base import KnowledgeBase

                    kb = KnowledgeBase(self.settings)
                    kb.ensure_lexical()
                    self._kb = kb
        return self._kb

    @property
    def retriever(self):
        """A :class:`kb.retrieval.Retriever` over :attr:`kb`."""
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    from kb.retrieval import Retriever

                    self._retriever = Retriever(self.kb)
        return self._retriever

    def warm_up(self) -> float:
        """Load what the first draft would otherwise wait for; returns the seconds it took.

        Opens the knowledge base, loads the embedding model (checksum, ONNX graph and tokenizer:
        under a second once the graph was exported on this machine; else the PyTorch import,
        checksum and weights: about 5 s on 2 cores), runs one search so the BM25 and in-memory vector indexes are read,
        and encodes the semantic risk exemplars. Nothing is stored. Safe to run in a
        background thread while requests are served: the model and indexes load under locks.
        """
        from kb.risk import assess_risk
        from kb.types import Ticket

        started = time.perf_counter()
        self.retriever.search(Ticket(text=_WARM_UP_PROBE), k=1)
        if self.settings.draft_semantic_risk:
            assess_risk(_WARM_UP_PROBE, embedder=self.kb.embedder, semantic_threshold=self.settings.semantic_risk_threshold,
                        semantic_margin=self.settings.semantic_risk_margin, extra_examples=self.settings.risk_examples)
        return time.perf_counter() - started

    def start_warm_up(self) -> threading.Thread:
        """Run :meth:`warm_up` in a daemon thread; a failure is logged, not raised.

        The app calls this when it opens the workspace, so the model loads while the first
        user signs in. If loading fails (say, a model checksum mismatch) the first real
        request fails with the same error, shown to the user.
        """

        def run() -> None:
            try:
                seconds = self.warm_up()
            except Exception:  # noqa: BLE001 - the first real request reports it to the user
                log.warning("warm-up failed; the first request will load the resources itself", exc_info=True)
            else:
                log.info("warm-up done in %.1f s", seconds)

        thread = threading.Thread(target=run, name="replydesk-warm-up", daemon=True)
        thread.start()
        return thread

    def embed(self, texts: Sequence[str]):
        """Embed texts with the knowledge base's embedder (L2-normalised rows).

        Vectors are memoised per text: dashboards re-group the same tickets on every rerun.
        """
        import numpy as np

        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, self.kb.embedder.encode(missing)):
                if len(self._vectors) >= _MAX_CACHED_VECTORS:
                    self._vectors.pop(next(iter(self._vectors)))
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def ingest(self, paths: Sequence[Path], metadata: dict) -> IngestReport:
        """Run the configured ingest on ``paths``.

        Raises:
            RuntimeError: no ingest runner was configured.
        """
        if self._ingest_runner is None:
            raise RuntimeError("this workspace was opened without an ingest runner")
        return self._ingest_runner(self.kb, list(paths), dict(metadata))
