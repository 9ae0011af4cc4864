"""The scoring functions of bench.quality and bench.table_cells, on small hand-made texts and grids (no PDF, no apt package)."""
from __future__ import annotations

from bench.quality import (
    Checks,
    Head,
    Reading,
    Score,
    absent_count,
    in_order,
    key,
    losses,
    measurable,
    present,
    running_heads,
    score,
    spans,
)
from bench.quality_sources import html_blocks, source_sentences, split_sentences
from bench.table_cells import grid_from_html, grid_from_rows, matched_cells, score_tables

SOURCE = ["The quick brown fox jumps over the lazy dog.", "Pack my box with five dozen liquor jugs.",
          "Sphinx of black quartz, judge my vow today."]


def reading(*texts: str) -> Reading:
    return Reading([(page, text) for page, text in enumerate(texts, start=1)])


def test_key_keeps_letters_and_digits_casefolded_and_nfkc():
    assert key("Ünïcode ﬁle, No. 42 — DONE!") == "ünïcodefileno42done"
    assert key("Straße") == "strasse"


def test_present_ignores_line_breaks_hyphenation_spacing_and_punctuation():
    output = reading("Intro.\nThe quick brown fox jum-\nps over the\n\nlazy   dog; then more")
    assert present(output, key(SOURCE[0]))
    assert not present(output, key(SOURCE[1]))


def test_present_across_pages_and_segments():
    output = reading("The quick brown fox", "jumps over the lazy dog.")
    assert present(output, key(SOURCE[0]))
    assert output.page_of(key("jumps over")) == 2


def test_present_needs_the_letters_contiguous():
    assert not present(reading("The quick brown fox (see page 3) jumps over the lazy dog."), key(SOURCE[0]))
    assert not present(reading("The quick brown fox jumps over the lazy cat."), key(SOURCE[0]))
    assert not present(reading("anything"), "")


def test_in_order():
    first, second = key(SOURCE[0]), key(SOURCE[1])
    assert in_order(reading(SOURCE[0], SOURCE[1]), first, second)
    assert not in_order(reading(SOURCE[1], SOURCE[0]), first, second)
    assert not in_order(reading(SOURCE[0]), first, second)  # the second is missing
    # a repeated sentence: some occurrence of the first comes before some occurrence of the second
    assert in_order(reading(SOURCE[1], SOURCE[0], SOURCE[1]), first, second)


def test_measurable_drops_what_no_candidate_finds_and_pairs_no_candidate_orders():
    readings = {"a": reading(SOURCE[0], SOURCE[2]), "b": reading(SOURCE[2], SOURCE[0])}
    tests = measurable(SOURCE + ["A sentence that only the source has, never the PDF."], readings, [])
    assert tests.sentences == [SOURCE[0], SOURCE[2]]
    assert tests.pairs == [(0, 1)]
    assert tests.source_sentences == 4
    assert score(readings["a"], tests) == Score(present=2, sentences=2, ordered=1, pairs=1)
    assert score(readings["b"], tests) == Score(present=2, sentences=2, ordered=0, pairs=1)


def test_running_heads_repeat_in_the_margins_page_numbers_ignored():
    pages = [(1, [(0.05, "Chapter 2: Vectors and lists 7"), (0.3, "Body text on the first page."),
                  (0.95, "Printed 2024")]),
             (2, [(0.05, "8 Chapter 2: Vectors and lists"), (0.3, "See Chapter 2 [Vectors and lists], page 7."),
                  (0.95, "Printed 2024")]),
             (3, [(0.3, "CHAPTER"), (0.4, "Vectors and lists")]),
             (4, [(0.3, "CHAPTER"), (0.4, "More text.")])]
    heads = {head.line: head for head in running_heads(pages)}
    assert set(heads) == {"Chapter 2: Vectors and lists 7", "Printed 2024"}  # "CHAPTER" is not in a margin
    head = heads["Chapter 2: Vectors and lists 7"]
    assert head.key == "chapter2vectorsandlists" and head.pages == [1, 2]
    assert head.allowed == 1  # the cross reference on page 2 has the same letters and digits


def test_running_heads_need_two_pages_and_letters():
    assert running_heads([(1, [(0.05, "Unique top line"), (0.5, "x"), (0.95, "17")]), (2, [(0.5, "y"), (0.95, "18")])]) == []


def test_a_body_line_that_ends_pages_now_and_then_is_no_running_head():
    pages = [(number, [(0.05, "A Manual"), (0.3, "Syntax:"), (0.5, "plot sin(x)"), (0.6, "Syntax:"),
                       (0.95, "Syntax:" if number < 3 else "Example:")]) for number in (1, 2, 3)]
    assert [head.line for head in running_heads(pages)] == ["A Manual"]


def test_absent_counts_copies_beyond_what_the_text_holds_itself():
    head = Head("chapter2vectorsandlists", "Chapter 2: Vectors and lists 7", [1, 2, 3], allowed=1)
    clean = reading("Body. See Chapter 2 [Vectors and lists], page 7.", "More body.")
    leaky = reading("Chapter 2: Vectors and lists 7", "Body. See Chapter 2 [Vectors and lists].", "8 Chapter 2 Vectors and lists")
    assert absent_count(clean, head) == 3
    assert absent_count(leaky, head) == 1
    assert absent_count(reading(*["Chapter 2 Vectors and lists"] * 6), head) == 0


