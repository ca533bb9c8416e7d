"""Typed records of the drafting core: options in, a grounded :class:`Draft` out.

Everything is a frozen dataclass so a draft shown to a specialist is exactly the draft
that was validated: citations, grounding and risk cannot drift after the checks ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol, runtime_checkable

from kb.risk import RiskAssessment
from kb.types import Hit, Ticket

Tone = Literal["friendly", "formal", "empathetic"]
Length = Literal["short", "normal", "detailed"]
TONES: tuple[str, ...] = ("friendly", "formal", "empathetic")
LENGTHS: tuple[str, ...] = ("short", "normal", "detailed")
#: Where the reply goes; it decides the reply's form (an e-mail signs off, a chat message does
#: not, a public social reply stays short and moves account matters to a direct message, a
#: phone reply is a talk track).
CHANNELS: tuple[str, ...] = ("email", "chat", "in-app", "social", "phone")
MODES: tuple[str, ...] = ("offline", "llm")

#: Called with each streamed piece of draft text (LLM mode only).
TokenCallback = Callable[[str], None]


@dataclass(frozen=True)
class DraftOptions:
    """How the reply should read.

    Attributes:
        tone: ``friendly`` | ``formal`` | ``empathetic``.
        length: ``short`` | ``normal`` | ``detailed``.
        language: ISO 639-1 code of the reply; ``None`` means the ticket's language.
        channel: one of :data:`CHANNELS`.
    """

    tone: str = "friendly"
    length: str = "normal"
    language: str | None = None
    channel: str = "email"

    def __post_init__(self) -> None:
        if self.tone not in TONES:
            raise ValueError(f"tone must be one of {TONES}, not {self.tone!r}")
        if self.length not in LENGTHS:
            raise ValueError(f"length must be one of {LENGTHS}, not {self.length!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, not {self.channel!r}")


@dataclass(frozen=True)
class Citation:
    """One numbered source of a draft; ``[n]`` in the text refers to it."""

    n: int
    doc_id: str
    title: str
    version: int
    page: int | None
    section: str | None
    quote: str
    chunk_id: str

    def to_dict(self) -> dict:
        """JSON form used by the CLI (``chunk_id`` is kept out of the user-facing shape)."""
        return {"n": self.n, "doc_id": self.doc_id, "title": self.title, "version": self.version,
                "page": self.page, "section": self.section, "quote": self.quote}


@dataclass(frozen=True)
class GroundingSentence:
    """One content sentence of a draft and whether the passages it cites support it."""

    text: str
    cited: tuple[int, ...]
    supported: bool
    score: float
    #: Numbers the sentence states that neither its cited passages nor the ticket do ("30"
    #: days where the policy says 14): such a sentence is not supported, however close.
    unstated_figures: tuple[str, ...] = ()
    #: Other particulars it states that they do not: a number in another unit ("14 hours"),
    #: a contact channel ("by phone"), a link, a day or month.
    unstated_details: tuple[str, ...] = ()
    #: The cited sentence it restates with the opposite polarity ("not"), when it does.
    reverses: str = ""

    def problems(self) -> str:
        """Why the sentence is not supported, in words ("" when it is)."""
        if self.supported:
            return ""
        if not self.cited:
            return "cites no source"
        stated = [*self.unstated_figures, *self.unstated_details]
        if stated:
            return f"states {', '.join(stated)}, which its sources do not"
        if self.reverses:
            return f"says the opposite of its source: \"{self.reverses}\""
        return "not supported by what it cites"


@dataclass(frozen=True)
class GroundingReport:
    """Per-sentence support of a draft by its cited passages."""

    sentences: tuple[GroundingSentence, ...] = ()

    @property
    def supported(self) -> int:
        """Number of supported sentences."""
        return sum(1 for s in self.sentences if s.supported)

    @property
    def rate(self) -> float:
        """Share of supported sentences (1.0 for a draft without content sentences)."""
        return self.supported / len(self.sentences) if self.sentences else 1.0

    def why_unsupported(self) -> str:
        """What the unsupported sentences get wrong, for a caption: "" when nothing is named,
        else e.g. " (details the sources do not state: 30, by phone; 1 says the opposite of its
        source)"."""
        stated = dict.fromkeys(d for s in self.sentences if not s.supported
                               for d in (*s.unstated_figures, *s.unstated_details))
        reversals = sum(1 for s in self.sentences if not s.supported and s.reverses)
        parts = [f"details the sources do not state: {', '.join(stated)}"] if stated else []
        if reversals:
            parts.append(f"{reversals} {'says' if reversals == 1 else 'say'} the opposite of its source")
        return f" ({'; '.join(parts)})" if parts else ""

    def to_dict(self) -> dict:
        """``{"sentences": [...], "supported": n}``."""
        return {"sentences": [{"text": s.text, "cited": list(s.cited), "supported": s.supported,
                               "score": round(s.score, 3), "unstated_figures": list(s.unstated_figures),
                               "unstated_details": list(s.unstated_details), "reverses": s.reverses}
                              for s in self.sentences],
                "supported": self.supported}


