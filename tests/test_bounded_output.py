"""Bounded output: long text is cut into segments of sensible size, no chunk passes target_length
but for one indivisible unit, and the output stays a small multiple of the input."""
from __future__ import annotations

import json
import os
import random
import threading
import time

import pytest
from helpers import create

from pipeline.chunking import count_cl100k_tokens, count_words
from pipeline.run import run_pipeline
from pipeline.segment_processing import MAX_SEGMENT_CHARS, MAX_SEGMENT_TOKENS, MIN_SEGMENT_TOKENS
from schemas import default_configuration
from worker.loop import Worker

WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly box jam".split()
# What the output is at most, in bytes, per byte of input: each piece of text is in a segment's
# text, html, markdown, content and embed and in its chunk's embed, plus the keys of each segment.
OUTPUT_MULTIPLE = 8


def one_line(size: int, seed: int = 1) -> bytes:
    """`size` bytes of words on one line, no full stop, no line break."""
    rng = random.Random(seed)
    block = " ".join(rng.choice(WORDS) for _ in range(20_000)) + " "
    return (block * (size // len(block) + 1))[:size].encode()


def no_spaces(size: int, seed: int = 2) -> bytes:
    """One `size`-byte "word": letters with no space, no line break."""
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnop") for _ in range(size)).encode()


def configuration(target_length: int = 4096, tokenizer: str = "Cl100kBase", text_format: str = "Markdown",
                  embed_sources: list[str] | None = None) -> dict:
    configured = default_configuration(None)
    configured["chunk_processing"] = {"target_length": target_length, "tokenizer": {"Enum": tokenizer},
                                      "ignore_headers_and_footers": True}
    for settings in configured["segment_processing"].values():
        settings["format"] = text_format
        settings["embed_sources"] = embed_sources or ["Markdown"]
    return configured


def run(document: bytes, mime_type: str, configured: dict) -> dict:
    return run_pipeline(document, mime_type, "document", configured).output


def segments_of(output: dict) -> list[dict]:
    return [segment for chunk in output["chunks"] for segment in chunk["segments"]]


def assert_bounded(output: dict, configured: dict, indivisible=lambda chunk: False) -> None:
    """Every chunk within target_length (counted again) unless it is one indivisible unit; every
    segment's text within MAX_SEGMENT_CHARS."""
    chunk_processing = configured["chunk_processing"]
    count = count_words if chunk_processing["tokenizer"]["Enum"] == "Word" else count_cl100k_tokens
    target = max(chunk_processing["target_length"], MIN_SEGMENT_TOKENS)
    for chunk in output["chunks"]:
        assert chunk["chunk_length"] == count(chunk["embed"])
        assert chunk["chunk_length"] <= target or indivisible(chunk), (chunk["chunk_length"], chunk["embed"][:200])
    for segment in segments_of(output):
        assert len(segment["text"]) <= MAX_SEGMENT_CHARS


def output_multiple(output: dict, document: bytes) -> float:
    return len(json.dumps(output).encode()) / len(document)


def test_a_long_one_line_text_is_cut_into_bounded_segments_and_chunks():
    document = one_line(5_000_000)
    configured = configuration()
    started = time.monotonic()
    output = run(document, "text/plain", configured)
    assert time.monotonic() - started < 60
    assert_bounded(output, configured)
    segments = segments_of(output)
    assert all(count_cl100k_tokens(segment["embed"]) <= MAX_SEGMENT_TOKENS for segment in segments[:50])
    assert len(segments) >= len(document) // (MAX_SEGMENT_CHARS * 2)  # sensible pieces, not one
    assert output_multiple(output, document) <= OUTPUT_MULTIPLE
    # Cut between words, and nothing lost: the pieces are the words of the line, in order.
    assert " ".join(segment["text"] for segment in segments) == document.decode().strip()


def test_a_long_word_without_spaces_is_cut_between_characters():
    document = no_spaces(1_000_000)
    for configured in (configuration(), configuration(100, "Word")):
        output = run(document, "text/plain", configured)
        assert_bounded(output, configured)
        assert "".join(segment["text"] for segment in segments_of(output)) == document.decode()
        assert output_multiple(output, document) <= OUTPUT_MULTIPLE


@pytest.mark.parametrize("mime_type, build", [
    ("text/plain", lambda line: line + "\n\n" + line.replace(" ", "\n")),
    ("text/markdown", lambda line: f"# {line[:20000]}\n\n{line}\n\n- {line}\n\n```\n{line}\n```\n\n> {line}\n"),
    ("text/html", lambda line: f"<h1>{line[:20000]}</h1><p>{line} <b>bold</b></p><ul><li>{line}</li></ul>"
                               f"<pre>{line}</pre><div>{line}</div>"),
])
@pytest.mark.parametrize("configured", [
    configuration(),
    configuration(300, "Word"),
    configuration(200, text_format="Html", embed_sources=["HTML", "Markdown"]),
], ids=["default", "word-300", "html-200"])
def test_every_format_and_setting_keeps_chunks_within_target_length(mime_type, build, configured):
    document = build(one_line(200_000).decode()).encode()
    output = run(document, mime_type, configured)
    assert_bounded(output, configured)
    assert output_multiple(output, document) <= 2 * OUTPUT_MULTIPLE  # html and markdown in the embed too


@pytest.mark.parametrize("mime_type, table", [
    ("text/markdown", "| Name | Count |\n|---|---|\n" + "".join(f"| row {n} | {n} |\n" for n in range(5000))),
    ("text/html", "<table><tr><th>Name</th><th>Count</th></tr>"
                  + "".join(f"<tr><td>row {n}</td><td>{n}</td></tr>" for n in range(5000)) + "</table>"),
])
def test_a_long_table_is_cut_between_rows_with_its_header(mime_type, table):
    configured = configuration(200)
    output = run(table.encode(), mime_type, configured)
    assert_bounded(output, configured)
    tables = [segment for segment in segments_of(output) if segment["segment_type"] == "Table"]
    assert len(tables) > 10
    rows = []
    for segment in tables:
        lines = segment["text"].split("\n")
        assert lines[0] == "Name | Count"
        assert segment["markdown"].startswith("| Name | Count |\n| --- | --- |\n")
        assert segment["html"].startswith("<table><tr><th>Name</th><th>Count</th></tr>")
        rows.extend(lines[1:])
    assert rows == [f"row {n} | {n}" for n in range(5000)]


def test_one_table_row_is_never_cut():
    row = " ".join(WORDS * 40)
    document = f"| Head | Body |\n|---|---|\n| short | cell |\n| long | {row} |\n| after | cell |\n".encode()
    configured = configuration(100)
    output = run(document, "text/markdown", configured)
    assert_bounded(output, configured, indivisible=lambda chunk: chunk["segments"][0]["text"].startswith("Head | Body\nlong"))
    assert any(row in segment["text"] for segment in segments_of(output))


def test_a_whole_page_of_long_text_is_cut_too():
    """segmentation_strategy=Page joins the one virtual page of a text document into one segment:
    chunking cuts it."""
    document = one_line(1_000_000)
    configured = configuration(1000)
    configured["segmentation_strategy"] = "Page"
    output = run(document, "text/plain", configured)
    assert_bounded(output, configured)
    assert {segment["segment_type"] for segment in segments_of(output)} == {"Page"}
    assert output_multiple(output, document) <= OUTPUT_MULTIPLE


def test_a_tiny_target_length_does_not_blow_the_output_up():
    """Segments are never cut under MIN_SEGMENT_TOKENS: a segment for every word would make the
    output dozens of times the input."""
    document = one_line(200_000)
    configured = configuration(1)
    output = run(document, "text/plain", configured)
    assert all(chunk["chunk_length"] <= MIN_SEGMENT_TOKENS for chunk in output["chunks"])
    assert output_multiple(output, document) <= 3 * OUTPUT_MULTIPLE


def test_short_documents_are_not_cut():
    document = b"# Title\n\nA paragraph of a few words. And a second sentence.\n\n- one\n- two\n"
    output = run(document, "text/markdown", configuration(4096))
    assert [segment["text"] for segment in segments_of(output)] == [
        "Title", "A paragraph of a few words. And a second sentence.", "one", "two"]


def test_paragraphs_are_cut_at_sentence_ends_first():
    sentence = "This sentence has exactly ten words in it, more or less. "
    document = (sentence * 400).strip().encode()
    output = run(document, "text/plain", configuration(100))
    texts = [segment["text"] for segment in segments_of(output)]
    assert len(texts) > 1 and all(text.endswith("less.") for text in texts)


def test_a_long_one_line_text_through_the_api(client, auth, app):
    """Through the service: created, run by a worker in its sandbox, read back; bounded."""
    document = one_line(400_000)
    task_id = create(client, auth, document=document, file_name="long.txt",
                     chunk_processing={"target_length": 512})["task_id"]
    stop = threading.Event()
    worker = Worker(app, stop, name="bounded")
    try:
        assert worker.run_once()
    finally:
        stop.set()
        worker.sandbox.close()
    response = client.get(f"/task/{task_id}", headers=auth)
    task = response.json
    assert task["status"] == "Succeeded", task["message"]
    assert all(chunk["chunk_length"] <= 512 for chunk in task["output"]["chunks"])
    assert len(response.data) <= OUTPUT_MULTIPLE * len(document)


@pytest.mark.skipif(not os.environ.get("BIG_TEXT_TESTS"), reason="50 MB: set BIG_TEXT_TESTS=1 to run it")
def test_fifty_megabytes_of_one_line_text():
    document = one_line(50_000_000)
    configured = configuration()
    started = time.monotonic()
    output = run(document, "text/plain", configured)
    assert time.monotonic() - started < 120
    assert max(chunk["chunk_length"] for chunk in output["chunks"]) <= 4096
    assert output_multiple(output, document) <= OUTPUT_MULTIPLE