def test_losses_name_the_page_and_the_sentence():
    tests = Checks(SOURCE, [key(s) for s in SOURCE], [(0, 1), (1, 2)], [Head("amanual", "A Manual 3", [1, 2])])
    rival = reading(SOURCE[0], SOURCE[1] + " " + SOURCE[2])
    service = reading(SOURCE[0] + " A Manual 4", SOURCE[2], SOURCE[1] + " A Manual")
    lost = losses(service, rival, tests)
    assert lost[0] == (2, f"out of order (service p.3 then p.2): {SOURCE[1]} || {SOURCE[2]}")
    assert lost[1][0] is None and "running head in the body 2 times (its text on pages 1, 3)" in lost[1][1]


def test_source_blocks_and_sentences():
    html = """<html><head><title>T</title></head><body><div class="header"><p>Next: Vectors, Up: Top</p></div>
    <p>This is the first sentence of the text. And here, e.g. this, is the second one!</p>
    <pre class="example">x &lt;- c(10.4, 5.6, 3.1, 6.4, 21.7, 18.2, 11.9)
short()</pre><table><tr><td>A cell with enough letters in it</td><td>B</td></tr></table></body></html>"""
    blocks = html_blocks(html)
    assert blocks == ["This is the first sentence of the text. And here, e.g. this, is the second one!",
                      "x <- c(10.4, 5.6, 3.1, 6.4, 21.7, 18.2, 11.9)", "short()", "A cell with enough letters in it", "B"]
    assert split_sentences(blocks[0]) == ["This is the first sentence of the text.", "And here, e.g. this, is the second one!"]
    assert source_sentences(blocks) == ["This is the first sentence of the text.", "And here, e.g. this, is the second one!",
                                        "x <- c(10.4, 5.6, 3.1, 6.4, 21.7, 18.2, 11.9)", "A cell with enough letters in it"]


TRUTH = [[("Station", 2, 1), ("Temperature", 1, 2)], ["Min", "Max"], ["Oslo", "-3", "11"], ["Alta", "", "9"]]


def test_grid_lays_out_spans_like_html():
    grid = grid_from_rows(TRUTH)
    assert grid[0] == [("station", 2, 1), ("temperature", 1, 2), None]
    assert grid[1] == [None, ("min", 1, 1), ("max", 1, 1)]
    html = ('<table><tr><th rowspan="2">Station</th><th colspan="2">Temperature</th></tr><tr><td>Min</td><td>Max</td></tr>'
            "<tr><td>Oslo</td><td>-3</td><td>11</td></tr><tr><td>Alta</td><td></td><td>9</td></tr></table>")
    assert grid_from_html(html) == grid


def test_cell_match_perfect_and_partial():
    truth = grid_from_rows(TRUTH)
    assert matched_cells(truth, truth) == 9
    unspanned = grid_from_rows([["Station", "Temperature", ""], ["", "Min", "Max"], ["Oslo", "-3", "11"], ["Alta", "", "9"]])
    assert matched_cells(truth, unspanned) == 7  # the two header cells lost their spans
    shifted = grid_from_rows([["Oslo", "-3", "11"], ["Alta", "9", ""]])  # no header; Alta's empty cell dropped, 9 moved left
    assert matched_cells(truth, shifted) == 4  # Oslo, -3, 11 and Alta; 9 is in the wrong column


def test_cell_match_aligns_extra_rows_and_columns():
    truth = grid_from_rows([["a", "b"], ["c", "d"]])
    padded = grid_from_rows([["", "", ""], ["", "a", "b"], ["x", "", ""], ["", "c", "d"]])
    assert matched_cells(truth, padded) == 4
    assert matched_cells(truth, []) == 0


def test_score_tables_f1_and_repeated_header():
    truth = [["Part", "Mass"], ["P-1", "2.5"], ["P-2", "3.0"], ["P-3", "1.0"]]
    page_one = "<table><tr><th>Part</th><th>Mass</th></tr><tr><td>P-1</td><td>2.5</td></tr></table>"
    page_two = "<table><tr><th>Part</th><th>Mass</th></tr><tr><td>P-2</td><td>3.0</td></tr><tr><td>P-3</td><td>1.0</td></tr></table>"
    result = score_tables(truth, [page_one, page_two])
    assert (result.found, result.true_cells, result.output_cells, result.tables) == (8, 8, 8, 2)
    assert result.f1() == 1.0
    merged_cells = score_tables(truth, ["<table><tr><td>Part Mass</td></tr><tr><td>P-1 2.5</td></tr></table>"])
    assert merged_cells.found == 0 and merged_cells.f1() == 0.0
    half = score_tables(truth, [page_one])
    assert (half.found, half.output_cells) == (4, 4)
    assert abs(half.f1() - 2 * 1.0 * 0.5 / 1.5) < 1e-9
    assert score_tables(truth, []).f1() == 0.0


def test_spans():
    assert spans([3, 1, 2, 7, None, 9, 8]) == "1-3, 7-9"
