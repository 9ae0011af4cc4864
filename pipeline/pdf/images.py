"""Image documents (PNG, JPEG, multi-page TIFF): each frame read by OCR, the images wrapped into a PDF.

Two passes, as for PDFs (parse.py): every frame is read first (its OCR words and lines, whose
text sizes count towards the document's body size), then each is typed against that size.
"""
from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageOps, ImageSequence

from pipeline.document import PDF_FILE, DocumentError, ParsedDocument, page_image_name
from pipeline.pdf.document import images_to_pdf
from pipeline.pdf.limits import (
    MAX_IMAGE_PIXELS,
    MAX_OCR_PIXELS,
    MAX_PAGE_IMAGE_PIXELS,
    check_page_count,
    image_too_large_message,
    open_image,
)
from pipeline.pdf.ocr import ocr_words
from pipeline.pdf.page import DocumentState, PageInput, PageLines, analyse_page, page_lines
from pipeline.pdf.pages import continues, finish_segments, handle_page_error, page_info, stored_page_image
from pipeline.pdf.render import BackgroundEncoder

Progress = Callable[[str], None]
EXIF_ORIENTATION = 0x0112
OCR_LONG_SIDE = 2000  # pixels: what the OCR engine's detector works at anyway
OCR_MIN_LONG_SIDE = 1000


def parse_image(document: bytes, mime_type: str, configuration: dict, progress: Progress) -> ParsedDocument:
    """A PNG, JPEG or (multi-page) TIFF read by OCR; the image wrapped into a PDF."""
    image = open_image(document)
    frame_count = getattr(image, "n_frames", 1)
    check_page_count(frame_count)
    files: dict[str, tuple[str, bytes]] = {}
    state = DocumentState(configuration, files, BackgroundEncoder(files))
    parsed = ParsedDocument(segments=[], page_count=frame_count, files=files)
    frames_for_pdf = []
    read: list[tuple[int, PageInput | None, PageLines | None, Exception | None]] = []
    try:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            number = index + 1
            progress(f"Reading page {number}/{frame_count}")
            try:
                if frame.width * frame.height > MAX_IMAGE_PIXELS:  # a later TIFF frame may be the bomb
                    raise DocumentError(image_too_large_message(frame.width, frame.height))
                page_image = ImageOps.exif_transpose(frame).convert("RGB")
                dpi = image_dpi(frame)
                upright = frame.getexif().get(EXIF_ORIENTATION, 1) == 1
                # A JPEG goes into the PDF as it is (no second lossy encoding) unless it must be turned.
                jpeg = document if image.format == "JPEG" and frame_count == 1 and upright else None
                frames_for_pdf.append((page_image, jpeg, dpi))
                page = read_image_page(page_image, number, dpi, state)
                lines = page_lines(page)
                state.body.add(lines.lines)
                read.append((number, page, lines, None))
            except Exception as error:  # noqa: BLE001 - one bad page must not end the task unasked
                if not continues(configuration):
                    handle_page_error(error, number, configuration, parsed)  # fails the document now
                read.append((number, None, None, error))
        per_page: list[list[dict]] = []
        for number, page, lines, error in read:
            if error is not None:  # error_handling=Continue: skipped, in page order
                handle_page_error(error, number, configuration, parsed)
                continue
            progress(f"Running analysis (page {number}/{frame_count})")
            try:
                segments = analyse_page(page, state, lines)
            except Exception as error:  # noqa: BLE001 - one bad page must not end the task unasked
                handle_page_error(error, number, configuration, parsed)
                continue
            parsed.pages.append(page.info)
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


def image_dpi(frame: Image.Image) -> float:
    """The image's DPI from its metadata, 72 when it has none or a silly one."""
    dpi = frame.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 72.0
    except (TypeError, ValueError, IndexError):
        value = 72.0
    return round(value, 1) if 30 <= value <= 2400 else 72.0


def read_image_page(page_image: Image.Image, number: int, dpi: float, state: DocumentState) -> PageInput:
    """OCR one image page; the image itself (at most the pixel cap) is the page image."""
    if page_image.width * page_image.height > MAX_PAGE_IMAGE_PIXELS:
        factor = (MAX_PAGE_IMAGE_PIXELS / (page_image.width * page_image.height)) ** 0.5
        page_image = page_image.resize((int(page_image.width * factor), int(page_image.height * factor)))
        dpi *= factor
    info = page_info(number, page_image.size, dpi)
    state.encoder.submit(page_image_name(number, page_image.size), page_image)
    ocr_image, to_page = ocr_input(page_image)
    return PageInput(info, page_image, ocr_words(ocr_image, to_page), None, from_ocr=True)


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
