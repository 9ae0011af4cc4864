"""Words with their boxes and font styles, read from a PDF page's text layer with PDFium."""
from __future__ import annotations

import ctypes
import math
import re
import struct
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field

import pypdfium2.raw as pdfium_c

WORD = re.compile(r"\S+")
SOFT_HYPHEN = re.compile("[\ufffe\u00ad]")
# TeX sets an accent as its own spacing glyph before the letter: "M\u00b4etro" is "Métro".
SPACING_ACCENTS = {"\u00b4": "\u0301", "`": "\u0300", "\u00a8": "\u0308", "\u02c6": "\u0302", "\u02dc": "\u0303",
                   "\u00b8": "\u0327", "\u02c7": "\u030c", "\u02d8": "\u0306", "\u02d9": "\u0307", "\u02da": "\u030a"}
ACCENT_THEN_LETTER = re.compile("([" + "".join(SPACING_ACCENTS) + "])([^\\W\\d_])")
SOFT_HYPHENS = str.maketrans({"\ufffe": "-", "\u00ad": "-"})
BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi|CMBX|CMB\d|-B$|\bBX", re.IGNORECASE)
MATH_NAME = re.compile(r"CMMI|CMSY|CMEX|MSAM|MSBM|Math|Symbol|STIX|Euclid|esint|rsfs", re.IGNORECASE)
MONO_NAME = re.compile(r"Courier|Mono|CMTT|Consol|Inconsolata", re.IGNORECASE)
UNMAPPED = re.compile("[\x00-\x1f\ufffd\ufffe\ue000-\uf8ff]")
FOUR_FLOATS = struct.Struct("4f")


# Quick per-word PDFium calls on plain addresses, keeping the GIL (PYFUNCTYPE): pypdfium2's typed
# wrappers cost half as much again per call, and letting the GIL go around each call would hand
# it to the page renderer's thread hundreds of times per page.
text_object_address = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)(
    ctypes.cast(pdfium_c.FPDFText_GetTextObject, ctypes.c_void_p).value
)
loose_char_box = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_void_p).value
)


def untyped(function, restype):
    """A PDFium function called twice per word, without argument types: the caller passes the
    pointers as prepared c_void_p objects and the index as a plain int (a C int), which skips
    ctypes' per-argument conversion (a third of each call's cost)."""
    bare = ctypes.PYFUNCTYPE(restype)(ctypes.cast(function, ctypes.c_void_p).value)
    bare.argtypes = None
    return bare


quick_loose_char_box = untyped(pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_int)
quick_text_object = untyped(pdfium_c.FPDFText_GetTextObject, ctypes.c_void_p)
object_font_address = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFTextObj_GetFont, ctypes.c_void_p).value
)
char_matrix = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFText_GetMatrix, ctypes.c_void_p).value
)
TWO_FLOATS = struct.Struct("2f")  # an FS_MATRIX's a and b: the direction of a char's x axis
TURNED_DEGREES = 10  # a baseline further from the page's lines than this is turned (a skewed scan's is not)
UPRIGHT_SLOPE = math.tan(math.radians(TURNED_DEGREES))


@dataclass(slots=True)
class Word:
    """A word (or an OCR line piece) on the page image, in pixels."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    size: float  # effective font size, in page-image pixels
    bold: bool = False
    math: bool = False
    mono: bool = False
    confidence: float | None = None
    joins_next: str | None = None  # ends a line with a hyphen: what it becomes when `continued_by` joins it
    continued_by: Word | None = field(default=None, compare=False, repr=False)  # the word on the next line
    turned: int = 0  # degrees its baseline is turned from the page's lines (a watermark, a stamp up the margin)


@dataclass(slots=True)
class FontStyle:
    """What a text object's font says about its text."""

    bold: bool
    math: bool
    mono: bool
    height_per_size: float  # loose-box height of one unit of font size


