"""Admin services: settings overview (with an LLM reachability probe) and the audit log."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from kb.auth import CurrentUser, authorize
from kb.config import Settings
from kb.records import AuditRecord
from kb.services.workspace import Workspace

_DEFAULT_LLM_URLS = {"ollama": "http://127.0.0.1:11434", "openai": "https://api.openai.com/v1"}


@dataclass(frozen=True)
class LlmStatus:
    """Whether the configured LLM endpoint answers a TCP connection."""

    provider: str
    model: str | None
    base_url: str | None
    configured: bool
    reachable: bool | None  # None when not configured
    detail: str


def llm_status(settings: Settings, *, timeout: float = 2.0) -> LlmStatus:
    """Probe the LLM endpoint with a TCP connect (no request is sent, no key is used)."""
    provider = settings.llm_provider
    if provider == "none":
        return LlmStatus(provider, settings.llm_model, None, False, None,
                         "No LLM configured: drafts are extractive (REPLYDESK_LLM_PROVIDER=ollama|openai).")
    base_url = settings.llm_base_url or _DEFAULT_LLM_URLS.get(provider)
    parsed = urlparse(base_url or "")
    host = parsed.hostname
    if not host:
        return LlmStatus(provider, settings.llm_model, base_url, True, False, f"invalid base URL {base_url!r}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return LlmStatus(provider, settings.llm_model, base_url, True, False,
                         f"cannot connect to {host}:{port} ({exc.__class__.__name__}: {exc})")
    return LlmStatus(provider, settings.llm_model, base_url, True, True, f"{host}:{port} accepts connections")


@dataclass(frozen=True)
class Overview:
    """The admin settings page."""

    settings: dict[str, str]
    llm: LlmStatus
    kb_counts: dict[str, int]
    record_counts: dict[str, int]
    #: Things an administrator should act on (shown as warnings).
    warnings: tuple[str, ...] = ()


def _redact_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def _vectors_made_by(ws: Workspace) -> str:
    recorded = ws.kb.recorded_fingerprint()
    if recorded is None:
        return "— (nothing embedded yet, or written before this was recorded)"
    return f"{recorded.model} ({recorded.dimension} dimensions)"


def overview(ws: Workspace, actor: CurrentUser) -> Overview:
    """Model, LLM endpoint, store paths and counts. Secrets are never included."""
    authorize(ws.store, actor, "settings.view")
    s = ws.settings
    shown = {
        "Data home": str(s.home.resolve()),
        "Records database": _redact_url(s.records_url),
        "Vector store": f"Chroma server {s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.chroma_dir),
        "Collection": s.collection,
        "BM25 index": str(s.bm25_dir),
        "Embedding model": s.embedding_model,
        "Vectors made by": _vectors_made_by(ws),
        "Embedding device": s.embedding_device,
        "Embedding runtime": ws.kb.embedding_runtime(),
        "Chunk size (tokens)": f"{s.chunk_tokens} (overlap {s.chunk_overlap_tokens})",
        "Min. guidance confidence": f"{s.draft_min_confidence:.2f}",
        "Semantic risk layer": (f"threshold {s.semantic_risk_threshold:g}, margin {s.semantic_risk_margin:g}"
                                if s.draft_semantic_risk else "off (keyword cues only)"),
        "Grounding check": (f"cosine {s.grounding_min_cosine:g}, {s.grounding_min_cosine_with_overlap:g} with "
                            "word overlap"),
        "LLM provider": s.llm_provider,
        "LLM model": s.llm_model or "—",
        "LLM API key": "set" if s.llm_api_key else "not set",
        "Session timeout": f"{s.session_timeout_minutes} min",
    }
    return Overview(settings=shown, llm=llm_status(s), kb_counts=ws.kb.catalog.counts(),
                    record_counts=ws.store.counts(), warnings=_calibration_warnings(s))


def _calibration_warnings(settings) -> tuple[str, ...]:
    from kb.config import BUNDLED_MODEL_NAME

    if settings.embedding_model == BUNDLED_MODEL_NAME:
        return ()
    # Cosines live on each model's own scale; the shipped thresholds are the bundled model's.
    return (f"The embedding model is {settings.embedding_model}, but the thresholds were calibrated for "
            f"{BUNDLED_MODEL_NAME}. Fit the insufficient-guidance threshold to it with `replydesk eval threshold "
            "--tickets FILE --not-covered FILE` (REPLYDESK_DRAFT_MIN_CONFIDENCE) and the semantic risk layer with "
            "`replydesk eval risk --tickets FILE` (REPLYDESK_SEMANTIC_RISK_THRESHOLD and _MARGIN), and the "
            "grounding check with `replydesk eval grounding --tickets FILE` (REPLYDESK_GROUNDING_MIN_COSINE and "
            "_WITH_OVERLAP).",)


def audit_log(ws: Workspace, actor: CurrentUser, *, action: str | None = None, username: str | None = None,
              since: datetime | None = None, limit: int = 500) -> list[AuditRecord]:
    """Audit entries, newest first."""
    authorize(ws.store, actor, "audit.view")
    return ws.store.list_audit(action=action or None, username=username or None, since=since, limit=limit)
