"""One page into segments: text layer or OCR words, tables, pictures, layout and crops."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median

from PIL import Image

from pipeline.pdf.classify import MARGIN_SHARE, BodySize, classify_blocks
from pipeline.pdf.layout import Block, Line, Region, free_lines, group_lines, inside, layout_page, visual_rows
from pipeline.pdf.objects import PageGraphics
from pipeline.pdf.ocr import ocr_words
from pipeline.pdf.reading_order import column_areas
from pipeline.pdf.render import BackgroundEncoder, crop_box, encode_image
from pipeline.pdf.segments import block_segment, ocr_entries, page_segment, same_box
from pipeline.pdf.tables import Cell, Table, ruled_tables
from pipeline.pdf.text import Word
from pipeline.pdf.unruled import overprinted, unruled_tables

CROPPED_BY_DEFAULT = frozenset({"Picture", "Table"})


@dataclass
class DocumentState:
    """What carries from page to page: settings, files, text sizes and whether a Title was given."""

    configuration: dict
    files: dict[str, tuple[str, bytes]]
    encoder: BackgroundEncoder
    body: BodySize = field(default_factory=BodySize)
    pages_with_text: int = 0
    title_given: bool = False
    open_table: tuple[int, Table] | None = None  # the table that ended the last page typed, and its page

    @property
    def ocr_all(self) -> bool:
        """Whether every segment carries OCR results (ocr_strategy=All)."""
        return self.configuration.get("ocr_strategy", "All") == "All"

    @property
    def page_strategy(self) -> bool:
        """Whether each page is one Page segment (segmentation_strategy=Page)."""
        return self.configuration.get("segmentation_strategy", "LayoutAnalysis") == "Page"

    def crops(self, segment_type: str) -> bool:
        """Whether segments of this type carry a cropped image (crop_image All or Auto)."""
        settings = (self.configuration.get("segment_processing") or {}).get(segment_type) or {}
        default = "All" if segment_type == "Picture" else "Auto"
        if (settings.get("crop_image") or default) == "All":
            return True
        return segment_type in CROPPED_BY_DEFAULT


@dataclass
class PageInput:
    """A page ready for analysis: its image, words, drawn graphics and how to crop from it."""

    info: dict  # the `pages` entry: image, page_number, page_width, page_height, dpi
    image: Image.Image | Callable[[], Image.Image]  # a function that renders it, when it is not made yet
    words: list[Word]
    graphics: PageGraphics | None
    from_ocr: bool
    render_crop: object = None  # callable(image box) -> sharper crop image, for PDF pages
    layout_size: tuple[float, float] | None = None  # (width, height) where words and graphics live
    to_image: object = same_box  # maps a box of that space to the page image

    def page_image(self) -> Image.Image:
        """The page image, rendered now when it was not made yet."""
        if callable(self.image):
            self.image = self.image()
        return self.image

    def size(self) -> tuple[float, float]:
        """Width and height of the space the layout works in."""
        return self.layout_size or (self.info["page_width"], self.info["page_height"])


def picture_regions(graphics: PageGraphics, width: float, height: float, taken: list[Region]) -> list[Region]:
    """Placed images big enough to be pictures (not scanned page backgrounds), overlaps merged."""
    boxes = []
    for left, top, right, bottom in graphics.images:
        left, top, right, bottom = max(left, 0), max(top, 0), min(right, width), min(bottom, height)
        area = (right - left) * (bottom - top)
        if right - left < 16 or bottom - top < 16 or area < 0.008 * width * height or area > 0.8 * width * height:
            continue
        boxes.append([left, top, right, bottom])
    merged: list[list[float]] = []
    for box in sorted(boxes):
        for other in merged:
            if box[0] <= other[2] and box[2] >= other[0] and box[1] <= other[3] and box[3] >= other[1]:
                other[:] = [min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]), max(box[3], other[3])]
                break
        else:
            merged.append(box)
    regions = []
    for left, top, right, bottom in merged:
        centre = Word("", (left + right) / 2, (top + bottom) / 2, (left + right) / 2, (top + bottom) / 2, 0.0)
        if not any(inside(centre, table) for table in taken):
            regions.append(Region("Picture", left, top, right, bottom))
    return regions


@dataclass
class PageLines:
    """A page's words grouped into lines, before the page is typed: what the document's text
    sizes are counted from (DocumentState.body), over every page, before any page is typed."""

    words: list[Word]  # the page's words that lie on the page
    lines: list[Line]  # upright text, grouped into lines
    turned: list[Word]  # words at an angle to the page's lines, outside ruled tables
    regions: list[Region]  # ruled tables


def page_lines(page: PageInput) -> PageLines:
    """The lines of one page (and its ruled tables, which keep their headings printed sideways)."""
    width, height = page.size()
    # Twice the centre against twice the size: the same test as the centre's, halving nothing.
    double_width, double_height = 2 * width, 2 * height
    page_words = words = [word for word in page.words if 0 <= word.left + word.right <= double_width
                          and 0 <= word.top + word.bottom <= double_height]
    regions: list[Region] = []
    if page.graphics is not None:  # with every word: a table keeps its headings printed sideways
        regions += ruled_tables(page.graphics.horizontal, page.graphics.vertical, words)
    # Words set at an angle to the page's lines (a diagonal DRAFT, a stamp up the margin, a table
    # printed sideways) would cut across its lines and columns, which the layout reads upright.
    turned = [word for word in words if word.turned]
    if turned:
        in_tables = {id(word) for region in regions for word in region.words}
        turned = [word for word in turned if id(word) not in in_tables]
        aside = {id(word) for word in turned}
        words = [word for word in words if id(word) not in aside]
    return PageLines(page_words, group_lines(words) if words else [], turned, regions)


def analyse_page(page: PageInput, state: DocumentState, read: PageLines | None = None) -> list[dict]:
    """The segments of one page, in reading order, crops stored in the state's files. `read` is
    the page's lines, already counted into the document's text sizes; without it they are read
    and counted now (a one-page document, or a caller that types pages as it reads them)."""
    if read is None:
        read = page_lines(page)
        state.body.add(read.lines)
    width, height = page.size()
    page_words, lines, turned, regions = read.words, read.lines, read.turned, list(read.regions)
    body = state.body.value(default=12.0) if state.body.counts else median(line.size for line in lines) if lines else 12.0
    mono_share = state.body.mono_share()  # None before the document's text is counted: the page's own
    if page.graphics is not None:
        regions += picture_regions(page.graphics, width, height, regions)
    rules = page.graphics.horizontal if page.graphics is not None else []
    regions += column_tables(free_lines(lines, regions), regions, width, body, rules)
    # A block wholly off the page (a ruled grid drawn beyond its right edge) has no box on it.
    blocks = [block for block in layout_page(lines, regions, body, mono_share=mono_share)
              if block.box[0] < width and block.box[2] > 0 and block.box[1] < height and block.box[3] > 0]
    if lines:
        state.pages_with_text += 1
    title_allowed = not state.title_given and state.pages_with_text <= 2
    state.title_given |= classify_blocks(blocks, height, body, title_allowed)
    continue_table(blocks, state, page.info["page_number"], height)
    # Turned text is read after the page's own, in the order the PDF gives it (never a heading
    # for its size): one block for each angle, so that a watermark and a margin stamp stay apart.
    by_angle: dict[int, list[Word]] = {}
    for word in turned:
        by_angle.setdefault(word.turned, []).append(word)
    blocks += [Block([Line(group)]) for group in by_angle.values()]
    with_ocr = page.from_ocr or state.ocr_all
    if state.page_strategy:
        segment = page_segment(blocks, page.info, page_words, with_ocr, page.to_image)
        add_crop(segment, (0, 0, width, height), page, state)
        return [segment]
    segments = []
    for block in blocks:
        segment = block_segment(block, page.info, with_ocr, page.to_image)
        if block.kind == "Picture" and state.ocr_all and not page.from_ocr:
            read_picture_text(segment, block.box, page)
        add_crop(segment, block.box, page, state)
        segments.append(segment)
    return segments


def column_tables(lines: list[Line], regions: list[Region], width: float, body: float, rules: list) -> list[Region]:
    """Unruled tables, looked for inside each column of the page (an area no gutter runs
    through): never rows that join unrelated entries of several columns."""
    if sum(1 for row in visual_rows(lines) if len(row) >= 2) < 3:
        return []  # a table has three rows of two cells or more: none on this page
    found: list[Region] = []
    lines = overprinted(lines)
    items: list = lines + regions
    for area in column_areas(items, gap_x=max(body, 4.0), gap_y=max(0.55 * body, 2.0)):
        area_lines = [item for item in area if isinstance(item, Line)]
        if len(area_lines) >= 3:
            found += unruled_tables(area_lines, width, body, rules)
    return found


def continue_table(blocks: list[Block], state: DocumentState, number: int, height: float) -> None:
    """A table that opens a page after one that ended the page before, with as many columns,
    is that table continued: it gets the header rows it repeats marked as such, or, when it
    does not repeat them, a copy of them, so that each page's part has its header."""
    body = [block for block in blocks if block.kind not in ("PageHeader", "PageFooter", "Footnote")
            and block.box[3] > height * MARGIN_SHARE and block.box[1] < height * (1 - MARGIN_SHARE)]
    previous, state.open_table = state.open_table, None
    if not body:
        return
    first, last = body[0], body[-1]
    if previous is not None and previous[0] == number - 1 and first.kind == "Table" and first.region is not None:
        carry_header(previous[1], first.region.payload)
    if last.kind == "Table" and last.region is not None:
        state.open_table = (number, last.region.payload)


