"""Render the demo PDF documents from their Markdown sources.

Each ``demo/pdf_src/NAME.md`` (YAML front-matter + a small Markdown subset) becomes
``demo/kb/docs/NAME.pdf`` plus a sidecar ``demo/kb/docs/NAME.pdf.meta.yaml`` that
holds the front-matter, because a PDF has no front-matter of its own.

The Markdown subset is what the demo sources use: ``#``/``##``/``###`` headings,
paragraphs, ``-`` and ``1.`` lists, ``>`` block quotes (reply templates), pipe
tables, and inline ``**bold**``, ``*italic*`` and backtick code.

Usage::

    .venv/bin/python demo/build_pdfs.py            # build all sources
    .venv/bin/python demo/build_pdfs.py --check    # build, then verify text extraction
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import yaml

HERE = Path(__file__).resolve().parent
SRC_DIR = HERE / "pdf_src"
OUT_DIR = HERE / "kb" / "docs"

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\d+)\.\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")


def split_front_matter(text: str) -> tuple[str, dict, str]:
    """Split a Markdown source into raw front-matter, parsed front-matter and body.

    Args:
        text: The whole source file.

    Returns:
        ``(raw_yaml, parsed_yaml, body)``.

    Raises:
        ValueError: If the file has no front-matter block or it is not a mapping.
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise ValueError("missing YAML front-matter")
    raw = match.group(1)
    meta = yaml.safe_load(raw)
    if not isinstance(meta, dict):
        raise ValueError("front-matter is not a mapping")
    return raw, meta, text[match.end():]


def inline(text: str) -> str:
    """Convert inline Markdown to reportlab paragraph markup (escaping XML first)."""
    out = escape(text)
    out = re.sub(r"`([^`]+)`", r'<font face="Courier">\1</font>', out)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", out)
    return out


def _styles():
    # Imported lazily so that importing this module stays cheap and side-effect free.
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    # embeddedHyphenation=0: never break doc ids such as sop-account-recovery at their hyphens,
    # otherwise text extraction yields "sop-account-\nrecovery" and ids stop matching.
    body = ParagraphStyle("Body", parent=base["BodyText"], fontName="Helvetica", fontSize=10, leading=13.5,
                          spaceAfter=5, embeddedHyphenation=0)
    return {
        "h1": ParagraphStyle("H1", parent=body, fontName="Helvetica-Bold", fontSize=16, leading=20, spaceBefore=4,
                             spaceAfter=10),
        "h2": ParagraphStyle("H2", parent=body, fontName="Helvetica-Bold", fontSize=12.5, leading=16, spaceBefore=10,
                             spaceAfter=5),
        "h3": ParagraphStyle("H3", parent=body, fontName="Helvetica-Bold", fontSize=11, leading=14, spaceBefore=7,
                             spaceAfter=4),
        "body": body,
        "quote": ParagraphStyle("Quote", parent=body, leftIndent=18, rightIndent=10, textColor="#333333",
                                fontName="Helvetica-Oblique", spaceAfter=3),
        "meta": ParagraphStyle("Meta", parent=body, fontSize=8.5, leading=11, textColor="#555555", spaceAfter=8),
        "cell": ParagraphStyle("Cell", parent=body, fontSize=9, leading=11.5, spaceAfter=0),
        "item": ParagraphStyle("Item", parent=body, leftIndent=16, bulletIndent=4, spaceAfter=2),
    }


