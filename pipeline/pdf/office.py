"""Office documents (Word, Excel, PowerPoint, OpenDocument, RTF) to PDF with LibreOffice."""
from __future__ import annotations

import io
import mimetypes
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

from pipeline.document import DocumentError

CONVERT_TIMEOUT = 180  # seconds
EXTENSIONS = {
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.presentation": ".odp",
    "application/rtf": ".rtf",
    "text/rtf": ".rtf",
}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # a workbook larger unpacked is converted as it is
_SHEET = re.compile(r"xl/worksheets/[^/]+\.xml")
_PRINT_OPTIONS = re.compile(rb"<printOptions\b[^>]*?/?>")
_GRID_LINES = re.compile(rb"""\bgridLines\s*=\s*["'][^"']*["']""")


def _grid_printed(sheet: bytes) -> bytes:
    """One worksheet's XML with `<printOptions gridLines="1"/>` set (ECMA-376 §18.3.1.70)."""
    existing = _PRINT_OPTIONS.search(sheet)
    if existing:
        tag = existing.group(0)
        if _GRID_LINES.search(tag):
            tag = _GRID_LINES.sub(b'gridLines="1"', tag, count=1)
        else:
            tag = tag.replace(b"<printOptions", b'<printOptions gridLines="1"', 1)
        return sheet[:existing.start()] + tag + sheet[existing.end():]
    # Its place in the schema's order: just before the page margins, setup or footer.
    for following in (b"<pageMargins", b"<pageSetup", b"<headerFooter", b"</worksheet>"):
        at = sheet.find(following)
        if at >= 0:
            return sheet[:at] + b'<printOptions gridLines="1"/>' + sheet[at:]
    return sheet


def with_printed_grid(document: bytes) -> bytes:
    """An XLSX whose sheets print their cell grid, so its PDF rules every table and the table
    finder reads cells, not a run of words. Cell gaps in a spreadsheet are often narrower than
    the gaps that tell unruled columns apart. Anything unexpected: the document as it was."""
    try:
        with zipfile.ZipFile(io.BytesIO(document)) as source:
            entries = source.infolist()
            # Sizes as declared: zipfile reads no more than that, so they bound the memory used.
            if sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
                return document
            output = io.BytesIO()
            with zipfile.ZipFile(output, "w") as target:
                for entry in entries:
                    data = source.read(entry)
                    if _SHEET.fullmatch(entry.filename):
                        data = _grid_printed(data)
                    target.writestr(entry, data)
            return output.getvalue()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError, ValueError, EOFError):
        return document  # LibreOffice says what is wrong with it


def soffice_path() -> str | None:
    """The LibreOffice executable on PATH, if any."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def office_to_pdf(document: bytes, mime_type: str) -> bytes:
    """The document converted by `soffice --headless --convert-to pdf` in a private temp dir."""
    soffice = soffice_path()
    if soffice is None:
        raise DocumentError(
            "Cannot convert office documents: LibreOffice (soffice) is not installed on the server"
        )
    essence = mime_type.split(";")[0].strip().lower()
    extension = EXTENSIONS.get(essence) or mimetypes.guess_extension(essence) or ".bin"
    if essence == XLSX:
        document = with_printed_grid(document)
    with tempfile.TemporaryDirectory(prefix="office-") as folder:
        source = os.path.join(folder, "document" + extension)
        with open(source, "wb") as handle:
            handle.write(document)
        # A private profile: parallel conversions would otherwise fight over the user's one.
        profile = "file://" + os.path.join(folder, "profile")
        command = [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                   "--convert-to", "pdf", "--outdir", folder, source]
        try:
            completed = subprocess.run(command, capture_output=True, timeout=CONVERT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise DocumentError(f"Converting the office document to PDF took over {CONVERT_TIMEOUT} s") from None
        target = os.path.join(folder, "document.pdf")
        if completed.returncode != 0 or not os.path.exists(target):
            detail = completed.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise DocumentError(f"LibreOffice could not convert the document to PDF: {detail[0]}")
        with open(target, "rb") as handle:
            return handle.read()
