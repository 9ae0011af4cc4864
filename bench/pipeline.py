"""Speed and memory of the PDF pipeline, beside bare pypdfium2 text extraction in the same run.

    python bench/pipeline.py [PDF ...] [--scan-pages 4] [--memory-pages 500] [--repeats 5]

Text PDFs: pages per second of the whole pipeline (pipeline.run_pipeline: parse, segment
processing and chunking; parse_pdf alone if pipeline.py cannot be imported) with
high_resolution on and off, and of bare extraction (load page, text page, whole text). The
pipeline does not render the page images of text pages; the service renders one when it is
first asked for (page_images.py): "images p/s" is that work for every page, one request each.
Scans: pages of the first PDF rendered at 150 DPI, wrapped into a PDF, read by OCR.
Memory: peak RSS of a child process running a generated 500-page PDF through it.
"""
from __future__ import annotations

import argparse
import gc
import io
import os
import resource
import subprocess
import sys
import time

# The project's folder replaces this one on the path: bench/pipeline.py would hide pipeline.py.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import pypdfium2 as pdfium  # noqa: E402

from pipeline.pdf import parse as pdf_pipeline  # noqa: E402
from pipeline.pdf.document import images_to_pdf  # noqa: E402

DEFAULT_PDFS = ["/usr/share/R/doc/manual/R-intro.pdf", "/usr/share/R/doc/manual/R-lang.pdf",
                "/usr/share/R/doc/manual/R-admin.pdf", "/usr/share/doc/libtasn1-doc/libtasn1.pdf"]
CHUNKING = {"target_length": 512, "tokenizer": {"Enum": "Cl100kBase"}, "ignore_headers_and_footers": True}


def configuration(high_resolution: bool) -> dict:
    """A full configuration as the service stores it (SPEC.md §8 defaults)."""
    processing = {kind: {"format": "Markdown", "strategy": "Auto", "crop_image": "Auto",
                         "embed_sources": ["Markdown"]}
                  for kind in ("Title", "SectionHeader", "Text", "ListItem", "Table", "Picture", "Caption",
                               "Formula", "Footnote", "PageHeader", "PageFooter", "Page")}
    processing["Picture"]["crop_image"] = "All"
    return {"high_resolution": high_resolution, "ocr_strategy": "All", "segmentation_strategy": "LayoutAnalysis",
            "error_handling": "Fail", "segment_processing": processing, "chunk_processing": CHUNKING}


def whole_pipeline():
    """run_pipeline's signature over parse_pdf, or parse_pdf alone when pipeline.py is missing;
    run as a worker's document child runs it (runner._serve_documents): without automatic
    garbage collection. The child collects after it has sent its result, and rate() before
    each run, untimed."""
    try:
        from pipeline.run import run_pipeline
    except ImportError:
        def run(document, config):
            return pdf_pipeline.parse_pdf(document, config, lambda message: None)
        with_chunking = False
    else:
        def run(document, config):
            return run_pipeline(document, "application/pdf", "bench.pdf", config)
        with_chunking = True

    def as_in_document_child(document, config):
        gc.disable()
        try:
            return run(document, config)
        finally:
            gc.enable()

    return as_in_document_child, with_chunking


def bare_extraction(document: bytes) -> int:
    """Every page's text with pypdfium2 and nothing else; returns the page count."""
    pdf = pdfium.PdfDocument(document)
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
        return len(pdf)
    finally:
        pdf.close()


