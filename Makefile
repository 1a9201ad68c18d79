# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs what it needs the first time (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test test-fast check lint clean-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/draftgate ingest product_docs
	$(BIN)/draftgate generate
	$(BIN)/draftgate status
	$(BIN)/draftgate review

# Lint, format, the import contracts and types: what every test run checks first.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# Everything: the checks and the whole suite, reliability trials included (CI runs this).
test: check
	$(BIN)/pytest -q

# The inner loop: the checks and every test but the reliability trials.
test-fast: check
	$(BIN)/pytest -q --ignore=tests/reliability

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-demo:
	rm -f outputs/ledger.sqlite outputs/ledger.sqlite-wal outputs/ledger.sqlite-shm

# The compatibility tier: the whole pipeline against real third-party OpenAI-compatible servers
# with a small local model (compat/). Slow, and not part of `make test`: the first run installs
# each server into its own venv under .compat/ (building llama-cpp-python takes 10+ minutes;
# built wheels are cached there). Writes compat/last-run.md.
.PHONY: compat compat-endpoints
compat: compat-endpoints

compat-endpoints: $(STAMP)
	$(BIN)/python compat/endpoints.py
