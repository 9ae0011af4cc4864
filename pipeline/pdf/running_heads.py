"""Running heads: text a PDF repeats at the top or the bottom of its pages, retyped PageHeader or
PageFooter once every page has been typed (docs/pipeline.md)."""
from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass

from pipeline.pdf.classify import MARGIN_SHARE
from pipeline.pdf.contents import ROMAN


def mark_running_headers(pages_segments: list[list[dict]]) -> list[dict]:
    """Retype text repeated in the top or bottom margin of several pages; return those retyped.

    A margin's text is cut into rows (the pieces side by side on one line: a footer with a name at
    the left, a date in the middle and the page number at the right). A piece is a running head
    when its text, or its row's, repeats on another page once page numbers, other digits, spacing
    and punctuation are set aside; then so is the rest of its row. A line that repeats on no other
    page (a chapter's name in the head of a chapter one page long) is one when it sits where the
    other pages' heads sit: the same height, at the same place, flush with one of them. A page's
    first or last row past MARGIN_SHARE counts only where no heads sit nearer the edge on other
    pages (Sphinx's "CHAPTER" label over each chapter's title is the body's)."""
    pages = [margin_rows(segments) for segments in pages_segments]
    seen: Counter[tuple[str, str]] = Counter()
    for rows in pages:
        seen.update({(row.zone, key) for row in rows for key in (row.key, *(piece.key for piece in row.pieces))})
    near_edge = Counter(zone for zone, _ in {(row.zone, index) for index, rows in enumerate(pages) for row in rows
                                             for piece in row.pieces if not piece.reach and repeated(piece, row, seen)})
    heads: list[tuple[int, Piece]] = []
    for index, rows in enumerate(pages):
        for row in rows:
            found = [piece for piece in row.pieces if repeated(piece, row, seen)
                     and not (piece.reach and near_edge[row.zone] >= 2)]  # heads sit nearer the edge: body
            if any(piece.key == "" or any(map(str.isalpha, piece.key)) for piece in found):
                found += [piece for piece in row.pieces if piece not in found and one_line_beside(piece, found)]
            for piece in found:
                piece.head = True
                heads.append((index, piece))
    retyped = []
    in_body = body_lines(pages_segments, pages)
    places = HeadPlaces([(index, piece) for index, piece in heads if in_body[piece.key] < seen[piece_zone(piece), piece.key]],
                        [(index, piece) for index, rows in enumerate(pages) for row in rows
                         for piece in row.pieces if not piece.head])
    for index, rows in enumerate(pages):
        for row in rows:
            for piece in row.pieces:
                if not piece.head and not places.holds(index, piece):
                    continue
                new_type = "PageHeader" if row.zone == "top" else "PageFooter"
                if piece.segment["segment_type"] != new_type:
                    piece.segment["segment_type"] = new_type
                    retyped.append(piece.segment)
    return retyped


def body_lines(pages_segments: list[list[dict]], pages: list[list[MarginRow]]) -> Counter[str]:
    """On how many pages each key is a segment's outside the margins' rows (a line like "Syntax:"
    that a page's body ends with by chance, and many pages hold)."""
    counts: Counter[str] = Counter()
    for segments, rows in zip(pages_segments, pages):
        in_margin = {id(piece.segment) for row in rows for piece in row.pieces}
        counts.update({head_key(segment["text"]) for segment in segments if id(segment) not in in_margin
                       and segment["segment_type"] in BODY_KINDS and len(segment["text"]) <= 200})
    return counts


def piece_zone(piece: Piece) -> str:
    """The margin a piece sits in."""
    return "top" if piece.top < 0.5 else "bottom"


def margin_key(segment: dict) -> tuple[str, str] | None:
    """(zone, text with page numbers, digits, spacing and punctuation set aside) of a short
    segment in a page margin, else None."""
    if segment["segment_type"] in ("Table", "Picture", "Title", "Page"):
        return None
    text = segment["text"].strip()
    if not text or len(text) > 200:
        return None
    box, height = segment["bbox"], segment["page_height"]
    if box["top"] + box["height"] <= height * MARGIN_SHARE:
        zone = "top"
    elif box["top"] >= height * (1 - MARGIN_SHARE):
        zone = "bottom"
    else:
        return None
    return zone, head_key(text)


