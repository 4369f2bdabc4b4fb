# cmo: the two commands that matter are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Extras: the demo needs the web app; the tests need Spark and the test tools as well.
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint fmt bench system-deps services clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[web]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[spark,web,pdf,test]'
	touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)  ## set up, then run the main job on embedded defaults (DuckDB, SQLite, demo data)
	$(BIN)/cmo demo

system-deps:  ## Debian packages the tests need: Java 17 (Spark), Chromium (browser tests), PostgreSQL
	@bash scripts/system-deps.sh

services: system-deps  ## start PostgreSQL when it is not running
	@bash scripts/services.sh

lint: $(TEST_STAMP)  ## ruff, mypy and the import contracts (import-linter)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(TEST_STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

test: services $(TEST_STAMP) lint  ## set up everything, then run the whole test suite
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(TEST_STAMP)  ## benchmarks; results go to docs/performance.md by hand
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) cmo-data build *.egg-info
