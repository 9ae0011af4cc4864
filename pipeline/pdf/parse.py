"""PDFs, images and office files into a ParsedDocument: page images, typed segments, the PDF."""
from __future__ import annotations

import ctypes
import io
import logging
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image, ImageOps, ImageSequence

from pipeline.document import PDF_FILE, DocumentError, ParsedDocument, page_image_name
from pipeline.pdf.classify import mark_running_headers
from pipeline.pdf.document import PDFIUM_LOCK, images_to_pdf, open_pdf
from pipeline.pdf.helper import MIN_PAGES, helper_wanted, kept_helper
from pipeline.pdf.limits import (
    MAX_IMAGE_PIXELS,
    MAX_OCR_PIXELS,
    MAX_PAGE_IMAGE_PIXELS,
    capped_scale,
    check_page_count,
    image_too_large_message,
    open_image,
)
from pipeline.pdf.objects import page_graphics
from pipeline.pdf.ocr import ENGINE_LOCK, ocr_words
from pipeline.pdf.office import office_to_pdf
from pipeline.pdf.page import DocumentState, PageInput, analyse_page
from pipeline.pdf.render import (
    CROP_SCALE_HIGH,
    BackgroundEncoder,
    crop_box,
    encode_image,
    page_pixels,
    page_scale,
    render_crop,
    render_page,
    render_whole_page,
)
from pipeline.pdf.segments import render_markup, same_box
from pipeline.pdf.text import PageTransform, text_is_usable, text_layer_words
from pipeline.segment_processing import embed_lengths

Progress = Callable[[str], None]
LOG = logging.getLogger(__name__)
EXIF_ORIENTATION = 0x0112
OCR_LONG_SIDE = 2000  # pixels: what the OCR engine's detector works at anyway
OCR_MIN_LONG_SIDE = 1000
SCAN_DPI = 150  # scanned PDF pages are rendered at this DPI (capped) for OCR
# Of a long PDF's pages, those this process analyses first beside its helper; it then takes the
# helper's last pages until the two meet. Under a half, since this process also receives the
# helper's pages: it is then the one that finishes first, and it is the one that can take more.
PARENT_SHARE = 0.45


def parse_pdf(document: bytes, configuration: dict, progress: Progress) -> ParsedDocument:
    """Segments, page images and the PDF itself, one page at a time."""
    pdf = open_pdf(document)
    try:
        return parse_open_pdf(pdf, document, configuration, progress)
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def parse_image(document: bytes, mime_type: str, configuration: dict, progress: Progress) -> ParsedDocument:
    """A PNG, JPEG or (multi-page) TIFF read by OCR; the image wrapped into a PDF."""
    image = open_image(document)
    frame_count = getattr(image, "n_frames", 1)
    check_page_count(frame_count)
    files: dict[str, tuple[str, bytes]] = {}
    state = DocumentState(configuration, files, BackgroundEncoder(files))
    parsed = ParsedDocument(segments=[], page_count=frame_count, files=files)
    frames_for_pdf = []
    per_page: list[list[dict]] = []
    try:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            number = index + 1
            progress(f"Running analysis (page {number}/{frame_count})")
            try:
                if frame.width * frame.height > MAX_IMAGE_PIXELS:  # a later TIFF frame may be the bomb
                    raise DocumentError(image_too_large_message(frame.width, frame.height))
                page_image = ImageOps.exif_transpose(frame).convert("RGB")
                dpi = image_dpi(frame)
                upright = frame.getexif().get(EXIF_ORIENTATION, 1) == 1
                # A JPEG goes into the PDF as it is (no second lossy encoding) unless it must be turned.
                jpeg = document if image.format == "JPEG" and frame_count == 1 and upright else None
                frames_for_pdf.append((page_image, jpeg, dpi))
                segments = image_page_segments(page_image, number, dpi, state, parsed)
            except Exception as error:  # noqa: BLE001 - one bad page must not end the task unasked
                handle_page_error(error, number, configuration, parsed)
                continue
            per_page.append(segments)
        state.encoder.finish()
        finish_segments(per_page, state, parsed, lambda number: stored_page_image(files, parsed, number))
        if frames_for_pdf:
            files[PDF_FILE] = ("application/pdf", images_to_pdf(frames_for_pdf))
            parsed.pdf = f"file:{PDF_FILE}"
    finally:
        state.encoder.finish()
        image.close()
    return parsed


