"""The runner: documents other than text run in a child forked from a server that preloads the pipeline."""
from __future__ import annotations

import io
import sys

from reportlab.pdfgen import canvas

import runner
from schemas import default_configuration


def _loaded(report) -> None:
    """In a child: what it started with."""
    import chunking

    report.send({"preloaded": "pipeline_preload" in sys.modules, "pdf_pipeline": "pdf_pipeline" in sys.modules,
                 "tokenizer_loaded": chunking.cl100k_encoding.cache_info().currsize == 1})
    report.close()


def test_document_children_start_with_the_pipeline_and_tokenizer_loaded(tmp_path, monkeypatch):
    """A child of the runner's context already has the pipeline's modules and the cl100k table,
    loaded once by its fork server, before it runs anything: even when the process works in
    another directory than the project's (as the client tests do)."""
    monkeypatch.chdir(tmp_path)
    context = runner.process_context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_loaded, args=(sender,))
    child.start()
    sender.close()
    assert receiver.poll(60)
    assert receiver.recv() == {"preloaded": True, "pdf_pipeline": True, "tokenizer_loaded": True}
    child.join(10)
    assert child.exitcode == 0


def test_a_pdf_runs_to_its_result_in_a_child():
    """The runner's child process path end to end: a one-page PDF gives its text and chunks."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 720, "Invoice 42: one line of text")
    pdf.save()
    progress = []
    result = runner.PipelineRunner().run(buffer.getvalue(), "application/pdf", "invoice.pdf",
                                         default_configuration(None), progress=progress.append,
                                         timeout=120, should_abandon=lambda: False)
    texts = [segment["text"] for chunk in result.output["chunks"] for segment in chunk["segments"]]
    assert texts == ["Invoice 42: one line of text"]
    assert result.output["page_count"] == 1 and result.output["chunks"][0]["chunk_length"] > 0
