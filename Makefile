# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs what it needs the first time (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint clean-demo

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

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-demo:
	rm -f outputs/ledger.sqlite outputs/ledger.sqlite-wal outputs/ledger.sqlite-shm
