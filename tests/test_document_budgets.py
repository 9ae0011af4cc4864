"""Budgets of a document, enforced while it runs (issue 13): pixels, pages, OCR time, blank pages.

Each attack found is reproduced: a TIFF of six 59.5-megapixel frames (3.6 GB before), a 59.5
megapixel PNG (1.35 GB), 4,999 blank PDF pages sharing one content stream and 3,000 tiny TIFF
frames (OCR'd at about 2.3 s a page until the task timed out), and a message with an object's
address in it.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import pypdfium2 as pdfium
import pytest
from budget_documents import big_frames_tiff, big_png, blank_pages_pdf, fax_tiff, marked_image, tiny_frames_tiff
from helpers import create
from PIL import Image

from pipeline.document import BudgetExceeded, DocumentError, Limits
from pipeline.pdf import images as pdf_images
from pipeline.pdf import ocr as pdf_ocr
from pipeline.pdf import parse as pdf_parse
from worker.loop import Worker

CONFIG = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
          "error_handling": "Fail", "segment_processing": {}}
QUIET = lambda message: None  # noqa: E731
PEAK_RSS_BOUND = 600 * 1024 * 1024
OLD_SECONDS_PER_PAGE = 2.3  # what OCR of one blank page cost before


@pytest.fixture
def ocr_calls(monkeypatch):
    """The OCR engine replaced by a recorder that reads nothing."""
    calls = []

    def engine(array):
        calls.append(array.shape)
        return type("Result", (), {"word_results": (), "boxes": None})()

    monkeypatch.setattr(pdf_ocr, "run_engine", engine)
    return calls


def child_peak(tmp_path, document: bytes, mime_type: str) -> tuple[int, str]:
    """Peak resident bytes of a fresh process that runs the pipeline on the document, and its answer.

    The OCR engine is left out: its working memory depends only on the size of its input, which is
    capped (MAX_OCR_PIXELS: about 700 MB at the largest), not on the document; what is measured is
    what the document's frames cost, which grew with every frame before."""
    path = tmp_path / "document"
    path.write_bytes(document)
    script = (
        "import sys\n"
        "from pipeline.pdf import ocr\n"
        "ocr.run_engine = lambda array: type('Result', (), {'word_results': (), 'boxes': None})()\n"
        "from pipeline.run import run_pipeline\n"
        "from schemas import default_configuration\n"
        "try:\n"
        f"    result = run_pipeline(open({str(path)!r}, 'rb').read(), {mime_type!r}, 'doc', default_configuration(None))\n"
        "    print('pages', result.output['page_count'], len(result.files))\n"
        "except Exception as error:\n"
        "    print('failed', error)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(tmp_path / "out.txt", "w+") as out:
        # One malloc arena per thread (glibc's default, up to 8 a core) lets a busy machine's thread
        # timing add whole freed copies of a frame to the peak; two arenas measure the frames alone.
        process = subprocess.Popen([sys.executable, "-c", script], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "MALLOC_ARENA_MAX": "2"})
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        answer = out.read()
    assert process.returncode == 0, answer
    return usage.ru_maxrss * 1024, answer.strip()


# Memory: frames are decoded one at a time and let go.

def test_a_tiff_of_six_huge_frames_stays_within_bounded_memory(tmp_path):
    """1.5 MB of TIFF, 6 x 7000 x 8500 pixels: 3.6 GB before, every full-size frame kept."""
    document = big_frames_tiff()
    peak, answer = child_peak(tmp_path, document, "image/tiff")
    assert answer.startswith("pages 6 ")
    assert peak < PEAK_RSS_BOUND, f"peak {peak >> 20} MB"


def test_a_png_of_59_megapixels_stays_within_bounded_memory(tmp_path):
    """194 kB of PNG, 59.5 megapixels: 1.35 GB before."""
    peak, answer = child_peak(tmp_path, big_png(), "image/png")
    assert answer.startswith("pages 1 ")
    # One RGB image of 59.5 MP is 178 MB decoded; its peak was 422 MB run alone, and up to 781 MB
    # in the middle of the whole suite (not explained yet): bounded below the 1.35 GB of before.
    assert peak < 1024 * 1024 * 1024, f"peak {peak >> 20} MB"


