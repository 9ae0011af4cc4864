"""The documents of `bench.quality`, their source text, and the texts the candidates read from their PDFs.

Every document is a manual that Debian ships twice from one source: as a PDF and as HTML (same
package version). The HTML is the truth; the PDF is what the candidates read.

Run: not by itself; imported by `python -m bench.quality` (from the project root).
"""
from __future__ import annotations

import gzip
import html
import io
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString

R = "/usr/share/R/doc/manual/"


@dataclass(frozen=True)
class Document:
    name: str
    pdf: str
    html: str            # the first HTML file; further files follow its <link rel="next">
    packages: tuple[str, ...]
    holdout: bool        # kept out of tuning: report, never tune on it
    order: str = "single"  # "next": follow <link rel="next">; "numbered": index.html, then node1.html, node2.html, ...


DOCUMENTS = [
    # Tuning: the manuals the pipeline has been tuned and timed on (bench.pipeline's R manuals), and three more.
    Document("R-intro", R + "R-intro.pdf", R + "R-intro.html", ("r-doc-pdf", "r-doc-html"), False),
    Document("R-lang", R + "R-lang.pdf", R + "R-lang.html", ("r-doc-pdf", "r-doc-html"), False),
    Document("R-admin", R + "R-admin.pdf", R + "R-admin.html", ("r-doc-pdf", "r-doc-html"), False),
    Document("bashref", "/usr/share/doc/bash/bashref.pdf", "/usr/share/doc/bash/bashref.html", ("bash-doc",), False),
    Document("maint-guide", "/usr/share/doc/maint-guide/maint-guide.en.pdf", "/usr/share/doc/maint-guide/html/index.en.html",
             ("maint-guide",), False, order="next"),
    Document("developers-reference", "/usr/share/developers-reference/developers-reference.pdf",
             "/usr/share/developers-reference/index.html", ("developers-reference",), False, order="next"),
    # debian-reference, R-exts and gnuplot were holdouts until, on 2026-12-03, their pages were
    # studied to fix what the whole-document runs showed: tuning documents since.
    Document("debian-reference", "/usr/share/debian-reference/debian-reference.en.pdf",
             "/usr/share/debian-reference/index.en.html", ("debian-reference-en",), False, order="next"),
    Document("R-exts", R + "R-exts.pdf", R + "R-exts.html", ("r-doc-pdf", "r-doc-html"), False),
    Document("gnuplot", "/usr/share/doc/gnuplot/gnuplot.pdf", "/usr/share/doc/gnuplot/htmldocs/index.html",
             ("gnuplot-doc",), False, order="numbered"),
    # Holdout: never looked at while tuning the pipeline.
    Document("R-data", R + "R-data.pdf", R + "R-data.html", ("r-doc-pdf", "r-doc-html"), True),
    Document("bash.1", "/usr/share/doc/bash/bash.pdf", "/usr/share/doc/bash/bash.html", ("bash-doc",), True),
    # Added at the end of 2026-12-03, after the tuning: their figures read, never their pages.
    Document("gnu-standards", "/usr/share/doc/gnu-standards/standards.pdf.gz", "/usr/share/doc/gnu-standards/standards.html",
             ("gnu-standards",), True),
    Document("gnu-maintain", "/usr/share/doc/gnu-standards/maintain.pdf.gz", "/usr/share/doc/gnu-standards/maintain.html",
             ("gnu-standards",), True),
    Document("liboctave", "/usr/share/doc/octave/liboctave.pdf", "/usr/share/doc/octave/liboctave.html/index.html",
             ("octave-doc",), True, order="next"),
]

# Navigation, sidebars and anchors of texinfo, DocBook, Sphinx and latex2html pages: not the document's text.
DROP = ("script, style, head, nav, header, footer, div.header, div.nav-panel, div.navheader, div.navfooter, "
        "div.sphinxsidebar, div.related, div.footer, a.headerlink, a.copiable-link, div.navigation, ul.ChildLinks, address")
BLOCKS = {"address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "figcaption", "figure",
          "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre", "section", "table", "tbody", "td", "th",
          "thead", "tr", "ul", "body"}
BREAK = "\u2029"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^a-z\s])")
MIN_LETTERS = 20


def missing_packages(documents: list[Document]) -> list[str]:
    """The apt packages to install for these documents and the candidates."""
    packages = [] if shutil.which("pdftotext") else ["poppler-utils"]
    for document in documents:
        if not (os.path.exists(document.pdf) and os.path.exists(document.html)):
            packages += [name for name in document.packages if name not in packages]
    return packages


def html_files(document: Document) -> list[str]:
    """The document's HTML files in reading order: the first, then its <link rel="next"> chain, or its numbered
    siblings (latex2html's "next" skips a node's children; its node numbers are in reading order)."""
    if document.order == "numbered":
        folder = os.path.dirname(document.html)
        numbered = [name for name in os.listdir(folder) if re.fullmatch(r"node\d+\.html", name)]
        return [document.html] + [os.path.join(folder, name) for name in sorted(numbered, key=lambda name: int(name[4:-5]))]
    files, path = [], document.html
    while path and path not in files and os.path.exists(path):
        files.append(path)
        if document.order != "next":
            break
        with open(path, "rb") as handle:
            head = BeautifulSoup(handle.read().split(b"</head>")[0], "html.parser")
        link = next((tag for tag in head.find_all("link") if "next" in [rel.lower() for rel in tag.get("rel", [])]), None)
        path = os.path.normpath(os.path.join(os.path.dirname(path), link["href"].split("#")[0])) if link else None
    return files


