"""Damaged, encrypted and hostile documents fail their task with a clear message, nothing more."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from pdf_fixtures import encrypted_pdf, many_pages_pdf, report_pdf, sized_page_pdf
from PIL import Image

from pipeline.document import DocumentError
from pipeline.pdf import office as pdf_office
from pipeline.pdf import parse as pdf_pipeline
from pipeline.pdf.limits import MAX_PAGE_IMAGE_PIXELS

CONFIG = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
          "error_handling": "Fail", "segment_processing": {}}


def parse(document: bytes):
    return pdf_pipeline.parse_pdf(document, CONFIG, lambda message: None)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but carries almost no pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def one_stream_pdf(content: bytes) -> bytes:
    """A one-page PDF whose content stream is `content`, Flate-compressed."""
    packed = zlib.compress(content, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


@pytest.mark.parametrize("cut", [3, 2])
def test_truncated_pdf_is_a_document_error(cut):
    document = report_pdf()
    with pytest.raises(DocumentError, match="Cannot read the PDF: the file is damaged"):
        parse(document[: len(document) // cut])


def test_not_a_pdf_at_all():
    with pytest.raises(DocumentError, match="does not start like a PDF"):
        parse(b"PK\x03\x04 this is a zip file")


def test_encrypted_pdf_names_the_password():
    with pytest.raises(DocumentError, match="encrypted: it needs a password"):
        parse(encrypted_pdf())


def test_twenty_thousand_pages_are_refused_before_any_work():
    with pytest.raises(DocumentError, match="Document has 20000 pages; at most 5000 pages"):
        parse(many_pages_pdf(20000))


def test_content_stream_bomb_is_refused():
    with pytest.raises(DocumentError, match="decompression bomb: a content stream expands to over 24 MB"):
        parse(one_stream_pdf(b"0 0 m 1 1 l S\n" * 2_000_000))


def test_huge_page_renders_at_a_capped_resolution():
    parsed = parse(sized_page_pdf(14400, 14400, "Poster headline"))
    page = parsed.pages[0]
    assert page["page_width"] * page["page_height"] <= MAX_PAGE_IMAGE_PIXELS
    assert page["dpi"] < 20
    assert [s["text"] for s in parsed.segments] == ["Poster headline"]


@pytest.mark.parametrize("side", [9_000, 100_000])
def test_image_over_the_pixel_limit_is_refused(side):
    with pytest.raises(DocumentError, match="Image is too large.*at most 60 megapixels"):
        pdf_pipeline.parse_image(png_header_only(side, side), "image/png", CONFIG, lambda message: None)


def test_damaged_image_is_a_document_error():
    with pytest.raises(DocumentError, match="Cannot read the image"):
        pdf_pipeline.parse_image(b"\x89PNG\r\n\x1a\nnot really", "image/png", CONFIG, lambda message: None)


def test_office_without_libreoffice_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(pdf_office.shutil, "which", lambda name: None)
    with pytest.raises(DocumentError, match=r"LibreOffice \(soffice\) is not installed"):
        pdf_pipeline.parse_office(b"PK\x03\x04", "application/vnd.openxmlformats-officedocument"
                                  ".wordprocessingml.document", CONFIG, lambda message: None)


@pytest.mark.skipif(pdf_office.soffice_path() is None, reason="LibreOffice is not installed here")
def test_office_document_is_converted_with_libreoffice():
    rtf = rb"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\fs40 Converted heading\par}"
    parsed = pdf_pipeline.parse_office(rtf, "application/rtf", CONFIG, lambda message: None)
    assert parsed.pdf == "file:document.pdf"
    assert "Converted heading" in " ".join(s["text"] for s in parsed.segments)


def test_small_valid_image_still_opens():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PNG")
    parsed = pdf_pipeline.parse_image(buffer.getvalue(), "image/png", CONFIG, lambda message: None)
    assert parsed.segments == [] and parsed.pages[0]["page_width"] == 40
