"""The same document gives the same output every time: in this process, in a sandbox child, and
through the service's workers, one or several at once. Only the random ids differ; they are
replaced by their order of first appearance before the outputs are compared byte for byte."""
from __future__ import annotations

import hashlib
import io
import json
import random
import re
import threading
from collections import Counter

import pytest
from helpers import b64
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, Preformatted, SimpleDocTemplate, Spacer, Table, TableStyle
from test_worker import wait_for

from pipeline.run import run_pipeline
from sandbox.child import parse_document
from sandbox.pool import Sandbox
from schemas import ConfigurationSchema

SEED = 20261203
SIGNED = re.compile(r'\?expires=\d+&signature=[^"]+')
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WORDS = ("harbour ship cargo market valley river forest glacier widget factory shift line region demand "
         "quarter engine signal parser record table column header footer index volume chapter").split()


def manual_pdf(chapters: int, seed: int = SEED) -> bytes:
    """A manual of `chapters` chapters, about 2 pages each: a title, chapter and section headings,
    body text, code, lists and tables, running headers and footers. The first chapters are set in
    a larger body size than the rest, so a body size counted page by page would tell headings
    apart differently on early and late pages."""
    print(f"manual_pdf seed={seed}")
    rng = random.Random(seed)
    styles = getSampleStyleSheet()
    story = [Paragraph("The Harbour Manual", styles["Title"]), Spacer(1, 12)]
    for chapter in range(1, chapters + 1):
        size = 13 if chapter <= 3 else 10
        body = ParagraphStyle(f"body{chapter}", parent=styles["BodyText"], fontSize=size, leading=size * 1.3)
        story.append(Paragraph(f"{chapter} Chapter {rng.choice(WORDS).title()}", styles["Heading1"]))
        for section in range(1, 4):
            story.append(Paragraph(f"{chapter}.{section} {rng.choice(WORDS).title()} and "
                                   f"{rng.choice(WORDS)}", styles["Heading2"]))
            story.append(Paragraph(f"Note on {rng.choice(WORDS)} and {rng.choice(WORDS)}", body))
            for _ in range(3):
                sentence_count = rng.randint(3, 7)
                text = " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
                                for _ in range(sentence_count))
                story.append(Paragraph(text, body))
            if section == 2:
                story.append(Preformatted(f"record ::= SEQUENCE {{\n  id INTEGER,\n  name {rng.choice(WORDS)}\n}}",
                                          styles["Code"]))
                rows = [["Name", "Count", "Share"]] + [[rng.choice(WORDS), str(rng.randint(1, 999)),
                                                         f"{rng.randint(1, 99)}%"] for _ in range(5)]
                table = Table(rows)
                table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black")]))
                story.append(table)
        story.append(PageBreak())

    def running(canvas, document):
        canvas.setFont("Helvetica", 8)
        canvas.drawString(72, 760, "The Harbour Manual")
        canvas.drawString(300, 30, str(document.page))

    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=letter, invariant=1).build(story, onFirstPage=running, onLaterPages=running)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def long_manual() -> bytes:
    return manual_pdf(54)


def configuration() -> dict:
    return ConfigurationSchema().load({"chunk_processing": {"target_length": 256}})


def canonical(output: dict, files: dict | None = None) -> bytes:
    """The output as JSON bytes, its ids numbered by first appearance; stored files by hash."""
    numbers: dict[str, str] = {}

    def numbered(text: str) -> str:
        return UUID.sub(lambda match: numbers.setdefault(match.group(), f"id-{len(numbers)}"), text)

    # A signed URL's expiry and signature depend on the time.
    text = numbered(SIGNED.sub("", json.dumps(output, sort_keys=True)))
    stored = sorted((numbered(name), hashlib.sha256(data).hexdigest()) for name, (_, data) in (files or {}).items())
    return (text + json.dumps(stored)).encode()


def pages_of(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()


def test_a_long_pdf_gives_the_same_output_on_every_run_in_process_and_in_the_sandbox(long_manual):
    assert pages_of(long_manual) > 100
    config = configuration()
    first = run_pipeline(long_manual, "application/pdf", "manual.pdf", config)
    expected = canonical(first.output, first.files)
    assert any(segment["segment_type"] == "SectionHeader"
               for chunk in first.output["chunks"] for segment in chunk["segments"])
    again = run_pipeline(long_manual, "application/pdf", "manual.pdf", config)
    assert canonical(again.output, again.files) == expected
    sandbox = Sandbox()
    try:
        for _ in range(2):
            result = sandbox.run(parse_document, (long_manual, "application/pdf", "manual.pdf", config), timeout=600)
            assert canonical(result.output, result.files) == expected
    finally:
        sandbox.close()


def test_a_page_is_typed_the_same_wherever_it_stands_in_the_document(long_manual):
    """Text sizes are counted over every page before any page is typed: moving the first
    chapters (set in a larger body size) to the end changes no segment's type (a Title aside,
    which only the first pages may hold)."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(long_manual)
    moved = pdfium.PdfDocument.new()
    try:
        count = len(source)
        moved.import_pages(source, list(range(8, count)) + list(range(8)))
        buffer = io.BytesIO()
        moved.save(buffer)
    finally:
        moved.close()
        source.close()

    def types(pdf: bytes) -> Counter:
        chunks = run_pipeline(pdf, "application/pdf", "manual.pdf", configuration()).output["chunks"]
        return Counter(("SectionHeader" if segment["segment_type"] == "Title" else segment["segment_type"],
                        segment["text"]) for chunk in chunks for segment in chunk["segments"])

    as_made, reordered = types(long_manual), types(buffer.getvalue())
    assert sum(count for (kind, _), count in as_made.items() if kind == "SectionHeader") > 50
    assert as_made == reordered


def test_the_service_gives_the_same_output_with_one_worker_or_several_at_once(app, client, auth):
    """Three copies of a PDF, and one alone, through the workers: every output the same."""
    from worker.service import BackgroundWorkers

    pdf = manual_pdf(8, seed=SEED + 1)
    body = {"file": b64(pdf), "file_name": "manual.pdf", "chunk_processing": {"target_length": 256}}
    outputs = []
    for threads, copies in ((1, 1), (2, 3)):
        workers = BackgroundWorkers(app, threads).start()
        try:
            ids = [client.post("/api/v1/task/parse", json=body, headers=auth).json["task_id"] for _ in range(copies)]
            for task_id in ids:
                task = wait_for(client, auth, task_id, timeout=300)
                assert task["status"] == "Succeeded", task["message"]
                got = client.get(f"/api/v1/task/{task_id}?base64_urls=false", headers=auth).json
                outputs.append(canonical(got["output"]))
        finally:
            workers.stop()
    assert len(outputs) == 4 and len(set(outputs)) == 1


def test_pdfs_parsed_in_parallel_threads_of_one_process_agree(long_manual):
    """Two documents at once in one process (PDFium under its lock) do not disturb each other."""
    config = configuration()
    short = manual_pdf(3, seed=SEED + 2)
    expected = {name: canonical(run_pipeline(pdf, "application/pdf", "x.pdf", config).output)
                for name, pdf in (("long", long_manual), ("short", short))}
    results: dict[str, bytes] = {}

    def parse(name, pdf):
        results[name] = canonical(run_pipeline(pdf, "application/pdf", "x.pdf", config).output)

    threads = [threading.Thread(target=parse, args=item) for item in (("long", long_manual), ("short", short))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert results == expected