def markdown_to_flowables(body: str, styles: dict) -> list:
    """Turn the Markdown subset used by the demo sources into reportlab flowables.

    Args:
        body: Markdown text without front-matter.
        styles: The mapping returned by ``_styles``.

    Returns:
        A list of flowables ready for ``SimpleDocTemplate.build``.
    """
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    flow: list = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            flow.append(Paragraph(inline(heading.group(2)), styles[f"h{level}"]))
            i += 1
            continue
        if line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                if not _TABLE_RULE.match(lines[i].strip().lstrip("|").strip()):
                    cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                    rows.append(cells)
                i += 1
            data = [[Paragraph(inline(c), styles["cell"]) for c in row] for row in rows]
            # The first row is the header; bold it so it reads as a header in the PDF too.
            data[0] = [Paragraph(f"<b>{inline(c)}</b>", styles["cell"]) for c in rows[0]]
            table = Table(data, repeatRows=1, hAlign="LEFT")
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]))
            flow.extend([table, Spacer(1, 6)])
            continue
        if line.startswith(">"):
            quote: list[str] = []
            while i < len(lines) and lines[i].startswith(">"):
                quote.append(lines[i][1:].strip())
                i += 1
            # Blank quote lines separate paragraphs inside one reply template.
            paragraphs = " ".join(q if q else "\n" for q in quote).split("\n")
            for para in paragraphs:
                if para.strip():
                    flow.append(Paragraph(inline(para.strip()), styles["quote"]))
            flow.append(Spacer(1, 4))
            continue
        if _BULLET.match(line) or _NUMBERED.match(line):
            numbered = bool(_NUMBERED.match(line))
            items = []
            while i < len(lines):
                cur = lines[i].rstrip()
                m = _NUMBERED.match(cur) if numbered else _BULLET.match(cur)
                if m:
                    items.append(m.group(2) if numbered else m.group(1))
                elif cur.startswith("   ") and cur.strip() and items:
                    # Indented continuation or nested bullet: keep it with its parent item.
                    items[-1] += " " + cur.strip().lstrip("-* ").strip()
                else:
                    break
                i += 1
            # Plain-text bullets ("-", "1.") extract cleanly with pypdf, unlike dingbat glyphs.
            for n, t in enumerate(items, start=1):
                flow.append(Paragraph(inline(t), styles["item"], bulletText=f"{n}." if numbered else "-"))
            flow.append(Spacer(1, 4))
            continue
        para = [line.strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and not (
            _HEADING.match(lines[i]) or lines[i].startswith((">", "|")) or _BULLET.match(lines[i])
            or _NUMBERED.match(lines[i])
        ):
            para.append(lines[i].strip())
            i += 1
        flow.append(Paragraph(inline(" ".join(para)), styles["body"]))
    return flow


def build_one(src: Path, out_dir: Path) -> Path:
    """Render one source file to ``out_dir/NAME.pdf`` and write its sidecar metadata.

    Args:
        src: A ``pdf_src/NAME.md`` file.
        out_dir: Destination folder (``kb/docs``).

    Returns:
        The path of the written PDF.
    """
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph

    # Invariant mode drops timestamps and random IDs so rebuilding gives byte-identical files.
    rl_config.invariant = 1
    raw, meta, body = split_front_matter(src.read_text(encoding="utf-8"))
    styles = _styles()
    pdf_path = out_dir / f"{src.stem}.pdf"

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(20 * mm, 12 * mm, f"Loopr - {meta['doc_id']} v{meta['version']}")
        canvas.drawRightString(A4[0] - 20 * mm, 12 * mm, f"Page {doc.page}")
        canvas.restoreState()

    doc = BaseDocTemplate(
        str(pdf_path), pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
        bottomMargin=20 * mm, title=str(meta["title"]), author=f"Loopr {meta.get('owner', '')}".strip(),
        subject=str(meta["doc_id"]), invariant=1,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    # The footer is drawn at page *end* so extracted text reads body first, footer last.
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=footer)])
    story = markdown_to_flowables(body, styles)
    info = (f"Version {meta['version']} | Effective {meta['effective_date']} | Owner {meta.get('owner', '-')} | "
            f"Region {meta.get('region', '-')}")
    # Put the version line right under the H1 title.
    story.insert(1 if story else 0, Paragraph(escape(info), styles["meta"]))
    doc.build(story)
    sidecar = out_dir / f"{src.stem}.pdf.meta.yaml"
    sidecar.write_text(raw.rstrip("\n") + "\n", encoding="utf-8")
    return pdf_path


def check_pdf(pdf_path: Path, meta: dict) -> tuple[int, int]:
    """Extract text with pypdf and make sure it is readable.

    Args:
        pdf_path: The rendered PDF.
        meta: Its front-matter (the title must appear in the extracted text).

    Returns:
        ``(pages, words)`` extracted.

    Raises:
        RuntimeError: If the text is empty or the title is missing.
    """
    import pypdf

    reader = pypdf.PdfReader(str(pdf_path))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    norm = " ".join(text.split())
    if str(meta["title"]) not in norm:
        raise RuntimeError(f"{pdf_path.name}: title not found in extracted text")
    return len(reader.pages), len(norm.split())


def main(argv: list[str] | None = None) -> int:
    """Build every source in ``pdf_src`` (and optionally check the results)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify each PDF extracts to text with pypdf")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    sources = sorted(SRC_DIR.glob("*.md"))
    if not sources:
        print(f"no sources in {SRC_DIR}", file=sys.stderr)
        return 1
    for src in sources:
        if (OUT_DIR / src.name).exists():
            print(f"{src.name} also exists as Markdown in {OUT_DIR}; a PDF doc must not", file=sys.stderr)
            return 1
        pdf = build_one(src, OUT_DIR)
        line = f"wrote {pdf.relative_to(HERE)}"
        if args.check:
            _, meta, _ = split_front_matter(src.read_text(encoding="utf-8"))
            pages, words = check_pdf(pdf, meta)
            line += f" ({pages} pages, {words} words extracted)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