class PageTransform:
    """Maps PDF points to pixels of the upright (unrotated) page, and those to the page image."""
    # Layout works upright, where text runs left to right; boxes go out in the rendered
    # image's pixels, which /Rotate turns by a multiple of 90 degrees.

    def __init__(self, page_box: tuple[float, float, float, float], rotation: int, scale: float):
        self.x0, self.y0, self.x1, self.y1 = page_box
        self.rotation = rotation % 360
        self.scale = scale
        self.width = (self.x1 - self.x0) * scale  # upright size in pixels
        self.height = (self.y1 - self.y0) * scale

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        """A PDF rectangle as (left, top, right, bottom) upright pixels."""
        scale = self.scale
        return (left - self.x0) * scale, (self.y1 - top) * scale, (right - self.x0) * scale, (self.y1 - bottom) * scale

    def image_mapping(self):
        """The function mapping upright pixel boxes to the page image (none for unrotated pages)."""
        return self.to_image if self.rotation else same_box

    def to_image(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """An upright pixel box (left, top, right, bottom) in the rotated page image."""
        left, top, right, bottom = box
        if self.rotation == 90:
            return self.height - bottom, left, self.height - top, right
        if self.rotation == 180:
            return self.width - right, self.height - bottom, self.width - left, self.height - top
        if self.rotation == 270:
            return top, self.width - right, bottom, self.width - left
        return box


def same_box(box: tuple) -> tuple:
    """Boxes of pages whose layout space is the image itself."""
    return box


def page_text(textpage) -> str:
    """The page's characters, one string position per PDFium char index."""
    count = pdfium_c.FPDFText_CountChars(textpage.raw)
    if count <= 0:
        return ""
    text = textpage.get_text_range()
    if len(text) == count:
        return text
    # Surrogate pairs or excluded chars shift positions: read the chars one by one instead.
    return "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index) or 0xFFFD) for index in range(count))


def text_layer_words(textpage, transform: PageTransform) -> list[Word]:
    """Every word of the page's text layer, in content order, with its box and style."""
    handle = textpage.raw
    text = page_text(textpage)
    rect = pdfium_c.FS_RECTF()
    handle_address = ctypes.cast(handle, ctypes.c_void_p).value
    handle_pointer, rect_pointer = ctypes.c_void_p(handle_address), ctypes.c_void_p(ctypes.addressof(rect))
    loose_box, object_of = quick_loose_char_box, quick_text_object
    styles: dict[int, FontStyle] = {}
    words: list[Word] = []
    append = words.append
    scale = transform.scale
    x0, y1 = transform.x0, transform.y1
    by_object: dict[int | None, tuple] = {}
    matrix = pdfium_c.FS_MATRIX()
    matrix_address = ctypes.addressof(matrix)
    soft_hyphens = "\ufffe" in text or "\u00ad" in text
    spans = [match.span() for match in WORD.finditer(text)]  # (first, last + 1)
    if soft_hyphens:
        spans = split_at_line_end_hyphens(spans, text, handle, ctypes.byref(rect))
    unpack = FOUR_FLOATS.unpack_from
    new_word = Word
    for start, stop in spans:
        end = stop - 1
        if not loose_box(handle_pointer, start, rect_pointer):
            continue
        left, top, right, bottom = unpack(rect)  # FS_RECTF: left, top, right, bottom (PDF points, y up)
        height = top - bottom  # the first char's: the font size is read from it
        # The last char widens the box only when it sits on the same line as the first.
        if end != start and loose_box(handle_pointer, end, rect_pointer):
            last_left, last_top, last_right, last_bottom = unpack(rect)
            if last_bottom < top and last_top > bottom:
                if last_left < left:
                    left = last_left
                if last_right > right:
                    right = last_right
                if last_bottom < bottom:
                    bottom = last_bottom
                if last_top > top:
                    top = last_top
        text_object = object_of(handle_pointer, start)
        known = by_object.get(text_object)
        if known is None:
            known = by_object[text_object] = object_style(
                text_object or 0, handle, handle_address, start, styles, matrix_address, matrix)
        # known: (loose-box height per unit of font size, bold, math, mono, turned degrees)
        height_per_size, bold, math_font, mono, turned = known
        if soft_hyphens:
            word_text = text[start:stop]
            joins_next = "-" if word_text[-1] in "\ufffe\u00ad" and len(word_text) > 1 else None
            word_text = word_text.translate(SOFT_HYPHENS)
        else:
            word_text, joins_next = text[start:stop], None
        word = new_word(word_text, (left - x0) * scale, (y1 - top) * scale, (right - x0) * scale,
                        (y1 - bottom) * scale, height * scale / height_per_size, bold, math_font, mono, None, joins_next)
        if turned:
            word.turned = turned
        append(word)
    if ACCENT_THEN_LETTER.search(text):
        for word in words:
            word.text = compose_accents(word.text)
    if soft_hyphens:
        mark_line_end_hyphens(words, text)
    return words


def object_style(text_object: int, handle, handle_address: int, index: int, styles: dict[int, FontStyle],
                 matrix_address: int, matrix) -> tuple:
    """What the words of one text object share: (loose-box height per unit of font size, bold,
    math, mono, turned degrees); `styles` caches font styles by font."""
    key = object_font_address(text_object) if text_object else 0
    style = styles.get(key)
    if style is None:
        style = styles[key] = font_style(pdfium_c.FPDFText_GetTextObject(handle, index))
    turned = baseline_degrees(handle_address, index, matrix_address, matrix)
    return style.height_per_size, style.bold, style.math, style.mono, turned


def baseline_degrees(handle_address: int, index: int, matrix_address: int, matrix) -> int:
    """How far a char's baseline is turned from the page's lines, in whole degrees (-179 to 180),
    0 when within TURNED_DEGREES. Taken from the direction of its x axis, so that a slant (an
    oblique font faked by shearing) does not count. `matrix` is an FS_MATRIX at `matrix_address`."""
    if not char_matrix(handle_address, index, matrix_address):
        return 0
    a, b = TWO_FLOATS.unpack_from(matrix)
    if a > 0 and abs(b) <= UPRIGHT_SLOPE * a:  # upright (most text): no trigonometry needed
        return 0
    degrees = round(math.degrees(math.atan2(b, a))) or 0
    return degrees if abs(degrees) > TURNED_DEGREES else 0


def mark_line_end_hyphens(words: list[Word], page_text: str) -> None:
    """Decide, for each word PDFium saw broken by a hyphen at a line end, whether the hyphen belongs to it."""
    # PDFium marks every hyphen that ends a line, whether the typesetter added it ("de-fault")
    # or the word has it ("Unix-alikes"). It is kept when the word is a compound (a part has
    # a hyphen, digit or capital after it) or appears hyphenated elsewhere on the page.
    for word, following in zip(words, words[1:]):
        if word.joins_next is None:
            continue
        word.continued_by = following
        if word.text[-2] == "-":
            continue
        first, rest = word.text[:-1], following.text.rstrip(".,;:!?)]}'\"\u2019")
        if not rest or not rest[0].islower() or not first[-1].isalpha():
            word.joins_next = "-"
        elif "-" in first or f"{first}-{rest}" in page_text:
            word.joins_next = "-"
        else:
            word.joins_next = ""


def compose_accents(text: str) -> str:
    """Spacing accents before a letter folded into the accented letter."""
    return unicodedata.normalize(
        "NFC", ACCENT_THEN_LETTER.sub(lambda match: match.group(2) + SPACING_ACCENTS[match.group(1)], text)
    )


def split_at_line_end_hyphens(spans: list[tuple[int, int]], text: str, handle, rect_ref) -> list[tuple[int, int]]:
    """The word spans with each word that a soft hyphen breaks over two lines cut after it; only
    the words holding one, found from the hyphens, are looked at char by char."""
    starts = [start for start, _ in spans]
    broken = sorted({bisect_right(starts, hyphen.start()) - 1 for hyphen in SOFT_HYPHEN.finditer(text)} - {-1})
    result: list[tuple[int, int]] = []
    done = 0
    for index in broken:
        start, stop = spans[index]
        word = text[start:stop]
        if "\ufffe" not in word[:-1] and "\u00ad" not in word[:-1]:
            continue
        result += spans[done:index]
        done = index + 1
        for offset, char in enumerate(word[:-1]):
            position = start + offset  # from `start` as it moves on after a cut: kept as it was, output and all
            if char in "\ufffe\u00ad" and not same_line(handle, start, position + 1, rect_ref):
                result.append((start, position + 1))
                start = position + 1
        result.append((start, stop))
    result += spans[done:]
    return result


def same_line(handle, first: int, other: int, rect_ref) -> bool:
    """Whether two chars' boxes overlap vertically."""
    if not pdfium_c.FPDFText_GetLooseCharBox(handle, first, rect_ref):
        return True
    bottom, top = rect_ref._obj.bottom, rect_ref._obj.top
    if not pdfium_c.FPDFText_GetLooseCharBox(handle, other, rect_ref):
        return True
    return rect_ref._obj.bottom < top and rect_ref._obj.top > bottom


def font_style(text_object) -> FontStyle:
    """Bold, math and monospace flags and the size ratio of a text object's font."""
    if not text_object:
        return FontStyle(False, False, False, 1.0)
    font = pdfium_c.FPDFTextObj_GetFont(text_object)
    if not font:
        return FontStyle(False, False, False, 1.0)
    buffer = ctypes.create_string_buffer(128)
    length = pdfium_c.FPDFFont_GetBaseFontName(font, buffer, len(buffer))
    name = buffer.value.decode("latin-1") if 0 < length <= len(buffer) else ""
    name = name.split("+", 1)[-1]  # drop a subset prefix like ABCDEF+
    weight = pdfium_c.FPDFFont_GetWeight(font)
    flags = pdfium_c.FPDFFont_GetFlags(font)
    ascent, descent = ctypes.c_float(), ctypes.c_float()
    ratio = 1.0
    if pdfium_c.FPDFFont_GetAscent(font, 1.0, ctypes.byref(ascent)) and pdfium_c.FPDFFont_GetDescent(
        font, 1.0, ctypes.byref(descent)
    ):
        ratio = ascent.value - descent.value
    force_bold = bool(flags & (1 << 18))
    return FontStyle(
        bold=bool(BOLD_NAME.search(name)) or weight >= 600 or force_bold,
        math=bool(MATH_NAME.search(name)),
        mono=bool(MONO_NAME.search(name)) or bool(flags & 1),
        height_per_size=ratio if 0.5 <= ratio <= 2.5 else 1.0,
    )


def text_is_usable(words: list[Word]) -> bool:
    """Whether a text layer has enough real, mapped characters to trust over OCR."""
    text = "".join([word.text for word in words])
    if len(text) < 8 or len(words) < 2:
        return False
    return len(UNMAPPED.findall(text)) / len(text) < 0.2
