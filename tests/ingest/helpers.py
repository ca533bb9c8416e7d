"""Builders for test documents in every supported format."""

from __future__ import annotations

from pathlib import Path


def make_pdf(path: Path, pages: list[list], *, password: str | None = None, title: str | None = None) -> Path:
    """Write a real PDF with one list of lines per page (reportlab), optionally encrypted.

    A line is a string (Helvetica 12) or ``(text, size)`` / ``(text, size, font)``.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    encrypt = None
    if password:
        from reportlab.lib import pdfencrypt

        encrypt = pdfencrypt.StandardEncryption(password, canPrint=0)
    c = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    if title:
        c.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            text, size, font = (line, 12, "Helvetica") if isinstance(line, str) else (*line, "Helvetica")[:3]
            c.setFont(font, size)
            c.drawString(50, y, text)
            y -= size + 4
        c.showPage()
    c.save()
    return path


def make_docx(path: Path, title: str, sections: dict[str, list[str]]) -> Path:
    """Write a real DOCX with a title, headings and paragraphs (python-docx)."""
    import docx

    document = docx.Document()
    document.add_heading(title, level=0)
    for heading, paragraphs in sections.items():
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    document.save(str(path))
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
