"""Throughput of the service's workers on real PDFs, against bare pypdfium2 text extraction in the same run.

Run from the project root: `.venv/bin/python -m bench.pipeline [PDF ...] [--rounds 3] [--repeat 3] [--quick]`

1. Throughput (a busy service): as many workers as cores, laid out as the service lays them out
   (one thread each with its own sandbox child, calling worker.loop.run_document with the
   configuration the service stores by default), take the batch (the PDFs, `--repeat` times) from
   one shared queue; beside them, in the same run, as many processes (a multiprocessing Pool)
   extract the same batch's text with bare pypdfium2 (load page, text page, whole text, close).
   Pages per second of each, alternated `--rounds` times, medians, and their ratio (target at
   least 0.25). The sandboxes are warmed first, untimed.
2. Idle latency: one document on an idle warm worker, median of `--idle-runs`: a one-page PDF and
   the first PDF.
3. First document after a start: in a fresh Python process (so a new fork server), the time from
   creating the worker's sandbox and its warm_up() (as a worker starts) to the first document
   done, against the same document on the warm sandbox (target: first / warm at most 2).
4. Memory: the peak RSS (VmHWM) of one worker's sandbox child, a fresh one, on a generated
   `--memory-pages` (500) page PDF, polled while it runs (target under 500 MB); beside it, that of
   any process the child forks (the old layout's page helper).
5. CPU time in one process: the pipeline's CPU seconds (best of `--idle-runs`, automatic GC off
   as in a sandbox child) against bare extraction's on the same PDFs, and their ratio: per core,
   what the throughput ratio can reach before the sandbox's trip. CPU time, not wall time, so
   the figure holds up better than pages/s on a machine other work is using.

The same file runs in a checkout of the old layout (top-level runner.py: one PipelineRunner per
worker instead of a Sandbox) for a "before" figure: copy it to that tree's bench/ and run it the
same way from that tree's root with its own interpreter.
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pypdfium2 as pdfium

# Every sandbox child imports this module as its __main__ (multiprocessing prepares a child from
# the parent's main module): the layout's modules are imported in functions, not here.
DEFAULT_PDFS = ["/usr/share/R/doc/manual/R-intro.pdf", "/usr/share/R/doc/manual/R-lang.pdf",
                "/usr/share/R/doc/manual/R-admin.pdf", "/usr/share/doc/libtasn1-doc/libtasn1.pdf"]
QUICK_PDFS = ["/usr/share/doc/libtasn1-doc/libtasn1.pdf", "/usr/share/R/doc/manual/R-lang.pdf"]
MIME_TYPE = "application/pdf"
TIMEOUT = 1800.0
POLL_SECONDS = 0.05


def layout() -> str:
    """"sandbox" (sandbox/pool.py, worker/loop.py) or "runner" (the old top-level runner.py)."""
    try:
        import sandbox.pool  # noqa: F401
    except ImportError:
        return "runner"
    return "sandbox"


def configuration() -> dict:
    """The configuration a task gets when none is given, as the service stores it (SPEC.md §8)."""
    from schemas import default_configuration

    return default_configuration(None)


class ServiceWorker:
    """What one worker thread runs documents with: its own Sandbox (one child), or in the old
    layout its own PipelineRunner (one document child)."""

    def __init__(self):
        self.layout = layout()
        if self.layout == "sandbox":
            from sandbox.pool import Sandbox
            from settings import DEFAULTS
            from worker.loop import run_document

            self.sandbox = Sandbox(memory_limit=DEFAULTS["SANDBOX_MEMORY_BYTES"],
                                   max_documents=DEFAULTS["SANDBOX_MAX_DOCUMENTS"])
            self._run_document = run_document
        else:
            from runner import PipelineRunner

            self.runner = PipelineRunner()

    def warm_up(self) -> bool:
        """Start the child as a worker does when it starts; False where the layout has no such step."""
        if self.layout == "sandbox":
            self.sandbox.warm_up()
            return True
        return False

    def wait_until_started(self) -> None:
        """Wait until the child is up: in the old layout, start it (its first document did)."""
        if self.layout == "sandbox":
            from sandbox.child import warm

            self.sandbox.run(warm, (), timeout=TIMEOUT)
        else:
            self.runner.document_child()

    def run(self, document: bytes, file_name: str, config: dict | None = None):
        config = config if config is not None else configuration()
        quiet, never = (lambda message: None), (lambda: False)
        if self.layout == "sandbox":
            return self._run_document(self.sandbox, document, MIME_TYPE, file_name, config, progress=quiet,
                                      timeout=TIMEOUT, should_abandon=never)
        return self.runner.run(document, MIME_TYPE, file_name, config, progress=quiet, timeout=TIMEOUT,
                               should_abandon=never)

    def child_pids(self) -> list[int]:
        if self.layout == "sandbox":
            return self.sandbox.child_pids()
        child = self.runner._child
        return [child.process.pid] if child is not None and child.process.pid else []

    def close(self) -> None:
        if self.layout == "sandbox":
            self.sandbox.close()
        else:
            self.runner.close_child()


def bare_extraction(document: bytes) -> int:
    """Every page's text with pypdfium2 and nothing else; the page count."""
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


