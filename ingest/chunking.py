"""Structure-aware chunking sized for the embedder's token window.

Markdown (and HTML/DOCX, which loaders turn into Markdown) is split on headings first,
so every chunk knows its heading path; PDFs are split per page; each Q&A pair is its own
chunk. Sections longer than the budget are split by tokens with overlap, at line ends
where possible (a blank line is a line too), else at sentence ends. A piece that starts
inside a list carries the lines that introduce it ("If the booking user is a silver
member:"), so its items keep their condition. The budget leaves room for the "title >
section" header that is embedded with every chunk, so a chunk never exceeds the model's
window (all-MiniLM-L6-v2 truncates at 256 tokens).
"""

from __future__ import annotations

import re
import textwrap
from typing import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.loaders import INTERNAL_HEADING, LoadedFile
from kb.types import Chunk, DocumentMeta, Section

TokenCounter = Callable[[str], int]

#: Headings that open a section (deeper ones stay in the text).
_HEADING = re.compile(r"^ {0,3}(#{1,4})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d{1,3}[.)])\s+\S")
#: A line that introduces what follows: "Checked bag allowance:", "**If gold:**".
_LEAD_IN = re.compile(r":(?:\*\*|__|\*|_)?\s*$")
_NUMBER_MARK = re.compile(r"^(\s*\d{1,3}[.)]) ", re.MULTILINE)
_PROTECTED_MARK = re.compile(r"^(\s*\d{1,3}[.)])\u00a0", re.MULTILINE)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z*_])")
#: Model window minus [CLS]/[SEP].
_SPECIAL_TOKENS = 2
_MIN_BUDGET = 48


#: Version of the rules below and of the loaders' structure rules (PDF headings, say). Raise it
#: whenever a change makes the same file give other chunks: the next ingest then cuts every
#: unchanged document again (see ingest.pipeline). 3: PDF headings follow the font.
CHUNKING_RULES = 3


