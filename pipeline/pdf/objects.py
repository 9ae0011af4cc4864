"""Drawn rules and placed images of a PDF page, read from its page objects with PDFium."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import pypdfium2.raw as pdfium_c

from pipeline.pdf.text import PageTransform

MAX_PATH_SEGMENTS = 20000  # per page; beyond this a page is a drawing, not a table
MAX_OBJECTS = 20000
RULE_THICKNESS = 3.0  # points: a stroke thinner than this that is long is a rule


@dataclass
class PageGraphics:
    """Horizontal rules (y, x0, x1), vertical rules (x, y0, y1) and image boxes, in pixels."""

    horizontal: list[tuple] = field(default_factory=list)
    vertical: list[tuple] = field(default_factory=list)
    images: list[tuple] = field(default_factory=list)
    segments_seen: int = 0


Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def compose(inner: Matrix, outer: Matrix) -> Matrix:
    """The matrix applying `inner` first and then `outer`."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def apply(matrix: Matrix, x: float, y: float) -> tuple[float, float]:
    """A point transformed by a matrix."""
    a, b, c, d, e, f = matrix
    return a * x + c * y + e, b * x + d * y + f


def object_matrix(obj) -> Matrix:
    """A page object's own matrix."""
    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, ctypes.byref(matrix)):
        return IDENTITY
    return (matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f)


# A quick look at each page object's type on plain addresses, keeping the GIL: most objects of a
# text page are text, and only the others are fetched again as typed handles. A path's segments
# are read the same way.
object_at = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)(
    ctypes.cast(pdfium_c.FPDFPage_GetObject, ctypes.c_void_p).value
)
object_type = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFPageObj_GetType, ctypes.c_void_p).value
)
segment_at = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)(
    ctypes.cast(pdfium_c.FPDFPath_GetPathSegment, ctypes.c_void_p).value
)
segment_point = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFPathSegment_GetPoint, ctypes.c_void_p).value
)
segment_type = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFPathSegment_GetType, ctypes.c_void_p).value
)
segment_closes = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFPathSegment_GetClose, ctypes.c_void_p).value
)
GRAPHIC_TYPES = frozenset({pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM})


def page_graphics(page, transform: PageTransform) -> PageGraphics:
    """Rules and image boxes of a page, forms (XObjects) included."""
    graphics = PageGraphics()
    count = min(pdfium_c.FPDFPage_CountObjects(page.raw), MAX_OBJECTS)
    page_address = ctypes.cast(page.raw, ctypes.c_void_p).value
    objects = [pdfium_c.FPDFPage_GetObject(page.raw, index) for index in range(count)
               if object_type(object_at(page_address, index) or 0) in GRAPHIC_TYPES]
    collect(objects, IDENTITY, transform, graphics, depth=0)
    return graphics


def collect(objects: list, outer: Matrix, transform: PageTransform, graphics: PageGraphics, depth: int) -> None:
    """Add the rules and images of some page objects, nested forms to a small depth."""
    for obj in objects:
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            add_path(obj, outer, transform, graphics)
        elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            matrix = compose(object_matrix(obj), outer)
            corners = [apply(matrix, x, y) for x, y in ((0, 0), (1, 0), (0, 1), (1, 1))]
            xs, ys = [x for x, _ in corners], [y for _, y in corners]
            graphics.images.append(transform.box(min(xs), min(ys), max(xs), max(ys)))
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < 3:
            inner_count = min(pdfium_c.FPDFFormObj_CountObjects(obj), MAX_OBJECTS)
            inner = [pdfium_c.FPDFFormObj_GetObject(obj, index) for index in range(inner_count)]
            collect(inner, compose(object_matrix(obj), outer), transform, graphics, depth + 1)


def add_path(obj, outer: Matrix, transform: PageTransform, graphics: PageGraphics) -> None:
    """Add a path's straight, axis-aligned pieces as rules (thin filled boxes count too)."""
    count = pdfium_c.FPDFPath_CountSegments(obj)
    if count <= 0 or graphics.segments_seen + count > MAX_PATH_SEGMENTS:
        return
    graphics.segments_seen += count
    a, b, c, d, e, f = compose(object_matrix(obj), outer)
    x, y = ctypes.c_float(), ctypes.c_float()
    x_address, y_address = ctypes.addressof(x), ctypes.addressof(y)
    path_address = ctypes.cast(obj, ctypes.c_void_p).value
    points: list[tuple[float, float, int, bool]] = []
    for index in range(count):
        segment = segment_at(path_address, index)
        segment_point(segment, x_address, y_address)
        px, py = x.value, y.value
        points.append((a * px + c * py + e, b * px + d * py + f, segment_type(segment), bool(segment_closes(segment))))
    start = current = None
    for px, py, kind, closes in points:
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = current = (px, py)
            continue
        if current is not None and kind == pdfium_c.FPDF_SEGMENT_LINETO:
            add_rule(current, (px, py), transform, graphics)
        current = (px, py)
        if closes and start is not None:
            add_rule(current, start, transform, graphics)
            current = start


def add_rule(a: tuple[float, float], b: tuple[float, float], transform: PageTransform, graphics: PageGraphics) -> None:
    """Keep one straight piece if it runs horizontally or vertically on the page image."""
    left, top, right, bottom = transform.box(min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
    thin = RULE_THICKNESS * transform.scale
    if bottom - top <= thin and right - left > thin:
        graphics.horizontal.append(((top + bottom) / 2, left, right))
    elif right - left <= thin and bottom - top > thin:
        graphics.vertical.append(((left + right) / 2, top, bottom))
