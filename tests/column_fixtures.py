"""PDFs with columns and tables the column and table tests make with reportlab."""
from __future__ import annotations

import io

from pdf_fixtures import wrap
from reportlab.lib.pagesizes import letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

PAGE_WIDTH, PAGE_HEIGHT = letter  # 612 x 792 points

WORDS = ("move the cursor to the next word of the current line and keep the selection open while "
         "the buffer scrolls down one screen so that the last line shown stays visible above").split()


def new_canvas(pagesize=letter) -> tuple[io.BytesIO, canvas.Canvas]:
    buffer = io.BytesIO()
    return buffer, canvas.Canvas(buffer, pagesize=pagesize, invariant=1)


# A reference card: three columns of key/description pairs under section headings.
CARD_LEFTS = (36, 232, 428)  # each column 168 points wide, gutters of 28 points
CARD_WIDTH = 168
CARD_KEY_WIDTH = 64
CARD_SIZE = 8
CARD_LEADING = 10


def card_entries() -> list[list[tuple[str, list[tuple[str, str]]]]]:
    """For each column, its sections: (heading, [(key, description)]). Keys K01, K02... in reading order."""
    columns, number = [], 0
    for column in range(3):
        sections = []
        for section in range(3):
            entries = []
            for entry in range(5 + (column + section) % 3):
                number += 1
                length = 3 + (number * 7) % 13  # some fit on a line, some wrap onto two or three
                start = (number * 5) % (len(WORDS) - length)
                entries.append((f"K{number:02d}", " ".join(WORDS[start:start + length])))
            sections.append((f"Section {column + 1}.{section + 1}", entries))
        columns.append(sections)
    return columns


def reference_card_pdf() -> bytes:
    """One page: a title across the top, then three columns of key/description entries."""
    buffer, pdf = new_canvas()
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(36, 750, "Editor Reference Card")
    for left, sections in zip(CARD_LEFTS, card_entries()):
        y = 715
        for heading, entries in sections:
            pdf.setFont("Helvetica-Bold", 10)
            pdf.drawString(left, y, heading)
            y -= 13
            for key, description in entries:
                pdf.setFont("Courier-Bold", CARD_SIZE)
                pdf.drawString(left, y, key)
                pdf.setFont("Helvetica", CARD_SIZE)
                for line in wrap(description, CARD_WIDTH - CARD_KEY_WIDTH, size=CARD_SIZE):
                    pdf.drawString(left + CARD_KEY_WIDTH, y, line)
                    y -= CARD_LEADING
            y -= 9
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# A two-column article, with a small table in its left column beside the right column's prose.
ARTICLE_LEFTS = (72, 318)
ARTICLE_WIDTH = 222
LEFT_PARAGRAPHS = [
    "Harbours along the western coast receive ships every morning before the market opens, and the "
    "cargo is sorted by the dock workers who have done this work for many years without a break.",
    "Lighthouses guide the boats at night and the keepers write down every passing vessel in a book "
    "that is sent to the harbour office at the end of each month for the records.",
]
RIGHT_PARAGRAPHS = [
    "Mountains rise behind the valley where rivers run through forests of pine and birch, and the "
    "northern slopes keep their snow until the early days of summer in most years.",
    "Glaciers feed the lakes below and the farmers draw water from them for their fields during the "
    "dry months, when the rain stays away for weeks and the ground cracks in the sun.",
    "Villages in the valley hold a fair each autumn where the harvest is sold and the herders bring "
    "their animals down from the high pastures before the first snow of the winter falls.",
]
ARTICLE_TABLE = [["Port", "Ships", "Tons"], ["Bergen", "120", "3400"], ["Oslo", "95", "2100"], ["Tromsø", "40", "800"]]


