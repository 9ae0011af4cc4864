# chunkr-selfhost. `make help` lists the targets; `make run` serves on SQLite, `make test` lints and tests.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench quality hostile clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Reinstalled when a requirements file or pyproject.toml changes.
$(STAMP): $(wildcard requirements*.txt) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(STAMP) ## Create .venv and install the pinned requirements (service, pipeline, tests, linters)

# gunicorn.conf.py reads BIND (default 127.0.0.1:8000), WEB_CONCURRENCY (default 2) and WEB_THREADS
# (default 64); its master runs the task workers (WORKER_THREADS) in a process of their own.
run: $(STAMP) ## Serve with gunicorn (BIND=host:port, WEB_CONCURRENCY=processes, WEB_THREADS; SQLite in instance/ unless DATABASE_URL)
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

lint: $(STAMP) ## ruff, then the import contracts of pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint ## lint, then pytest on SQLite and PostgreSQL (PYTEST_ARGS=... passes arguments)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP) ## Pipeline speed, then HTTP throughput (needs wrk and PostgreSQL; see docs/benchmarks.md)
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.api

quality: $(STAMP) ## Reading quality against manuals' source text, and table cells (needs Debian's doc packages; see docs/quality.md)
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.table_cells

hostile: $(STAMP) ## Make every hostile input of docs/security.md and report its time and peak memory
	$(BIN)/python -m bench.hostile

clean: ## Remove .venv and the caches (instance/, the default database, is kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache bench/out
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
