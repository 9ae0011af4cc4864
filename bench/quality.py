"""Text quality of the PDF pipeline, measured against each document's own source text (in the manner of olmOCR-bench).

Each document is a manual Debian ships both as PDF and as HTML made from the same source
(`bench/quality_sources.py`). The HTML's text, cut into sentences, is the truth; the PDF is read
by the service (in-process `run_pipeline`) and, in the same run, by pdftotext (default, `-layout`,
`-raw`) and bare pypdfium2. Three kinds of test, each pass or fail (docs/quality.md explains them):

- present: a sentence's letters and digits (NFKC, casefolded) appear contiguously in the
  candidate's letters and digits: line breaks, hyphens, spaces and punctuation do not count;
- in order: two consecutive sentences are both present and the first comes first;
- absent: a running head or foot (a line repeated at the top or bottom of pages) is not in the body.

Source sentences and pairs that no candidate passes are left out for all (the HTML holds text the
PDF does not: navigation, cross references written differently, pages past --max-pages).

Run from the project root: `.venv/bin/python -m bench.quality [--docs R-intro,R-data] [--max-pages 400] [--show 5]`
"""
from __future__ import annotations

import argparse
import bisect
import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from bench import quality_sources as sources

SERVICE = "service"
CANDIDATES = ("service", "pdftotext", "pdftotext -layout", "pdftotext -raw", "pypdfium2")
MIN_HEAD_LETTERS = 6
MIN_HEAD_PAGES = 2
MARGIN = 0.1  # running heads are printed in the page's top or bottom tenth
PAGE_NUMBER = re.compile(r"^\s*((\d+|[ivxlc]+)\s*(/\s*\d+\s*)?)+\s|\s((\d+|[ivxlc]+)\s*(/\s*\d+\s*)?)+$")


def key(text: str) -> str:
    """The letters and digits of a text, NFKC-normalised and casefolded: what the tests compare."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def letters(text: str) -> str:
    """The letters alone (running heads are matched without their page numbers)."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalpha())


class Reading:
    """A candidate's text, (page number, text) pieces in its order, as one searchable string of letters and digits."""

    def __init__(self, pieces: list[tuple[int, str]]):
        parts, self.starts, self.pages, offset = [], [], [], 0
        for page, text in pieces:
            part = key(text)
            self.starts.append(offset)
            self.pages.append(page)
            parts.append(part)
            offset += len(part)
        self.text = "".join(parts)

    def page_at(self, offset: int) -> int | None:
        index = bisect.bisect_right(self.starts, offset) - 1
        return self.pages[index] if offset >= 0 and index >= 0 else None

    def page_of(self, sentence_key: str) -> int | None:
        return self.page_at(self.text.find(sentence_key))

    def pages_of(self, text_key: str) -> list[int]:
        """The pages of every occurrence of a key."""
        found, offset = [], self.text.find(text_key)
        while text_key and offset >= 0:
            found.append(self.page_at(offset))
            offset = self.text.find(text_key, offset + len(text_key))
        return found


def present(reading: Reading, sentence_key: str) -> bool:
    return bool(sentence_key) and sentence_key in reading.text


def in_order(reading: Reading, first: str, second: str) -> bool:
    """Both present and an occurrence of the first starts before an occurrence of the second."""
    start = reading.text.find(first)
    return start >= 0 and bool(second) and reading.text.rfind(second) > start


@dataclass
class Head:
    """A running head or foot: its letters and digits without its page number, the pages it is printed on, and how
    often the PDF's own text has them besides (a cross reference "Chapter 7 [Reading data from files]" has the letters
    and digits of the head "Chapter 7: Reading data from files 34")."""
    key: str
    line: str
    pages: list[int] = field(default_factory=list)
    allowed: int = 0


def head_key(line: str) -> str:
    """A top or bottom line's letters and digits without its page number (a first or last number, or roman numeral)."""
    return key(PAGE_NUMBER.sub("", line))