def test_the_pdf_of_an_image_document_holds_every_frame_at_full_size(ocr_calls):
    document = fax_tiff(20)
    parsed = pdf_images.parse_image(document, "image/tiff", CONFIG, QUIET)
    assert parsed.page_count == 20 and len(parsed.pages) == 20 and len(ocr_calls) == 20
    pdf = pdfium.PdfDocument(parsed.files["document.pdf"][1])
    try:
        assert len(pdf) == 20
        width, height = pdf[0].get_size()
        assert (round(width), round(height)) == (round(1728 * 72 / 204), round(2200 * 72 / 204))
        bitmap = pdf[19].render(scale=204 / 72)
        image = bitmap.to_pil().convert("L")
        assert abs(image.width - 1728) <= 1 and image.height == 2200  # one frame's pixels, as they were
        assert image.getpixel((800, 300 + 19 * 50 + 20)) < 64 and image.getpixel((100, 100)) > 192
    finally:
        pdf.close()


# Time: blank pages and frames are not OCR'd.

def test_4999_blank_pdf_pages_sharing_one_content_stream_finish_in_seconds_without_ocr(ocr_calls):
    document = blank_pages_pdf(4999)
    assert len(document) < 600_000
    started = time.monotonic()
    parsed = pdf_parse.parse_pdf(document, CONFIG, QUIET)
    elapsed = time.monotonic() - started
    assert ocr_calls == []
    assert parsed.page_count == 4999 and len(parsed.pages) == 4999 and parsed.segments == []
    assert elapsed < 120 and elapsed < 4999 * OLD_SECONDS_PER_PAGE / 50, elapsed


def test_3000_tiny_blank_tiff_frames_finish_in_seconds_without_ocr(ocr_calls):
    document = tiny_frames_tiff(3000)
    started = time.monotonic()
    parsed = pdf_images.parse_image(document, "image/tiff", CONFIG, QUIET)
    elapsed = time.monotonic() - started
    assert ocr_calls == []
    assert parsed.page_count == 3000 and len(parsed.pages) == 3000 and parsed.segments == []
    assert elapsed < 120 and elapsed < 3000 * OLD_SECONDS_PER_PAGE / 50, elapsed