@dataclass(frozen=True)
class DraftRisk:
    """Risk of the ticket and, when high, the escalation procedure the specialist must follow.

    Attributes:
        assessment: the detector's result.
        escalation: passages of the escalation procedure (may be internal: they are shown to
            the specialist, never quoted in the reply).
    """

    assessment: RiskAssessment
    escalation: tuple[Hit, ...] = ()

    @property
    def level(self) -> str:
        """``"high"`` or ``"normal"``."""
        return self.assessment.level

    def to_dict(self) -> dict:
        """``{level, categories, evidence, escalation}`` (escalation as document references)."""
        out = self.assessment.to_dict()
        out["escalation"] = [{"doc_id": h.doc_id, "title": h.title, "version": h.version, "section": h.section,
                              "page": h.page, "audience": h.audience} for h in self.escalation]
        return out


@dataclass(frozen=True)
class Draft:
    """A reply draft with everything a specialist needs to trust or fix it.

    Attributes:
        text: the reply, with ``[n]`` citation markers.
        citations: sources referenced in ``text`` (only valid, external ones).
        mode: ``"offline"`` (deterministic assembler) or ``"llm"``.
        risk: ticket risk and escalation procedure.
        grounding: per-sentence support report.
        insufficient_guidance: retrieval was not confident; the draft asks the specialist to
            check with a knowledge owner instead of answering.
        redactions: how many personal-data spans were redacted before drafting.
        fallback_reason: why an LLM draft fell back to offline (``None`` otherwise).
        invalid_citations_removed: citation numbers removed because they named no provided
            external passage.
        timings: seconds per stage (``retrieve``, ``risk``, ``draft``, ``validate``, ...).
        language: language the reply was written for.
        confidence: retrieval confidence used for the insufficient-guidance decision.
        internal_guidance: internal passages relevant to the ticket, for the specialist only.
        prompt_version: version of the prompt template (LLM mode).
        answered: the customer turn the draft answers when the ticket was a pasted thread
            (:func:`kb.thread.split_pasted_thread`), so the specialist can check how it was
            read; ``None`` when the ticket was the message alone.
        parallel_sources: titles of documents that answer the ticket's question separately
            (one per hotel, product, plan ...; :func:`kb.drafting.parallel.parallel_answers`):
            the specialist confirms which one the customer means.
        staff_only_sources: sections among the best-matching guidance that are written for
            staff only (every sentence an instruction to the desk), so an offline draft quotes
            nothing from them: the specialist answers from them.
    """

    text: str
    citations: tuple[Citation, ...]
    mode: str
    risk: DraftRisk
    grounding: GroundingReport = GroundingReport()
    insufficient_guidance: bool = False
    redactions: int = 0
    fallback_reason: str | None = None
    invalid_citations_removed: tuple[int, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    language: str | None = None
    confidence: float | None = None
    internal_guidance: tuple[Hit, ...] = ()
    prompt_version: str | None = None
    answered: str | None = None
    parallel_sources: tuple[str, ...] = ()
    staff_only_sources: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The JSON shape of ``replydesk draft --json``."""
        return {"mode": self.mode, "text": self.text, "citations": [c.to_dict() for c in self.citations],
                "risk": self.risk.to_dict(), "grounding": self.grounding.to_dict(),
                "insufficient_guidance": self.insufficient_guidance, "redactions": self.redactions,
                "answered": self.answered, "parallel_sources": list(self.parallel_sources),
                "staff_only_sources": list(self.staff_only_sources)}


@runtime_checkable
class Drafter(Protocol):
    """Anything that turns a ticket and its retrieved passages into a :class:`Draft`."""

    def draft(self, ticket: Ticket, hits: list[Hit], options: DraftOptions) -> Draft:
        """Draft a reply from ``hits`` (internal hits must never be quoted)."""


@runtime_checkable
class KnowledgeGapLog(Protocol):
    """Where tickets the knowledge base could not answer are recorded (``kb.records.RecordsStore``)."""

    def log_knowledge_gap(self, ticket_text: str, hits: list[dict], top_score: float) -> None:
        """Record a gap; ``ticket_text`` is already redacted."""
