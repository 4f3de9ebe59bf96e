# Every target works from a clean clone with only Python 3.11 and make installed, and is idempotent.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv demo test test-fast test-ui test-cluster browser-deps db-deps lint format airflow sandbox bench constraints clean cluster cluster-down

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

venv: $(STAMP)  ## create .venv and install the pinned requirements

demo: $(STAMP)  ## set up, start the seeded sandbox, run company_sync end to end, print the summary
	$(BIN)/python -m include.demo

TEST_WORKERS ?= 2

test: $(STAMP) browser-deps db-deps  ## run the whole test suite on TEST_WORKERS pytest-xdist workers (UI tests: headless Chromium); the 20 slowest tests listed at the end
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=20

test-ui: $(STAMP) browser-deps  ## the real-browser tests of the Sync reports view (UPDATE_SCREENSHOT=1 refreshes docs/report.png)
	$(BIN)/python -m pytest tests/ui

browser-deps:  ## Debian's chromium for the UI tests (apt-get, only when missing; never a downloaded browser)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	else echo "browser-deps: install Chromium with your package manager; the UI tests are skipped without it"; fi

db-deps:  ## Debian's postgresql for the state-store tests on PostgreSQL (apt-get, only when initdb is missing)
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; \
	else echo "db-deps: install PostgreSQL with your package manager; the PostgreSQL tests are skipped without it (failed under CI)"; fi

test-fast: $(STAMP)  ## unit and DAG-integrity tests only
	$(BIN)/python -m pytest tests/unit tests/dags

lint: $(STAMP)  ## ruff check (including the Airflow 3 AIR rules) and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## apply ruff's formatter and import sorting
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .

sandbox: $(STAMP)  ## serve both sandbox APIs in the foreground (Ctrl-C stops)
	$(BIN)/python -m include.sandbox serve $(SANDBOX_ARGS)

airflow: $(STAMP)  ## the Airflow UI (airflow standalone) on this project, with the sandbox running beside it
	bin/airflow-standalone

cluster: $(STAMP)  ## a local multi-worker Airflow: CeleryExecutor, 2 workers, PostgreSQL, Redis, S3 (moto), sandbox (docs/cluster.md)
	bin/cluster up

test-cluster: $(STAMP)  ## the multi-worker test: a private cluster, company_sync + company_resync at once, torn down (docs/cluster.md)
	COMPANY_SYNC_CLUSTER_TESTS=1 $(BIN)/python -m pytest tests/cluster -p no:cacheprovider -rxX

cluster-down:  ## stop what `make cluster` started; CLEAN=1 also deletes .cluster/
	bin/cluster down $(if $(CLEAN),--clean)

bench: $(STAMP)  ## run the benchmark scripts (figures go to the notes and docs)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

constraints: $(STAMP)  ## re-resolve constraints.txt from requirements-dev.txt
	$(BIN)/pip freeze --exclude-editable | sed '1i # The full resolved set seen to install together on Python 3.11 (pip freeze). Regenerate with `make constraints`.' > constraints.txt

clean:  ## remove the environment, Airflow home, sandbox state and caches
	rm -rf $(VENV) .airflow .sandbox .staging .cluster .pytest_cache .ruff_cache