def drawn_pdf(draw) -> bytes:
    """A one-page letter PDF drawn by `draw(canvas)` with reportlab."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(612, 792), invariant=1)
    draw(pdf)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_a_page_whose_drawing_shows_one_colour_is_blank_but_a_dot_is_read(ocr_calls):
    def white_box(pdf):
        pdf.setFillColorRGB(1, 1, 1)
        pdf.rect(0, 0, 612, 792, stroke=0, fill=1)

    def dot(pdf):
        pdf.circle(300, 400, 1, stroke=0, fill=1)

    blank = pdf_parse.parse_pdf(drawn_pdf(white_box), CONFIG, QUIET)
    assert ocr_calls == [] and blank.segments == [] and len(blank.pages) == 1
    pdf_parse.parse_pdf(drawn_pdf(dot), CONFIG, QUIET)
    assert len(ocr_calls) == 1


# Budgets: exceeded, they fail the document with a message naming the setting.

def test_the_pixel_budget_is_refused_from_the_frame_headers_before_any_decoding(ocr_calls, monkeypatch):
    decoded = []
    monkeypatch.setattr(pdf_images, "upright_frame", lambda image: decoded.append(image) or image)
    with pytest.raises(BudgetExceeded, match=r"^Document decodes to over 300 megapixels in all \(pages and frames "
                                             r"together\); MAX_DOCUMENT_PIXELS raises the limit$"):
        pdf_images.parse_image(big_frames_tiff(), "image/tiff", CONFIG, QUIET, Limits(max_document_pixels=300_000_000))
    assert decoded == [] and ocr_calls == []


def scanned_pdf(pages: int) -> bytes:
    """A PDF of `pages` scanned pages: images with marks, no text layer."""
    from pipeline.pdf.document import images_to_pdf

    return images_to_pdf([(marked_image((1275, 1650)), None, 150.0)] * pages)


def test_the_pixel_budget_is_enforced_while_a_pdf_runs_even_under_continue(ocr_calls):
    """Page images and OCR renders count; the page that would pass the budget fails the document."""
    messages = []
    with pytest.raises(BudgetExceeded, match="over 8 megapixels in all.*MAX_DOCUMENT_PIXELS raises the limit"):
        pdf_parse.parse_pdf(scanned_pdf(5), {**CONFIG, "error_handling": "Continue"}, messages.append,
                            Limits(max_document_pixels=8_000_000))
    assert len(ocr_calls) == 2  # about 3.2 megapixels a page: the third passes 8
    assert messages[-1] == "Reading page 3/5"


def test_an_ocr_call_past_its_time_fails_the_document_naming_the_setting(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(pdf_ocr, "run_engine", lambda array: release.wait(30))
    started = time.monotonic()
    try:
        with pytest.raises(BudgetExceeded, match=r"^OCR of page 1 took over 0.2 seconds; OCR_PAGE_SECONDS raises"):
            pdf_images.parse_image(fax_tiff(2), "image/tiff", {**CONFIG, "error_handling": "Continue"}, QUIET,
                                   Limits(ocr_page_seconds=0.2))
    finally:
        release.set()
    assert time.monotonic() - started < 10


def test_pages_over_the_budget_are_refused_naming_the_setting():
    with pytest.raises(BudgetExceeded, match=r"^Document has 30 pages; at most 20 pages can be processed; "
                                             r"MAX_PAGES raises the limit$"):
        pdf_parse.parse_pdf(blank_pages_pdf(30), CONFIG, QUIET, Limits(max_pages=20))
    with pytest.raises(BudgetExceeded, match="^Document has 21 pages; at most 20"):
        pdf_images.parse_image(tiny_frames_tiff(21), "image/tiff", CONFIG, QUIET, Limits(max_pages=20))


def test_a_frame_over_the_image_budget_names_the_setting(ocr_calls):
    with pytest.raises(DocumentError, match=r"^Failed to process page 2: Image is too large \(7000 x 8500 pixels\): "
                                            r"at most 50 megapixels can be processed; MAX_IMAGE_PIXELS raises"):
        small = marked_image((100, 100))
        buffer = io.BytesIO()
        small.save(buffer, "TIFF", save_all=True, append_images=[marked_image((7000, 8500))],
                   compression="tiff_deflate")
        pdf_images.parse_image(buffer.getvalue(), "image/tiff", CONFIG, QUIET, Limits(max_image_pixels=50_000_000))


def test_no_object_address_in_an_image_message():
    with pytest.raises(DocumentError) as raised:
        pdf_images.parse_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", CONFIG, QUIET)
    assert str(raised.value) == "Cannot read the image: cannot identify image file"


# Through the service: the settings reach the sandbox child with the job.

def run_task(app, client, auth, document: bytes, **fields) -> dict:
    """Create a task, run it with one worker (its document in a sandbox child), and GET it."""
    task_id = create(client, auth, document, **fields)["task_id"]
    worker = Worker(app, threading.Event(), name="budgets")
    try:
        assert worker.run_once()
    finally:
        worker.sandbox.close()
    return client.get(f"/task/{task_id}", headers=auth).json


def test_a_document_over_its_pixel_budget_fails_its_task_naming_the_setting(app, client, auth):
    app.config["MAX_DOCUMENT_PIXELS"] = 50_000_000
    task = run_task(app, client, auth, big_frames_tiff(2, (5000, 6000)))
    assert (task["status"], task["message"]) == (
        "Failed", "Document decodes to over 50 megapixels in all (pages and frames together); "
                  "MAX_DOCUMENT_PIXELS raises the limit")


def test_pages_and_ocr_time_budgets_reach_the_sandbox(app, client, auth):
    app.config["MAX_PAGES"] = 2
    task = run_task(app, client, auth, fax_tiff(3))
    assert (task["status"], task["message"]) == (
        "Failed", "Document has 3 pages; at most 2 pages can be processed; MAX_PAGES raises the limit")
    app.config["MAX_PAGES"], app.config["OCR_PAGE_SECONDS"] = 5000, 0.1
    task = run_task(app, client, auth, fax_tiff(1), error_handling="Continue")
    assert (task["status"], task["message"]) == (
        "Failed", "OCR of page 1 took over 0.1 seconds; OCR_PAGE_SECONDS raises the limit")


def test_a_damaged_image_task_fails_without_an_object_address(app, client, auth):
    task = run_task(app, client, auth, b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert (task["status"], task["message"]) == ("Failed", "Cannot read the image: cannot identify image file")


def test_a_fax_tiff_still_succeeds_through_the_service(app, client, auth):
    buffer = io.BytesIO()
    frames = [Image.new("L", (600, 200), "white") for _ in range(3)]
    for number, frame in enumerate(frames):
        from PIL import ImageDraw

        ImageDraw.Draw(frame).text((20, 80), f"Frame number {number + 1}", fill="black", font_size=40)
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    task = run_task(app, client, auth, buffer.getvalue())
    assert (task["status"], task["message"]) == ("Succeeded", "Task succeeded")
    assert task["output"]["page_count"] == 3
    texts = " ".join(segment["text"] for chunk in task["output"]["chunks"] for segment in chunk["segments"])
    assert "Frame number 3" in texts or "number 3" in texts