def carry_header(previous: Table, table: Table) -> None:
    """Give the continuation of a table the header rows of its first part."""
    count = previous.header_rows
    if not count or previous.width() != table.width():
        return
    def texts(rows: list[list[Cell]]) -> list[list[str]]:
        return [[" ".join(cell.text.split()).casefold() for cell in row] for row in rows]
    head = previous.rows[:count]
    if texts(table.rows[:count]) == texts(head):
        table.header_rows = max(table.header_rows, count)  # printed again: its own header rows
    elif not table.header_rows:
        table.rows = [[Cell(cell.text, cell.colspan, cell.bold) for cell in row] for row in head] + table.rows
        table.header_rows = count


def add_crop(segment: dict, box: tuple, page: PageInput, state: DocumentState) -> None:
    """Store the segment's cropped image when crop_image asks for one."""
    if not state.crops(segment["segment_type"]):
        return
    box = page.to_image(box)
    sharp = page.render_crop(box) if page.render_crop is not None and segment["segment_type"] in CROPPED_BY_DEFAULT else None
    image = sharp if sharp is not None else crop_box(page.page_image(), box)
    if image.width < 1 or image.height < 1:
        return
    name = f"segment-{segment['segment_id']}.jpg"
    state.files[name] = ("image/jpeg", encode_image(image))
    segment["image"] = f"file:{name}"


def read_picture_text(segment: dict, box: tuple, page: PageInput) -> None:
    """OCR a picture of a text page (ocr_strategy=All): its words become the segment's ocr."""
    left, top, right, bottom = box = page.to_image(box)
    if (right - left) * (bottom - top) < 64 * 64:
        return
    crop = crop_box(page.page_image(), box, margin=0)
    words = ocr_words(crop)
    for word in words:
        word.left, word.right = word.left + left, word.right + left
        word.top, word.bottom = word.top + top, word.bottom + top
    segment["ocr"] = segment["ocr"] + ocr_entries(words)
    if not segment["text"] and words:
        segment["text"] = " ".join(word.text for word in words)
