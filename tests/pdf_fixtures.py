"""Documents the PDF pipeline tests make: a laid-out report with reportlab, and its scans."""
from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from bench.hostile_files import pdf_from_objects

PAGE_WIDTH, PAGE_HEIGHT = letter  # 612 x 792 points
MARGIN = 72
BODY = 10

INTRO = (
    "Widgets were shipped to every region this quarter and demand kept rising in all markets. "
    "The factory ran three shifts and the new assembly line reached full speed in the second month."
)
LEFT_COLUMN = (
    "Alpha column begins here and talks about harbours, ships and cargo that arrive every morning "
    "before the market opens. Alpha column ends with lighthouses."
)
RIGHT_COLUMN = (
    "Beta column starts with mountains, rivers and forests that cover the northern valley. "
    "Beta column ends with glaciers."
)
BULLETS = ["Apples are sorted by size", "Bananas ripen in the warehouse", "Cherries ship overnight"]
RULED = [["Name", "Qty", "Price"], ["Bolt", "120", "0.25"], ["Nut", "300", "0.10"], ["Gear", "45", "3.80"]]
FORMULA = "a\u00b2 + b\u00b2 = c\u00b2"
UNRULED = [["Region", "Sales", "Growth"], ["North", "1200", "4%"], ["South", "950", "7%"], ["East", "1430", "2%"]]