HEAD_REACH = 0.13  # how far into the page its first and last rows may be running heads
HEAD_KINDS = ("PageHeader", "PageFooter")  # what a page number alone in a margin was typed already
FOLIO = rf"(?:(?i:page)\s*)?[-\u2013(\[]?\s*(?:\d{{1,5}}|{ROMAN}|{ROMAN.upper()})\s*[-\u2013)\]]?(?:\s*(?:(?i:of)|/)\s*\d{{1,5}})?"
EDGE_FOLIO = re.compile(rf"^{FOLIO}\s+|\s+{FOLIO}$")  # a page number at the start or the end of a head
FOLIO_ALONE = re.compile(rf"^{FOLIO}$")
NOT_KEY = re.compile(r"[^\w#]+|_")


def head_key(text: str) -> str:
    """A margin line's text as running heads repeat it: without a page number at its start or end,
    its other digits masked, lower case, without spacing or punctuation ("" for a page number)."""
    text = " ".join(text.split())
    if FOLIO_ALONE.match(text):
        return ""
    text = re.sub(r"\d+", "#", EDGE_FOLIO.sub("", EDGE_FOLIO.sub("", text, count=1), count=1).lower())
    return NOT_KEY.sub("", text) or text.replace(" ", "")  # punctuation alone ("}" of code) stays itself


@dataclass(eq=False)
class Piece:
    """One segment in a page margin: its place as shares of the page, its key and first type."""

    segment: dict
    key: str
    top: float
    bottom: float
    left: float
    right: float
    kind: str
    head: bool = False
    reach: bool = False  # past MARGIN_SHARE, its page's first or last row


@dataclass
class MarginRow:
    """Pieces of one page margin side by side on one line, left to right, and the key of their text."""

    zone: str
    pieces: list[Piece]
    key: str = ""
    outermost: bool = True  # no other row of its margin nearer the page's edge


def margin_rows(segments: list[dict]) -> list[MarginRow]:
    """The rows of a page's top and bottom margins: pieces whose lines overlap by half the shorter.
    The page's first and last rows count as in its margins further in (HEAD_REACH): a head set
    for another paper size (a Letter page printed on A4) sits lower or higher than most."""
    rows: list[MarginRow] = []
    for segment in segments:
        zone_key = margin_key(segment)
        reach = zone_key is None and segment["segment_type"] not in ("Table", "Picture", "Title", "Page")
        if reach:
            zone_key = outermost_key(segment, segments)
        if zone_key is None:
            continue
        piece = new_piece(segment, zone_key[1])
        piece.reach = reach
        for row in rows:
            if row.zone == zone_key[0] and any(overlaps(piece, other) for other in row.pieces):
                row.pieces.append(piece)
                break
        else:
            rows.append(MarginRow(zone_key[0], [piece]))
    for row in rows:
        row.pieces.sort(key=lambda piece: piece.left)
        row.key = head_key(" ".join(piece.segment["text"] for piece in row.pieces))
        row.outermost = not any(other.zone == row.zone and beyond(other, row) for other in rows)
    return rows


def beyond(row: MarginRow, other: MarginRow) -> bool:
    """Whether a row lies wholly nearer its page's edge than another."""
    if row.zone == "top":
        return max(piece.bottom for piece in row.pieces) <= min(piece.top for piece in other.pieces)
    return min(piece.top for piece in row.pieces) >= max(piece.bottom for piece in other.pieces)


def new_piece(segment: dict, key: str) -> Piece:
    """A segment's piece: its box as shares of its page."""
    box, width, height = segment["bbox"], segment["page_width"] or 1, segment["page_height"] or 1
    return Piece(segment, key, box["top"] / height, (box["top"] + box["height"]) / height,
                 box["left"] / width, (box["left"] + box["width"]) / width, segment["segment_type"])


def outermost_key(segment: dict, segments: list[dict]) -> tuple[str, str] | None:
    """(zone, key) of a short segment within HEAD_REACH of the page's top or bottom with nothing
    above it (or below it) but what shares its line, else None."""
    text = segment["text"].strip()
    if not text or len(text) > 200:
        return None
    box, height = segment["bbox"], segment["page_height"] or 1
    top, bottom = box["top"], box["top"] + box["height"]
    if bottom <= height * HEAD_REACH:
        zone = "top"
    elif top >= height * (1 - HEAD_REACH):
        zone = "bottom"
    else:
        return None
    middle, piece = (top + bottom) / 2, new_piece(segment, "")
    for other in segments:
        if other is segment or other["segment_type"] == "Page":
            continue
        other_box = other["bbox"]
        other_top, other_bottom = other_box["top"], other_box["top"] + other_box["height"]
        beyond = other_bottom < middle if zone == "top" else other_top > middle
        if beyond and not overlaps(piece, new_piece(other, "")):
            return None
    return zone, head_key(text)