def parse_office(document: bytes, mime_type: str, configuration: dict, progress: Progress) -> ParsedDocument:
    """An office document converted to PDF with LibreOffice, then parsed as a PDF."""
    progress("Converting document to PDF")
    return parse_pdf(office_to_pdf(document, mime_type), configuration, progress)


def image_dpi(frame: Image.Image) -> float:
    """The image's DPI from its metadata, 72 when it has none or a silly one."""
    dpi = frame.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 72.0
    except (TypeError, ValueError, IndexError):
        value = 72.0
    return round(value, 1) if 30 <= value <= 2400 else 72.0


def image_page_segments(page_image: Image.Image, number: int, dpi: float, state: DocumentState,
                        parsed: ParsedDocument) -> list[dict]:
    """OCR one image page and analyse it; the image itself (at most the pixel cap) is the page image."""
    if page_image.width * page_image.height > MAX_PAGE_IMAGE_PIXELS:
        factor = (MAX_PAGE_IMAGE_PIXELS / (page_image.width * page_image.height)) ** 0.5
        page_image = page_image.resize((int(page_image.width * factor), int(page_image.height * factor)))
        dpi *= factor
    info = page_info(number, page_image.size, dpi)
    state.encoder.submit(page_image_name(number, page_image.size), page_image)
    parsed.pages.append(info)
    ocr_image, to_page = ocr_input(page_image)
    words = ocr_words(ocr_image, to_page)
    return analyse_page(PageInput(info, page_image, words, None, from_ocr=True), state)


def ocr_input(image: Image.Image) -> tuple[Image.Image, float]:
    """The image resized for the OCR engine, and the factor back to the original's pixels."""
    # Large images shrink to the engine's working size; small ones grow to a readable one.
    # Upscaling a clean, readable image only blurs it, and the recogniser then garbles lines.
    long_side = max(image.width, image.height)
    factor = min(OCR_LONG_SIDE / long_side, (MAX_OCR_PIXELS / (image.width * image.height)) ** 0.5)
    if long_side < OCR_MIN_LONG_SIDE:
        factor = min(OCR_MIN_LONG_SIDE / long_side, 2.0)
    elif factor >= 1.0:
        return image, 1.0
    resized = image.resize((max(int(image.width * factor), 1), max(int(image.height * factor), 1)))
    return resized, 1.0 / factor


def page_info(number: int, size: tuple[int, int], dpi: float) -> dict:
    """The `pages` entry of one page image of this size."""
    return {"image": f"file:{page_image_name(number, size)}", "page_number": number, "page_width": size[0],
            "page_height": size[1], "dpi": round(dpi, 2)}