def page_count(document: bytes) -> int:
    pdf = pdfium.PdfDocument(document)
    try:
        return len(pdf)
    finally:
        pdf.close()


def short_pdf() -> bytes:
    """A one-page PDF: a heading and a short paragraph."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, 710, "Invoice 42")
    pdf.setFont("Helvetica", 10)
    for line, text in enumerate(("Thank you for your order of 12 widgets, shipped on the 3rd.",
                                 "Payment is due within 30 days of the date of this invoice.")):
        pdf.drawString(72, 680 - 13 * line, text)
    pdf.save()
    return buffer.getvalue()


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


# 1. Throughput

def service_round(workers: list[ServiceWorker], batch: list[tuple[str, bytes]]) -> float:
    """Seconds for the workers, one thread each, to drain the batch from one shared queue."""
    jobs: queue.Queue = queue.Queue()
    for item in batch:
        jobs.put(item)
    failures: list[BaseException] = []

    def drain(worker: ServiceWorker) -> None:
        while not failures:
            try:
                name, document = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                worker.run(document, name)
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                failures.append(error)

    threads = [threading.Thread(target=drain, args=(worker,), name=f"worker-{n}") for n, worker in enumerate(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    return seconds


def bare_round(pool, batch: list[tuple[str, bytes]]) -> float:
    """Seconds for the pool's processes to extract the batch's text, one document per task."""
    started = time.perf_counter()
    for _ in pool.imap_unordered(bare_extraction, [document for _, document in batch], chunksize=1):
        pass
    return time.perf_counter() - started


def throughput(workers: list[ServiceWorker], batch: list[tuple[str, bytes]], rounds: int) -> dict:
    pages = sum(page_count(document) for _, document in batch)
    print(f"Throughput: {len(workers)} workers ({workers[0].layout} layout) against bare pypdfium2 text "
          f"extraction in {len(workers)} processes; {len(batch)} documents, {pages} pages a round", flush=True)
    service_rates, bare_rates = [], []
    # spawn: the pool's processes hold nothing of this one (its threads, its sandboxes).
    with multiprocessing.get_context("spawn").Pool(len(workers)) as pool:
        bare_round(pool, batch[:len(workers)])  # untimed: the processes start and import
        for number in range(1, rounds + 1):
            service_rates.append(pages / service_round(workers, batch))
            bare_rates.append(pages / bare_round(pool, batch))
            print(f"  round {number}: service {service_rates[-1]:7.1f} pages/s, bare {bare_rates[-1]:7.0f} pages/s, "
                  f"ratio {service_rates[-1] / bare_rates[-1]:.3f}", flush=True)
    service, bare = statistics.median(service_rates), statistics.median(bare_rates)
    ratio = statistics.median(s / b for s, b in zip(service_rates, bare_rates))
    print(f"  median: service {service:.1f} pages/s, bare {bare:.0f} pages/s, "
          f"ratio {ratio:.3f} (median of the rounds' ratios; target at least 0.25)", flush=True)
    return {"service_pages_per_second": service, "bare_pages_per_second": bare, "ratio": ratio}


# 2. Idle latency

def latency(worker: ServiceWorker, document: bytes, name: str, runs: int) -> float:
    """Median seconds of one document on the worker, after one untimed run."""
    worker.run(document, name)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        worker.run(document, name)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def idle_latency(worker: ServiceWorker, documents: list[tuple[str, bytes]], runs: int) -> dict:
    print(f"Idle latency: one document on an idle warm worker, median of {runs}", flush=True)
    figures = {}
    for name, document in documents:
        seconds = latency(worker, document, name, runs)
        figures[name] = seconds
        print(f"  {name} ({page_count(document)} pages): {seconds * 1000:.0f} ms", flush=True)
    return figures


# 3. First document after a start

def first_document_child(path: str, runs: int) -> None:
    """In a fresh process: the worker's start (its sandbox, warm_up) and at once the first
    document, then the same document on the warm sandbox; one JSON line."""
    with open(path, "rb") as handle:
        document = handle.read()
    name = os.path.basename(path)
    config = configuration()
    ServiceWorker().close()  # imports what a worker process has imported before its workers start
    started = time.perf_counter()
    worker = ServiceWorker()
    warmed = worker.warm_up()
    worker.run(document, name, config)
    first = time.perf_counter() - started
    # The same once the worker is up (its child started, as it is by the time a service that
    # started answers its first request): what the first document costs beyond a warm one.
    ServiceWorker().close()
    fresh = ServiceWorker()
    fresh.warm_up()
    fresh.wait_until_started()
    begun = time.perf_counter()
    fresh.run(document, name, config)
    first_started = time.perf_counter() - begun
    fresh.close()
    timings = []
    for _ in range(runs):
        begun = time.perf_counter()
        worker.run(document, name, config)
        timings.append(time.perf_counter() - begun)
    worker.close()
    print(json.dumps({"first": first, "first_started": first_started, "warm": statistics.median(timings),
                      "warm_up": warmed}))


def first_document(paths: list[str], runs: int) -> dict:
    print("First document after a start: a fresh process creates its worker's sandbox, warms it up "
          f"and runs the document at once; warm = the same document afterwards (median of {runs})", flush=True)
    figures = {}
    for path in paths:
        output = subprocess.run([sys.executable, "-m", __spec__.name, "--first-document", path, "--idle-runs", str(runs)],
                                capture_output=True, text=True)
        if output.returncode:
            raise RuntimeError(f"first-document run failed:\n{output.stderr[-3000:]}")
        figure = json.loads(output.stdout.strip().splitlines()[-1])
        figures[os.path.basename(path)] = figure
        print(f"  {os.path.basename(path)}: from the start {figure['first']:.2f} s, once the child is up "
              f"{figure['first_started']:.2f} s, warm {figure['warm']:.2f} s; first/warm "
              f"{figure['first'] / figure['warm']:.2f} from the start, {figure['first_started'] / figure['warm']:.2f} "
              f"once up (target at most 2)"
              f"{'' if figure['warm_up'] else '; no warm_up in this layout: the child starts with the document'}",
              flush=True)
    return figures


# 4. Memory

def high_water_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM) in MB, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """A process's children, whichever of its threads forked them."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
    except (OSError, ValueError):
        pass
    return found


