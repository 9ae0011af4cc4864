"""The runner: documents other than text run in a worker's child process, forked from a server that
preloads the pipeline, kept while its runs succeed and replaced when one does not."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers import gone
from reportlab.pdfgen import canvas

from pipeline.document import DocumentError
from sandbox import runner
from schemas import default_configuration

PROBE = """
import os, sys
sys.path.insert(0, {project!r})
from sandbox import runner


def loaded(report):
    from pipeline import chunking

    report.send(["pipeline_preload" in sys.modules, "pdf_pipeline" in sys.modules,
                 chunking.cl100k_encoding.cache_info().currsize == 1])
    report.close()


if __name__ == "__main__":
    os.chdir({elsewhere!r})
    context = runner.process_context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=loaded, args=(sender,))
    child.start()
    sender.close()
    print(receiver.recv() if receiver.poll(60) else "no answer")
    child.join(10)
"""


def test_document_children_start_with_the_pipeline_and_tokenizer_loaded(tmp_path):
    """A child of the runner's context already has the pipeline's modules and the cl100k table,
    loaded once by its fork server, before it runs anything: even when the process that starts
    the fork server works in another directory than the project's (as the client tests do)."""
    probe = tmp_path / "probe.py"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe.write_text(PROBE.format(project=runner.PROJECT, elsewhere=str(elsewhere)))
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    finished = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120,
                              cwd=elsewhere, env=environment)
    assert finished.stdout.strip() == "[True, True, True]", finished.stderr