def running_heads(pages: list[tuple[int, list[tuple[float, str]]]]) -> list[Head]:
    """Lines repeated at the top or the bottom of pages. `pages` holds each page's rows (top as a share of the page's
    height, text), top to bottom. A page's first row, in its top MARGIN, and its last, in its bottom MARGIN, with
    MIN_HEAD_LETTERS letters or more, are running heads when repeated (page numbers dropped and other digits ignored)
    at the same place on MIN_HEAD_PAGES pages or more, unless the pages' other rows hold it as often. Each head's
    `allowed` is how often those rows hold its key (a cross reference repeating a chapter's head)."""
    places: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for number, rows in pages:
        ends = [("top", rows[0])] if rows and rows[0][0] < MARGIN else []
        ends += [("bottom", rows[-1])] if rows and rows[-1][0] > 1 - MARGIN and len(rows) > 1 else []
        for place, (_, line) in ends:
            if len(letters(PAGE_NUMBER.sub("", line))) >= MIN_HEAD_LETTERS:
                masked = "".join("#" if c.isdigit() else c for c in head_key(line))
                places.setdefault((place, masked), []).append((number, line))
    heads: dict[str, Head] = {}
    printed = set()
    for found in places.values():
        if len({number for number, _ in found}) >= MIN_HEAD_PAGES:
            for number, line in found:
                head = heads.setdefault(head_key(line), Head(head_key(line), " ".join(line.split())))
                head.pages.append(number)
                printed.add((number, line))
    rest = key("\n".join(line for number, rows in pages for _, line in rows if (number, line) not in printed))
    for head in heads.values():
        head.allowed = rest.count(head.key)
    # A line the body holds at least as often as the margins ("Syntax:" ending a page now and then) is body text.
    return [head for head in heads.values() if head.allowed < len(head.pages)]


def absent_count(reading: Reading, head: Head) -> int:
    """How many of the head's printed copies are not in the body: the body may hold its key as often as the PDF's
    text besides the heads does, no more."""
    leaked = max(0, reading.text.count(head.key) - head.allowed)
    return len(head.pages) - min(len(head.pages), leaked)


@dataclass
class Checks:
    sentences: list[str]                # measurable source sentences, in source order
    keys: list[str]
    pairs: list[tuple[int, int]]        # indices of consecutive measurable sentences
    heads: list[Head]
    source_sentences: int = 0


def measurable(sentences: list[str], readings: dict[str, Reading], heads: list[Head]) -> Checks:
    """The tests of one document: sentences that at least one candidate finds, consecutive pairs of those that at least
    one candidate reads in order, and every running head (taken from the PDF itself, so never filtered)."""
    keys = [key(sentence) for sentence in sentences]
    kept = [index for index, k in enumerate(keys) if any(present(reading, k) for reading in readings.values())]
    pairs = [(a, b) for a, b in zip(kept, kept[1:]) if any(in_order(r, keys[a], keys[b]) for r in readings.values())]
    position = {index: place for place, index in enumerate(kept)}
    return Checks([sentences[i] for i in kept], [keys[i] for i in kept],
                 [(position[a], position[b]) for a, b in pairs], heads, len(sentences))


@dataclass
class Score:
    present: int = 0
    sentences: int = 0
    ordered: int = 0
    pairs: int = 0
    absent: int = 0
    heads: int = 0

    def add(self, other: Score) -> Score:
        return Score(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))

    def shares(self) -> tuple[float | None, float | None, float | None]:
        share = lambda hits, total: hits / total if total else None
        return share(self.present, self.sentences), share(self.ordered, self.pairs), share(self.absent, self.heads)


def score(reading: Reading, tests: Checks) -> Score:
    return Score(sum(present(reading, k) for k in tests.keys), len(tests.keys),
                 sum(in_order(reading, tests.keys[a], tests.keys[b]) for a, b in tests.pairs), len(tests.pairs),
                 sum(absent_count(reading, head) for head in tests.heads), sum(len(head.pages) for head in tests.heads))


def losses(service: Reading, rival: Reading, tests: Checks) -> list[tuple[int | None, str]]:
    """(page, what) for each test the rival passes and the service fails, in source order: missing sentences, pairs
    out of order; then the running heads the service leaves in the body (page None)."""
    lost = []
    for index, k in enumerate(tests.keys):
        if present(rival, k) and not present(service, k):
            lost.append((index, rival.page_of(k), f"missing: {tests.sentences[index]}"))
    for a, b in tests.pairs:
        ka, kb = tests.keys[a], tests.keys[b]
        if in_order(rival, ka, kb) and present(service, ka) and present(service, kb) and not in_order(service, ka, kb):
            lost.append((b, rival.page_of(kb), f"out of order (service p.{service.page_of(ka)} then p.{service.page_of(kb)}):"
                                               f" {tests.sentences[a]} || {tests.sentences[b]}"))
    lost.sort(key=lambda item: item[0])
    for head in tests.heads:
        if absent_count(service, head) < len(head.pages):  # listed whatever the rival does: only the service can mark heads
            lost.append((len(tests.keys), None, f"running head in the body {len(head.pages) - absent_count(service, head)} times"
                                                f" (its text on pages {spans(service.pages_of(head.key))}): {head.line}"))
    return [(page, what) for _, page, what in lost]