def memory(pages: int) -> dict:
    """Peak RSS of a fresh sandbox child running a generated long PDF (and of any process it forks:
    the old layout's page helper)."""
    path = os.path.join(tempfile.gettempdir(), f"bench-pipeline-{pages}-pages.pdf")
    if not os.path.exists(path):
        with open(path + ".part", "wb") as handle:
            handle.write(generated_pdf(pages))
        os.replace(path + ".part", path)
    with open(path, "rb") as handle:
        document = handle.read()
    worker = ServiceWorker()
    worker.warm_up()
    peaks = {"child": 0.0, "helper": 0.0}
    done = threading.Event()

    def sample() -> None:
        while True:
            for pid in worker.child_pids():
                peaks["child"] = max(peaks["child"], high_water_mb(pid))
                for helper in children(pid):
                    peaks["helper"] = max(peaks["helper"], high_water_mb(helper))
            if done.wait(POLL_SECONDS):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        worker.run(document, os.path.basename(path))
    finally:
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        worker.close()
    forked = f", the processes it forked at most {peaks['helper']:.0f} MB" if peaks["helper"] else ""
    print(f"Memory: a fresh worker child on a generated {pages}-page PDF ({len(document) / 2**20:.1f} MB) in "
          f"{seconds:.1f} s: peak RSS {peaks['child']:.0f} MB (target under 500){forked} "
          f"(VmHWM, polled every {POLL_SECONDS * 1000:.0f} ms)", flush=True)
    return {"child_mb": peaks["child"], "helper_mb": peaks["helper"], "seconds": seconds}


# 5. CPU time in one process

