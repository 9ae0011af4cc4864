"""Offline OCR with RapidOCR, whose wheel carries its ONNX models: words with boxes and scores."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache

import numpy as np
from PIL import Image

from pipeline.document import BudgetExceeded
from pipeline.pdf.text import Word

ENGINE_LOCK = threading.Lock()  # one inference at a time: both cores are already used by it
_FORKED_ENGINES: list = []
MIN_CONFIDENCE = 0.5  # below this a "word" is mostly a shape read as a letter


@lru_cache(maxsize=1)
def ocr_engine():
    """The RapidOCR engine, built once per process from the models inside the package."""
    from rapidocr import RapidOCR

    # The detector works on the image as given up to 2000 px (the engine's default would blow
    # a short, wide image up until its short side is 736 px, which is slow and no better).
    return RapidOCR(params={"Global.log_level": "error", "Det.limit_type": "max", "Det.limit_side_len": 2000})


def forget_engine_after_fork() -> None:
    """In a forked child: build a new engine when one is needed. The parent's engine runs on
    threads that the child does not have; it is kept, unused (its destructor would wait for them)."""
    global _ocr_thread
    if ocr_engine.cache_info().currsize:
        _FORKED_ENGINES.append(ocr_engine())
        ocr_engine.cache_clear()
    _ocr_thread = None  # the parent's thread is not in the child either


os.register_at_fork(after_in_child=forget_engine_after_fork)  # any process forked from one that used OCR


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Hand freed heap pages back to the system."""
    # Inference buffers freed between page images fragment glibc's heap; without this the
    # process grew by several MB per OCR call on long documents (3 GB over 500 pages).
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def run_engine(array: np.ndarray):
    """The engine's result for one image, one inference at a time."""
    with ENGINE_LOCK:
        try:
            return ocr_engine()(array, return_word_box=True)
        finally:
            release_free_memory()


_ocr_thread: ThreadPoolExecutor | None = None


def run_engine_within(array: np.ndarray, seconds: float, page: int | None):
    """The engine's result, or BudgetExceeded once it has run `seconds`.

    An inference cannot be stopped: it goes on, on its own thread, holding the engine, and the task
    fails. In the sandbox the child is then replaced (a failed run takes its child with it), so the
    inference goes too; failing beats skipping the page, whose successors would wait for the engine."""
    global _ocr_thread
    with ENGINE_LOCK:
        ocr_engine()  # built before the clock starts: its models load once per process
    if _ocr_thread is None:
        _ocr_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")
    future = _ocr_thread.submit(run_engine, array)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        _ocr_thread = None  # busy with the runaway page: a later call gets a thread of its own
        which = f"page {page}" if page is not None else "an image"
        raise BudgetExceeded(f"OCR of {which} took over {seconds:g} seconds; OCR_PAGE_SECONDS raises the limit"
                             ) from None


def ocr_words(image: Image.Image, scale_to_page: float = 1.0, seconds: float | None = None,
              page: int | None = None) -> list[Word]:
    """Words found by OCR, boxes mapped to page-image pixels by `scale_to_page`; with `seconds`,
    BudgetExceeded (naming `page`) if the engine takes longer."""
    array = np.asarray(image.convert("RGB"))
    result = run_engine(array) if seconds is None else run_engine_within(array, seconds, page)
    words: list[Word] = []
    lines = getattr(result, "word_results", None) or ()
    line_boxes = result.boxes if result.boxes is not None else []
    for line, line_box in zip(lines, line_boxes):
        line_height = (max(point[1] for point in line_box) - min(point[1] for point in line_box)) * scale_to_page
        for text, score, box in line:
            if not str(text).strip() or float(score) < MIN_CONFIDENCE:
                continue
            xs, ys = [point[0] for point in box], [point[1] for point in box]
            words.append(Word(
                str(text), min(xs) * scale_to_page, min(ys) * scale_to_page,
                max(xs) * scale_to_page, max(ys) * scale_to_page,
                size=max(line_height * 0.8, 1.0), confidence=round(float(score), 4),
            ))
    return without_shapes(words)


def without_shapes(words: list[Word]) -> list[Word]:
    """Drop one- or two-letter "words" far taller than the text: circles read as an O, and such."""
    if len(words) < 3:
        return words
    heights = sorted(word.bottom - word.top for word in words)
    typical = heights[len(heights) // 2]
    return [word for word in words if len(word.text) > 2 or word.bottom - word.top <= 3 * typical]
