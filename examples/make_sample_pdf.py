"""Write examples/sample.pdf, the two-page PDF of the README's walkthrough (needs reportlab).

    .venv/bin/python examples/make_sample_pdf.py
"""
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

OUT = Path(__file__).with_name("sample.pdf")
READINGS = [
    ["Day", "Max °C", "Min °C", "Rain mm", "Gust km/h"],
    ["Monday", "14.2", "6.1", "0.0", "31"],
    ["Tuesday", "12.8", "7.4", "4.6", "52"],
    ["Wednesday", "11.5", "5.9", "12.2", "68"],
    ["Thursday", "13.0", "4.8", "1.4", "40"],
    ["Friday", "15.6", "6.3", "0.0", "27"],
]


def footer(canvas, document):
    """A running footer with the page number, which chunking leaves out by default."""
    canvas.setFont("Helvetica", 8)
    canvas.drawString(72, 40, f"Harbour Street station, field notes - page {document.page}")


def build() -> None:
    styles = getSampleStyleSheet()
    table = Table(READINGS, hAlign="LEFT")
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold")]))
    story = [
        Paragraph("Field notes: the Harbour Street weather station", styles["Title"]),
        Paragraph("The Harbour Street station has recorded wind, rain and temperature since 2009. "
                  "These notes describe the instruments, the readings of one week, and what to check "
                  "on a maintenance visit.", styles["BodyText"]),
        Paragraph("Instruments", styles["Heading2"]),
        Paragraph("A cup anemometer on a ten-metre mast is sampled every second and averaged over ten "
                  "minutes. A tipping-bucket rain gauge measures rain to 0.2 mm, and a shielded "
                  "sensor two metres above short grass measures the temperature.", styles["BodyText"]),
        Paragraph("Readings of the week", styles["Heading2"]),
        table,
        Spacer(1, 12),
        Paragraph("Wednesday's storm brought the week's rain and its strongest gust. The gauge was "
                  "checked afterwards: its funnel was clear and the bucket tipped freely.", styles["BodyText"]),
        PageBreak(),
        Paragraph("Maintenance visit", styles["Heading2"]),
        Paragraph("Clean the rain gauge funnel and check that the bucket tips at the right volume. "
                  "Inspect the radiation shield of the temperature sensor for dirt and nests. Compare "
                  "the anemometer's reading with a hand-held meter on a calm day.", styles["BodyText"]),
        Paragraph("Notes", styles["Heading2"]),
        Paragraph("The station's data is published every hour. Gaps longer than an hour are flagged "
                  "rather than filled, so that nobody mistakes an estimate for a measurement.",
                  styles["BodyText"]),
    ]
    SimpleDocTemplate(str(OUT), pagesize=A4, title="Harbour Street field notes",
                      invariant=1).build(story, onFirstPage=footer, onLaterPages=footer)


if __name__ == "__main__":
    build()
