"""File loaders: turn a file into sections of text plus the metadata the file itself carries.

Every loader raises :class:`LoadError` with a short human reason for bad input; the
pipeline adds the file name and carries on with the other files.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from kb.types import Section

#: Headings ending in "(internal)" (any case) mark an internal-only section.
INTERNAL_HEADING = re.compile(r"\(\s*internal(?:\s+only)?\s*\)\s*$", re.IGNORECASE)

QA_EXTENSIONS = {".csv", ".jsonl"}
SUPPORTED_EXTENSIONS = {".md", ".markdown", ".txt", ".pdf", ".html", ".htm", ".docx"} | QA_EXTENSIONS
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")

_QUESTION_KEYS = ("question", "q", "query", "user_question")
_ANSWER_KEYS = ("answer", "a", "reply", "resolution", "agent_answer")


class LoadError(Exception):
    """A file cannot be loaded; the message says why, in one line."""


@dataclass
class LoadedFile:
    """What a loader extracted from a file."""

    sections: list[Section]
    metadata: dict = field(default_factory=dict)
    is_markdown: bool = False
    is_qa: bool = False
    raw_text: str = ""


def is_sidecar(path: Path) -> bool:
    """Whether ``path`` is a metadata sidecar rather than a document."""
    return path.name.lower().endswith(SIDECAR_SUFFIXES)


def read_sidecar(path: Path) -> dict:
    """Metadata from ``<file>.meta.yaml`` / ``.meta.json`` next to ``path`` (empty when absent)."""
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            try:
                data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise LoadError(f"metadata sidecar {candidate.name} is not valid YAML/JSON: {_first_line(exc)}")
            if data is None:
                return {}
            if not isinstance(data, dict):
                raise LoadError(f"metadata sidecar {candidate.name} must hold a mapping")
            return data
    return {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise LoadError("binary content where text was expected")
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LoadError("text is not valid UTF-8 or cp1252")


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict, str]:
    """Split YAML front-matter from a Markdown body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"front-matter is not valid YAML: {_first_line(exc)}")
    if not isinstance(meta, dict):
        raise LoadError("front-matter must be a YAML mapping")
    return meta, text[match.end():]


def load_markdown(path: Path, data: bytes) -> LoadedFile:
    """Markdown with optional YAML front-matter; sectioning happens in the chunker."""
    meta, body = split_front_matter(_decode(data))
    return LoadedFile(sections=[Section(text=body)], metadata=meta, is_markdown=True, raw_text=body)


def load_text(path: Path, data: bytes) -> LoadedFile:
    """Plain text, one section."""
    text = _decode(data)
    return LoadedFile(sections=[Section(text=text)], raw_text=text)


def load_pdf(path: Path, data: bytes) -> LoadedFile:
    """PDF text per page with pypdf; page numbers are 1-based."""
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf logs every recoverable oddity; the one-line LoadError is what the user needs.
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types for unsupported crypto
                ok = 0
            if not ok:
                raise LoadError("PDF is encrypted (password protected)")
        pages, runs = [], []
        for number, page in enumerate(reader.pages, start=1):
            page_runs: list[tuple[str, float]] = []
            pages.append((number, page.extract_text(visitor_text=_run_collector(page_runs)) or ""))
            runs.append(page_runs)
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise LoadError(f"corrupt or unreadable PDF: {_first_line(exc)}")
    if not pages:
        raise LoadError("PDF has no pages")
    pages = _strip_running_lines(pages)
    headings = _large_font_lines(runs)
    if headings is not None:
        # Only a larger title (section headings set bold at body size): the fonts do not say
        # where sections start, so the text heuristic decides.
        lines = [line.strip() for _, text in pages for line in text.splitlines() if line.strip()]
        every = [h for page in headings for h in page]
        if not any(_in_heading(line, every) for line in lines[1:]):
            headings = None
    sections, heading = [], None
    for (number, text), page_headings in zip(pages, headings or [None] * len(pages)):
        if text.strip():
            marked, heading = _mark_pdf_headings(text, heading, page_headings)
            sections.append(Section(text=marked, page=number))
    meta = {}
    info = reader.metadata
    if info is not None and info.title:
        meta["title"] = str(info.title)
    return LoadedFile(sections=sections, metadata=meta, is_markdown=True,
                      raw_text="\n\n".join(s.text for s in sections))


_TERMINAL = (".", ",", ":", ";", "?", "!")
#: Text at least this much larger than the body font is a heading (reportlab, Word and LaTeX
#: set even their smallest heading level 10 % or more above the body).
_HEADING_FONT_RATIO = 1.05
_MAX_HEADING_WORDS = 20
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d+(?:\s*(?:/|of)\s*\d+)?$", re.IGNORECASE)