def parse_open_pdf(pdf: pdfium.PdfDocument, document: bytes, configuration: dict, progress: Progress) -> ParsedDocument:
    """Every page of an open PDF in turn, one at a time; a long PDF's later pages in a helper process."""
    count = len(pdf)
    files: dict[str, tuple[str, bytes]] = {PDF_FILE: ("application/pdf", document)}
    parsed = ParsedDocument(segments=[], page_count=count, files=files, pdf=f"file:{PDF_FILE}")
    per_page: list[list[dict]] = []
    own, helper, shared = count, None, None
    finished = False
    try:
        if helper_wanted(count):
            try:
                helper = kept_helper(helper_pages, hold=(PDFIUM_LOCK, ENGINE_LOCK))
                own = round(count * PARENT_SHARE)
                shared = document_for_helper(document)
                if shared is None:
                    helper.start((document, configuration), own, count)
                else:
                    helper.start((configuration,), own, count, descriptor=shared)
            except (OSError, RuntimeError) as error:  # no process or thread to be had: one process does it all
                LOG.warning("No page helper for a %d-page PDF: %s", count, error)
                if helper is not None:
                    helper.stop()
                own, helper = count, None
        state = DocumentState(configuration, files, BackgroundEncoder(files))
        try:
            for index in range(own):
                progress(f"Running analysis (page {index + 1}/{count})")
                settle_page(analyse_pdf_page(pdf, index, state), configuration, parsed, per_page)
            if helper is not None:
                taken: dict[int, AnalysedPage] = {}
                state.title_given = True  # a Title comes from the first pages only, not from the last
                for index in iter(helper.take, None):  # the helper's last pages, until it reaches them
                    progress(f"Running analysis (page {index + 1}/{count})")
                    taken[index] = analyse_pdf_page(pdf, index, state)
                    taken[index].close()
                outcomes = helper.outcomes()
                if not helper.alive:
                    LOG.warning("The page helper stopped before the end of a %d-page PDF", count)
                for index in range(own, count):
                    if index in taken:
                        settle_page(taken.pop(index), configuration, parsed, per_page)
                        continue
                    progress(f"Running analysis (page {index + 1}/{count})")
                    outcome = outcomes.get(index)
                    if outcome is None:  # the helper died before this page: this process does it
                        settle_page(analyse_pdf_page(pdf, index, state), configuration, parsed, per_page)
                        continue
                    files.update(outcome.files)
                    error = DocumentError(outcome.error) if outcome.error is not None else None
                    settle_page(AnalysedPage(index + 1, info=outcome.info, segments=outcome.segments,
                                             lengths=outcome.lengths, error=error), configuration, parsed, per_page)
            finished = True
        finally:
            state.encoder.finish()
    finally:
        if helper is not None and not (finished and helper.alive):
            helper.stop()  # it may still be at work on this PDF, or be gone: the next PDF forks another
        if shared is not None:
            os.close(shared)
    finish_segments(per_page, state, parsed, lambda number: rendered_pdf_page(pdf, parsed, number))
    return parsed


@dataclass
class PageOutcome:
    """What a helper process found on one page: its entry, segments and crops, or why it failed."""

    info: dict | None
    segments: list[dict]
    lengths: dict[str, int]
    files: dict[str, tuple[str, bytes]]
    error: str | None


def prepare_page_helper() -> None:
    """Fork this process's page helper now, while it holds no document (a worker's document
    child, before its first), if this machine would give a long PDF one."""
    if helper_wanted(MIN_PAGES):
        try:
            kept_helper(helper_pages, hold=(PDFIUM_LOCK, ENGINE_LOCK))
        except (OSError, RuntimeError) as error:
            LOG.warning("No page helper: %s", error)


