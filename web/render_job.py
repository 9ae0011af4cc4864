"""The page-image job as a web process's sandbox child runs it: below the web processes' CPU priority.

A render is CPU for seconds, on a machine whose cores also answer requests: niced, it takes what
the web processes leave, and /health stays fast while pages render. Its own module, so that the
child imports only this and the sandbox's job, not Flask or the database (as web.page_images would).
"""
from __future__ import annotations

import os

from sandbox.child import render_pages

RENDER_NICENESS = 10


def render_pages_niced(document: bytes, names: list[str], progress):
    """sandbox.child.render_pages, at niceness RENDER_NICENESS (set on the child, idempotent)."""
    os.setpriority(os.PRIO_PROCESS, 0, RENDER_NICENESS)
    return render_pages(document, names, progress)
