"""A long PDF's later pages analysed in a forked helper process: the same result as one process."""
from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import time

import pytest
from helpers import gone
from pdf_fixtures import long_report_pdf
from PIL import Image

from pipeline.document import DocumentError
from pipeline.pdf import helper as pdf_helper
from pipeline.pdf import ocr
from pipeline.pdf import parse as pdf_pipeline

PageHelper = pdf_helper.PageHelper  # the class itself: parse() puts a subclass of it in its place
CONFIG = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
          "error_handling": "Fail", "segment_processing": {"Picture": {"crop_image": "All"}}}


def parse(document: bytes, helper: bool, monkeypatch, **overrides):
    """The parse, with a helper process (counted) or without one."""
    helpers = []

    class CountedHelper(PageHelper):
        def __init__(self, work, hold=()):
            super().__init__(work, hold)
            helpers.append(self)

    monkeypatch.setattr(pdf_helper, "PageHelper", CountedHelper)
    monkeypatch.setattr(pdf_pipeline, "helper_wanted", lambda count: helper and count >= pdf_helper.MIN_PAGES)
    parsed = pdf_pipeline.parse_pdf(document, {**CONFIG, **overrides}, lambda message: None)
    return parsed, helpers


def helper_does_its_own(monkeypatch) -> None:
    """This process takes none of the helper's pages: the helper does pages 8 to 16 of 16, all of
    them, whatever the timing (this process does 1 to 7)."""
    monkeypatch.setattr(PageHelper, "take", lambda self: None)


def summary(parsed) -> list[tuple]:
    return [(s["segment_type"], s["text"], s["page_number"], tuple(s["bbox"].values()), s["image"] is not None)
            for s in parsed.segments]


def test_a_long_pdf_reads_the_same_with_a_helper_process(monkeypatch):
    document = long_report_pdf(9)
    alone, none = parse(document, False, monkeypatch)
    helped, helpers = parse(document, True, monkeypatch)
    assert none == [] and len(helpers) == 1
    assert summary(helped) == summary(alone)
    assert helped.pages == alone.pages and helped.skipped == alone.skipped == []
    assert len(helped.files) == len(alone.files) > 1  # the PDF and the crops of every table and picture
    assert {s["page_number"] for s in helped.segments if s["segment_type"] == "Title"} == {1}
    assert [s["segment_type"] for s in helped.segments].count("PageHeader") == 18
    # The helper is kept for the next long PDF, which it reads without a new fork.
    again, more = parse(long_report_pdf(8), True, monkeypatch)
    assert more == [] and not gone(helpers[0].pid)
    assert summary(again) == summary(parse(long_report_pdf(8), False, monkeypatch)[0])
    pdf_helper.stop_kept_helper()
    assert gone(helpers[0].pid)


@pytest.mark.parametrize("engine_before", [False, True], ids=["no-engine-yet", "parent-has-an-engine"])
def test_a_scanned_page_in_the_helpers_half_is_read_by_ocr_there(monkeypatch, tmp_path, engine_before):
    document = long_report_pdf(8, scanned_page=13)
    if engine_before:  # the parent's engine runs on threads the helper does not get: it builds its own
        ocr.ocr_words(Image.new("RGB", (200, 60), "white"))
    readers = tmp_path / "readers"
    real_ocr = pdf_pipeline.ocr_words

    def ocr_words(image, to_page=1.0):
        with open(readers, "a") as log:
            log.write(f"{os.getpid()}\n")
        return real_ocr(image, to_page)

    monkeypatch.setattr(pdf_pipeline, "ocr_words", ocr_words)
    helper_does_its_own(monkeypatch)
    helped, helpers = parse(document, True, monkeypatch)
    assert len(helpers) == 1 and readers.read_text().split() == [str(helpers[0].pid)]
    scanned = [s for s in helped.segments if s["page_number"] == 13]
    assert "Quarterly Widget Report" in " ".join(s["text"] for s in scanned)
    assert all(s["ocr"] for s in scanned if s["text"])
    assert [page["page_number"] for page in helped.pages] == list(range(1, 17))
    assert helped.pages[12]["image"].removeprefix("file:") in helped.files  # a scan's image is kept
    assert ocr.ocr_words(Image.new("RGB", (200, 60), "white")) == []  # the parent's engine still works


