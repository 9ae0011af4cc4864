"""What the fork server of runner.py loads once, so that every document's child process starts
with it: the pipeline's modules and the cl100k_base table (0.2 s to load, in every child else)."""
import pdf_pipeline  # noqa: F401
import pipeline  # noqa: F401
from chunking import cl100k_encoding

cl100k_encoding()