def spans(pages: list[int | None]) -> str:
    """Page numbers as runs: 1-4, 7."""
    runs: list[list[int]] = []
    for page in sorted({page for page in pages if page is not None}):
        if runs and page == runs[-1][1] + 1:
            runs[-1][1] = page
        else:
            runs.append([page, page])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def measure(document: sources.Document, max_pages: int) -> tuple[int, Checks, dict[str, Score], dict[str, Reading]]:
    """Read one document with every candidate and score them; (pages, tests, scores, readings)."""
    pdf, page_count = sources.first_pages(document.pdf, max_pages)
    readings = {name: Reading(pieces) for name, pieces in sources.candidate_texts(pdf, document.name + ".pdf").items()}
    heads = running_heads(sources.page_rows(pdf))
    blocks = sources.source_blocks(document)
    tests = measurable(sources.source_sentences(blocks), readings, heads)
    return page_count, tests, {name: score(reading, tests) for name, reading in readings.items()}, readings


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(title: str, rows: list[tuple[str, dict[str, Score]]], metric: int) -> list[str]:
    lines = [f"| {title} | " + " | ".join(CANDIDATES) + " |", "|---|" + "---:|" * len(CANDIDATES)]
    for name, scores in rows:
        values = [fmt(scores[candidate].shares()[metric]) for candidate in CANDIDATES]
        best = max((value for value in values if value != "-"), default=None)
        cells = [f"**{value}**" if value == best else value for value in values]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def report(results: list[tuple[sources.Document, int, Checks, dict[str, Score]]]) -> list[str]:
    """The per-document and overall tables (tuning and holdout apart), in Markdown."""
    lines = ["| Document | set | pages | source sentences | measurable | pairs | running heads |", "|---|---|---:|---:|---:|---:|---:|"]
    for document, pages, tests, _ in results:
        lines.append(f"| {document.name} | {'holdout' if document.holdout else 'tuning'} | {pages} | {tests.source_sentences} | "
                     f"{len(tests.keys)} | {len(tests.pairs)} | {sum(len(head.pages) for head in tests.heads)} |")
    rows: list[tuple[str, dict[str, Score]]] = []
    for holdout in (False, True):
        chosen = [(document.name, scores) for document, _, _, scores in results if document.holdout == holdout]
        rows += chosen
        if chosen:
            total = {name: Score() for name in CANDIDATES}
            for _, scores in chosen:
                total = {name: total[name].add(scores[name]) for name in CANDIDATES}
            rows.append((f"**all {'holdout' if holdout else 'tuning'}**", total))
    for metric, title in enumerate(("Present", "In order", "Absent")):
        lines += ["", *table(title, rows, metric)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="", help="comma-separated document names (default: all): "
                        + ", ".join(document.name for document in sources.DOCUMENTS))
    parser.add_argument("--max-pages", type=int, default=400,
                        help="read only each PDF's first N pages (default 400: all of most manuals)")
    parser.add_argument("--show", type=int, default=5, help="examples per document where the service reads worse (default 5)")
    parser.add_argument("--against", choices=CANDIDATES[1:], help="list the tests the service fails and this candidate passes"
                        " (default: the best other candidate of each document)")
    arguments = parser.parse_args()
    wanted = [name for name in arguments.docs.split(",") if name]
    documents = [document for document in sources.DOCUMENTS if not wanted or document.name in wanted]
    if wanted and len(documents) != len(wanted):
        sys.exit(f"unknown document in {wanted}; known: {', '.join(document.name for document in sources.DOCUMENTS)}")
    missing = sources.missing_packages(documents)
    if missing:
        sys.exit("bench.quality reads Debian's own manuals and poppler's pdftotext; missing here. Install them with:\n"
                 f"    apt-get install -y {' '.join(missing)}")
    results = []
    for document in documents:
        started = time.perf_counter()
        pages, tests, scores, readings = measure(document, arguments.max_pages)
        results.append((document, pages, tests, scores))
        rivals = [name for name in CANDIDATES if name != SERVICE]
        rival = arguments.against or max(rivals, key=lambda name: (scores[name].present, scores[name].ordered))
        lost = losses(readings[SERVICE], readings[rival], tests)
        shares = " ".join(fmt(value) for value in scores[SERVICE].shares())
        heads_left = sum(1 for page, _ in lost if page is None)
        print(f"## {document.name}: {pages} pages, {time.perf_counter() - started:.1f} s; service present/in order/absent {shares}; "
              f"{len(lost) - heads_left} tests passed by {rival} and failed by the service; {heads_left} running heads left in"
              " the body", flush=True)
        pages_lost = Counter(page for page, _ in lost if page is not None)
        if pages_lost:
            print("   pages (tests lost): " + ", ".join(f"{page} ({count})" for page, count in sorted(pages_lost.most_common(12))))
        shown = [item for item in lost if item[0] is not None][:arguments.show] + [item for item in lost if item[0] is None][:3]
        for page, what in shown:
            print(f"   {'p.' + str(page) if page is not None else 'heads'}: {what[:240]}")
    print()
    print("\n".join(report(results)))


if __name__ == "__main__":
    main()