def wrap(text: str, width: float, font: str = "Helvetica", size: float = BODY) -> list[str]:
    """Lines of at most `width` points."""
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and stringWidth(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return lines + ([current] if current else [])


def paragraph(pdf: canvas.Canvas, text: str, x: float, y: float, width: float) -> float:
    """Draw a paragraph; return the baseline below it."""
    pdf.setFont("Helvetica", BODY)
    for line in wrap(text, width):
        pdf.drawString(x, y, line)
        y -= BODY * 1.3
    return y


def header_and_footer(pdf: canvas.Canvas, number: int) -> None:
    """The running header and the page number."""
    pdf.setFont("Helvetica", 8)
    pdf.drawString(MARGIN, PAGE_HEIGHT - 40, "ACME Widgets Quarterly Review")
    pdf.drawCentredString(PAGE_WIDTH / 2, 30, f"Page {number}")


def ruled_table(pdf: canvas.Canvas, x: float, y_top: float) -> float:
    """A table with a full grid of rules; returns its bottom."""
    widths, height = [120, 60, 60], 18
    xs = [x]
    for width in widths:
        xs.append(xs[-1] + width)
    ys = [y_top - height * row for row in range(len(RULED) + 1)]
    pdf.setLineWidth(0.8)
    for y in ys:
        pdf.line(xs[0], y, xs[-1], y)
    for line_x in xs:
        pdf.line(line_x, ys[0], line_x, ys[-1])
    pdf.setFont("Helvetica", BODY)
    for row_index, row in enumerate(RULED):
        for column, text in enumerate(row):
            pdf.drawString(xs[column] + 4, ys[row_index] - 13, text)
    return ys[-1]


def picture() -> Image.Image:
    """A small drawing with shapes and no text."""
    image = Image.new("RGB", (240, 160), (230, 240, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 120, 120), fill=(200, 60, 60))
    draw.rectangle((130, 40, 220, 140), fill=(60, 160, 90))
    return image


def report_pdf() -> bytes:
    """A two-page report with every kind of segment the pipeline tells apart."""
    # Page 1: title, heading, paragraph, bullets, a ruled table, a footnote. Page 2: two
    # columns, an unruled table, a formula, a picture with its caption. Both: header, page number.
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    text_width = PAGE_WIDTH - 2 * MARGIN
    header_and_footer(pdf, 1)
    pdf.setFont("Helvetica-Bold", 24)
    pdf.drawString(MARGIN, 700, "Quarterly Widget Report")
    pdf.setFont("Helvetica-Bold", 15)
    pdf.drawString(MARGIN, 660, "1 Introduction")
    y = paragraph(pdf, INTRO, MARGIN, 635, text_width)
    y -= 10
    pdf.setFont("Helvetica", BODY)
    for item in BULLETS:
        pdf.drawString(MARGIN + 10, y, "\u2022")
        pdf.drawString(MARGIN + 24, y, item)
        y -= BODY * 1.6
    pdf.setFont("Helvetica-Bold", 15)
    pdf.drawString(MARGIN, y - 14, "2 Parts list")
    ruled_table(pdf, MARGIN, y - 30)
    pdf.setFont("Helvetica", 7)
    pdf.drawString(MARGIN, 80, "1 Prices are in euros and exclude shipping.")
    pdf.showPage()

    header_and_footer(pdf, 2)
    column_width = (text_width - 24) / 2
    paragraph(pdf, LEFT_COLUMN, MARGIN, 700, column_width)
    paragraph(pdf, RIGHT_COLUMN, MARGIN + column_width + 24, 700, column_width)
    pdf.setFont("Helvetica", BODY)
    y = 560
    for row in UNRULED:
        for column, text in enumerate(row):
            pdf.drawString(MARGIN + 110 * column, y, text)
        y -= BODY * 1.5
    pdf.setFont("Helvetica", 12)
    pdf.drawCentredString(PAGE_WIDTH / 2, 470, FORMULA)
    pdf.drawImage(ImageReader(picture()), MARGIN, 260, width=240, height=160)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(MARGIN, 244, "Figure 1: Shapes drawn for the test.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def page_png(document: bytes, index: int = 0, dpi: int = 150) -> bytes:
    """One page of a PDF rendered to a PNG, as a scanner would see it."""
    pdf = pdfium.PdfDocument(document)
    try:
        page = pdf[index]
        image = page.render(scale=dpi / 72).to_pil()
        page.close()
    finally:
        pdf.close()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


def many_pages_pdf(count: int) -> bytes:
    """A minimal valid PDF with `count` empty pages, written by hand so it is quick to make."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{index + 3} 0 R" for index in range(count))
    objects.append(f"<< /Type /Pages /Count {count} /Kids [{kids}] >>".encode())
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"] * count
    return pdf_from_objects(objects)


def sized_page_pdf(width: float, height: float, text: str = "Tiny text on a huge page") -> bytes:
    """One page of the given size in points with a line of text."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    pdf.setFont("Helvetica", 40)
    pdf.drawString(100, height - 200, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def rotated_pdf(rotation: int) -> bytes:
    """One landscape-turned page: text near the top left of the unrotated page, then /Rotate."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(400, 300), invariant=1)
    pdf.setFont("Helvetica", 20)
    pdf.drawString(30, 250, "Turned heading")
    pdf.showPage()
    pdf.save()
    return with_rotation(buffer.getvalue(), rotation)


def with_rotation(document: bytes, rotation: int) -> bytes:
    """The PDF with its first page's /Rotate set (the bytes unchanged for 0)."""
    if not rotation:
        return document
    pdf = pdfium.PdfDocument(document)
    try:
        pdf[0].set_rotation(rotation)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()
    finally:
        pdf.close()


def encrypted_pdf() -> bytes:
    """A PDF that needs a user password to open."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, encrypt="secret-password")
    pdf.drawString(100, 700, "Hidden text")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def long_report_pdf(copies: int, scanned_page: int | None = None) -> bytes:
    """The report's two pages `copies` times over; page `scanned_page` (1-based), if given, is
    a scan of the report's first page: an image with no text layer."""
    from pipeline.pdf.document import images_to_pdf

    report = pdfium.PdfDocument(report_pdf())
    target = pdfium.PdfDocument.new()
    try:
        for _ in range(copies):
            target.import_pages(report)
        if scanned_page is not None:
            scan = Image.open(io.BytesIO(page_png(report_pdf(), 0)))
            scanned = pdfium.PdfDocument(images_to_pdf([(scan.convert("RGB"), None, 150.0)]))
            target.del_page(scanned_page - 1)
            target.import_pages(scanned, index=scanned_page - 1)
            scanned.close()
        buffer = io.BytesIO()
        target.save(buffer)
        return buffer.getvalue()
    finally:
        target.close()
        report.close()
