"""Types shared by the document pipeline's stages: what a parser hands to chunking."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

PDF_FILE = "document.pdf"  # a task's document as a PDF: what page images are rendered from

# A page image's file name says which page and at what size: enough to render it again from
# the task's PDF (page_images.py), which the service does when it is first asked for.
PAGE_IMAGE_NAME = re.compile(r"page-([1-9][0-9]{0,5})-([1-9][0-9]{0,5})x([1-9][0-9]{0,5})\.jpg")


# A Python object's repr with its address (`<_io.BytesIO object at 0x7f...>`, `<PIL.PngImagePlugin.PngImageFile
# image mode=RGB size=40x30 at 0x7F...>`), as libraries put them in their messages.
OBJECT_REPR = re.compile(r"\s*<[^<>]{1,200}? at 0x[0-9a-fA-F]+>")


def without_addresses(text: str) -> str:
    """A message without the Python objects (and their memory addresses) a library put in it: they
    say nothing to a user, and differ from run to run."""
    return OBJECT_REPR.sub("", text)


def page_image_name(number: int, size: tuple[int, int]) -> str:
    """The file name of page `number`'s image at `size` pixels."""
    return f"page-{number}-{size[0]}x{size[1]}.jpg"


class DocumentError(Exception):
    """A failure of one document that a user can act on; its text becomes the task message."""


class BudgetExceeded(DocumentError):
    """A document past one of its Limits: it fails as a whole, even under error_handling=Continue."""


@dataclass(frozen=True)
class Limits:
    """Budgets of one document, enforced while it runs (the service's settings of the same names).

    Pixels count what is decoded or rendered: every frame of an image at its full size, and every
    PDF page rendered for OCR (its page image and OCR input)."""

    max_pages: int = 5000  # MAX_PAGES
    max_image_pixels: int = 60_000_000  # MAX_IMAGE_PIXELS: one image or frame (a 7,700 x 7,700 scan)
    max_document_pixels: int = 2_000_000_000  # MAX_DOCUMENT_PIXELS: all pages and frames together
    ocr_page_seconds: float = 120.0  # OCR_PAGE_SECONDS: one page's OCR (about 2 s on a quiet core)


@dataclass
class ParsedDocument:
    """What a parser found in a document, before segment processing and chunking.

    `segments` are dicts in reading order with the Segment keys of SPEC.md §7
    (`content`, `embed` and `llm` are filled later by the pipeline). Any URL-valued field
    (`pdf`, a page's or a segment's `image`) holds a reference `file:<name>` to an entry
    of `files`; the service turns references into signed or `data:` URLs.
    """

    segments: list[dict]
    page_count: int | None = None
    pages: list[dict] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (mime, bytes)
    pdf: str | None = None  # "file:<name>" of the document as a PDF, if there is one
    skipped: list[str] = field(default_factory=list)  # "page 3: <reason>" with error_handling=Continue
    # The chunk tokenizer's count of embed texts, by text, where the parser counted them already
    # (segment_processing.embed_lengths); chunking counts any other.
    embed_lengths: dict[str, int] = field(default_factory=dict)


@dataclass
class Result:
    """The pipeline's answer: the Output of SPEC.md §7 plus the files it refers to."""

    output: dict
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
