"""Types shared by the document pipeline's stages: what a parser hands to chunking."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

PDF_FILE = "document.pdf"  # a task's document as a PDF: what page images are rendered from

# A page image's file name says which page and at what size: enough to render it again from
# the task's PDF (page_images.py), which the service does when it is first asked for.
PAGE_IMAGE_NAME = re.compile(r"page-([1-9][0-9]{0,5})-([1-9][0-9]{0,5})x([1-9][0-9]{0,5})\.jpg")


def page_image_name(number: int, size: tuple[int, int]) -> str:
    """The file name of page `number`'s image at `size` pixels."""
    return f"page-{number}-{size[0]}x{size[1]}.jpg"


class DocumentError(Exception):
    """A failure of one document that a user can act on; its text becomes the task message."""


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
