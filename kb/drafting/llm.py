"""LLM drafter over LangChain chat models (OpenAI-compatible servers or Ollama).

``make_chat_model`` builds the client from :class:`kb.config.Settings`:

* ``llm_provider="openai"``: ``langchain_openai.ChatOpenAI`` with ``base_url`` (OpenAI, Azure
  OpenAI's v1 endpoint, vLLM, Ollama's ``/v1``, llama.cpp server, ...);
* ``llm_provider="ollama"``: ``langchain_ollama.ChatOllama``.

Personal data never reaches the model: the ticket and the conversation are redacted
with :mod:`kb.pii` first and the placeholders are restored in the returned text (and in
streamed tokens, see :class:`StreamRestorer`). Internal passages are never put in the
prompt. Nothing here logs ticket text.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Callable

from kb.config import Settings
from kb.drafting.models import Citation, Draft, DraftOptions, DraftRisk, TokenCallback
from kb.drafting.prompt import PROMPT_VERSION, build_messages
from kb.pii import RedactedText, redact
from kb.risk import CATEGORY_LABELS, RiskAssessment
from kb.thread import split_pasted_thread
from kb.types import Hit, Ticket

log = logging.getLogger(__name__)


class LLMUnavailable(RuntimeError):
    """The LLM could not produce a draft (error, timeout or empty answer)."""


def make_chat_model(settings: Settings, *, streaming: bool = True):
    """The LangChain chat model the settings describe.

    Raises:
        ValueError: ``llm_provider`` is ``"none"`` or ``llm_model`` is missing.
    """
    if settings.llm_provider == "none":
        raise ValueError("llm_provider is 'none': no LLM is configured")
    if not settings.llm_model:
        raise ValueError("llm_model must be set when llm_provider is not 'none'")
    if settings.llm_provider == "openai":
        from langchain_openai import ChatOpenAI

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        return ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url, api_key=key,
                          timeout=settings.llm_timeout_seconds, max_retries=settings.llm_max_retries,
                          temperature=settings.llm_temperature, streaming=streaming)
    from langchain_ollama import ChatOllama

    kwargs: dict[str, Any] = {"model": settings.llm_model, "temperature": settings.llm_temperature,
                              "client_kwargs": {"timeout": settings.llm_timeout_seconds}}
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    return ChatOllama(**kwargs)


class StreamRestorer:
    """Restores PII placeholders in streamed text, holding back a possibly split ``<PLACE_1>``."""

    def __init__(self, redacted: RedactedText) -> None:
        self._redacted = redacted
        self._buffer = ""

    def feed(self, piece: str) -> str:
        """Text safe to show now."""
        self._buffer += piece
        cut = self._buffer.rfind("<")
        if cut != -1 and ">" not in self._buffer[cut:] and len(self._buffer) - cut <= 24:
            ready, self._buffer = self._buffer[:cut], self._buffer[cut:]
        else:
            ready, self._buffer = self._buffer, ""
        return self._redacted.restore(ready)

    def flush(self) -> str:
        """Whatever is still held back."""
        ready, self._buffer = self._buffer, ""
        return self._redacted.restore(ready)


def _content(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, list):  # some providers stream content blocks
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "")


_SEPARATOR = "\n\n=== end of conversation ===\n\n"


def redact_ticket(ticket: Ticket, *, handles: bool = True) -> tuple[RedactedText, str, str]:
    """Redact conversation and ticket in one pass so placeholders are unique across both.

    A thread pasted into the ticket is taken apart first (:func:`kb.thread.split_pasted_thread`):
    the model answers the latest customer turn and reads the rest, oldest first, as the
    earlier conversation, whichever order it was pasted in.

    Returns:
        ``(redaction, redacted_context, redacted_ticket_text)``; ``redaction.restore`` puts
        every original back.
    """
    context, text = split_pasted_thread(ticket.context or "", ticket.text)
    if not context.strip():
        red = redact(text, handles=handles)
        return red, "", red.text
    red = redact(context + _SEPARATOR + text, handles=handles)
    context, _, text = red.text.partition(_SEPARATOR.strip())
    return red, context.strip(), text.strip()


class LLMDrafter:
    """Drafts with a chat model; raises :class:`LLMUnavailable` on any failure.

    Args:
        chat_model: a LangChain chat model (``invoke``/``stream``).
        redact_handles: also redact ``@handles`` before prompting.
    """

    mode = "llm"

    def __init__(self, chat_model, *, redact_handles: bool = True) -> None:
        self.chat_model = chat_model
        self.redact_handles = redact_handles

    def draft(self, ticket: Ticket, hits: list[Hit], options: DraftOptions, *,
              on_token: TokenCallback | None = None, risk: RiskAssessment | None = None,
              parallel_subjects: tuple[str, ...] = ()) -> Draft:
        """Prompt the model with the external passages of ``hits`` numbered from 1.

        ``parallel_subjects`` names the documents that answer the question separately when
        the ticket does not say which one it means; the model is told to keep them apart.

        The returned draft's citations cover every provided passage; the service keeps the
        ones the text actually uses and removes invalid markers.
        """
        start = time.perf_counter()
        passages = [h for h in hits if not h.is_internal]
        redacted, red_context, red_text = redact_ticket(ticket, handles=self.redact_handles)
        language = options.language or "en"
        risk_note = None
        if risk is not None and risk.is_high:
            labels = ", ".join(CATEGORY_LABELS[c].lower() for c in risk.categories)
            risk_note = f"this ticket needs careful handling ({labels})."
        messages = build_messages(red_text, red_context, passages, tone=options.tone,
                                  length=options.length, language=language, risk_note=risk_note,
                                  channel=options.channel, parallel_subjects=parallel_subjects)
        try:
            if on_token is not None:
                stream = StreamRestorer(redacted)
                pieces = []
                for chunk in self.chat_model.stream(messages):
                    piece = _content(chunk)
                    pieces.append(piece)
                    ready = stream.feed(piece)
                    if ready:
                        on_token(ready)
                tail = stream.flush()
                if tail:
                    on_token(tail)
                raw = "".join(pieces)
            else:
                raw = _content(self.chat_model.invoke(messages))
        except Exception as exc:  # any client error means: fall back, never crash the desk
            log.warning("LLM draft failed: %s", type(exc).__name__)
            raise LLMUnavailable(f"{type(exc).__name__}: {_short(exc)}") from exc
        if not raw.strip():
            raise LLMUnavailable("empty answer from the model")
        text = redacted.restore(raw.strip())
        citations = tuple(Citation(n=n, doc_id=h.doc_id, title=h.title, version=h.version, page=h.page,
                                   section=h.section, quote=_quote(h.text), chunk_id=h.chunk_id)
                          for n, h in enumerate(passages, start=1))
        return Draft(text=text, citations=citations, mode=self.mode, risk=DraftRisk(RiskAssessment("normal", (), ())),
                     redactions=len(redacted.redactions), language=language,
                     timings={"draft": time.perf_counter() - start}, prompt_version=PROMPT_VERSION)


def is_outage(exc: BaseException) -> bool:
    """Whether a failure means the endpoint is down or hanging, not that one request was bad.

    Connection failures, timeouts and 5xx answers are outages; a 4xx (say, a prompt over
    the context length) or an unusable answer concerns one ticket only.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = type(exc).__name__
        if isinstance(exc, (ConnectionError, TimeoutError)) or "Timeout" in name or "Connect" in name:
            return True
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and status >= 500:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class LLMCooldown:
    """After an outage, skip the endpoint for a while instead of making every draft wait.

    A hanging server costs each draft the full timeout times the retries (a minute by
    default) before the offline fallback; once one call has shown the outage, the next
    drafts go offline at once until ``seconds`` have passed, then the endpoint is tried
    again. Shared by every draft in the process (see :func:`cooldown_for`).

    Args:
        seconds: how long to skip the endpoint after an outage.
        clock: monotonic time source (tests pass their own).
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0
        self._since = 0.0
        self._reason = ""

    def skip_reason(self) -> str | None:
        """Why the endpoint is being skipped now, or ``None`` when it should be called."""
        with self._lock:
            now = self._clock()
            if now >= self._until:
                return None
            return (f"the LLM endpoint failed {now - self._since:.0f} s ago ({self._reason}); drafting offline "
                    f"for {self._until - now:.0f} s more before trying it again")

    def record_failure(self, exc: BaseException) -> None:
        """Start the cool-down if ``exc`` is an outage (see :func:`is_outage`)."""
        if self.seconds <= 0 or not is_outage(exc):
            return
        with self._lock:
            self._since = self._clock()
            self._until = self._since + self.seconds
            self._reason = _short(exc)

    def record_success(self) -> None:
        """The endpoint answered: end any cool-down."""
        with self._lock:
            self._until = 0.0


_COOLDOWNS: dict[tuple, LLMCooldown] = {}
_COOLDOWNS_LOCK = threading.Lock()


def cooldown_for(settings: Settings, llm=None) -> LLMCooldown:
    """The process-wide cool-down of the endpoint ``settings`` (or an injected ``llm``) drafts with."""
    if llm is not None:
        key: tuple = ("injected", id(llm))
    else:
        key = (settings.llm_provider, settings.llm_base_url, settings.llm_model)
    with _COOLDOWNS_LOCK:
        cooldown = _COOLDOWNS.get(key)
        if cooldown is None:
            cooldown = _COOLDOWNS[key] = LLMCooldown(settings.llm_cooldown_seconds)
        cooldown.seconds = settings.llm_cooldown_seconds
        return cooldown


def _quote(text: str, limit: int = 300) -> str:
    flat = " ".join(re.sub(r"^\s*>\s?", "", line) for line in text.splitlines()).strip()
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + " …"


def _short(exc: BaseException) -> str:
    # Client errors can echo a request body; keep only the first line, trimmed.
    message = str(exc).splitlines()[0] if str(exc) else ""
    return message[:160]
