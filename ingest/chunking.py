"""Structure-aware chunking sized for the embedder's token window.

Markdown (and HTML/DOCX, which loaders turn into Markdown) is split on headings first,
so every chunk knows its heading path; PDFs are split per page; each Q&A pair is its own
chunk. Sections longer than the budget are split by tokens with overlap. The budget
leaves room for the "title > section" header that is embedded with every chunk, so a
chunk never exceeds the model's window (all-MiniLM-L6-v2 truncates at 256 tokens).
"""

from __future__ import annotations

from typing import Callable

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from ingest.loaders import INTERNAL_HEADING, LoadedFile
from kb.types import Chunk, DocumentMeta, Section

TokenCounter = Callable[[str], int]

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
#: Model window minus [CLS]/[SEP].
_SPECIAL_TOKENS = 2
_MIN_BUDGET = 48


def chunk_id(doc_id: str, version: int, ordinal: int) -> str:
    """Deterministic chunk id: same document, version and position give the same id."""
    return f"{doc_id}::v{version}::{ordinal:04d}"


class Chunker:
    """Split loaded files into :class:`Chunk` objects.

    Args:
        count_tokens: the embedder's token counter.
        max_tokens: the embedder's window (tokens beyond it are truncated by the model).
        chunk_tokens: target chunk size in tokens.
        overlap_tokens: overlap between consecutive pieces of one long section.
    """

    def __init__(self, count_tokens: TokenCounter, max_tokens: int = 256, chunk_tokens: int = 200,
                 overlap_tokens: int = 32) -> None:
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.chunk_tokens = min(chunk_tokens, max_tokens - _SPECIAL_TOKENS)
        self.overlap_tokens = overlap_tokens
        self._markdown = MarkdownHeaderTextSplitter(_HEADERS, strip_headers=True)
        self._splitters: dict[int, RecursiveCharacterTextSplitter] = {}

    def _splitter(self, budget: int) -> RecursiveCharacterTextSplitter:
        if budget not in self._splitters:
            self._splitters[budget] = RecursiveCharacterTextSplitter(
                chunk_size=budget, chunk_overlap=min(self.overlap_tokens, budget // 4),
                length_function=self.count_tokens,
                separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            )
        return self._splitters[budget]

    def _budget(self, title: str, section: str | None) -> int:
        header = title if not section or section == title else f"{title} > {section}"
        room = self.max_tokens - _SPECIAL_TOKENS - self.count_tokens(header) - 1
        return max(_MIN_BUDGET, min(self.chunk_tokens, room))

    def _pieces(self, text: str, budget: int) -> list[str]:
        text = text.strip()
        if not text:
            return []
        if self.count_tokens(text) <= budget:
            return [text]
        return [p.strip() for p in self._splitter(budget).split_text(text) if p.strip()]

    def sections(self, loaded: LoadedFile) -> list[Section]:
        """Structural sections of a loaded file (Markdown split by headings)."""
        if not loaded.is_markdown:
            return loaded.sections
        out: list[Section] = []
        for section in loaded.sections:
            for doc in self._markdown.split_text(section.text):
                path = [doc.metadata[key] for _, key in _HEADERS if doc.metadata.get(key)]
                internal = any(INTERNAL_HEADING.search(h) for h in path)
                out.append(Section(text=doc.page_content, section=" > ".join(path) or None,
                                   audience="internal" if internal else None, page=section.page))
        return out

    def chunk(self, loaded: LoadedFile, meta: DocumentMeta) -> list[Chunk]:
        """All chunks of one document version, in reading order."""
        chunks: list[Chunk] = []
        for section in self.sections(loaded):
            extra = dict(section.extra)
            audience = "internal" if "internal" in (meta.audience, section.audience) else "external"
            budget = self._budget(meta.title, section.section)
            for piece in self._pieces(section.text, budget):
                ordinal = len(chunks)
                chunks.append(Chunk(
                    chunk_id=chunk_id(meta.doc_id, meta.version, ordinal), doc_id=meta.doc_id,
                    version=meta.version, ordinal=ordinal, text=piece, title=meta.title, doc_type=meta.doc_type,
                    page=section.page, section=section.section, audience=audience,
                    region=extra.get("region") or meta.region, language=extra.get("language") or meta.language,
                    tags=meta.tags,
                ))
        return chunks
