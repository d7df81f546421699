# signal-pipeline: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := constraints.txt
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1

DEMO_SESSIONS ?= 3000
DEMO_DAYS ?= 14
DEMO_SEED ?= 7
DEMO_DIR ?= data/events
DEMO_DB ?= data/signal.duckdb

RELIABILITY_DIR ?= $(CURDIR)/.reliability

.PHONY: install demo test lint ui bench reliability lock clean

# Installs the versions pinned in constraints.txt (the ones `make test` passed with).
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(BIN)/signal-pipeline simulate $(DEMO_DIR) --sessions $(DEMO_SESSIONS) --days $(DEMO_DAYS) --seed $(DEMO_SEED) --bad 20 --dupes 20
	$(BIN)/signal-pipeline run --events $(DEMO_DIR)/events.jsonl --db $(DEMO_DB) --labels $(DEMO_DIR)/labels.csv
	$(BIN)/signal-pipeline show segments --db $(DEMO_DB)

lint: $(STAMP)
	$(BIN)/ruff check signal_pipeline signal_pipeline_tests bench
	$(BIN)/ruff format --check signal_pipeline signal_pipeline_tests bench

# The fault, fuzz and hostile-input tests record what they injected; the table is printed last.
test: $(STAMP) lint
	rm -rf $(RELIABILITY_DIR)
	SIGNAL_PIPELINE_RELIABILITY_DIR=$(RELIABILITY_DIR) $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider
	$(BIN)/python -m signal_pipeline.reliability.table --dir $(RELIABILITY_DIR)

# Refresh the reliability tables in README.md and docs/reliability.md from the last `make test`.
reliability: $(STAMP)
	$(BIN)/python -m signal_pipeline.reliability.table --dir $(RELIABILITY_DIR) --write docs/reliability.md
	$(BIN)/python -m signal_pipeline.reliability.table --dir $(RELIABILITY_DIR) --write README.md

ui: $(STAMP)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

# Re-resolve the newest versions pyproject.toml allows (in a scratch venv) and pin them in
# constraints.txt; run `make test` on them before committing the file.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[test]"
	grep '^#' $(CONSTRAINTS) > .constraints.new
	.venv-lock/bin/python -m pip freeze --exclude-editable >> .constraints.new
	mv .constraints.new $(CONSTRAINTS)
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .reliability
