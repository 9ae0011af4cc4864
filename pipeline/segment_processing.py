"""segment_processing of SPEC.md §8 applied to a parser's segments: `content`, `embed`, Ignore."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.chunking import DEFAULT_TARGET_LENGTH, HEADER_FOOTER_TYPES, TokenCounter, token_counter
from pipeline.sanitize import sanitize_html, sanitize_markdown

NO_LANGUAGE_MODEL_MESSAGE = "No language model configured; built-in generation used"
DEFAULT_SEGMENT_SETTINGS = {"format": "Markdown", "strategy": "Auto", "embed_sources": ["Markdown"]}
EMBED_SOURCE_FIELDS = {"Content": "content", "HTML": "html", "Markdown": "markdown", "LLM": "llm"}
# The largest segment a parser of text makes: its embed at most this many tokens (and at most
# target_length, but never under MIN_SEGMENT_TOKENS: cut finer, a document's output would be
# dozens of times its size, a segment's keys for every word), its text at most MAX_SEGMENT_CHARS
# characters (a "word" of the Word tokenizer can be any length), its html and markdown at most
# MAX_SEGMENT_MARKUP_CHARS.
MAX_SEGMENT_TOKENS = 1024
MIN_SEGMENT_TOKENS = 32
MAX_SEGMENT_CHARS = 8000
MAX_SEGMENT_MARKUP_CHARS = 8 * MAX_SEGMENT_CHARS

Progress = Callable[[str], None]


def process_segments(segments: list[dict], segment_processing: dict, progress: Progress) -> list[dict]:
    """Apply each segment type's settings: drop Ignore, fill content and embed."""
    processed = []
    used_language_model_strategy = False
    for segment in segments:
        settings = segment_processing.get(segment["segment_type"]) or DEFAULT_SEGMENT_SETTINGS
        strategy = settings.get("strategy", "Auto")
        if strategy == "Ignore":
            continue
        used_language_model_strategy = used_language_model_strategy or strategy == "LLM"
        processed.append(finish_segment(segment, settings))
    if used_language_model_strategy:
        progress(NO_LANGUAGE_MODEL_MESSAGE)
    return processed


def finish_segment(segment: dict, settings: dict) -> dict:
    """The segment with every SPEC.md §7 key, `content` by format and `embed` by embed_sources."""
    # There is no language model: the LLM strategy keeps the parser's html and markdown and
    # `llm` stays None. If the chosen embed sources are all empty, `embed` falls back to
    # `content`, so that no segment is silent in its chunk. Every html and markdown goes through
    # the sanitiser here, whichever parser made it, and content and embed are made from them.
    text = segment.get("text") or ""
    finished = {
        "segment_id": segment.get("segment_id") or str(uuid.uuid4()),
        "segment_type": segment["segment_type"],
        "bbox": segment.get("bbox") or {"left": 0.0, "top": 0.0, "width": 0.0, "height": 0.0},
        "page_number": segment.get("page_number") or 1,
        "page_width": segment.get("page_width") or 0.0,
        "page_height": segment.get("page_height") or 0.0,
        "confidence": segment.get("confidence"),
        "content": "",
        "text": text,
        "html": sanitize_html(segment.get("html") or ""),
        "markdown": sanitize_markdown(segment.get("markdown") or ""),
        "image": segment.get("image"),
        "ocr": segment.get("ocr") or [],
        "llm": None,
        "embed": "",
    }
    finished["content"], finished["embed"] = content_and_embed(finished, settings)
    finished.update((key, value) for key, value in segment.items() if key not in finished)
    return finished


def content_and_embed(segment: dict, settings: dict) -> tuple[str, str]:
    """A segment's `content` (its html or markdown, by `format`) and `embed` (by `embed_sources`)."""
    text = segment.get("text") or ""
    content = (segment.get("html") if settings.get("format") == "Html" else segment.get("markdown")) or text
    fields = {"content": content, "html": segment.get("html") or "", "markdown": segment.get("markdown") or "",
              "llm": segment.get("llm")}
    sources = settings.get("embed_sources") or ["Content"]
    parts = [fields[EMBED_SOURCE_FIELDS[source]] for source in sources if source in EMBED_SOURCE_FIELDS]
    return content, "\n".join(part for part in parts if part) or content


def embed_lengths(segments: list[dict], configuration: dict) -> dict[str, int]:
    """The chunk tokenizer's count of each segment's embed, keyed by the embed text, as segment
    processing will make it: worked out beside each page's analysis,
    so that chunking, which comes after every page, need not count them all."""
    settings_by_type = configuration.get("segment_processing") or {}
    chunk_processing = configuration.get("chunk_processing") or {}
    count = token_counter(chunk_processing.get("tokenizer"))
    left_out = HEADER_FOOTER_TYPES if chunk_processing.get("ignore_headers_and_footers", True) else ()
    lengths = {}
    for segment in segments:
        settings = settings_by_type.get(segment["segment_type"]) or DEFAULT_SEGMENT_SETTINGS
        if settings.get("strategy", "Auto") != "Ignore" and segment["segment_type"] not in left_out:
            embed = content_and_embed(sanitized(segment), settings)[1]
            lengths[embed] = count(embed)
    return lengths



def sanitized(segment: dict) -> dict:
    """The fields content and embed are made from, as finish_segment makes them."""
    return {"text": segment.get("text") or "", "html": sanitize_html(segment.get("html") or ""),
            "markdown": sanitize_markdown(segment.get("markdown") or ""), "llm": segment.get("llm")}


@dataclass
class SegmentSize:
    """How big a segment may be, by its embed as segment processing will make it; the counts it
    made, by embed text, spare chunking counting them again."""

    settings_by_type: dict
    count: TokenCounter
    budget: int
    lengths: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, configuration: dict) -> SegmentSize:
        """The bound of a task's configuration: its tokenizer, target_length and segment settings."""
        chunk_processing = configuration.get("chunk_processing") or {}
        target_length = int(chunk_processing.get("target_length") or DEFAULT_TARGET_LENGTH)
        return cls(configuration.get("segment_processing") or {}, token_counter(chunk_processing.get("tokenizer")),
                   max(MIN_SEGMENT_TOKENS, min(target_length, MAX_SEGMENT_TOKENS)))

    def excess(self, segment: dict) -> float:
        """The segment's size over the largest allowed: at most 1 when it may stay whole."""
        text, html, markdown = (segment.get(key) or "" for key in ("text", "html", "markdown"))
        if len(text) > MAX_SEGMENT_CHARS or max(len(html), len(markdown)) > MAX_SEGMENT_MARKUP_CHARS:
            return max(len(text) / MAX_SEGMENT_CHARS, len(html) / MAX_SEGMENT_MARKUP_CHARS,
                       len(markdown) / MAX_SEGMENT_MARKUP_CHARS)
        settings = self.settings_by_type.get(segment["segment_type"]) or DEFAULT_SEGMENT_SETTINGS
        embed = content_and_embed(sanitized(segment), settings)[1]
        if len(embed) <= self.budget and (embed.isascii() or len(embed.encode()) <= self.budget):
            return len(embed) / self.budget / 4  # a token is at least a byte (and a word a character)
        length = self.lengths.get(embed)
        if length is None:
            length = self.count(embed)
            if length <= self.budget:  # kept: the segment stays as it is
                self.lengths[embed] = length
        return length / self.budget