def chunking_signature(chunk_tokens: int, overlap_tokens: int) -> str:
    """What a document's chunks depend on besides its text: the rules and the configured sizes.

    Stored with each version (``DocumentMeta.chunking``); no model is needed to compute it,
    so an ingest of unchanged files stays fast.
    """
    return f"rules {CHUNKING_RULES}; {chunk_tokens} tokens, {overlap_tokens} overlap"


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
        self._splitters: dict[int, RecursiveCharacterTextSplitter] = {}

    def _splitter(self, budget: int) -> RecursiveCharacterTextSplitter:
        if budget not in self._splitters:
            self._splitters[budget] = RecursiveCharacterTextSplitter(
                chunk_size=budget, chunk_overlap=min(self.overlap_tokens, budget // 4),
                length_function=self.count_tokens,
                # Line ends before paragraph breaks: paragraph-first cuts leave short intro
                # paragraphs on their own, and the lead-in a cut list carries covers lists.
                separators=["\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
                # A sentence keeps its own full stop (the default moves it to the next piece).
                keep_separator="end",
            )
        return self._splitters[budget]

    def _budget(self, title: str, section: str | None) -> int:
        header = title if not section or section == title else f"{title} > {section}"
        room = self.max_tokens - _SPECIAL_TOKENS - self.count_tokens(header) - 1
        return max(_MIN_BUDGET, min(self.chunk_tokens, room))

    def _pieces(self, text: str, budget: int) -> list[str]:
        text = _tidy(text)
        if not text:
            return []
        if self.count_tokens(text) <= budget:
            return [text]
        # A numbered item's "1. " is no sentence end: the splitter must not cut "1" off it.
        text = _NUMBER_MARK.sub("\\1\u00a0", text)
        pieces = self._split(text, budget)
        reserve = max((self.count_tokens(lead) + 1 for lead, _ in pieces if lead), default=0)
        if reserve and any(self.count_tokens(f"{lead}\n{body}") > budget for lead, body in pieces if lead):
            pieces = self._split(text, max(budget // 2, budget - reserve))
        return [_PROTECTED_MARK.sub("\\1 ", self._with_lead_in(lead, body, budget)) for lead, body in pieces]

    def _split(self, text: str, budget: int) -> list[tuple[str, str]]:
        """Pieces of ``text`` within ``budget``, each with the lines that introduce its list."""
        out = []
        # Where each piece starts (the splitter's own start_index mixes its token overlap
        # with characters and loses pieces after a long overlap).
        cursor = 0
        for piece in self._splitter(budget).split_text(text):
            piece = piece.strip()
            if not piece:
                continue
            start = text.find(piece, cursor)
            if start < 0:
                start = text.find(piece.split("\n", 1)[0], cursor)
            if start < 0:
                out.append(("", piece))
                continue
            cursor = start + 1
            # The splitter strips each piece; start it at its first line's indentation again.
            line_start = text.rfind("\n", 0, start) + 1
            if text[line_start:start].strip():
                line_start = start
            out.append((list_lead_in(text, line_start), text[line_start:start] + piece))
        return out

    def _with_lead_in(self, lead: str, body: str, budget: int) -> str:
        lines = lead.splitlines() if lead else []
        # Drop the outermost lines first if the piece is still too long with them.
        while lines and self.count_tokens("\n".join([*lines, body])) > budget:
            lines.pop(0)
        return _tidy("\n".join([*lines, body]))

    def sections(self, loaded: LoadedFile) -> list[Section]:
        """Structural sections of a loaded file (Markdown split by headings)."""
        if not loaded.is_markdown:
            return loaded.sections
        out: list[Section] = []
        for section in loaded.sections:
            for path, text in split_markdown(section.text):
                internal = any(INTERNAL_HEADING.search(h) for h in path)
                out.append(Section(text=text, section=" > ".join(path) or None,
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


def _tidy(text: str) -> str:
    """``text`` without surrounding blank lines or common indentation; a first line that is
    not a list item loses its indentation too (it would read as a code block)."""
    text = textwrap.dedent(text.strip("\n")).rstrip()
    return text if _LIST_ITEM.match(text) else text.lstrip()


def split_markdown(text: str) -> list[tuple[list[str], str]]:
    """Split Markdown at headings of levels 1-4 into ``(heading path, body)`` pairs.

    Unlike langchain's ``MarkdownHeaderTextSplitter``, which strips every line and joins
    paragraphs with hard line breaks, the body keeps its lines as written: a nested list
    keeps which item its sub-items belong to, paragraphs stay paragraphs and code keeps its
    indentation. Headings inside fenced code are text. Sections without text are left out.
    """
    sections: list[tuple[list[str], str]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fence = ""

    def flush() -> None:
        body = "\n".join(lines).strip("\n")
        if body.strip():
            sections.append(([title for _, title in stack], re.sub(r"\n{3,}", "\n\n", body)))
        lines.clear()

    for raw in text.splitlines():
        line = "".join(ch for ch in raw.expandtabs(4) if ch.isprintable()).rstrip()
        opened = _FENCE.match(line)
        if fence:
            fence = "" if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) else fence
        elif opened:
            fence = opened.group(1)
        elif heading := _HEADING.match(line):
            flush()
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            if heading.group(2):
                stack.append((level, heading.group(2).strip()))
            continue
        lines.append(line if line.strip() else "")
    flush()
    return sections


def list_lead_in(text: str, line_start: int) -> str:
    """The lines that introduce the list item starting at ``line_start`` of ``text``.

    Walking back over the item's siblings: each shallower parent item, and the line ending
    with ":" that opens the outermost list ("Checked bag allowance:"), nearest last. Empty
    when the line is not a list item, or the list is the start of its piece anyway.
    """
    lines = text[:line_start].splitlines()
    first = text[line_start:].split("\n", 1)[0]
    item = _LIST_ITEM.match(first)
    if not item or not lines:
        return ""
    indent = len(item.group(1))
    lead: list[str] = []
    for line in reversed(lines):
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        parent = _LIST_ITEM.match(line)
        if parent and width >= indent:
            continue
        if width > indent:
            # A wrapped line of a sibling item.
            continue
        if parent:
            lead.append(line)
            indent = width
            continue
        if _LEAD_IN.search(line):
            # Only the sentence that opens the list ("Holds happen when:").
            lead.append(line[:width] + _SENTENCE_BREAK.split(line.strip())[-1])
        break
    return "\n".join(reversed(lead))