def repeated(piece: Piece, row: MarginRow, seen: Counter[tuple[str, str]]) -> bool:
    """Whether a piece is a running head by itself: a page number typed as one, or its text or its
    row's on two pages or more; past MARGIN_SHARE only text with a few letters; a list item only
    on its margin's outermost row."""
    if piece.kind == "ListItem" and not row.outermost:
        return False  # a listing's entry under the head of a contents page ("1.2 Methods 9" and "8.2 Maps 58")
    if piece.reach:
        return any(seen[row.zone, key] >= 2 and sum(map(str.isalpha, key)) >= 3 for key in (piece.key, row.key))
    return piece.kind in HEAD_KINDS or seen[row.zone, piece.key] >= 2 or seen[row.zone, row.key] >= 2


def overlaps(piece: Piece, other: Piece) -> bool:
    """Whether two pieces share a line: they overlap by over half the shorter's height."""
    shared = min(piece.bottom, other.bottom) - max(piece.top, other.top)
    return shared > 0.5 * min(piece.bottom - piece.top, other.bottom - other.top)


def one_line_beside(piece: Piece, heads: list[Piece]) -> bool:
    """Whether a piece on a running head's row goes with it: one line like it (not a paragraph
    reaching into the margin), no heading (a slide's title beside its number)."""
    return piece.kind not in ("SectionHeader", "Title") and any(
        piece.bottom - piece.top <= 1.6 * (head.bottom - head.top) for head in heads)


class HeadPlaces:
    """Where a document's running heads sit, to tell a head that repeats nowhere (a chapter's
    name on its only page) from text that happens to be in a margin: one line of the same height
    as heads of two other pages, at their place (top and bottom within a third of its height),
    flush left or right with them, and no heading unless those heads were headings too. A place
    where more pages hold text that repeats nowhere than hold heads is the body's (the last line
    of a page whose text always ends at the same height, where a short line such as "Syntax:"
    repeats by chance), and claims nothing."""

    def __init__(self, heads: list[tuple[int, Piece]], others: list[tuple[int, Piece]] = ()):
        self.heads = sorted(((piece.top, index, piece) for index, piece in heads if piece.key), key=lambda head: head[0])
        self.tops = [top for top, _, _ in self.heads]
        self.others = sorted(((piece.top, index, piece) for index, piece in others
                              if piece.key and piece.kind in BODY_KINDS), key=lambda other: other[0])
        self.other_tops = [top for top, _, _ in self.others]

    def holds(self, index: int, piece: Piece) -> bool:
        if not piece.key or piece.kind not in BODY_KINDS:
            return False
        tolerance = (piece.bottom - piece.top) / 3
        pages = self.pages_at(self.heads, self.tops, piece, tolerance, index)
        return len(pages) >= 2 and len(self.pages_at(self.others, self.other_tops, piece, tolerance)) <= len(pages)

    def pages_at(self, pieces: list, tops: list[float], piece: Piece, tolerance: float, but: int = -1) -> set[int]:
        """The pages (but one) with one of `pieces` (sorted by top) at the place of `piece`."""
        pages: set[int] = set()
        for position in range(bisect_left(tops, piece.top - tolerance), len(pieces)):
            top, other_index, head = pieces[position]
            if top > piece.top + tolerance:
                break
            if other_index != but and self.matches(piece, head, tolerance):
                pages.add(other_index)
        return pages

    @staticmethod
    def matches(piece: Piece, head: Piece, tolerance: float) -> bool:
        if piece.kind in ("SectionHeader", "Title") and head.kind != piece.kind:
            return False
        flush = 0.015  # of the page's width
        return (abs(piece.bottom - head.bottom) <= tolerance
                and (abs(piece.left - head.left) <= flush or abs(piece.right - head.right) <= flush))


BODY_KINDS = ("Text", "SectionHeader", "ListItem", "Footnote", "Caption", "Formula")