def article_pdf() -> bytes:
    """A title across the page, two columns of indented paragraphs on one baseline grid, and a
    three-column table of short cells in the left column, level with the right column's prose."""
    buffer, pdf = new_canvas()
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(72, 720, "Coast and Mountains")
    columns = [(ARTICLE_LEFTS[0], LEFT_PARAGRAPHS, True), (ARTICLE_LEFTS[1], RIGHT_PARAGRAPHS, False)]
    for left, paragraphs, with_table in columns:
        y = 680
        for index, text in enumerate(paragraphs):
            pdf.setFont("Helvetica", 10)
            # The first line indented: wrapped a little narrower, the rest to the column's width.
            first, *rest = wrap(text, ARTICLE_WIDTH - 12)
            for number, line in enumerate([first] + wrap(" ".join(rest), ARTICLE_WIDTH)):
                pdf.drawString(left + (12 if number == 0 else 0), y, line)
                y -= 13
            if with_table and index == 0:
                y -= 13
                for row_index, row in enumerate(ARTICLE_TABLE):
                    pdf.setFont("Helvetica-Bold" if row_index == 0 else "Helvetica", 10)
                    for column, text_cell in enumerate(row):
                        pdf.drawString(left + 74 * column, y, text_cell)
                    y -= 13
                y -= 13
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# Tables: each case with the grid it must come back as (None marks a header row).
FILES_TABLE = [
    ["File", "Lines", "Description"],
    ["page.py", "198", "One page into segments"],
    ["reading_order.py", "126", "The order in which a page's lines and regions are read, column after column"],
    ["tables.py", "", "Ruled and unruled tables"],
    ["layout.py", "300", "Words into lines and lines into blocks, cut at changes of style and spacing"],
]


def unruled_files_table(pdf: canvas.Canvas, top: float) -> float:
    """The files table without rules: a bold header row, descriptions wrapping in their column,
    an empty cell. Returns the baseline below it."""
    xs, width, leading = (72, 190, 240), 180, 12
    y = top
    for index, row in enumerate(FILES_TABLE):
        pdf.setFont("Helvetica-Bold" if index == 0 else "Helvetica", 10)
        pdf.drawString(xs[0], y, row[0])
        pdf.drawString(xs[1], y, row[1])
        lines = wrap(row[2], width)
        for line in lines:
            pdf.drawString(xs[2], y, line)
            y -= leading
        y -= 4
    return y


SALES_TABLE = [["Region", "Sales", None, "Notes"], ["", "2023", "2024", ""], ["North", "1200", "1350", "new depot"],
               ["South", "950", "", "closed in May"], ["East", "1430", "1500", ""]]


def unruled_sales_table(pdf: canvas.Canvas, top: float) -> float:
    """A table with two header rows: `Sales` centred over the 2023 and 2024 columns."""
    xs, leading = (72, 180, 250, 330), 14
    y = top
    pdf.setFont("Helvetica-Bold", 10)
    pdf.drawString(xs[0], y, "Region")
    pdf.drawCentredString((xs[1] + xs[2] + stringWidth("2024", "Helvetica-Bold", 10)) / 2, y, "Sales")
    pdf.drawString(xs[3], y, "Notes")
    y -= leading
    pdf.drawString(xs[1], y, "2023")
    pdf.drawString(xs[2], y, "2024")
    y -= leading
    pdf.setFont("Helvetica", 10)
    for row in SALES_TABLE[2:]:
        for x, text in zip(xs, row):
            pdf.drawString(x, y, text)
        y -= leading
    return y


PARTS_TABLE = [["Part", "Size", None, "Use"], ["", "Width", "Height", ""],
               ["Bolt", "12", "40", "Holds the frame to the wall bracket in every model we sell"],
               ["Nut", "12", "", "Locks the bolt"], ["Washer", "", "", ""]]


def ruled_parts_table(pdf: canvas.Canvas, top: float) -> float:
    """A ruled grid: `Size` spans the Width and Height columns of the second header row, the Use
    column wraps inside its cell, some cells are empty. Returns its bottom."""
    xs = [72, 150, 210, 270, 470]
    heights = [18, 18, 40, 18, 18]
    ys = [top]
    for height in heights:
        ys.append(ys[-1] - height)
    pdf.setLineWidth(0.8)
    for index, y in enumerate(ys):
        if index == 1:  # under the first header row: no rule under Part and Use, which span both rows
            pdf.line(xs[1], y, xs[3], y)
        else:
            pdf.line(xs[0], y, xs[-1], y)
    for index, x in enumerate(xs):
        if index == 2:  # between Width and Height: not through the spanning `Size`
            pdf.line(x, ys[1], x, ys[-1])
        else:
            pdf.line(x, ys[0], x, ys[-1])
    pdf.setFont("Helvetica-Bold", 10)
    pdf.drawString(xs[0] + 4, ys[0] - 13, "Part")
    pdf.drawCentredString((xs[1] + xs[3]) / 2, ys[0] - 13, "Size")
    pdf.drawString(xs[3] + 4, ys[0] - 13, "Use")
    pdf.drawString(xs[1] + 4, ys[1] - 13, "Width")
    pdf.drawString(xs[2] + 4, ys[1] - 13, "Height")
    pdf.setFont("Helvetica", 10)
    for row_index, row in enumerate(PARTS_TABLE[2:], start=2):
        for column, text in enumerate(row):
            for number, line in enumerate(wrap(text, xs[column + 1] - xs[column] - 8)):
                pdf.drawString(xs[column] + 4, ys[row_index] - 13 - 12 * number, line)
    return ys[-1]


