# notebook-launcher: every target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= .local-ds
PORT ?= 8765

.PHONY: install check test test-unit test-functional demo serve bench screenshots clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# uv resolves and installs the same pins in seconds where pip's resolver takes minutes
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.9.5
	$(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) -r requirements-dev.txt
	# the browser the console's tests drive (Debian's; Playwright downloads nothing)
	command -v chromium || (apt-get update && apt-get install -y chromium) \
		|| echo "chromium could not be installed: the console's browser tests will be skipped"
	touch $(STAMP)

check: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Test modules are spread over worker processes (pytest-xdist), each with its own local
# service; a module's tests stay together in one worker (its module-scoped fixtures).
PYTEST_WORKERS ?= 3

test: check
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

demo: $(STAMP)
	$(PY) -m notebook_launcher demo $(DEMO_ARGS)

serve: $(STAMP)
	$(PY) -m notebook_launcher serve --data-dir $(DATA_DIR) --port $(PORT)

bench: $(STAMP)
	$(PY) -m bench.run
	$(PY) -m bench.pipelines --execute

screenshots: $(STAMP)
	$(PY) -m tests.functional.ui.screenshots docs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(DATA_DIR)