def document_for_helper(document: bytes) -> int | None:
    """The document in an in-memory file (memfd) for the page helper, which gets a duplicate of
    its descriptor and maps it: a PDF of up to 100 MB is neither pickled through the pipe nor
    copied into the helper's heap. None where there is no memfd_create (the bytes go instead)."""
    try:
        shared = os.memfd_create("document.pdf", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None
    try:
        with open(shared, "wb", closefd=False) as file:
            file.write(document)
    except BaseException:
        os.close(shared)
        raise
    return shared


def helper_pages(document: int | bytes, configuration: dict,
                 indices: Iterator[int]) -> Iterator[tuple[int, PageOutcome]]:
    """Analyse pages in the helper process (pdf_helper.py), each page's crops and images with
    it; `document` is the descriptor of the PDF's in-memory file (document_for_helper) or its
    bytes. The PDF was checked by the parent, which opened it first."""
    mapped = None
    if isinstance(document, int):
        try:  # a private mapping: writable for ctypes, never written, shared with the file's pages
            mapped = mmap.mmap(document, 0, access=mmap.ACCESS_COPY)
        finally:
            os.close(document)
        document = (ctypes.c_char * len(mapped)).from_buffer(mapped)
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(document)
    files: dict[str, tuple[str, bytes]] = {}
    # Text sizes are counted from the helper's own pages; a Title comes from the first pages.
    state = DocumentState(configuration, files, BackgroundEncoder(files), title_given=True)
    try:
        for index in indices:
            analysed = analyse_pdf_page(pdf, index, state)
            analysed.close()
            state.encoder.finish_pending()
            error = None if analysed.error is None else describe_error(analysed.error)
            yield index, PageOutcome(analysed.info, analysed.segments, analysed.lengths, dict(files), error)
            files.clear()
    finally:
        state.encoder.finish()
        with PDFIUM_LOCK:
            pdf.close()
        del pdf, document  # the array over the mapping goes before the mapping can be closed
        if mapped is not None:
            mapped.close()


def rendered_pdf_page(pdf: pdfium.PdfDocument, parsed: ParsedDocument, number: int) -> Image.Image:
    """A page's image, as its `pages` entry lists it, rendered again from the PDF."""
    info = next(page for page in parsed.pages if page["page_number"] == number)
    with PDFIUM_LOCK:
        page = pdf[number - 1]
        try:
            return render_whole_page(page, (info["page_width"], info["page_height"]))
        finally:
            page.close()


@dataclass
class AnalysedPage:
    """A PDF page's segments (or why it failed) and its page entry."""

    number: int
    page: object = None
    info: dict | None = None
    segments: list[dict] = field(default_factory=list)
    lengths: dict[str, int] = field(default_factory=dict)  # segment_processing.embed_lengths of the segments
    error: Exception | None = None

    def close(self) -> None:
        """Close the page, if it is open."""
        if self.page is None:
            return
        with PDFIUM_LOCK:
            self.page.close()
        self.page = None


def settle_page(analysed: AnalysedPage, configuration: dict, parsed: ParsedDocument, per_page: list) -> None:
    """Keep an analysed page, or skip it or fail the document over its error."""
    analysed.close()
    if analysed.error is not None:
        handle_page_error(analysed.error, analysed.number, configuration, parsed)
        return
    parsed.pages.append(analysed.info)
    per_page.append(analysed.segments)
    parsed.embed_lengths.update(analysed.lengths)


def analyse_pdf_page(pdf: pdfium.PdfDocument, index: int, state: DocumentState) -> AnalysedPage:
    """Read and analyse one PDF page (OCR it when its text layer is not usable); its image may still render."""
    analysed = AnalysedPage(index + 1)
    try:
        with PDFIUM_LOCK:
            analysed.page = pdf[index]
        pdf_page_segments(analysed, state)
    except Exception as error:  # noqa: BLE001 - one bad page must not end the task unasked
        analysed.error = error
        analysed.close()
    return analysed


def pdf_page_segments(analysed: AnalysedPage, state: DocumentState) -> None:
    """Read, render and analyse one open PDF page into `analysed`."""
    number, page = analysed.number, analysed.page
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
    if usable:
        # The page image is not made here: the service renders it from the PDF when it is first
        # asked for (page_images.py), and most never are. A crop of it is rendered when needed.
        size = page_pixels(width, height, scale)
        image = lambda: locked_render(page, size)  # noqa: E731 - called while the page is open
        info = page_info(number, size, 72.0 * scale)
        layout_size, to_image = (transform.width, transform.height), transform.image_mapping()
    else:
        # OCR reads the rendered image: its words, and so the layout, are in image pixels.
        with PDFIUM_LOCK:
            image = render_page(page, scale)
            ocr_image, to_page = scan_input(page, image, scale, width, height)
        info = page_info(number, image.size, 72.0 * scale)
        state.encoder.submit(info["image"].removeprefix("file:"), image)
        words = ocr_words(ocr_image, to_page)
        graphics, layout_size, to_image = None, None, same_box
    # Pictures and tables are cropped from a render of their own box: sharper with high_resolution,
    # and on a text page never worth rendering the whole page for.
    crop_scale = CROP_SCALE_HIGH if high_resolution else scale if usable else 0

    def sharper_crop(box):
        if not crop_scale:
            return None
        with PDFIUM_LOCK:
            return render_crop(page, (width, height), box, scale,
                               capped_scale(width, height, crop_scale, MAX_PAGE_IMAGE_PIXELS))

    analysed.info = info
    analysed.segments = analyse_page(PageInput(info, image, words, graphics, not usable, sharper_crop,
                                               layout_size, to_image), state)
    # Counted here, beside the page (in the helper for its pages), rather than all at the end.
    analysed.lengths = embed_lengths(analysed.segments, state.configuration)


def locked_render(page, size: tuple[int, int]) -> Image.Image:
    """The page image, rendered under the PDFium lock."""
    with PDFIUM_LOCK:
        return render_whole_page(page, size)


def scan_with_scraps_of_text(graphics, words: list, transform: PageTransform) -> bool:
    """A page that is mostly one image, with only a stamp or a page number as text."""
    page_area = transform.width * transform.height
    covered = any((right - left) * (bottom - top) >= 0.6 * page_area for left, top, right, bottom in graphics.images)
    return covered and sum(len(word.text) for word in words) < 200


def scan_input(page, image: Image.Image, scale: float, width: float, height: float):
    """The image OCR reads for a page without usable text, and its factor back to page pixels."""
    wanted = min(SCAN_DPI / 72.0, OCR_LONG_SIDE / max(width, height))
    ocr_scale = capped_scale(width, height, wanted, MAX_OCR_PIXELS)
    if abs(ocr_scale - scale) <= 0.1 * scale:
        return image, 1.0
    return render_page(page, ocr_scale), scale / ocr_scale


def handle_page_error(error: Exception, number: int, configuration: dict, parsed: ParsedDocument) -> None:
    """Skip the page under error_handling=Continue, else fail the document naming the page."""
    reason = describe_error(error)
    if configuration.get("error_handling", "Fail") == "Continue":
        parsed.skipped.append(f"page {number}: {reason}")
        return
    raise DocumentError(f"Failed to process page {number}: {reason}") from error


def describe_error(error: Exception) -> str:
    """A short text for why a page failed."""
    if isinstance(error, DocumentError):
        return str(error)
    if isinstance(error, MemoryError):
        return "out of memory"
    if isinstance(error, pdfium.PdfiumError):
        return f"the page is damaged ({error})"
    return f"{type(error).__name__}: {error}"


def finish_segments(per_page: list[list[dict]], state: DocumentState, parsed: ParsedDocument,
                    page_image: Callable[[int], Image.Image]) -> None:
    """Find running headers and footers across pages, then list every segment in order."""
    if not state.page_strategy:
        for segment in mark_running_headers(per_page):
            render_markup(segment)
            recrop(segment, state, page_image)
    parsed.segments = [segment for segments in per_page for segment in segments]


def stored_page_image(files: dict[str, tuple[str, bytes]], parsed: ParsedDocument, number: int) -> Image.Image:
    """A page's image as the pipeline stored it (image documents store every page's)."""
    page = next(page for page in parsed.pages if page["page_number"] == number)
    image = Image.open(io.BytesIO(files[page["image"].removeprefix("file:")][1]))
    image.load()
    return image


def recrop(segment: dict, state: DocumentState, page_image: Callable[[int], Image.Image]) -> None:
    """Give a retyped segment the cropped image its new type asks for, or take it away."""
    wanted = state.crops(segment["segment_type"])
    if segment["image"] is not None and not wanted:
        state.files.pop(segment["image"].removeprefix("file:"), None)
        segment["image"] = None
    elif segment["image"] is None and wanted:
        box = segment["bbox"]
        crop = crop_box(page_image(segment["page_number"]),
                        (box["left"], box["top"], box["left"] + box["width"], box["top"] + box["height"]))
        name = f"segment-{segment['segment_id']}.jpg"
        state.files[name] = ("image/jpeg", encode_image(crop))
        segment["image"] = f"file:{name}"
