"""Text quality of the PDF pipeline on real PDFs, measured against poppler's pdftotext.

For each PDF: the share of the words pdftotext finds that also appear in the pipeline's
segments, in order (difflib matching of word sequences, page by page); and for a few pages
rendered to 150 DPI images and read back by OCR, the same share (the OCR word recall).

Beside it, as a baseline measured in the same run, the same share for pdftotext's own two other
reading orders (`-raw`, the content stream's; `-layout`, the page's physical lines) against its
default: where they fall short, the reference's order is one reading among several (a table
read by columns or rows, a contents page's numbers after or beside their titles).

Run from the project root: `.venv/bin/python -m bench.quality [PDF ...] [--max-pages 40] [--scan-pages 2] [--show-missed 30]`

Without PDFs it takes those found under /usr/share and in site-packages (over 20 kB).
"""
from __future__ import annotations

import argparse
import difflib
import glob
import io
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from collections import Counter

import pypdfium2 as pdfium

from pipeline.pdf import parse as pdf_pipeline

CONFIG = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
          "error_handling": "Continue", "segment_processing": {}}
PUNCTUATION = re.compile(r"^\W+|\W+$")


def find_pdfs() -> list[str]:
    """Real PDFs on this machine: documentation under /usr/share and files inside packages."""
    found = glob.glob("/usr/share/**/*.pdf", recursive=True)
    for folder in sys.path:
        if folder.endswith("site-packages"):
            found += glob.glob(os.path.join(folder, "**", "*.pdf"), recursive=True)
    unique = {os.path.realpath(path): path for path in found if os.path.getsize(path) > 20_000}
    sizes = {}
    for path in sorted(unique.values()):
        sizes.setdefault(os.path.getsize(path), path)  # the same file under two names counts once
    return sorted(sizes.values())


def normalise(text: str) -> list[str]:
    """Words compared case-blind, ligatures unfolded, surrounding punctuation dropped."""
    words = (PUNCTUATION.sub("", word) for word in unicodedata.normalize("NFKC", text).lower().split())
    return [word for word in words if word]


def pdftotext_pages(path: str, count: int, mode: str | None = None) -> list[list[str]]:
    """pdftotext's words of each of the first `count` pages, in its default order or `mode`'s."""
    text = subprocess.run(["pdftotext", "-l", str(count), "-enc", "UTF-8", *([mode] if mode else []), path, "-"],
                          capture_output=True, check=True).stdout.decode("utf-8", "replace")
    return [normalise(page) for page in text.split("\f")[:count]]


def in_order(reference: list[list[str]], found: dict[int, list[str]]) -> int:
    """How many of the reference's words, page by page, the found words hold in the same order."""
    return sum(matched(words, found.get(number, [])) for number, words in enumerate(reference, start=1))


