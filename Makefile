# notebook-launcher: every target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= .local-ds
PORT ?= 8765

.PHONY: install check test test-unit test-functional demo serve bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

check: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: check
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

demo: $(STAMP)
	$(PY) -m notebook_launcher demo

serve: $(STAMP)
	$(PY) -m notebook_launcher serve --data-dir $(DATA_DIR) --port $(PORT)

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(DATA_DIR)