ROUTES_TABLE = [["Route", "Depart", "Arrive", "Note"], ["Oslo-Bergen", "07:25", "14:10", ""],
                ["Bergen-Voss", "", "10:55", "Bus"], ["Voss-Flam", "11:40", "", ""],
                ["Flam-Myrdal", "13:05", "14:00", "Scenic railway up the valley, with a stop at the falls"]]


def unruled_routes_table(pdf: canvas.Canvas, top: float) -> float:
    """Rows set far apart (each its own band of lines), empty cells, and a last cell whose note
    wraps onto more lines beside its row's single-line cells."""
    xs, pitch = (72, 170, 230, 290), 24
    y = top
    for index, row in enumerate(ROUTES_TABLE):
        pdf.setFont("Helvetica-Bold" if index == 0 else "Helvetica", 10)
        for x, text in zip(xs[:3], row):
            pdf.drawString(x, y, text)
        for number, line in enumerate(wrap(row[3], 120)):
            pdf.drawString(xs[3], y - 12 * number, line)
        y -= pitch
    return y - 24


def tables_pdf() -> bytes:
    """One page per table, each between two paragraphs (the first one's words differ from page to
    page: a line repeated at the top of every page is a running head)."""
    buffer, pdf = new_canvas()
    tables = ((unruled_files_table, "files"), (unruled_sales_table, "sales"), (ruled_parts_table, "parts"),
              (unruled_routes_table, "routes"))
    for draw, name in tables:
        pdf.setFont("Helvetica", 10)
        pdf.drawString(72, 720, f"The {name} table below lists what the test expects to find in it, cell by cell.")
        bottom = draw(pdf, 690)
        pdf.setFont("Helvetica", 10)
        pdf.drawString(72, bottom - 30, "The paragraph after the table is read after it, as its own segment.")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


LONG_HEADER = ["Code", "Name", "Meaning"]


def long_table_rows() -> list[list[str]]:
    return [[str(100 + number), f"ITEM{number:02d}", f"meaning of item {number}"] for number in range(62)]