def rate(work, repeats: int = 2) -> float:
    """Best seconds of `repeats` runs of work()."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def page_images_on_request(document: bytes, result) -> None:
    """Every page image the result lists, rendered as the service renders one on request."""
    from web import page_images

    for page in result.output["pages"]:
        name = page["image"].removeprefix("file:")
        if name not in result.files:
            page_images.render_page_image(document, name)


def text_pdfs(paths: list[str], repeats: int) -> None:
    """Pages per second: bare extraction, then the pipeline with and without high resolution;
    its page helper forked first, as a worker's document child forks it."""
    pdf_pipeline.prepare_page_helper()
    run, with_chunking = whole_pipeline()
    print(f"Text PDFs ({'run_pipeline: parse + segment processing + chunking' if with_chunking else 'parse_pdf'})")
    print(f"{'PDF':22s} {'pages':>5s} {'bare p/s':>9s} {'hi-res p/s':>10s} {'ratio':>6s} {'lo-res p/s':>10s} {'ratio':>6s} "
          f"{'images p/s':>10s}")
    totals = [0, 0.0, 0.0, 0.0, 0.0]
    for path in paths:
        with open(path, "rb") as handle:
            document = handle.read()
        pages = bare_extraction(document)
        # Interleaved, best of each: this machine's speed drifts over seconds (a shared host).
        best = {"bare": float("inf"), "high": float("inf"), "low": float("inf")}
        for _ in range(repeats):
            for name, work in (("bare", lambda: bare_extraction(document)),
                               ("high", lambda: run(document, configuration(True))),
                               ("low", lambda: run(document, configuration(False)))):
                best[name] = min(best[name], rate(work, 1))
        bare, high, low = best["bare"], best["high"], best["low"]
        result = run(document, configuration(True))
        images = rate(lambda: page_images_on_request(document, result), 1)
        totals = [totals[0] + pages, totals[1] + bare, totals[2] + high, totals[3] + low, totals[4] + images]
        print(f"{os.path.basename(path)[:22]:22s} {pages:5d} {pages / bare:9.0f} {pages / high:10.1f} {bare / high:6.1%} "
              f"{pages / low:10.1f} {bare / low:6.1%} {pages / images:10.1f}", flush=True)
    pages, bare, high, low, images = totals
    print(f"{'ALL':22s} {pages:5d} {pages / bare:9.0f} {pages / high:10.1f} {bare / high:6.1%} "
          f"{pages / low:10.1f} {bare / low:6.1%} {pages / images:10.1f}")


def scanned_pdf(path: str, count: int, dpi: int = 150) -> bytes:
    """The first `count` pages of a PDF as a scanned PDF (page images only, no text layer)."""
    pdf = pdfium.PdfDocument(path)
    try:
        frames = [(pdf[index].render(scale=dpi / 72).to_pil().convert("RGB"), None, float(dpi))
                  for index in range(min(count, len(pdf)))]
    finally:
        pdf.close()
    return images_to_pdf(frames)


def scans(path: str, count: int) -> None:
    """Pages per second of scanned pages, read by OCR."""
    document = scanned_pdf(path, count)
    run, _ = whole_pipeline()
    seconds = rate(lambda: run(document, configuration(True)), 1)
    print(f"Scans: {count} pages of {os.path.basename(path)} at 150 DPI: {count / seconds:.2f} pages/s "
          f"({seconds / count:.1f} s/page, bare text extraction finds nothing on them)")


def generated_pdf(pages: int) -> bytes:
    """A long report: every page a heading, paragraphs, a ruled table and a picture."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("RGB", (300, 200), (220, 230, 250))
    ImageDraw.Draw(picture).ellipse((40, 40, 160, 160), fill=(200, 60, 60))
    reader = ImageReader(picture)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    sentence = "The pipeline reads every page of this long report and keeps its memory bounded. "
    for number in range(1, pages + 1):
        pdf.setFont("Helvetica", 8)
        pdf.drawString(72, 752, "Generated report for the memory benchmark")
        pdf.drawCentredString(306, 30, f"Page {number}")
        pdf.setFont("Helvetica-Bold", 16)
        pdf.drawString(72, 710, f"Section {number}")
        pdf.setFont("Helvetica", 10)
        y = 680
        for line in range(18):
            pdf.drawString(72, y, (sentence * 2)[line % 7: line % 7 + 95])
            y -= 13
        for row in range(5):
            pdf.line(72, 400 - row * 18, 372, 400 - row * 18)
            for column, text in enumerate((f"Item {row}", str(row * 7), f"{row * 1.5:.2f}")):
                pdf.drawString(76 + column * 100, 387 - row * 18, text)
        for x in (72, 172, 272, 372):
            pdf.line(x, 400, x, 328)
        pdf.drawImage(reader, 72, 100, width=240, height=160)
        pdf.drawString(72, 86, f"Figure {number}: A circle.")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def memory(pages: int) -> None:
    """Peak RSS of a child process that runs a generated long PDF through the pipeline."""
    path = f"/tmp/bench-{pages}-pages.pdf"
    with open(path, "wb") as handle:
        handle.write(generated_pdf(pages))
    output = subprocess.run([sys.executable, __file__, "--child", path], capture_output=True, text=True, check=True)
    print(output.stdout.strip())


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; getrusage would report the parent's after fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proportional_mb(pid: int | str) -> float:
    """A process's proportional set size (its private memory plus its share of what it shares), 0 once gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def child_pids() -> list[str]:
    """This process's children (its page helper, once forked)."""
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return children.read().split()
    except OSError:
        return []


