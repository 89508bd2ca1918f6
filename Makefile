# make run: set up, index the configured vault (data/ by default), open the chat. make test: the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: run test index ui lint bench contract clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first, pinned: it comes from this machine's CPU wheel instead of a multi-GB CUDA build
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .
	HF_HUB_OFFLINE=1 $(BIN)/python -m ingest.onnx_export  # the int8 ONNX encoder, made once from the bundled model
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[dev]'
	touch $@

# exit 2 means some files were named as failed and the rest landed: still open the chat
run: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/reread index || [ $$? -eq 2 ]
	HF_HUB_OFFLINE=1 $(BIN)/reread ui

index: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/reread index

ui: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/reread ui

test: $(VENV)/.installed-dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/reindex.py

contract: $(VENV)/.installed
	$(PYTHON) ../shared/contract/check.py $(BIN)/reread

clean:
	rm -rf $(VENV) data/index .pytest_cache