def matched(reference: list[str], found: list[str]) -> int:
    """How many reference words the found words contain in the same order."""
    matcher = difflib.SequenceMatcher(None, reference, found, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def missed(reference: list[str], found: list[str]) -> list[str]:
    """The reference words not found in order."""
    matcher = difflib.SequenceMatcher(None, reference, found, autojunk=False)
    return [word for tag, start, end, _, _ in matcher.get_opcodes() if tag in ("delete", "replace")
            for word in reference[start:end]]


def bag_matched(reference: list[str], found: list[str]) -> int:
    """How many reference words the found words contain, in any order."""
    remaining = Counter(found)
    hits = 0
    for word in reference:
        if remaining[word] > 0:
            remaining[word] -= 1
            hits += 1
    return hits


def first_pages(path: str, count: int) -> bytes:
    """A PDF of the document's first `count` pages."""
    source = pdfium.PdfDocument(path)
    target = pdfium.PdfDocument.new()
    try:
        target.import_pages(source, list(range(min(count, len(source)))))
        buffer = io.BytesIO()
        target.save(buffer)
        return buffer.getvalue()
    finally:
        target.close()
        source.close()


def page_words(parsed) -> dict[int, list[str]]:
    """The pipeline's words per page, in segment order."""
    pages: dict[int, list[str]] = {}
    for segment in parsed.segments:
        pages.setdefault(segment["page_number"], []).extend(normalise(segment["text"]))
    return pages


def scan_png(path: str, index: int, dpi: int = 150) -> bytes:
    """One page rendered as a clean scan."""
    document = pdfium.PdfDocument(path)
    try:
        image = document[index].render(scale=dpi / 72).to_pil()
    finally:
        document.close()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


def measure(path: str, max_pages: int, scan_pages: int, show_missed: int = 0) -> tuple[int, ...]:
    """(pages, reference words, matched in order, scan reference words, scan matched, matched in
    any order, pdftotext -raw's words matched in order, pdftotext -layout's)."""
    reference = pdftotext_pages(path, max_pages)
    modes = [in_order(reference, dict(enumerate(pdftotext_pages(path, max_pages, mode), start=1)))
             for mode in ("-raw", "-layout")]
    parsed = pdf_pipeline.parse_pdf(first_pages(path, max_pages), CONFIG, lambda message: None)
    found = page_words(parsed)
    if show_missed:
        for number, words in enumerate(reference, start=1):
            lost = missed(words, found.get(number, []))
            if lost:
                print(f"    page {number}: {len(lost)} missed: {' '.join(lost[:show_missed])}")
    total = sum(len(words) for words in reference)
    hits = in_order(reference, found)
    bag_hits = sum(bag_matched(words, found.get(number, [])) for number, words in enumerate(reference, start=1))
    scan_total = scan_hits = 0
    # Body pages, spread over the document: contents and index pages have no one reading order.
    candidates = [index for index, words in enumerate(reference) if len(words) >= 150][len(reference) // 5:]
    step = max(len(candidates) // max(scan_pages, 1), 1)
    for index in candidates[step // 2::step][:scan_pages]:
        scanned = pdf_pipeline.parse_image(scan_png(path, index), "image/png", CONFIG, lambda message: None)
        words = [word for segment in scanned.segments for word in normalise(segment["text"])]
        scan_total += len(reference[index])
        scan_hits += matched(reference[index], words)
    return (len(reference), total, hits, scan_total, scan_hits, bag_hits, *modes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="*")
    parser.add_argument("--max-pages", type=int, default=40)
    parser.add_argument("--scan-pages", type=int, default=2, help="pages per PDF read back by OCR")
    parser.add_argument("--show-missed", type=int, default=0, metavar="N",
                        help="print up to N words per page that were not found in order")
    arguments = parser.parse_args()
    if shutil.which("pdftotext") is None:
        sys.exit("pdftotext is missing: apt-get install -y poppler-utils")
    paths = arguments.pdfs or find_pdfs()
    totals = [0] * 8
    print(f"{'PDF':40s} {'pages':>5s} {'words':>7s} {'text':>6s} {'any':>6s} {'scan':>6s} "
          f"{'-raw':>6s} {'-layout':>7s} {'secs':>6s}")
    for path in paths:
        started = time.perf_counter()
        result = measure(path, arguments.max_pages, arguments.scan_pages, arguments.show_missed)
        totals = [a + b for a, b in zip(totals, result)]
        pages, total, hits, scan_total, scan_hits, bag_hits, raw, layout = result
        scan = f"{scan_hits / scan_total:.3f}" if scan_total else "-"
        print(f"{os.path.basename(path)[:40]:40s} {pages:5d} {total:7d} {hits / max(total, 1):6.3f} "
              f"{bag_hits / max(total, 1):6.3f} {scan:>6s} {raw / max(total, 1):6.3f} {layout / max(total, 1):7.3f} "
              f"{time.perf_counter() - started:6.1f}", flush=True)
    pages, total, hits, scan_total, scan_hits, bag_hits, raw, layout = totals
    share = lambda count: count / max(total, 1)  # noqa: E731
    print(f"{'ALL':40s} {pages:5d} {total:7d} {share(hits):6.3f} {share(bag_hits):6.3f} "
          f"{(scan_hits / scan_total if scan_total else 0):6.3f} {share(raw):6.3f} {share(layout):7.3f}")
    print("text: words of pdftotext found in order; any: found in any order; scan: OCR words found in order;")
    print("-raw, -layout: pdftotext's words found in order in its own -raw and -layout output (the baseline)")
    print("targets: text >= 0.98, clean scans >= 0.90")


if __name__ == "__main__":
    main()