def long_table_pdf(repeat_header: bool) -> bytes:
    """A table of 62 rows that runs from page one onto page two, with or without its header row
    printed again at the top of page two."""
    buffer, pdf = new_canvas()
    rows = long_table_rows()
    xs = (72, 160, 280)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, 730, "The codes and their meanings are listed in the table below.")
    y, page = 700, 1
    header_due = True
    for row in rows:
        if y < 72:
            pdf.showPage()
            page += 1
            y, header_due = 740, repeat_header
        if header_due:
            pdf.setFont("Helvetica-Bold", 10)
            for x, text in zip(xs, LONG_HEADER):
                pdf.drawString(x, y, text)
            y -= 14
            header_due = False
        pdf.setFont("Helvetica", 10)
        for x, text in zip(xs, row):
            pdf.drawString(x, y, text)
        y -= 14
    pdf.drawString(72, y - 20, "The table ends here and the text goes on below it.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# An unruled table of commands whose descriptions wrap, each command centred vertically beside its
# description (as DocBook's dblatex sets a package or command list).
COMMANDS_TABLE = [
    ["command", "description"],
    ["pwd", "display the name of the current working directory"],
    ["id", "display the user and group identity of the current user"],  # fills its line
    ["man -a name", "display every manual page named name, one after the other (Unix style)"],
    ["info name", "display the rather long explanation of the command name as a hypertext (GNU style)"],
    ["ls -A", "list the contents of the directory, almost all of its files and directories, the hidden ones "
              "with them, by name"],  # its last line full too
    ["mv foo bar/baz", "move an existing file foo to a new location with a new name bar/baz (the directory "
                       "bar must exist but the directory bar/baz must not exist)"],
    ["cd", "change the directory to the home directory of the current user"],
    ["top", "display process information on the full screen"],
]
COMMANDS_WIDTH = 250  # the description column's width


def centred_commands_pdf() -> bytes:
    """A paragraph, the commands table (the command in Courier, set level with the middle of its
    description's lines, which wrap onto one to three lines), and a paragraph after it."""
    buffer, pdf = new_canvas()
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, 720, "The commands below are the ones a new user of the shell meets first.")
    y, leading = 690, 12
    for index, (command, description) in enumerate(COMMANDS_TABLE):
        lines = wrap(description, COMMANDS_WIDTH)
        pdf.setFont("Courier", 10)
        pdf.drawString(80, y - leading * (len(lines) - 1) / 2, command)
        pdf.setFont("Helvetica", 10)
        for line in lines:
            pdf.drawString(260, y, line)
            y -= leading
    pdf.drawString(72, y - 24, "The paragraph after the table is read after it, as its own segment.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


CODE_ROW = ('[1] ".GlobalEnv"', '"Autoloads"', '"package:base"')


def spaced_code_row_pdf() -> bytes:
    """A paragraph, a code line whose values are set far apart, the last of them beyond the end of
    the short lines of text that follow it closely, and a paragraph after them."""
    buffer, pdf = new_canvas()
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, 720, "The function search shows the current search path of the session.")
    pdf.setFont("Courier", 10)
    pdf.drawString(90, 696, "> search()")
    for x, text in zip((90, 210, 300), CODE_ROW):
        pdf.drawString(x, 686, text)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, 674, "where .GlobalEnv is the workspace of the user.")
    pdf.drawString(72, 662, "After lentils is attached we have")
    pdf.drawString(72, 630, "The paragraph after the code is read after it, as its own segment.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


SHELLS_TABLE = [["package", "popcon", "size", "description"], ["bash", "V:821", "7163", "the GNU Bourne Again SHell"],
                ["dash", "V:894", "191", "the Debian Almquist Shell"], ["zsh", "V:37", "2436", "the Z shell"],
                ["mksh", "V:6", "1459", "a version of the Korn shell"]]


def inner_rules_table_pdf() -> bytes:
    """A paragraph, a table ruled between its columns only (no frame at its sides), each row rule
    running across the whole table, and a paragraph after it."""
    buffer, pdf = new_canvas()
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, 720, "The shells below are the ones packaged for the system.")
    xs, top, pitch = (72, 160, 230, 300, 520), 700, 16
    ys = [top - pitch * index for index in range(len(SHELLS_TABLE) + 1)]
    pdf.setLineWidth(0.5)
    for y in ys:
        pdf.line(xs[0], y, xs[-1], y)
    for x in xs[1:-1]:
        pdf.line(x, ys[0], x, ys[-1])
    for row, y in zip(SHELLS_TABLE, ys):
        for x, text in zip(xs, row):
            pdf.drawString(x + 4, y - 12, text)
    pdf.drawString(72, ys[-1] - 30, "The paragraph after the table is read after it, as its own segment.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# An unruled table set as DocBook's dblatex sets its archive lists: each cell centred vertically in
# its row, so that cells wrapped onto two lines sit top-aligned beside one another with a one-line
# cell level with their middle; some cells wrap in every column at once, the first included; a
# word too long for its column runs on into the next one, on a line of its own or under that
# column's line (printed over by it); a cell of three lines has a cell of two and one of one
# centred beside it. Cells are given line by line: (archive, suite, purpose).
ARCHIVES_ROWS = [
    (["archive URL"], ["suite name"], ["purpose"]),
    (["http://deb.example.org/debian/"], ["stable"], ["stable release"]),
    (["http://deb.example.org/debian/"], ["testing"], ["testing release"]),
    (["http://deb.example.org/debian/"], ["proposed-updates", "(stable-proposed)"],
     ["updates for the next stable point", "release (optional)"]),
    (["http://deb.example.org/debian/"], ["stable-updates(stable-updates-overflowing)"],
     ["compatible updates for spam filters", "and mail clients"]),
    (["http://deb.example.org/debian/"], ["backports", "(stable-backports-overflowing)"],
     ["newer backported packages for the", "stable release (optional)"]),
    (["http://security.example.org/debian-", "security/"], ["stable-security", "(bullseye-security)"],
     ["security updates for the stable release", "(important)"]),
    (["http://security.example.org/debian-", "security/"], ["testing-security", "(bookworm-security)"],
     ["security updates for the testing release", "(not supported by the team)"]),
    (["http://deb.example.org/debian/"], ["top of each", "area/architecture", "combination"],
     ["archive description used for the", "rule of apt_preferences(5)"]),  # two cells centred beside three lines
    (["http://deb.example.org/debian/"], ["unstable"], ["unstable release"]),
]
ARCHIVES_TABLE = [[" ".join(lines).replace("debian- security", "debiansecurity") for lines in row]
                  for row in ARCHIVES_ROWS]  # a word broken at its hyphen is joined again


def centred_archives_pdf() -> bytes:
    """A paragraph, the archives table (its header in bold) and a paragraph after it. The suite
    column starts past the widest archive, the purpose column past the widest suite line but for
    the two words that overflow into it."""
    buffer, pdf = new_canvas()
    size, leading = 10, 12
    pdf.setFont("Helvetica", size)
    pdf.drawString(72, 720, "The archives below are the ones a Debian system fetches its packages from.")

    def width(text: str) -> float:
        return stringWidth(text, "Helvetica", size)

    suite_x = 72 + max(width(line) for row in ARCHIVES_ROWS for line in row[0]) + 14
    purpose_x = suite_x + max(width(line) for row in ARCHIVES_ROWS for line in row[1]
                              if "overflowing" not in line) + 14
    return centred_rows_page(buffer, pdf, ARCHIVES_ROWS, (72, suite_x, purpose_x), size, leading)


# An unruled table of labels set in sentence case and their commands, each row on one line but one
# whose label wraps (its command centred beside it); the longest label and the longest command
# share a row, and the next label's first word would not have fitted after the one, nor its
# command's after the other, yet that next line is a row of its own.
UNITS_ROWS = [
    (["Operation"], ["Command snippet"]),
    (["Start the unit and stop all others"], ["systemctl isolate unit"]),
    (["Set the job environment variable", "named name to its value"], ["systemctl set-environment name=value"]),
    (["Unset the job environment variable"], ["systemctl unset-environment variable"]),
    (["Reload all unit files and daemons"], ["systemctl daemon-reload"]),
    (["Switch to multi-user (CLI system)"], ["systemctl isolate multi-user"]),
]
UNITS_TABLE = [[" ".join(lines) for lines in row] for row in UNITS_ROWS]


def units_pdf() -> bytes:
    """A paragraph, the units table (indented, its header in bold, each command centred beside
    its label) and a paragraph after it, set in the same way as the archives table."""
    buffer, pdf = new_canvas()
    size, leading = 10, 12
    pdf.setFont("Helvetica", size)
    pdf.drawString(72, 720, "The snippets below are the ones an administrator of the system types most.")
    command_x = 90 + max(stringWidth(line, "Helvetica", size) for row in UNITS_ROWS for line in row[0]) + 30
    return centred_rows_page(buffer, pdf, UNITS_ROWS, (90, command_x), size, leading)


def centred_rows_page(buffer, pdf, rows: list, xs: tuple, size: float, leading: float) -> bytes:
    """The rows drawn from y=690 down (the first in bold), each cell's lines centred on its row's
    height at its x, then a paragraph after them; the page's PDF."""
    y = 690
    for index, row in enumerate(rows):
        height = max(len(lines) for lines in row)
        for x, lines in zip(xs, row):
            pdf.setFont("Helvetica-Bold" if index == 0 else "Helvetica", size)
            top = y - leading * (height - len(lines)) / 2
            for number, line in enumerate(lines):
                pdf.drawString(x, top - leading * number, line)
        y -= leading * height + 4
    pdf.setFont("Helvetica", size)
    pdf.drawString(72, y - 24, "The paragraph after the table is read after it, as its own segment.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
