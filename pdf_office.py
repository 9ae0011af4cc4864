"""Office documents (Word, Excel, PowerPoint, OpenDocument, RTF) to PDF with LibreOffice."""
from __future__ import annotations

import mimetypes
import os
import shutil
import subprocess
import tempfile

from document import DocumentError

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