def test_a_pdf_runs_to_its_result_in_a_child():
    """The runner's child process path end to end: a one-page PDF gives its text and chunks."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 720, "Invoice 42: one line of text")
    pdf.save()
    pipeline_runner = runner.PipelineRunner()
    try:
        result = pipeline_runner.run(buffer.getvalue(), "application/pdf", "invoice.pdf",
                                     default_configuration(None), progress=lambda message: None,
                                     timeout=120, should_abandon=lambda: False)
    finally:
        pipeline_runner.close_child()
    texts = [segment["text"] for chunk in result.output["chunks"] for segment in chunk["segments"]]
    assert texts == ["Invoice 42: one line of text"]
    assert result.output["page_count"] == 1 and result.output["chunks"][0]["chunk_length"] > 0


def _pdf(pages: int = 1, text: str = "Invoice 42: one line of text") -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for number in range(pages):
        for line in range(40):
            pdf.drawString(72, 760 - 18 * line, f"{text} (page {number + 1}, line {line + 1})")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _run(pipeline_runner, document: bytes, timeout: float = 120):
    return pipeline_runner.run(document, "application/pdf", "doc.pdf", default_configuration(None),
                               progress=lambda message: None, timeout=timeout, should_abandon=lambda: False)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_worker_runs_its_documents_in_one_child_while_they_succeed():
    """Documents that succeed run one after another in the same child, each with its own result."""
    pipeline_runner = runner.PipelineRunner()
    try:
        first = _run(pipeline_runner, _pdf(text="First document"))
        pid = pipeline_runner._child.process.pid
        second = _run(pipeline_runner, _pdf(text="Second document"))
        assert pipeline_runner._child.process.pid == pid
        assert first.output["chunks"][0]["segments"][0]["text"].startswith("First document")
        assert second.output["chunks"][0]["segments"][0]["text"].startswith("Second document")
    finally:
        pipeline_runner.close_child()
    assert not _alive(pid)


def test_a_failed_document_costs_its_child_and_the_next_starts_afresh():
    pipeline_runner = runner.PipelineRunner()
    try:
        _run(pipeline_runner, _pdf())
        pid = pipeline_runner._child.process.pid
        with pytest.raises(DocumentError):
            _run(pipeline_runner, _pdf()[:400])  # truncated
        assert pipeline_runner._child is None and not _alive(pid)
        assert _run(pipeline_runner, _pdf()).output["page_count"] == 1
        assert pipeline_runner._child.process.pid != pid
    finally:
        pipeline_runner.close_child()


def test_a_child_killed_mid_run_fails_that_run_only():
    """A child that dies (here SIGKILL, as the kernel's OOM killer would) fails its run with a
    message, and the worker's next document runs in a new child."""
    pipeline_runner = runner.PipelineRunner()
    outcome = {}

    def slow_run():
        try:
            _run(pipeline_runner, _pdf(pages=400))
        except DocumentError as error:
            outcome["error"] = str(error)

    try:
        thread = threading.Thread(target=slow_run)
        thread.start()
        deadline = time.monotonic() + 30
        while pipeline_runner._child is None and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = pipeline_runner._child.process.pid
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        thread.join(60)
        assert outcome["error"] == f"Failed to process the document: the document parser died (exit code -{signal.SIGKILL})"
        assert pipeline_runner._child is None
        assert _run(pipeline_runner, _pdf()).output["page_count"] == 1
    finally:
        pipeline_runner.close_child()


def test_a_run_past_its_deadline_kills_its_child():
    pipeline_runner = runner.PipelineRunner()
    try:
        _run(pipeline_runner, _pdf())
        pid = pipeline_runner._child.process.pid
        with pytest.raises(runner.TaskTimeout):
            _run(pipeline_runner, _pdf(pages=400), timeout=0.3)
        assert pipeline_runner._child is None and not _alive(pid)
        assert _run(pipeline_runner, _pdf()).output["page_count"] == 1
    finally:
        pipeline_runner.close_child()


def test_a_kept_child_that_died_between_documents_is_not_blamed_on_the_next():
    """A kept child that died after its last result (killed while idle) is replaced before the
    next document is sent: that document succeeds."""
    pipeline_runner = runner.PipelineRunner()
    try:
        _run(pipeline_runner, _pdf())
        pid = pipeline_runner._child.process.pid
        os.kill(pid, signal.SIGKILL)
        assert _run(pipeline_runner, _pdf(text="After the loss")).output["page_count"] == 1
        assert pipeline_runner._child.process.pid != pid
    finally:
        pipeline_runner.close_child()


def test_a_large_or_idle_child_is_let_go(monkeypatch):
    """A child larger than the cap once it let its document go is replaced before the next one;
    one idle too long is stopped."""
    pipeline_runner = runner.PipelineRunner()
    try:
        monkeypatch.setattr(runner, "MAX_CHILD_RSS_BYTES", 1)
        _run(pipeline_runner, _pdf())
        large = pipeline_runner._child.process.pid
        _run(pipeline_runner, _pdf())
        assert pipeline_runner._child.process.pid != large and not _alive(large)
        monkeypatch.setattr(runner, "MAX_CHILD_RSS_BYTES", 10 * 2**30)
        kept = pipeline_runner._child.process.pid
        _run(pipeline_runner, _pdf())
        assert pipeline_runner._child.process.pid == kept
        pipeline_runner.close_idle_child()
        assert pipeline_runner._child is not None  # just used
        monkeypatch.setattr(runner, "IDLE_CHILD_SECONDS", 0.0)
        pipeline_runner.close_idle_child()
        assert pipeline_runner._child is None and not _alive(kept)
    finally:
        pipeline_runner.close_child()


def run_text(pipeline_runner, document: bytes, timeout: float = 60):
    return pipeline_runner.run(document, "text/markdown", "doc.md", default_configuration(None),
                               progress=lambda message: None, timeout=timeout, should_abandon=lambda: False)


def test_a_small_text_runs_on_the_calling_thread_a_larger_one_on_the_pipeline_thread(monkeypatch):
    """Handing a tiny document to another thread costs more than parsing it; past
    INLINE_TEXT_BYTES the pipeline thread (which a deadline can leave behind) takes it."""
    from pipeline import run as pipeline

    real, threads = pipeline.run_pipeline, []
    monkeypatch.setattr(pipeline, "run_pipeline",
                        lambda *args, **kwargs: threads.append(threading.current_thread()) or real(*args, **kwargs))
    pipeline_runner = runner.PipelineRunner()
    small = b"# Small\n\nA few words.\n"
    large = b"# Large\n\n" + b"Many words in a long paragraph. " * (runner.INLINE_TEXT_BYTES // 20)
    assert len(small) <= runner.INLINE_TEXT_BYTES < len(large)
    assert run_text(pipeline_runner, small).output["chunks"]
    assert run_text(pipeline_runner, large).output["chunks"]
    assert threads[0] is threading.current_thread()
    assert threads[1] is not threading.current_thread() and threads[1].name == "pipeline"


def test_a_small_text_run_slower_than_the_deadline_is_a_timeout(monkeypatch):
    from pipeline import run as pipeline

    real = pipeline.run_pipeline
    monkeypatch.setattr(pipeline, "run_pipeline", lambda *args, **kwargs: time.sleep(0.3) or real(*args, **kwargs))
    with pytest.raises(runner.TaskTimeout):
        run_text(runner.PipelineRunner(), b"# Small\n", timeout=0.1)


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except FileNotFoundError:
        return []


def pdf_of_pages(count: int) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for number in range(1, count + 1):
        pdf.drawString(72, 720, f"Page {number} of a report")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def run_pdf(pipeline_runner, document: bytes) -> list[str]:
    result = pipeline_runner.run(document, "application/pdf", "report.pdf", default_configuration(None),
                                 progress=lambda message: None, timeout=120, should_abandon=lambda: False)
    return [s["text"] for chunk in result.output["chunks"] for s in chunk["segments"]]


@pytest.mark.parametrize("page_helper", [True, False], ids=["worker", "page-image-renderer"])
def test_a_workers_document_child_forks_its_page_helper_before_any_document(page_helper):
    """The helper is forked when the child starts, before it holds any document; long PDFs use
    that one; it goes with the child. The server's renderer has none."""
    two_cores = len(os.sched_getaffinity(0)) >= 2
    pipeline_runner = runner.PipelineRunner(page_helper=page_helper)
    try:
        assert run_pdf(pipeline_runner, pdf_of_pages(1)) == ["Page 1 of a report"]
        child = pipeline_runner._child
        helpers = children_of(child.process.pid)
        assert len(helpers) == (1 if page_helper and two_cores else 0)
        if not page_helper:
            return
        assert run_pdf(pipeline_runner, pdf_of_pages(20)) == [f"Page {n} of a report" for n in range(1, 21)]
        assert pipeline_runner._child is child and children_of(child.process.pid) == helpers
    finally:
        pipeline_runner.close_child()
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(pid) for pid in helpers)


@pytest.mark.parametrize("page_helper", [True, False], ids=["with-helper", "without"])
def test_a_document_childs_ready_memory_includes_its_page_helpers(monkeypatch, page_helper):
    """What a child reports is its own resident memory (here taken as 0) plus its helper's private memory."""
    import multiprocessing

    helped = page_helper and len(os.sched_getaffinity(0)) >= 2  # one CPU: no helper is forked

    monkeypatch.setattr(runner, "resident_bytes", lambda pid="self": 0)
    context = multiprocessing.get_context("fork")  # the child keeps this test's patch
    events, child_events = context.Pipe(duplex=False)
    child_jobs, jobs = context.Pipe(duplex=False)
    process = context.Process(target=runner._serve_documents, args=(child_jobs, child_events, page_helper))
    process.start()
    try:
        assert events.poll(30)
        kind, memory = events.recv()
        assert kind == "ready" and (memory > 0 if helped else memory == 0)
    finally:
        process.kill()  # its helper goes with it
        process.join(10)
        jobs.close()
