# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs what it needs the first time (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test test-fast check lint clean-demo browser compat compat-trainers

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

# The browser tier (not part of `make test`): two reviewers sign in to `draftgate serve` in
# Debian's chromium, driven by Playwright, and approve in parallel, and one signs in through
# nginx with TLS; screenshots go to .browser/.
BROWSER_STAMP := $(VENV)/.installed-browser

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,browser]'
	touch $@

browser: $(BROWSER_STAMP)
	test -x /usr/bin/chromium -a -x /usr/sbin/nginx || (apt-get update && apt-get install -y chromium nginx-light)
	DRAFTGATE_BROWSER_TIER=1 $(BIN)/pytest -q -s tests/browser

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-demo:
	rm -f outputs/ledger.sqlite outputs/ledger.sqlite-wal outputs/ledger.sqlite-shm

# ---- compat tier: Draftgate's output checked against the real consumers -----------------------
# Not part of `make test`: each check installs its consumers into its own cached environment
# under .compat/ (git-ignored) the first time, which takes minutes.
compat: compat-trainers compat-endpoints

COMPAT := .compat

# Trainer environments: datasets 3.x (with the TRL and LLaMA-Factory releases that still allow
# it) and datasets 4.x with the newest TRL. torch is the CPU build on this machine's disk.
$(COMPAT)/trainers-%/.installed: compat/trainers-%.txt
	rm -rf $(COMPAT)/trainers-$*
	$(PYTHON) -m venv $(COMPAT)/trainers-$*
	$(COMPAT)/trainers-$*/bin/python -m pip install --quiet --upgrade pip
	$(COMPAT)/trainers-$*/bin/python -m pip install --quiet -r compat/trainers-$*.txt
	if [ -f compat/trainers-$*.nodeps.txt ]; then \
		$(COMPAT)/trainers-$*/bin/python -m pip install --quiet --no-deps \
			-r compat/trainers-$*.nodeps.txt; fi
	touch $@

# Every export format loaded by datasets 3.x/4.x, TRL (data utilities and a two-step
# SFTTrainer run on a tiny offline model) and LLaMA-Factory's loader; the table is written to
# compat/trainers-last-run.md.
compat-trainers: $(STAMP) $(COMPAT)/trainers-ds3/.installed $(COMPAT)/trainers-ds4/.installed
	$(BIN)/python compat/trainers.py --venv ds3=$(COMPAT)/trainers-ds3 \
		--venv ds4=$(COMPAT)/trainers-ds4

# The whole pipeline against real third-party OpenAI-compatible servers with a small local
# model: each server installed into its own venv under .compat/servers/ (building
# llama-cpp-python takes the better part of an hour on a loaded two-core machine; pip's cache
# under .compat/ keeps the built wheel). Writes compat/endpoints-last-run.md.
.PHONY: compat-endpoints
compat-endpoints: $(STAMP)
	$(BIN)/python compat/endpoints.py
