"""Image documents (PNG, JPEG, multi-page TIFF): each frame read by OCR, the images wrapped into a PDF.

Two passes, as for PDFs (parse.py): every frame is read first (its OCR words and lines, whose
text sizes count towards the document's body size), then each is typed against that size. Frames
are decoded one at a time and let go once read: a frame's page image is decoded again in the
second pass only if a crop needs it, and the PDF takes each frame compressed as it comes.
"""
from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageOps

from pipeline.document import PDF_FILE, Limits, ParsedDocument, page_image_name
from pipeline.pdf.document import ImagePdf
from pipeline.pdf.limits import (
    DEFAULT_LIMITS,
    MAX_OCR_PIXELS,
    MAX_PAGE_IMAGE_PIXELS,
    Budget,
    open_image,
)
from pipeline.pdf.ocr import ocr_words
from pipeline.pdf.page import DocumentState, PageInput, PageLines, analyse_page, page_lines
from pipeline.pdf.pages import fails_now, finish_segments, handle_page_error, page_info, stored_page_image
from pipeline.pdf.render import BackgroundEncoder

Progress = Callable[[str], None]
EXIF_ORIENTATION = 0x0112
OCR_LONG_SIDE = 2000  # pixels: what the OCR engine's detector works at anyway
OCR_MIN_LONG_SIDE = 1000


def parse_image(document: bytes, mime_type: str, configuration: dict, progress: Progress,
                limits: Limits = DEFAULT_LIMITS) -> ParsedDocument:
    """A PNG, JPEG or (multi-page) TIFF read by OCR; the image wrapped into a PDF."""
    image = open_image(document, limits)
    budget = Budget(limits)
    files: dict[str, tuple[str, bytes]] = {}
    state = DocumentState(configuration, files, BackgroundEncoder(files))
    try:
        frame_count = getattr(image, "n_frames", 1)
        budget.check_page_count(frame_count)
        # Every frame's size is in the file's headers: a document over its pixel budget fails before
        # any is decoded (frames over the per-image limit are not decoded, so they do not count).
        budget.check_document_pixels(sum(pixels for pixels in frame_pixels(image, frame_count)
                                         if pixels <= limits.max_image_pixels))
        parsed = ParsedDocument(segments=[], page_count=frame_count, files=files)
        pdf = ImagePdf()
        read: list[tuple[int, PageInput | None, PageLines | None, Exception | None]] = []
        for index in range(frame_count):
            number = index + 1
            progress(f"Reading page {number}/{frame_count}")
            try:
                page = read_frame(image, index, document, frame_count, budget, state, pdf)
                lines = page_lines(page)
                state.body.add(lines.lines)
                read.append((number, page, lines, None))
            except Exception as error:  # noqa: BLE001 - one bad page must not end the task unasked
                if fails_now(error, configuration):
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
            finally:
                page.image = None  # a page image decoded again for a crop goes with its page
            parsed.pages.append(page.info)
            per_page.append(segments)
        state.encoder.finish()
        finish_segments(per_page, state, parsed, lambda number: stored_page_image(files, parsed, number))
        if pdf.pages:
            files[PDF_FILE] = ("application/pdf", pdf.finish())
            parsed.pdf = f"file:{PDF_FILE}"
    finally:
        state.encoder.finish()
        image.close()
    return parsed


def frame_pixels(image: Image.Image, frame_count: int) -> list[int]:
    """The pixel count of every frame, read from the frames' headers (nothing is decoded); 0 for a
    frame whose header cannot be read (that page fails when it is read)."""
    sizes = []
    for index in range(frame_count):
        try:
            image.seek(index)
            sizes.append(image.width * image.height)
        except (OSError, ValueError, EOFError, SyntaxError):
            sizes.append(0)
    image.seek(0)
    return sizes


def read_frame(image: Image.Image, index: int, document: bytes, frame_count: int, budget: Budget,
               state: DocumentState, pdf: ImagePdf) -> PageInput:
    """Decode one frame, add it to the PDF, store its page image and OCR it (unless it is one colour)."""
    image.seek(index)
    budget.check_image(image.width, image.height)  # a later TIFF frame may be the bomb
    budget.spend_pixels(image.width * image.height)
    dpi = image_dpi(image)
    frame = upright_frame(image)
    # A JPEG goes into the PDF as it is (no second lossy encoding) unless it had to be turned.
    upright = frame is image
    pdf.add(frame, dpi, document if image.format == "JPEG" and frame_count == 1 and upright else None)
    blank = is_uniform(frame)
    page_image, page_dpi = page_image_of(frame, dpi)
    del frame
    if frame_count == 1 or image.format == "TIFF":  # a TIFF frame is decoded on its own (an APNG's is not)
        release_pixels(image)  # before OCR, whose own working memory is the largest
    number = index + 1
    info = page_info(number, page_image.size, page_dpi)
    state.encoder.submit(page_image_name(number, page_image.size), page_image)
    if blank:  # nothing to read: no OCR, no segments, as OCR of an empty page gives
        words = []
    else:
        ocr_image, to_page = ocr_input(page_image)
        words = ocr_words(ocr_image, to_page, seconds=budget.limits.ocr_page_seconds, page=number)
        del ocr_image
    # The page image is let go: decoded again, only when a crop of this page needs it.
    return PageInput(info, lambda: decoded_page_image(document, index, dpi), words, None, from_ocr=True)


def upright_frame(image: Image.Image) -> Image.Image:
    """The current frame decoded, turned upright by its EXIF orientation (the image itself when upright)."""
    image.load()
    if image.getexif().get(EXIF_ORIENTATION, 1) in (1, None):
        return image
    return ImageOps.exif_transpose(image)


def is_uniform(frame: Image.Image) -> bool:
    """Whether every pixel of the frame is the same colour (a blank page)."""
    extrema = frame.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return all(low == high for low, high in bands)


def page_image_of(frame: Image.Image, dpi: float) -> tuple[Image.Image, float]:
    """The page image of a frame (RGB, at most the page image pixel cap) and its DPI."""
    work = frame if frame.mode in ("L", "RGB") else frame.convert("L" if frame.mode == "1" else "RGB")
    if work.width * work.height > MAX_PAGE_IMAGE_PIXELS:
        factor = (MAX_PAGE_IMAGE_PIXELS / (work.width * work.height)) ** 0.5
        work = work.resize((int(work.width * factor), int(work.height * factor)))
        dpi *= factor
    return work.convert("RGB"), dpi


def release_pixels(image: Image.Image) -> None:
    """Let go of the current frame's decoded pixels; the file stays open, and the next frame is
    decoded into a new buffer (PIL keeps the pixels in `_im`, and reuses them for a frame of the
    same size, which is what is not wanted here)."""
    image._im = None


def decoded_page_image(document: bytes, index: int, dpi: float) -> Image.Image:
    """A frame's page image decoded again from the document, as the first pass made it."""
    with Image.open(io.BytesIO(document)) as image:
        image.seek(index)
        return page_image_of(upright_frame(image), dpi)[0]


def image_dpi(frame: Image.Image) -> float:
    """The image's DPI from its metadata, 72 when it has none or a silly one."""
    dpi = frame.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 72.0
    except (TypeError, ValueError, IndexError):
        value = 72.0
    return round(value, 1) if 30 <= value <= 2400 else 72.0


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
