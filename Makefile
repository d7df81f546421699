# signal-pipeline: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1

DEMO_SESSIONS ?= 3000
DEMO_DAYS ?= 14
DEMO_SEED ?= 7
DEMO_DIR ?= data/events
DEMO_DB ?= data/signal.duckdb

.PHONY: install demo test lint ui bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
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

test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 -q -p no:cacheprovider

ui: $(STAMP)
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