def html_blocks(markup: str | bytes) -> list[str]:
    """An HTML page's text cut at block elements (each line of a <pre> a block of its own), navigation left out."""
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup.select(DROP):
        tag.decompose()
    for tag in soup.find_all("pre"):
        for text in tag.find_all(string=True):
            text.replace_with(NavigableString(str(text).replace("\n", BREAK)))
    for tag in soup.find_all(BLOCKS):
        tag.insert_before(BREAK)
        tag.append(BREAK)
    blocks = (" ".join(block.split()) for block in soup.get_text().split(BREAK))
    return [block for block in blocks if block]


def split_sentences(block: str) -> list[str]:
    """A block's sentences: cut after . ! or ? before anything but a lower-case letter."""
    return [part.strip() for part in SENTENCE_END.split(block) if part.strip()]


def source_blocks(document: Document) -> list[str]:
    """The text of the document's HTML files, block by block, in reading order."""
    blocks = []
    for path in html_files(document):
        with open(path, "rb") as handle:
            blocks += html_blocks(handle.read())
    return blocks


def source_sentences(blocks: list[str]) -> list[str]:
    """The blocks' sentences in order, those with fewer than MIN_LETTERS letters and digits left out (ambiguous)."""
    return [sentence for block in blocks for sentence in split_sentences(block)
            if sum(c.isalnum() for c in sentence) >= MIN_LETTERS]


def first_pages(path: str, count: int) -> tuple[bytes, int]:
    """A PDF of the document's first `count` pages (all of them if it has fewer), and its page count."""
    import pypdfium2 as pdfium

    if path.endswith(".gz"):  # Debian gzips some manuals' PDFs
        with gzip.open(path, "rb") as packed:
            source = pdfium.PdfDocument(packed.read())
    else:
        source = pdfium.PdfDocument(path)
    target = pdfium.PdfDocument.new()
    try:
        target.import_pages(source, list(range(min(count, len(source)))))
        buffer = io.BytesIO()
        target.save(buffer)
        return buffer.getvalue(), len(target)
    finally:
        target.close()
        source.close()


def pdftotext_pages(pdf: bytes, *options: str) -> list[tuple[int, str]]:
    """(page number, text) of every page, read by poppler's pdftotext with `options`."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", *options, handle.name, "-"],
                              capture_output=True, check=True).stdout.decode("utf-8", "replace")
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return list(enumerate(pages, start=1))


WORD = re.compile(r'<page width="([\d.]+)" height="([\d.]+)"|<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>')


def page_rows(pdf: bytes) -> list[tuple[int, list[tuple[float, str]]]]:
    """(page number, rows) of every page: the words of pdftotext -bbox-layout grouped by height (within 3 points)
    into physical rows, top to bottom, each (top as a share of the page's height, its words left to right)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        markup = subprocess.run(["pdftotext", "-bbox-layout", handle.name, "-"], capture_output=True, check=True).stdout
    pages: list[tuple[int, list[tuple[float, str]]]] = []
    words: list[tuple[float, float, str]] = []
    height = 1.0
    for match in WORD.finditer(markup.decode("utf-8", "replace")) or ():
        if match.group(1):
            if pages or words:
                pages.append((len(pages) + 1, rows_of(words, height)))
            words, height = [], float(match.group(2))
        else:
            words.append((float(match.group(4)), float(match.group(3)), html.unescape(match.group(5))))
    pages.append((len(pages) + 1, rows_of(words, height)))
    return pages


def rows_of(words: list[tuple[float, float, str]], height: float) -> list[tuple[float, str]]:
    rows: list[list[tuple[float, float, str]]] = []
    for word in sorted(words):
        if rows and word[0] - rows[-1][0][0] <= 3:
            rows[-1].append(word)
        else:
            rows.append([word])
    return [(row[0][0] / height, " ".join(text for _, _, text in sorted(row, key=lambda word: word[1]))) for row in rows]


def pypdfium2_pages(pdf: bytes) -> list[tuple[int, str]]:
    """(page number, text) of every page from bare PDFium: the text page's whole text."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append((index + 1, textpage.get_text_bounded()))
            textpage.close()
            page.close()
        return pages
    finally:
        document.close()


def service_chunks(pdf: bytes, name: str) -> list[tuple[int, str]]:
    """(page number, text) of the service's segments in output order, page headers and footers left out."""
    from pipeline.run import run_pipeline
    from schemas import default_configuration

    configuration = default_configuration(None)
    configuration["ocr_strategy"] = "Auto"
    result = run_pipeline(pdf, "application/pdf", name, configuration)
    return [(segment["page_number"], segment.get("text") or segment.get("content") or "")
            for chunk in result.output["chunks"] for segment in chunk["segments"]
            if segment["segment_type"] not in ("PageHeader", "PageFooter")]


def candidate_texts(pdf: bytes, name: str) -> dict[str, list[tuple[int, str]]]:
    """Every candidate's reading of the same PDF bytes."""
    return {
        "service": service_chunks(pdf, name),
        "pdftotext": pdftotext_pages(pdf),
        "pdftotext -layout": pdftotext_pages(pdf, "-layout"),
        "pdftotext -raw": pdftotext_pages(pdf, "-raw"),
        "pypdfium2": pypdfium2_pages(pdf),
    }