@pytest.mark.parametrize("handling", ["Continue", "Fail"])
def test_a_failing_page_in_the_helpers_half_is_reported_in_order(monkeypatch, handling):
    real = pdf_pipeline.text_layer_words

    def first_report_page_breaks(textpage, transform):
        words = real(textpage, transform)
        if any(word.text == "Introduction" for word in words) and os.getpid() != parent:
            raise pdf_pipeline.pdfium.PdfiumError("text broke")
        return words

    parent = os.getpid()
    monkeypatch.setattr(pdf_pipeline, "text_layer_words", first_report_page_breaks)
    helper_does_its_own(monkeypatch)
    document = long_report_pdf(8)
    if handling == "Fail":
        with pytest.raises(DocumentError, match=r"^Failed to process page 9: the page is damaged \(text broke\)$"):
            parse(document, True, monkeypatch, error_handling="Fail")
        return
    helped, helpers = parse(document, True, monkeypatch, error_handling="Continue")
    # The helper has pages 8 to 16; the report's first page is every odd one.
    assert helped.skipped == [f"page {number}: the page is damaged (text broke)" for number in (9, 11, 13, 15)]
    assert [page["page_number"] for page in helped.pages] == [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16]


def test_a_helper_that_dies_leaves_the_pages_it_did_not_send_to_the_parent(monkeypatch):
    document = long_report_pdf(8)
    alone, _ = parse(document, False, monkeypatch)
    real_helper_pages = pdf_pipeline.helper_pages
    real_analyse = pdf_pipeline.analyse_pdf_page
    parent, analysed_here = os.getpid(), []

    def dies_after_three(pdf, indices, configuration):
        pages = real_helper_pages(pdf, indices, configuration)
        for _ in range(3):
            yield next(pages)
        os._exit(3)

    def analyse(pdf, index, state):
        if os.getpid() == parent:
            analysed_here.append(index + 1)
        return real_analyse(pdf, index, state)

    monkeypatch.setattr(pdf_pipeline, "helper_pages", dies_after_three)
    monkeypatch.setattr(pdf_pipeline, "analyse_pdf_page", analyse)
    helper_does_its_own(monkeypatch)
    helped, helpers = parse(document, True, monkeypatch)
    assert len(helpers) == 1 and summary(helped) == summary(alone)
    # The helper sent pages 8 to 10 and had taken no more: this process did its own, then the rest.
    assert analysed_here == [1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14, 15, 16]


def test_a_helper_that_dies_on_its_first_page_leaves_it_to_the_parent(monkeypatch):
    document = long_report_pdf(8)
    alone, _ = parse(document, False, monkeypatch)
    real_helper_pages = pdf_pipeline.helper_pages

    def dies_at_once(pdf, indices, configuration):
        next(indices)  # it takes its first page, then goes without sending it
        os._exit(3)
        yield from real_helper_pages(pdf, indices, configuration)

    monkeypatch.setattr(pdf_pipeline, "helper_pages", dies_at_once)
    helped, helpers = parse(document, True, monkeypatch)
    assert len(helpers) == 1 and summary(helped) == summary(alone) and gone(helpers[0].pid)
    # The next long PDF forks a helper anew.
    again, more = parse(document, True, monkeypatch)
    assert len(more) == 1 and more[0].pid != helpers[0].pid


def test_the_helper_goes_when_its_parent_is_killed(tmp_path):
    script = (
        "import os, signal, sys, time\n"
        f"sys.path.insert(0, {os.path.dirname(pdf_helper.__file__)!r})\n"
        "from pdf_helper import PageHelper\n"
        "helper = PageHelper(lambda pages: iter(()))\n"
        "print(helper.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pid = int(output.stdout.split()[0])
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid)


