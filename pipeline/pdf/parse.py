"""PDFs and office files into a ParsedDocument: typed segments, crops, page entries and the PDF.

Two passes over the pages, so that a page's output never depends on which pages came before:
the first reads every page's words (its text layer, or OCR of a scan) and drawings, and counts
the document's text sizes; the second types each page against the document's body size, in
page order (a Title only on the first pages with text). Image documents are in images.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from pipeline.document import PDF_FILE, Limits, ParsedDocument
from pipeline.pdf.document import PDFIUM_LOCK, open_pdf
from pipeline.pdf.images import OCR_LONG_SIDE, parse_image  # noqa: F401 - pipeline.run finds every parser here
from pipeline.pdf.limits import DEFAULT_LIMITS, MAX_OCR_PIXELS, MAX_PAGE_IMAGE_PIXELS, Budget, capped_scale
from pipeline.pdf.objects import page_graphics
from pipeline.pdf.ocr import ocr_words
from pipeline.pdf.office import office_to_pdf
from pipeline.pdf.page import DocumentState, PageInput, PageLines, analyse_page, page_lines
from pipeline.pdf.pages import fails_now, finish_segments, handle_page_error, page_info
from pipeline.pdf.render import CROP_SCALE_HIGH, BackgroundEncoder, page_pixels, page_scale, render_crop, render_page, render_whole_page
from pipeline.pdf.segments import same_box
from pipeline.pdf.text import PageTransform, text_is_usable, text_layer_words
from pipeline.segment_processing import embed_lengths

Progress = Callable[[str], None]
SCAN_DPI = 150  # scanned PDF pages are rendered at this DPI (capped) for OCR
BLANK_CHECK_PIXELS = 40_000  # a page without text or images is rendered this small to see if it is blank


def parse_pdf(document: bytes, configuration: dict, progress: Progress,
              limits: Limits = DEFAULT_LIMITS) -> ParsedDocument:
    """Segments, page entries and the PDF itself."""
    pdf = open_pdf(document, limits)
    try:
        return parse_open_pdf(pdf, document, configuration, progress, Budget(limits))
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def parse_office(document: bytes, mime_type: str, configuration: dict, progress: Progress,
                 limits: Limits = DEFAULT_LIMITS) -> ParsedDocument:
    """An office document converted to PDF with LibreOffice, then parsed as a PDF."""
    progress("Converting document to PDF")
    return parse_pdf(office_to_pdf(document, mime_type), configuration, progress, limits)


class PageSource:
    """One page of the PDF, opened when its pixels are wanted (a crop, a page image) and closed
    once its analysis is done: the pages of a long PDF are not all held open between passes."""

    def __init__(self, pdf: pdfium.PdfDocument, index: int):
        self.pdf, self.index, self.page = pdf, index, None

    def open(self) -> pdfium.PdfPage:
        if self.page is None:
            with PDFIUM_LOCK:
                self.page = self.pdf[self.index]
        return self.page

    def close(self) -> None:
        if self.page is not None:
            with PDFIUM_LOCK:
                self.page.close()
            self.page = None


@dataclass
class ReadPage:
    """A page after the first pass: ready to be typed, or why it failed."""

    number: int
    source: PageSource
    page: PageInput | None = None
    lines: PageLines | None = None
    error: Exception | None = None


def parse_open_pdf(pdf: pdfium.PdfDocument, document: bytes, configuration: dict, progress: Progress,
                   budget: Budget | None = None) -> ParsedDocument:
    """Every page read, then every page typed; running headers found across all of them."""
    count = len(pdf)
    files: dict[str, tuple[str, bytes]] = {PDF_FILE: ("application/pdf", document)}
    parsed = ParsedDocument(segments=[], page_count=count, files=files, pdf=f"file:{PDF_FILE}")
    state = DocumentState(configuration, files, BackgroundEncoder(files))
    budget = budget or Budget()
    per_page: list[list[dict]] = []
    try:
        pages = []
        for index in range(count):
            progress(f"Reading page {index + 1}/{count}")
            read = read_pdf_page(PageSource(pdf, index), state, budget)
            if read.error is not None and fails_now(read.error, configuration):
                handle_page_error(read.error, read.number, configuration, parsed)  # fails the document now
            pages.append(read)
        for read in pages:
            try:
                if read.error is not None:  # error_handling=Continue: skipped, in page order
                    handle_page_error(read.error, read.number, configuration, parsed)
                    continue
                progress(f"Running analysis (page {read.number}/{count})")
                segments = analyse_page(read.page, state, read.lines)
                parsed.embed_lengths.update(embed_lengths(segments, configuration))
                parsed.pages.append(read.page.info)
                per_page.append(segments)
            except Exception as error:  # noqa: BLE001 - one bad page must not end the task unasked
                handle_page_error(error, read.number, configuration, parsed)
            finally:
                read.source.close()
                read.page = read.lines = None  # its words go as soon as its segments are made
    finally:
        state.encoder.finish()
    finish_segments(per_page, state, parsed, lambda number: rendered_pdf_page(pdf, parsed, number))
    return parsed


def read_pdf_page(source: PageSource, state: DocumentState, budget: Budget) -> ReadPage:
    """The first pass over one page: its words (OCR'd when its text layer is not usable), its
    drawings and lines, the lines' text sizes counted into the document's."""
    read = ReadPage(source.index + 1, source)
    try:
        read.page = pdf_page_input(source, read.number, state, budget)
        read.lines = page_lines(read.page)
        state.body.add(read.lines.lines)
    except Exception as error:  # noqa: BLE001 - one bad page must not end the task unasked
        read.error = error
    finally:
        source.close()
    return read


def pdf_page_input(source: PageSource, number: int, state: DocumentState, budget: Budget) -> PageInput:
    """Read one PDF page: its words, drawings, page entry, and how to render or crop it later."""
    page = source.open()
    high_resolution = bool(state.configuration.get("high_resolution", True))
    with PDFIUM_LOCK:
        width, height = page.get_size()
        scale = capped_scale(width, height, page_scale(high_resolution), MAX_PAGE_IMAGE_PIXELS)
        transform = PageTransform(page.get_bbox(), page.get_rotation(), scale)
        textpage = page.get_textpage()
        try:
            words = text_layer_words(textpage, transform)
        finally:
            textpage.close()
        graphics = page_graphics(page, transform)
    usable = text_is_usable(words) and not scan_with_scraps_of_text(graphics, words, transform)
    if not usable and not words and not graphics.images:
        with PDFIUM_LOCK:
            # A blank page (nothing drawn, or nothing that shows) has nothing to OCR: it is read as a
            # text page without text, so it gives no segments and its image is made only on request.
            usable = renders_blank(page, width, height)
    if usable:
        # The page image is not made here: the service renders it from the PDF when it is first
        # asked for (web/page_images.py), and most never are. A crop of it is rendered when needed.
        size = page_pixels(width, height, scale)
        info = page_info(number, size, 72.0 * scale)
        image = lambda: locked_render(source, size)  # noqa: E731
        layout_size, to_image = (transform.width, transform.height), transform.image_mapping()
    else:
        # OCR reads the rendered image: its words, and so the layout, are in image pixels. The
        # image is stored as the page image now, and rendered again if a crop needs it.
        size = page_pixels(width, height, scale)
        budget.spend_pixels(size[0] * size[1])
        with PDFIUM_LOCK:
            rendered = render_page(page, scale)
            ocr_image, to_page = scan_input(page, rendered, scale, width, height, budget)
        info = page_info(number, rendered.size, 72.0 * scale)
        state.encoder.submit(info["image"].removeprefix("file:"), rendered)
        words = ocr_words(ocr_image, to_page, seconds=budget.limits.ocr_page_seconds, page=number)
        del rendered, ocr_image
        image = lambda: locked_render(source, (info["page_width"], info["page_height"]))  # noqa: E731
        graphics, layout_size, to_image = None, None, same_box
    # Pictures and tables are cropped from a render of their own box: sharper with high_resolution,
    # and on a text page never worth rendering the whole page for.
    crop_scale = CROP_SCALE_HIGH if high_resolution else scale if usable else 0

    def sharper_crop(box):
        if not crop_scale:
            return None
        opened = source.open()
        with PDFIUM_LOCK:
            return render_crop(opened, (width, height), box, scale,
                               capped_scale(width, height, crop_scale, MAX_PAGE_IMAGE_PIXELS))

    return PageInput(info, image, words, graphics, not usable, sharper_crop, layout_size, to_image)


def locked_render(source: PageSource, size: tuple[int, int]) -> Image.Image:
    """The page image, rendered under the PDFium lock."""
    page = source.open()
    with PDFIUM_LOCK:
        return render_whole_page(page, size)


def rendered_pdf_page(pdf: pdfium.PdfDocument, parsed: ParsedDocument, number: int) -> Image.Image:
    """A page's image, as its `pages` entry lists it, rendered again from the PDF."""
    info = next(page for page in parsed.pages if page["page_number"] == number)
    source = PageSource(pdf, number - 1)
    try:
        return locked_render(source, (info["page_width"], info["page_height"]))
    finally:
        source.close()


def scan_with_scraps_of_text(graphics, words: list, transform: PageTransform) -> bool:
    """A page that is mostly one image, with only a stamp or a page number as text."""
    page_area = transform.width * transform.height
    covered = any((right - left) * (bottom - top) >= 0.6 * page_area for left, top, right, bottom in graphics.images)
    return covered and sum(len(word.text) for word in words) < 200


def scan_input(page, image: Image.Image, scale: float, width: float, height: float, budget: Budget):
    """The image OCR reads for a page without usable text, and its factor back to page pixels."""
    wanted = min(SCAN_DPI / 72.0, OCR_LONG_SIDE / max(width, height))
    ocr_scale = capped_scale(width, height, wanted, MAX_OCR_PIXELS)
    if abs(ocr_scale - scale) <= 0.1 * scale:
        return image, 1.0
    size = page_pixels(width, height, ocr_scale)
    budget.spend_pixels(size[0] * size[1])
    return render_page(page, ocr_scale), scale / ocr_scale


def renders_blank(page: pdfium.PdfPage, width: float, height: float) -> bool:
    """Whether a page shows one colour only: nothing on it at all, or a small render of it uniform.
    Called under the PDFium lock."""
    if not pdfium_c.FPDFPage_CountObjects(page.raw) and not pdfium_c.FPDFPage_GetAnnotCount(page.raw):
        return True
    scale = min((BLANK_CHECK_PIXELS / (width * height)) ** 0.5, 1.0)
    extrema = render_page(page, scale).getextrema()
    return all(low == high for low, high in extrema[:3])
