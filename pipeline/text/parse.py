"""Turn plain text, Markdown and HTML documents into layout segments on one virtual page."""
from __future__ import annotations

from email.message import Message

from bs4.dammit import EncodingDetector

from pipeline.doctype import text_encoding
from pipeline.document import ParsedDocument
from pipeline.segment_processing import SegmentSize
from pipeline.text.html import add_html_segments, text_without_markup
from pipeline.text.markdown import add_markdown_segments
from pipeline.text.segments import SegmentCollector, add_plain_text_segments


def parse_text(document: bytes, mime_type: str, configuration: dict) -> ParsedDocument:
    """Segments of a text/plain, text/markdown or text/html document, all on page 1, none larger
    than the configuration's SegmentSize (long text is cut, see segments.cut_text)."""
    essence = mime_type.split(";")[0].strip().lower()
    text = decode_text(document, mime_type, is_html=essence == "text/html")
    size = SegmentSize.of(configuration)
    collector = SegmentCollector(size)
    try:
        if essence == "text/markdown":
            add_markdown_segments(text, collector)
        elif essence == "text/html" and "<" in text:
            add_html_segments(text, collector)
        else:
            add_plain_text_segments(text, collector)
    except RecursionError:  # tags nested deeper than Python's stack: keep the words, not the layout
        collector = SegmentCollector(size)
        add_plain_text_segments(text_without_markup(text), collector)
    return ParsedDocument(segments=collector.segments, page_count=1, embed_lengths=size.lengths)


def decode_text(document: bytes, mime_type: str, is_html: bool) -> str:
    """The document as text: BOM, else declared charset, else UTF-8 or Windows-1252; bad bytes replaced."""
    header = Message()
    header["content-type"] = mime_type
    declared = header.get_param("charset")
    encoding = declared if isinstance(declared, str) else None
    if encoding is None and is_html:
        encoding = EncodingDetector.find_declared_encoding(document[:4096], is_html=True)
    detected, bom_length = text_encoding(document)
    body = document[bom_length:]
    if bom_length or encoding is None:  # a byte order mark outranks a declared charset
        encoding = detected
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    # NUL cannot be stored in PostgreSQL text or JSON; other line endings become "\n".
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
