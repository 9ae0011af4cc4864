"""Office documents: spreadsheets get their cell grid printed, so their cells come back as tables."""
from __future__ import annotations

import io
import subprocess
import zipfile

import pytest

from pipeline.pdf import office as pdf_office
from pipeline.pdf import parse as pdf_pipeline
from schemas import default_configuration

CONFIG = default_configuration(None)
SHEET = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         b'<sheetData/>%s<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3"'
         b' footer="0.3"/></worksheet>')


def xlsx(sheet: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip laid out like an XLSX, with one worksheet."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def entries(document: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("options, expected", [
    (b"", b'<sheetData/><printOptions gridLines="1"/><pageMargins'),
    (b'<printOptions horizontalCentered="1"/>', b'<printOptions gridLines="1" horizontalCentered="1"/>'),
    (b'<printOptions gridLines="0" headings="1"/>', b'<printOptions gridLines="1" headings="1"/>'),
    (b"<printOptions gridLines='false'/>", b'<printOptions gridLines="1"/>'),
])
def test_every_sheet_prints_its_grid_and_nothing_else_changes(options, expected):
    other = {"xl/styles.xml": b"<styleSheet/>", "xl/worksheets/_rels/sheet1.xml.rels": b"<Relationships/>"}
    before = entries(xlsx(SHEET % options, other))
    after = entries(pdf_office.with_printed_grid(xlsx(SHEET % options, other)))
    assert expected in after["xl/worksheets/sheet1.xml"]
    assert after["xl/worksheets/sheet1.xml"].count(b"<printOptions") == 1
    assert list(after) == list(before)
    assert {name: data for name, data in after.items() if name != "xl/worksheets/sheet1.xml"} == \
        {name: data for name, data in before.items() if name != "xl/worksheets/sheet1.xml"}


def test_a_sheet_without_page_margins_gets_the_option_before_its_end():
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>'
    after = entries(pdf_office.with_printed_grid(xlsx(sheet)))["xl/worksheets/sheet1.xml"]
    assert after.endswith(b'<sheetData/><printOptions gridLines="1"/></worksheet>')


def test_what_is_not_a_usable_xlsx_is_left_for_libreoffice_to_judge(monkeypatch):
    assert pdf_office.with_printed_grid(b"PK\x03\x04 truncated") == b"PK\x03\x04 truncated"
    document = xlsx(SHEET % b"")
    monkeypatch.setattr(pdf_office, "MAX_UNPACKED_BYTES", 100)  # a workbook this large is not rewritten
    assert pdf_office.with_printed_grid(document) == document


@pytest.mark.skipif(pdf_office.soffice_path() is None, reason="LibreOffice is not installed here")
def test_a_real_spreadsheet_comes_back_as_a_table(tmp_path, monkeypatch):
    """A spreadsheet LibreOffice writes from CSV (no borders, tight columns) is a Table with its
    cells; printed as it was saved, without its grid, the same sheet reads as one run of text."""
    rows = ["Region,Q1,Q2,Q3"] + [f"Region {n},{100 + n},{200 + 2 * n},{300 + 3 * n}" for n in range(8)]
    (tmp_path / "sales.csv").write_text("\n".join(rows) + "\n")
    subprocess.run([pdf_office.soffice_path(), f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(tmp_path), str(tmp_path / "sales.csv")],
                   check=True, capture_output=True, timeout=180)
    document = (tmp_path / "sales.xlsx").read_bytes()
    assert b'gridLines="false"' in entries(document)["xl/worksheets/sheet1.xml"]  # as saved
    parsed = pdf_pipeline.parse_office(document, pdf_office.XLSX, CONFIG, lambda message: None)
    tables = [segment for segment in parsed.segments if segment["segment_type"] == "Table"]
    assert len(tables) == 1
    html = tables[0]["html"]
    assert html.startswith("<table>") and "<td>Region 3</td>" in html and "<td>206</td>" in html
    assert tables[0]["markdown"].splitlines()[0].replace(" ", "") == "|Region|Q1|Q2|Q3|"
    monkeypatch.setattr(pdf_office, "with_printed_grid", lambda document: document)
    as_saved = pdf_pipeline.parse_office(document, pdf_office.XLSX, CONFIG, lambda message: None)
    assert "Table" not in {segment["segment_type"] for segment in as_saved.segments}
