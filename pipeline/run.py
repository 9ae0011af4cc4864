"""The document pipeline: a document's bytes and a configuration in, the Output of SPEC.md §7 out."""
from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable

from pipeline.chunking import chunk_segments
from pipeline.document import DocumentError, Limits, ParsedDocument, Result
from pipeline.segment_processing import process_segments
from pipeline.text.parse import parse_text

TEXT_MIME_TYPES = frozenset({"text/plain", "text/markdown", "text/html"})
# Parsers written in pdf_pipeline.py, by the mime type they take.
PDF_PIPELINE_PARSERS = {
    "application/pdf": "parse_pdf",
    "image/png": "parse_image",
    "image/jpeg": "parse_image",
    "image/tiff": "parse_image",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "parse_office",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "parse_office",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "parse_office",
}

Progress = Callable[[str], None]


def run_pipeline(
    document: bytes,
    mime_type: str,
    file_name: str | None,
    configuration: dict,
    progress: Progress = lambda message: None,
    limits: Limits | None = None,
) -> Result:
    """Parse, process and chunk one document within `limits` (None: the defaults of Limits);
    raises DocumentError for what a user can fix."""
    essence = mime_type.split(";")[0].strip().lower()
    parsed = parse_document(document, mime_type, essence, configuration, progress, limits)
    segments = parsed.segments
    if configuration.get("segmentation_strategy") == "Page":
        segments = merge_into_pages(segments, parsed.pages)
    segments = process_segments(segments, configuration.get("segment_processing") or {}, progress)
    progress("Chunking")
    chunks = chunk_segments(segments, configuration.get("chunk_processing") or {}, parsed.embed_lengths)
    progress("Finishing up")
    output = {
        "chunks": chunks,
        "file_name": file_name,
        "page_count": parsed.page_count if parsed.page_count is not None else len(parsed.pages) or None,
        "pdf_url": parsed.pdf,
        "mime_type": essence,
        "pages": parsed.pages,
    }
    return Result(output=output, files=parsed.files, skipped=parsed.skipped)


def parse_document(
    document: bytes, mime_type: str, essence: str, configuration: dict, progress: Progress,
    limits: Limits | None = None,
) -> ParsedDocument:
    """Hand the document to the parser for its type."""
    if essence in TEXT_MIME_TYPES:
        progress("Running analysis")
        return parse_text(document, mime_type, configuration)
    parser_name = PDF_PIPELINE_PARSERS.get(essence)
    if parser_name is None:
        raise DocumentError(f"Unsupported file type: {essence}")
    parser = pdf_pipeline_parser(parser_name, essence)
    options = {} if limits is None else {"limits": limits}  # without any, a parser keeps to the defaults
    if parser_name == "parse_pdf":
        return parser(document, configuration, progress, **options)
    return parser(document, essence, configuration, progress, **options)


def pdf_pipeline_parser(parser_name: str, essence: str) -> Callable[..., ParsedDocument]:
    """A parser of pdf_pipeline.py, imported only when a document needs it."""
    try:
        module = importlib.import_module("pipeline.pdf.parse")
    except ModuleNotFoundError as error:
        if error.name != "pipeline.pdf.parse":
            raise  # pdf_pipeline is there but a library it needs is not: not the user's fault
        raise DocumentError(f"Unsupported file type: {essence}") from error
    parser = getattr(module, parser_name, None)
    if parser is None:
        raise DocumentError(f"Unsupported file type: {essence}")
    return parser


def merge_into_pages(segments: list[dict], pages: list[dict]) -> list[dict]:
    """One Page segment per page holding its segments' text, for segmentation_strategy Page."""
    if segments and all(segment["segment_type"] == "Page" for segment in segments):
        return segments  # the parser already segmented by page
    page_by_number = {page["page_number"]: page for page in pages if page.get("page_number")}
    members_by_number: dict[int, list[dict]] = {number: [] for number in page_by_number}
    for segment in segments:
        members_by_number.setdefault(segment.get("page_number") or 1, []).append(segment)
    return [
        page_segment(number, members, page_by_number.get(number, {}))
        for number, members in sorted(members_by_number.items())
    ]


def page_segment(page_number: int, members: list[dict], page: dict) -> dict:
    """A Page segment covering the whole page, its texts joined in reading order."""
    first = members[0] if members else {}
    width = page.get("page_width", first.get("page_width", 0.0))
    height = page.get("page_height", first.get("page_height", 0.0))

    def joined(field: str, separator: str) -> str:
        return separator.join(member[field] for member in members if member.get(field))

    return {
        "segment_id": str(uuid.uuid4()),
        "segment_type": "Page",
        "bbox": {"left": 0.0, "top": 0.0, "width": width, "height": height},
        "page_number": page_number,
        "page_width": width,
        "page_height": height,
        "confidence": None,
        "text": joined("text", "\n\n"),
        "html": joined("html", "\n"),
        "markdown": joined("markdown", "\n\n"),
        "image": page.get("image"),
        "ocr": [word for member in members for word in member.get("ocr") or []],
    }
