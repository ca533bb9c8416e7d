# replydesk — one entry point for newcomers and CI.
#   make install   .venv with CPU torch first, then the project with dev extras
#   make test      install, then the whole test suite (unit, slow, integration)
#   make run       install, load the demo knowledge base and accounts, start the app on localhost
PYTHON ?= python3
VENV ?= .venv
# CPU build from the local wheel; override e.g. TORCH_SPEC="torch==2.14.1" for another build.
TORCH_SPEC ?= torch==2.13.0
PIP := $(VENV)/bin/pip
PY := $(VENV)/bin/python
HOME_DIR ?= data
PORT ?= 8501

.PHONY: install test test-fast run demo bench eval clean browser

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

browser:
	bash scripts/install_chromium.sh

test: install browser
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not integration"

demo: install
	$(VENV)/bin/replydesk demo load --home $(HOME_DIR)

run: demo
	$(VENV)/bin/replydesk app --home $(HOME_DIR) --port $(PORT)

eval: install
	$(VENV)/bin/replydesk eval retrieval --dataset ../shared/datasets/dstc10_faq --config hybrid --config rrf --config bm25 --config dense

bench: install
	$(PY) benchmarks/ingest_benchmark.py
	$(PY) benchmarks/query_benchmark.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
