"""Typed records that flow between the knowledge-base components.

They are frozen dataclasses on purpose: a ``Hit`` handed to the drafter must be the
same ``Hit`` the retriever produced, so nothing downstream can quietly rewrite a
source before it is cited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

DocType = Literal["sop", "policy", "qa"]
DOC_TYPES: tuple[str, ...] = ("sop", "policy", "qa")
AUDIENCES: tuple[str, ...] = ("external", "internal")


class NotFoundError(KeyError):
    """A record asked for by id does not exist.

    A :class:`KeyError`, so ``except KeyError`` still catches it; ``str()`` reads as a
    sentence ("unknown draft 42") instead of a quoted key.

    Args:
        kind: what was looked up ("document", "draft", "user", "proposal").
        key: the id asked for.
    """

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"unknown {kind} {key!r}" if isinstance(key, str) else f"unknown {kind} {key}")
        self.kind = kind
        self.key = key

    def __str__(self) -> str:
        return str(self.args[0])


class SetupError(RuntimeError):
    """The installation or configuration stops the work; the message says how to fix it.

    Edges (CLI, app) show it as a plain error instead of a traceback.
    """


@dataclass(frozen=True)
class DocumentMeta:
    """Metadata describing one version of a source document."""

    doc_id: str
    title: str
    doc_type: str = "sop"
    version: int = 1
    effective_date: str | None = None
    owner: str | None = None
    region: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    source_file: str | None = None
    sha256: str = ""
    audience: str = "external"
    review_by: str | None = None
    #: The chunking rules and sizes the version's chunks were cut with (None: before this was recorded).
    chunking: str | None = None


@dataclass(frozen=True)
class Section:
    """A structural unit of a loaded document (a page, a heading section, a Q&A pair)."""

    text: str
    page: int | None = None
    section: str | None = None
    audience: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


def _has_word(text: str) -> bool:
    """Whether ``text`` holds a word: three or more letters between non-letters."""
    return any(token.isalpha() and len(token) >= 3 for token in re.findall(r"[^\W_]+", text))


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage of one document version."""

    chunk_id: str
    doc_id: str
    version: int
    ordinal: int
    text: str
    title: str
    doc_type: str
    page: int | None = None
    section: str | None = None
    audience: str = "external"
    region: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()

    def embedding_text(self) -> str:
        """Text given to the embedder and to BM25: title and section give context.

        A title that is only the document's id and holds no word ("10234", "ug7v899j",
        "KB-0042": what a corpus without titles gets, e.g. a BEIR folder) names nothing, so it
        is left out rather than embedded as noise; an id made of words ("reset-password") stays.
        """
        title = self.title.strip()
        parts = [title] if title and not (title == self.doc_id and not _has_word(title)) else []
        if self.section and self.section != self.title:
            parts.append(self.section)
        head = " > ".join(parts)
        return f"{head}\n{self.text}" if head else self.text


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its per-retriever evidence."""

    chunk_id: str
    doc_id: str
    version: int
    title: str
    doc_type: str
    text: str
    score: float
    page: int | None = None
    section: str | None = None
    audience: str = "external"
    region: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    dense_score: float | None = None
    bm25_score: float | None = None
    rank_sources: tuple[str, ...] = ()

    @classmethod
    def from_chunk(cls, chunk: Chunk, score: float, **evidence) -> Hit:
        """The hit of ``chunk`` with its fused ``score`` (``evidence``: per-retriever scores and sources)."""
        return cls(chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, version=chunk.version, title=chunk.title,
                   doc_type=chunk.doc_type, text=chunk.text, score=score, page=chunk.page, section=chunk.section,
                   audience=chunk.audience, region=chunk.region, language=chunk.language, tags=chunk.tags,
                   **evidence)

    @property
    def is_internal(self) -> bool:
        """Whether the passage must never be quoted to the end user."""
        return self.audience == "internal"


@dataclass(frozen=True)
class Ticket:
    """A support ticket as the specialist pastes it.

    ``search_hints`` are words the product adds to steer a search (a risk category's label):
    searched with the message, but never read as the user naming a document.
    """

    text: str
    context: str = ""
    channel: str | None = None
    region: str | None = None
    language: str | None = None
    search_hints: str = ""


@dataclass(frozen=True)
class SearchFilters:
    """Metadata filters applied to retrieval."""

    doc_types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    include_internal: bool = True
    titles: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """True when no filter restricts the result set."""
        return (not (self.doc_types or self.regions or self.languages or self.tags or self.titles)
                and self.include_internal)


@dataclass(frozen=True)
class IngestFailure:
    """A file that could not be ingested and why."""

    path: str
    error: str


@dataclass
class IngestReport:
    """Summary of one ingest run (mutable while the run accumulates it)."""

    ingested: int = 0
    skipped_unchanged: int = 0
    rechunked: int = 0
    superseded: int = 0
    chunks: int = 0
    failed: list[IngestFailure] = field(default_factory=list)
    seconds: float = 0.0
    encode_seconds: float = 0.0
    doc_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON summary printed by ``replydesk ingest --json``."""
        return {
            "ingested": self.ingested,
            "skipped_unchanged": self.skipped_unchanged,
            "rechunked": self.rechunked,
            "superseded": self.superseded,
            "chunks": self.chunks,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
            "seconds": round(self.seconds, 3),
        }