def test_short_pdfs_and_single_cores_get_no_helper(monkeypatch):
    assert not pdf_helper.helper_wanted(pdf_helper.MIN_PAGES - 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not pdf_helper.helper_wanted(500)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert pdf_helper.helper_wanted(pdf_helper.MIN_PAGES)


def test_a_helper_that_cannot_be_forked_leaves_every_page_to_one_process(monkeypatch, caplog):
    document = long_report_pdf(8)
    alone, _ = parse(document, False, monkeypatch)

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    helped, helpers = parse(document, True, monkeypatch)
    assert helpers == [] and summary(helped) == summary(alone)
    assert "No page helper for a 16-page PDF" in caplog.text


@pytest.mark.parametrize("first, count", [(0, 1), (1, 2), (7, 17), (27, 60)])
def test_the_two_processes_take_every_page_once_and_meet_in_between(first, count):
    """Both sides take pages as fast as they can, with pauses at random, in one helper's twenty
    jobs: the helper's pages are the first of its part, this process's the last, together every
    one, at most one taken by both."""

    def work(seed, pages):
        pause = random.Random(seed)
        for index in pages:
            if pause.random() < 0.3:
                time.sleep(pause.random() / 1000)
            yield index, os.getpid()

    helper = pdf_helper.PageHelper(work)
    try:
        for _ in range(20):
            seed = random.randrange(1 << 30)
            helper.start((seed,), first, count)
            pause, taken = random.Random(seed + 1), []
            for index in iter(helper.take, None):
                taken.append(index)
                if pause.random() < 0.3:
                    time.sleep(pause.random() / 1000)
            helped = helper.outcomes()
            assert set(helped.values()) <= {helper.pid}
            assert sorted(helped) == list(range(first, first + len(helped)))
            assert taken == list(range(count - 1, count - 1 - len(taken), -1))
            assert len(helped) + len(taken) in (count - first, count - first + 1)  # where they met, twice
            assert helper.usable()
    finally:
        helper.stop()
    assert gone(helper.pid) and not helper.usable()


def test_a_forked_child_does_not_use_its_parents_helper(monkeypatch):
    parse(long_report_pdf(8), True, monkeypatch)
    kept = pdf_helper._kept
    assert kept is not None and kept.usable()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(writer, b"none" if pdf_helper._kept is None and not kept.usable() else b"kept")
        os._exit(0)
    os.close(writer)
    answer = os.read(reader, 8)
    os.waitpid(pid, 0)
    os.close(reader)
    assert answer == b"none" and kept.usable()


def test_a_document_that_fails_stops_the_helper_at_work_on_it(monkeypatch):
    real = pdf_pipeline.text_layer_words

    def breaks_in_the_parent(textpage, transform):
        if os.getpid() == parent:
            raise pdf_pipeline.pdfium.PdfiumError("text broke")
        return real(textpage, transform)

    parent = os.getpid()
    monkeypatch.setattr(pdf_pipeline, "text_layer_words", breaks_in_the_parent)
    with pytest.raises(DocumentError, match="^Failed to process page 1"):
        parse(long_report_pdf(8), True, monkeypatch, error_handling="Fail")
    assert pdf_helper._kept is not None and gone(pdf_helper._kept.pid)


def test_embed_lengths_counted_beside_the_pages_give_exact_chunk_lengths(monkeypatch):
    """Token counts made with each page (in the helper for its pages) are the real ones, and a
    segment retyped after the pages (a running header) is counted again for its new embed."""
    from pipeline.chunking import count_cl100k_tokens
    from pipeline.run import run_pipeline

    monkeypatch.setattr(pdf_pipeline, "helper_wanted", lambda count: count >= pdf_helper.MIN_PAGES)
    counted_in = []
    real_lengths = pdf_pipeline.embed_lengths

    def embed_lengths(segments, configuration):
        counted_in.append(os.getpid())
        return real_lengths(segments, configuration)

    monkeypatch.setattr(pdf_pipeline, "embed_lengths", embed_lengths)
    helper_does_its_own(monkeypatch)
    processing = {"PageHeader": {"format": "Html", "strategy": "Auto", "embed_sources": ["HTML", "Markdown"]}}
    configuration = {**CONFIG, "segment_processing": processing,
                     "chunk_processing": {"target_length": 60, "ignore_headers_and_footers": False}}
    parsed = pdf_pipeline.parse_pdf(long_report_pdf(8), configuration, lambda message: None)
    assert parsed.embed_lengths
    assert all(count == count_cl100k_tokens(text) for text, count in parsed.embed_lengths.items())
    headers = [s for s in parsed.segments if s["segment_type"] == "PageHeader"]
    assert len(headers) == 16 and all(f"{s['html']}\n{s['markdown']}" not in parsed.embed_lengths for s in headers)
    assert counted_in == [os.getpid()] * 7  # this process counted its 7 pages; the helper its 9, there
    output = run_pipeline(long_report_pdf(8), "application/pdf", None, configuration).output
    chunked = [s for chunk in output["chunks"] for s in chunk["segments"]]
    assert {s["segment_type"] for s in chunked} >= {"PageHeader", "Text", "Table"}
    for chunk in output["chunks"]:
        assert chunk["chunk_length"] == count_cl100k_tokens(chunk["embed"])
        assert chunk["chunk_length"] <= 60 or len(chunk["segments"]) == 1


def test_this_process_takes_the_helpers_last_pages_when_the_helper_is_slow(monkeypatch):
    """The helper's pages are slow here: this process, done with its own, takes them from the
    last one back, and the result is still the one process's."""
    document = long_report_pdf(8)
    alone, _ = parse(document, False, monkeypatch)
    parent, real, analysed_here = os.getpid(), pdf_pipeline.analyse_pdf_page, []

    def analyse(pdf, index, state):
        if os.getpid() == parent:
            analysed_here.append(index + 1)
        else:
            time.sleep(0.3)
        return real(pdf, index, state)

    monkeypatch.setattr(pdf_pipeline, "analyse_pdf_page", analyse)
    helped, helpers = parse(document, True, monkeypatch)
    assert summary(helped) == summary(alone) and helped.pages == alone.pages
    taken = analysed_here[7:]
    assert analysed_here[:7] == list(range(1, 8)) and len(taken) >= 4
    assert taken == list(range(16, 16 - len(taken), -1))


def test_a_helper_whose_reader_thread_cannot_start_leaves_the_pdf_to_one_process(monkeypatch, caplog):
    document = long_report_pdf(8)
    alone, _ = parse(document, False, monkeypatch)
    real_start = pdf_helper.threading.Thread.start

    def no_thread(thread):
        if thread.name == "page-helper-reader":
            raise RuntimeError("can't start new thread")
        return real_start(thread)

    monkeypatch.setattr(pdf_helper.threading.Thread, "start", no_thread)
    helped, helpers = parse(document, True, monkeypatch)
    assert summary(helped) == summary(alone)
    assert len(helpers) == 1 and gone(helpers[0].pid)
    assert "No page helper for a 16-page PDF: can't start new thread" in caplog.text


def test_a_helper_that_died_between_pdfs_is_replaced_before_the_next(monkeypatch):
    document = long_report_pdf(8)
    first, helpers = parse(document, True, monkeypatch)
    os.kill(helpers[0].pid, 9)
    deadline = time.monotonic() + 10
    while not gone(helpers[0].pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    second, more = parse(document, True, monkeypatch)
    assert len(more) == 1 and more[0].pid != helpers[0].pid and summary(second) == summary(first)
    assert more[0].usable()  # it did its part of the second PDF and is kept


def test_results_of_another_job_are_never_taken_for_this_ones():
    """A message numbered for another job (a helper out of step) ends the job's reading: the
    helper is no longer usable, and what this job has is only what was sent for it."""

    def work(pages):
        for index in pages:
            yield index, "page"

    helper = PageHelper(work)
    try:
        helper.start((), 0, 3)
        assert helper.outcomes() == {0: "page", 1: "page", 2: "page"} and helper.usable()
        helper.jobs.send((99, ()))  # a job this process lost track of: its results come first
        helper.start((), 0, 3)
        assert helper.outcomes() == {} and not helper.usable()
        assert helper.results == {}  # handed over, not kept
    finally:
        helper.stop()
    assert gone(helper.pid)


@pytest.mark.parametrize("memfd", [True, False], ids=["in-memory-file", "bytes-through-the-pipe"])
def test_the_helper_gets_the_pdf_as_an_in_memory_file_or_else_as_bytes(monkeypatch, memfd):
    jobs = []
    real_start = PageHelper.start

    def recorded(helper, args, first, count, descriptor=None):
        target = os.readlink(f"/proc/self/fd/{descriptor}") if descriptor is not None else None
        jobs.append((args, descriptor, target))
        return real_start(helper, args, first, count, descriptor)

    if not memfd:
        def no_memfd(name, flags=0):
            raise OSError(38, "Function not implemented")

        monkeypatch.setattr(os, "memfd_create", no_memfd)
    monkeypatch.setattr(PageHelper, "start", recorded)
    helper_does_its_own(monkeypatch)
    document = long_report_pdf(8)
    helped, helpers = parse(document, True, monkeypatch)
    (args, descriptor, target), = jobs
    if memfd:
        assert args == (CONFIG,) and target.startswith("/memfd:document.pdf")
        try:  # closed once the helper was done: the number is free, or another file's
            assert os.readlink(f"/proc/self/fd/{descriptor}") != target
        except FileNotFoundError:
            pass
    else:
        assert args == (document, CONFIG) and descriptor is None
    alone, _ = parse(document, False, monkeypatch)
    assert summary(helped) == summary(alone) and helpers[0].usable()  # it did its 9 pages and is kept


def test_the_helper_collects_garbage_after_each_job_not_as_it_goes(monkeypatch):
    def work(pages):
        for index in pages:
            yield index, gc.isenabled()

    gc.enable()
    helper = PageHelper(work)
    try:
        helper.start((), 0, 2)
        assert helper.outcomes() == {0: False, 1: False}
        assert helper.private_bytes() > 0
    finally:
        helper.stop()
    assert helper.private_bytes() == 0