def _strip_running_lines(pages: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop page numbers and running headers/footers (lines repeated on most pages)."""
    from collections import Counter

    counts = Counter(line.strip() for _, text in pages for line in set(text.splitlines()) if line.strip())
    repeated = {line for line, n in counts.items() if len(pages) >= 2 and n >= max(2, len(pages) * 0.6)}
    cleaned = []
    for number, text in pages:
        kept = [line for line in text.splitlines()
                if line.strip() not in repeated and not _PAGE_NUMBER.match(line.strip())]
        cleaned.append((number, "\n".join(kept)))
    return cleaned


def _run_collector(runs: list[tuple[str, float]]):
    """A pypdf text visitor that records each text run with its rendered font size."""

    def visit(text, _cm, tm, _font, size) -> None:
        if text and size:
            runs.append((text, abs(float(size) * float(tm[3] if tm else 1.0))))

    return visit


def _large_font_lines(pages: list[list[tuple[str, float]]]) -> list[list[str]] | None:
    """Per page, the texts set larger than the body font (headings), whitespace normalised.

    The body font is the size most characters are set in. None when nothing is larger: the
    PDF then says nothing about its headings through fonts, and the text heuristic decides.
    """
    from collections import Counter

    chars = Counter()
    for runs in pages:
        for text, size in runs:
            chars[round(size, 1)] += len(text.strip())
    if not chars:
        return None
    body = chars.most_common(1)[0][0]
    out, found = [], False
    for runs in pages:
        groups, current = [], []
        for text, size in runs:
            if not text.strip():
                continue
            if round(size, 1) >= body * _HEADING_FONT_RATIO:
                current.append(" ".join(text.split()))
            elif current:
                groups.append(" ".join(current))
                current = []
        if current:
            groups.append(" ".join(current))
        found = found or bool(groups)
        out.append(groups)
    return out if found else None


def _in_heading(line: str, headings: list[str]) -> bool:
    # A heading wrapped over two lines is one run group: each of its lines is part of it.
    normal = " ".join(line.split())
    return len(normal) >= 3 and len(normal.split()) <= _MAX_HEADING_WORDS and any(normal in h for h in headings)


def _looks_like_heading(line: str, previous: str | None) -> bool:
    words = line.split()
    return (0 < len(words) <= 10 and len(line) <= 80 and not line.endswith(_TERMINAL)
            and (line[0].isupper() or line[0].isdigit()) and not line.startswith(("-", "•", "*"))
            and (previous is None or previous.endswith(_TERMINAL) or previous.startswith("## ")))


def _mark_pdf_headings(text: str, carried: str | None,
                       large: list[str] | None = None) -> tuple[str, str | None]:
    """Mark the heading lines of PDF text as Markdown headings (PDFs carry no structure).

    With ``large`` (the page's texts set larger than the body font), a heading is a line of
    them: a table's bold header cells or a bold lead-in at body size are not. Without it, a
    heading is a short line that does not end in punctuation and follows a finished sentence.
    A heading wrapped over two lines is one heading. The last heading of a page is carried over so
    the next page keeps its section.
    """
    out, previous = [], None
    heading = carried
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        is_heading = _in_heading(line, large) if large is not None else _looks_like_heading(line, previous)
        wrapped = (is_heading and large is not None and out and out[-1].startswith("## ")
                   and out[-1][3:] != carried and _in_heading(f"{out[-1][3:]} {line}", large))
        if wrapped:
            heading = f"{out[-1][3:]} {line}"
            out[-1] = f"## {heading}"
        elif is_heading:
            heading = line
            out.append(f"## {line}")
        else:
            if not out and carried:
                out.append(f"## {carried}")
            out.append(line)
        previous = out[-1]
    return "\n".join(out), heading


def _html_to_markdown(html: str) -> tuple[str, str | None]:
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "lxml")
    title = soup.title.get_text(strip=True) if soup.title else None
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "footer", "header", "aside", "form",
                     "title", "head"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    # markdownify keeps what a hand-made walk lost: nested lists (indented), code blocks
    # (fenced, so a "# comment" is no heading), tables, line breaks. Links keep their text.
    converter = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"],
                                  escape_asterisks=False, escape_underscores=False, escape_misc=False)
    text = re.sub(r"\n{3,}", "\n\n", converter.convert_soup(root)).strip()
    if not text:
        text = " ".join(root.get_text(" ", strip=True).split())
    return text, title


def load_html(path: Path, data: bytes) -> LoadedFile:
    """HTML main text, scripts/styles/navigation dropped, headings kept as Markdown."""
    body, title = _html_to_markdown(_decode(data))
    meta = {"title": title} if title else {}
    return LoadedFile(sections=[Section(text=body)], metadata=meta, is_markdown=True, raw_text=body)


def load_docx(path: Path, data: bytes) -> LoadedFile:
    """DOCX paragraphs and tables; Heading styles become Markdown headings."""
    import zipfile

    try:
        import docx
        from docx.table import Table

        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt or unreadable DOCX: {_first_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - python-docx surfaces lxml/opc errors of many types
        raise LoadError(f"corrupt or unreadable DOCX: {_first_line(exc)}")
    lines: list[str] = []
    # Paragraphs and tables in reading order (tables used to follow all the text).
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_docx_table(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name or "").lower() if block.style is not None else ""
        if style.startswith("heading"):
            # Title is the document's "#"; Heading 1 sits one level below it.
            level = int(re.sub(r"\D", "", style) or "1") + 1
            lines.append("\n" + "#" * min(level, 4) + " " + text + "\n")
        elif style == "title":
            lines.append("# " + text + "\n")
        elif style.startswith(("list bullet", "list number")):
            # "List Bullet 2" is a sub-item: indented under the item before it.
            depth = int(re.sub(r"\D", "", style) or "1") - 1
            marker = "-" if "bullet" in style else "1."
            lines.append("  " * depth + f"{marker} {text}")
        else:
            if lines and _LIST_LINE.match(lines[-1]):
                lines.append("")
            lines.append(text + "\n")
    meta = {}
    if document.core_properties.title:
        meta["title"] = document.core_properties.title
    return LoadedFile(sections=[Section(text="\n".join(lines))], metadata=meta, is_markdown=True,
                      raw_text="\n".join(lines))


_LIST_LINE = re.compile(r"^\s*(?:-|1\.) ")


def _docx_table(table) -> list[str]:
    """A DOCX table as ``a | b`` lines, one per row (merged cells once)."""
    rows = []
    for row in table.rows:
        cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
        if cells:
            rows.append(" | ".join(cells))
    return ["", *rows, ""] if rows else []


def _pick(record: dict, keys: tuple[str, ...]) -> str:
    lowered = {str(k).strip().lower(): v for k, v in record.items() if k is not None}
    for key in keys:
        value = lowered.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


_QA_FIELDS = ("ticket_id", "queue", "region", "language", "resolved_date")


def _qa_sections(records: list[tuple[int, dict]]) -> list[Section]:
    sections = []
    for line_no, record in records:
        question, answer = _pick(record, _QUESTION_KEYS), _pick(record, _ANSWER_KEYS)
        if not question or not answer:
            raise LoadError(f"record {line_no} needs both a question and an answer")
        extra = tuple((key, str(record[key]).strip()) for key in _QA_FIELDS
                      if record.get(key) not in (None, ""))
        label = dict(extra).get("ticket_id")
        sections.append(Section(text=f"Q: {question}\nA: {answer}", section=f"Q&A {label}" if label else question[:120],
                                extra=extra))
    return sections


def load_qa_csv(path: Path, data: bytes) -> LoadedFile:
    """Resolved Q&A from CSV: one question/answer pair per row."""
    text = _decode(data)
    try:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise LoadError("CSV has no header row")
        lowered = {f.strip().lower() for f in reader.fieldnames if f}
        if not lowered & set(_QUESTION_KEYS) or not lowered & set(_ANSWER_KEYS):
            raise LoadError("CSV needs 'question' and 'answer' columns")
        records = [(n, row) for n, row in enumerate(reader, start=2)]
    except csv.Error as exc:
        raise LoadError(f"malformed CSV: {_first_line(exc)}")
    return LoadedFile(sections=_qa_sections(records), is_qa=True, raw_text=text)


def load_qa_jsonl(path: Path, data: bytes) -> LoadedFile:
    """Resolved Q&A from JSON Lines: one object with question and answer per line."""
    records = []
    for n, line in enumerate(_decode(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError(f"line {n} is not valid JSON: {exc.msg}")
        if not isinstance(record, dict):
            raise LoadError(f"line {n} is not a JSON object")
        records.append((n, record))
    return LoadedFile(sections=_qa_sections(records), is_qa=True)


LOADERS: dict[str, Callable[[Path, bytes], LoadedFile]] = {
    ".md": load_markdown, ".markdown": load_markdown, ".txt": load_text, ".pdf": load_pdf,
    ".html": load_html, ".htm": load_html, ".docx": load_docx, ".csv": load_qa_csv, ".jsonl": load_qa_jsonl,
}


def load_file(path: Path, data: bytes) -> LoadedFile:
    """Dispatch on the file extension.

    Raises:
        LoadError: unsupported type, empty file, or a format-specific problem.
    """
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"unsupported file type '{path.suffix or path.name}' "
                        f"(supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})")
    if not data.strip():
        raise LoadError("file is empty")
    loaded = loader(path, data)
    if not any(section.text.strip() for section in loaded.sections):
        raise LoadError("no extractable text" + (" (scanned PDF?)" if path.suffix.lower() == ".pdf" else ""))
    return loaded
