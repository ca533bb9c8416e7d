"""Loaders: every format, metadata extraction, and every class of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import LoadError, load_file, read_sidecar, split_front_matter
from tests.ingest.helpers import make_docx, make_pdf, write


def load(path: Path):
    return load_file(path, path.read_bytes())


def test_markdown_front_matter_is_parsed_and_removed(tmp_path):
    path = write(tmp_path / "a.md", "---\ndoc_id: sop-x\ntitle: X\ntags: [a, b]\nversion: 3\n---\n# X\n\nBody text.\n")
    loaded = load(path)
    assert loaded.metadata == {"doc_id": "sop-x", "title": "X", "tags": ["a", "b"], "version": 3}
    assert loaded.is_markdown and "doc_id" not in loaded.sections[0].text and "Body text." in loaded.sections[0].text


def test_invalid_front_matter_is_a_clear_error(tmp_path):
    path = write(tmp_path / "a.md", "---\ntitle: [unclosed\n---\nbody\n")
    with pytest.raises(LoadError, match="front-matter is not valid YAML"):
        load(path)


def test_pdf_text_is_extracted_per_page_with_page_numbers(tmp_path):
    path = make_pdf(tmp_path / "p.pdf", [["Payout holds", "Holds last fourteen days."], ["Appeals", "Appeal within 30 days."]])
    loaded = load(path)
    assert [s.page for s in loaded.sections] == [1, 2]
    assert "fourteen days" in loaded.sections[0].text and "Appeal within 30 days." in loaded.sections[1].text


def test_pdf_headings_are_detected_and_running_footers_dropped(tmp_path):
    pages = [["Refund policy", "Gifts can be refunded within 14 days.", "Loopr handbook", "Page 1"],
             ["Escalation (internal)", "Ping the payments lead.", "Loopr handbook", "Page 2"]]
    loaded = load(make_pdf(tmp_path / "p.pdf", pages))
    text = "\n".join(s.text for s in loaded.sections)
    assert "## Refund policy" in text and "## Escalation (internal)" in text
    assert "Loopr handbook" not in text and "Page 2" not in text


def test_pdf_headings_follow_the_font_when_it_has_one(tmp_path):
    bold = "Helvetica-Bold"
    pages = [[("Virtual gift refunds", 18, bold), ("Version 2 | Owner payments", 9),
              ("1. Purpose", 14, bold), "This policy explains refunds of coins and gifts.",
              ("2. Refund windows", 14, bold), ("Item", 10, bold), ("Window", 10, bold),
              "Unused coins", "14 days", "Gifts already sent", "not refundable",
              ("3. Disputes over a large amount of coins bought with", 14, bold),
              ("a card that was reported stolen", 14, bold), "Ask for the order number first."],
             [("4. Escalation (internal)", 14, bold), "Send disputes over 500 USD to the payments lead."]]
    loaded = load(make_pdf(tmp_path / "gifts.pdf", pages))
    headings = [line[3:] for s in loaded.sections for line in s.text.splitlines() if line.startswith("## ")]
    # After a line without a full stop ("Version 2 | ..."), a heading is still one; a table's
    # bold header cells ("Item", "Window") and short body lines ("14 days") are not; a heading
    # wrapped over two lines stays one heading.
    assert headings == ["Virtual gift refunds", "1. Purpose", "2. Refund windows",
                        "3. Disputes over a large amount of coins bought with a card that was reported stolen",
                        "4. Escalation (internal)"]


def test_pdf_with_only_a_larger_title_keeps_the_text_rules_for_its_sections(tmp_path):
    pages = [[("Virtual gift refunds", 18, "Helvetica-Bold"), "Coins can be refunded within 14 days.",
              ("Escalation (internal)", 12, "Helvetica-Bold"), "Ping the payments lead."]]
    loaded = load(make_pdf(tmp_path / "gifts.pdf", pages))
    text = "\n".join(s.text for s in loaded.sections)
    assert "## Virtual gift refunds" in text and "## Escalation (internal)" in text


def test_encrypted_pdf_is_rejected(tmp_path):
    path = make_pdf(tmp_path / "secret.pdf", [["Top secret"]], password="hunter2")
    with pytest.raises(LoadError, match="encrypted"):
        load(path)


def test_corrupt_pdf_is_rejected(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\nthis is not a pdf at all\n")
    with pytest.raises(LoadError, match="PDF"):
        load(path)


def test_pdf_without_text_is_rejected(tmp_path):
    path = make_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(LoadError, match="no extractable text"):
        load(path)


def test_html_keeps_main_text_and_drops_scripts_and_styles(tmp_path):
    html = ("<html><head><title>Gift refunds</title><style>.x{color:red}</style></head><body>"
            "<nav>Home | About</nav><main><h1>Gift refunds</h1><p>Refunds within 14 days.</p>"
            "<script>alert('x')</script><h2>Steps</h2><ul><li>Open the wallet</li></ul></main>"
            "<footer>(c) Loopr</footer></body></html>")
    loaded = load(write(tmp_path / "page.html", html))
    text = loaded.sections[0].text
    assert loaded.metadata["title"] == "Gift refunds"
    assert "Refunds within 14 days." in text and "## Steps" in text and "- Open the wallet" in text
    assert "alert" not in text and "color:red" not in text and "Home | About" not in text and "(c) Loopr" not in text


def test_docx_headings_become_sections(tmp_path):
    path = make_docx(tmp_path / "d.docx", "Strikes policy", {"Strike limits": ["Three strikes in 90 days."]})
    text = load(path).sections[0].text
    assert "# Strikes policy" in text and "## Strike limits" in text and "Three strikes in 90 days." in text


def test_corrupt_docx_is_rejected(tmp_path):
    path = tmp_path / "d.docx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(LoadError, match="DOCX"):
        load(path)


def test_qa_csv_gives_one_section_per_pair_with_fields(tmp_path):
    csv = "ticket_id,question,answer,queue,region\nT1,How long is a hold?,14 days.,payments,EU\nT2,Refund?,Yes.,gifts,\n"
    loaded = load(write(tmp_path / "qa.csv", csv))
    assert loaded.is_qa and len(loaded.sections) == 2
    assert loaded.sections[0].text == "Q: How long is a hold?\nA: 14 days."
    assert dict(loaded.sections[0].extra) == {"ticket_id": "T1", "queue": "payments", "region": "EU"}


def test_qa_csv_without_answer_column_is_rejected(tmp_path):
    with pytest.raises(LoadError, match="'question' and 'answer'"):
        load(write(tmp_path / "qa.csv", "question,notes\nQ?,n\n"))


def test_qa_jsonl_reports_the_bad_line(tmp_path):
    path = write(tmp_path / "qa.jsonl", '{"question": "a?", "answer": "b"}\n{not json}\n')
    with pytest.raises(LoadError, match="line 2"):
        load(path)


def test_empty_and_unsupported_files_are_rejected(tmp_path):
    with pytest.raises(LoadError, match="empty"):
        load(write(tmp_path / "e.md", "   \n"))
    with pytest.raises(LoadError, match="unsupported file type '.png'"):
        load(write(tmp_path / "x.png", "not an image"))


def test_sidecar_metadata_is_read(tmp_path):
    pdf = make_pdf(tmp_path / "p.pdf", [["Hello world text"]])
    write(tmp_path / "p.pdf.meta.yaml", "doc_id: pol-p\ntags: [x]\n")
    assert read_sidecar(pdf) == {"doc_id": "pol-p", "tags": ["x"]}


def test_front_matter_is_optional():
    assert split_front_matter("# Title\nbody") == ({}, "# Title\nbody")


def test_html_keeps_nested_lists_code_and_tables(tmp_path):
    html = ("<html><body><h1>Bags</h1><h2>Allowance</h2><p>Checked bag allowance:</p><ul>"
            "<li>If you are a <b>regular</b> member:<ul><li>0 bags in <a href='/basic'>basic</a></li>"
            "<li>1 bag in economy</li></ul></li><li>If you are a gold member:<ul><li>2 bags in basic</li></ul></li></ul>"
            "<pre><code># not a heading\n    indented</code></pre>"
            "<table><tr><th>Level</th><th>Bags</th></tr><tr><td>Gold</td><td>2</td></tr></table></body></html>")
    text = load(write(tmp_path / "bags.html", html)).sections[0].text
    # Sub-items sit under their own item, once (they used to be flattened and repeated).
    assert ("- If you are a **regular** member:\n  - 0 bags in basic\n  - 1 bag in economy\n"
            "- If you are a gold member:\n  - 2 bags in basic") in text
    assert text.count("0 bags in basic") == 1 and "/basic" not in text
    assert "```\n# not a heading\n    indented\n```" in text
    assert "| Gold | 2 |" in text


def test_docx_lists_nest_and_tables_stay_in_reading_order(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Bags", 1)
    document.add_paragraph("Checked bag allowance:")
    document.add_paragraph("If you are a regular member:", style="List Bullet")
    document.add_paragraph("0 bags in basic", style="List Bullet 2")
    document.add_paragraph("Open Settings", style="List Number")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Gold", "2 bags"
    document.add_paragraph("After the table.")
    document.save(tmp_path / "bags.docx")
    text = load(tmp_path / "bags.docx").sections[0].text
    assert "Checked bag allowance:\n\n- If you are a regular member:\n  - 0 bags in basic\n1. Open Settings" in text
    assert text.index("Gold | 2 bags") < text.index("After the table.")
