"""What the sandbox's fork server loads once (sandbox/pool.py), so that every child starts
with it: the pipeline's modules and the cl100k_base table, which every child would load again else."""
from pipeline import run as pipeline  # noqa: F401
from pipeline.chunking import cl100k_encoding
from pipeline.pdf import parse as pdf_pipeline  # noqa: F401

cl100k_encoding()