def child(path: str) -> None:
    """Run one PDF through the pipeline and report this process's peak RSS, and the peak of its
    and its page helper's proportional set sizes added up (pages they share counted once). It
    starts as a worker's document child does, from what its fork server loads (runner.PRELOAD:
    the modules and the tokenizer), and forks its page helper before the document, as a worker's
    document child does (runner._serve_documents)."""
    import importlib
    import threading

    from sandbox.runner import PRELOAD

    for module in PRELOAD:
        importlib.import_module(module)
    pdf_pipeline.prepare_page_helper()
    run, _ = whole_pipeline()
    with open(path, "rb") as handle:
        document = handle.read()
    before = peak_rss_mb()
    combined = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            combined[0] = max(combined[0], proportional_mb("self") + sum(map(proportional_mb, child_pids())))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    result = run(document, configuration(True))
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak = peak_rss_mb()
    from pipeline.pdf.helper import stop_kept_helper

    stop_kept_helper()  # reaped, its peak is counted below
    helper = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stored = sum(len(data) for _, data in result.files.values()) / 2**20
    print(f"Memory: {os.path.basename(path)} ({len(document) / 2**20:.1f} MB) in {seconds:.1f} s: "
          f"peak RSS {peak:.0f} MB (after imports {before:.0f} MB), its page helper's {helper:.0f} MB; "
          f"both together (PSS, sampled every 50 ms) at most {combined[0]:.0f} MB; output files {stored:.0f} MB")


def small_documents(count: int) -> None:
    """A one-page PDF as a worker runs it (runner.py: in its document child, kept between
    documents, or a fresh one after a failure) beside the pipeline called in this process."""
    from reportlab.pdfgen import canvas

    from sandbox.runner import PipelineRunner

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 720, "Invoice 42: one line of text")
    pdf.save()
    document = buffer.getvalue()
    run, _ = whole_pipeline()
    runner = PipelineRunner()

    def in_child():
        return runner.run(document, "application/pdf", "small.pdf", configuration(True),
                          progress=lambda message: None, timeout=600, should_abandon=lambda: False)

    def in_fresh_child():
        runner.close_child()
        return in_child()

    timings = {}
    calls = (("in this process", lambda: run(document, configuration(True))), ("kept child", in_child),
             ("fresh child", in_fresh_child))
    for name, call in calls:
        call()  # warm: imports, the tokenizer, the fork server
        started = time.perf_counter()
        for _ in range(count):
            call()
        timings[name] = (time.perf_counter() - started) / count * 1000
    runner.close_child()
    print(f"Small PDFs: a one-page PDF takes {timings['kept child']:.0f} ms in a worker's document child, "
          f"{timings['fresh child']:.0f} ms in a fresh one, {timings['in this process']:.0f} ms in this "
          f"process (mean of {count})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="*")
    parser.add_argument("--scan-pages", type=int, default=4)
    parser.add_argument("--memory-pages", type=int, default=500)
    parser.add_argument("--small", type=int, default=10, help="one-page PDFs run through the worker's runner")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each text-PDF measure; the best counts")
    parser.add_argument("--child")
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child)
        return
    paths = arguments.pdfs or [path for path in DEFAULT_PDFS if os.path.exists(path)]
    text_pdfs(paths, arguments.repeats)
    if arguments.scan_pages:
        scans(paths[0], arguments.scan_pages)
    if arguments.small:
        small_documents(arguments.small)
    if arguments.memory_pages:
        memory(arguments.memory_pages)


if __name__ == "__main__":
    main()
