"""Benchmarks, each run from the project root as a module: `.venv/bin/python -m bench.api`."""