def cpu_time_child(paths: list[str], runs: int) -> None:
    """Print (as JSON) the CPU seconds, best of `runs`, of the pipeline and of bare extraction on
    the PDFs in this process, automatic GC off as in a sandbox child."""
    import gc

    from pipeline.run import run_pipeline

    documents = []
    for path in paths:
        with open(path, "rb") as handle:
            documents.append(handle.read())
    gc.disable()
    config = configuration()

    def pipeline() -> None:
        for document in documents:
            run_pipeline(document, MIME_TYPE, "bench.pdf", config)

    def bare() -> None:
        for document in documents:
            bare_extraction(document)

    pipeline()  # untimed: imports, the tokenizer's table
    best = {"pipeline": float("inf"), "bare": float("inf")}
    for _ in range(runs):
        for name, work in (("pipeline", pipeline), ("bare", bare)):
            started = time.process_time()
            work()
            best[name] = min(best[name], time.process_time() - started)
            gc.collect()
    print(json.dumps({**best, "pages": sum(page_count(document) for document in documents)}))


def cpu_time(paths: list[str], runs: int) -> dict:
    """The pipeline's CPU time per page against bare extraction's, in one fresh process."""
    output = subprocess.run([sys.executable, "-m", __spec__.name, "--cpu-time-child", "--idle-runs", str(runs), *paths],
                            capture_output=True, text=True)
    if output.returncode:
        raise RuntimeError(f"cpu-time run failed:\n{output.stderr[-3000:]}")
    figure = json.loads(output.stdout.strip().splitlines()[-1])
    figure["ratio"] = figure["bare"] / figure["pipeline"]
    print(f"CPU time in one process (GC off, as in a sandbox child; best of {runs}): pipeline "
          f"{figure['pipeline']:.2f} s, bare extraction {figure['bare']:.2f} s for {figure['pages']} pages; "
          f"ratio {figure['ratio']:.3f} (what one core allows the throughput ratio, before the sandbox's "
          f"trip; CPU time, so it holds up better than pages/s when other work shares the machine)", flush=True)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="*", help="the batch (default: four R and libtasn1 manuals)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="default: os.cpu_count()")
    parser.add_argument("--repeat", type=int, default=3, help="times the PDFs appear in the batch")
    parser.add_argument("--rounds", type=int, default=3, help="alternated service and bare rounds")
    parser.add_argument("--idle-runs", type=int, default=5)
    parser.add_argument("--memory-pages", type=int, default=500, help="0: no memory measure")
    parser.add_argument("--skip", default="", help="comma-separated: throughput, idle, first, cpu, memory")
    parser.add_argument("--quick", action="store_true",
                        help="a check that it runs: two short PDFs once, 1 round, 2 runs, 100 pages")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--first-document", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-time-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_document:
        first_document_child(args.first_document, args.idle_runs)
        return
    if args.cpu_time_child:
        cpu_time_child(args.pdfs, args.idle_runs)
        return
    if args.quick:
        args.pdfs = args.pdfs or [path for path in QUICK_PDFS if os.path.exists(path)]
        args.repeat, args.rounds, args.idle_runs, args.memory_pages = 1, 1, 2, min(args.memory_pages, 100)
    paths = args.pdfs or [path for path in DEFAULT_PDFS if os.path.exists(path)]
    if not paths:
        parser.error("no PDFs: give some, or `apt-get install r-doc-pdf libtasn1-doc`")
    skip = set(filter(None, args.skip.split(",")))
    documents = []
    for path in paths:
        with open(path, "rb") as handle:
            documents.append((os.path.basename(path), handle.read()))
    short = ("one-page.pdf", short_pdf())
    figures: dict = {"layout": layout(), "workers": args.workers}
    print(f"{layout()} layout, Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)

    if not {"throughput", "idle"} <= skip:
        workers = [ServiceWorker() for _ in range(args.workers)]
        try:
            for worker in workers:  # untimed: children started, and each has run a document
                worker.warm_up()
            warming = [threading.Thread(target=worker.run, args=(short[1], short[0])) for worker in workers]
            for thread in warming:
                thread.start()
            for thread in warming:
                thread.join()
            if "throughput" not in skip:
                figures["throughput"] = throughput(workers, documents * args.repeat, args.rounds)
            if "idle" not in skip:
                figures["idle_seconds"] = idle_latency(workers[0], [short, documents[0]], args.idle_runs)
        finally:
            for worker in workers:
                worker.close()
    if "first" not in skip:
        with tempfile.NamedTemporaryFile(suffix=".pdf", prefix="one-page-") as handle:
            handle.write(short[1])
            handle.flush()
            figures["first_document"] = first_document([handle.name, paths[0]], args.idle_runs)
    if "cpu" not in skip:
        figures["cpu"] = cpu_time(paths, args.idle_runs)
    if "memory" not in skip and args.memory_pages:
        figures["memory"] = memory(args.memory_pages)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=1)


if __name__ == "__main__":
    main()
