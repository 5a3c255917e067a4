# Resolution 71 tracker: every command a person or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRACKER := $(BIN)/tracker
# pytest-xdist workers of `make test`: two per core, at most 4. Most tests wait on Airflow's
# scheduler and PostgreSQL rather than compute (one per core kept 2 cores 54 % busy); each worker
# has databases and an Airflow home of its own, and 4 Airflow instances at once stay well within
# PostgreSQL's 100 connections
TEST_WORKERS ?= $(shell n=$$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); echo $$(( n * 2 < 4 ? n * 2 : 4 )))
export DO_NOT_TRACK := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup demo test lint format airflow airflow-stop docs db-start db-stop bench clean

help: ## show this list
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned dependencies (once)

demo: $(STAMP) ## run the tracker once on demo feeds through Airflow's scheduler and print the stage summary
	$(TRACKER) demo

test: $(STAMP) ## the whole test suite in parallel (what CI runs), then its 20 slowest tests
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=20

lint: $(STAMP) ## ruff (with Airflow rules), mypy (settings in pyproject.toml) and sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(TRACKER) lint-sql

format: $(STAMP) ## apply ruff formatting
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

airflow: $(STAMP) ## Airflow UI (airflow standalone) on http://localhost:8080 with the tracker DAG
	$(TRACKER) airflow-standalone

airflow-stop: $(STAMP) ## stop the Airflow services `tracker run` started (scheduler, dag-processor, api-server)
	$(TRACKER) airflow stop

docs: $(STAMP) ## rewrite the dbt docs site, dashboard and run pages of the last publication
	$(TRACKER) docs

db-start: $(STAMP) ## start the embedded PostgreSQL (no-op when TRACKER_DATABASE_URL is set)
	$(TRACKER) db start

db-stop: $(STAMP) ## stop the Airflow services, then the embedded PostgreSQL they use
	$(TRACKER) airflow stop
	$(TRACKER) db stop

bench: $(STAMP) ## benchmarks: ingest vs raw COPY (1M-row file, ~15,000 files, JSON, gzip); dbt daily build vs no-op; quality gate vs hand-written SQL (10M rows); daily DAG run vs Airflow's floor; hostile files (peak RSS, time per MB); each page vs its SQL (10 years x 10,000 databases)
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/dbt_bench.py
	$(BIN)/python bench/gate_bench.py
	$(BIN)/python bench/daily_run_bench.py
	$(BIN)/python bench/hostile_bench.py
	$(BIN)/python bench/page_bench.py

clean: ## stop Airflow's services and PostgreSQL; remove .venv, .local (embedded database) and data/
	-$(TRACKER) airflow stop 2>/dev/null
	-$(TRACKER) db stop 2>/dev/null
	rm -rf $(VENV) .local data dbt_project/target dbt_project/logs
