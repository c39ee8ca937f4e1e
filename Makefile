# territory-kg: two commands on a fresh machine.
#   make run   set up (virtualenv, install, npm data package, graph build) and serve on http://127.0.0.1:$(PORT)
#   make test  set up the same way and run the whole test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
KG := $(VENV)/bin/territory-kg
PORT ?= 8000
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
BROWSER_STAMP := $(VENV)/.browser-stamp
GRAPH_INPUTS := $(shell find ontology graph_data -type f 2>/dev/null) $(wildcard service/build/*.py)

.PHONY: run test setup build check clean bench bench-quick screenshots soak

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,reasoning,remote]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Browser tests: Debian's Chromium (never 'playwright install') and Playwright for Python.
$(BROWSER_STAMP): $(STAMP)
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || { echo "Chromium could not be installed (apt-get install chromium): the browser tests need /usr/bin/chromium" >&2; exit 1; }
	@$(PY) -c 'import playwright' 2>/dev/null || $(PY) -m pip install -q 'playwright~=1.65.0'
	@touch $@

var/store/CURRENT: $(STAMP) $(NODE_STAMP) $(GRAPH_INPUTS)
	$(KG) build

build: var/store/CURRENT

check: setup
	$(KG) check

run: build
	PORT=$(PORT) $(KG) serve --port $(PORT)

test: setup $(BROWSER_STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf var

screenshots: build $(BROWSER_STAMP)
	$(PY) tests/e2e/browser.py docs/screenshots

# Benchmark (issue 6; see bench/RESULTS.md). Every scale adds all of France's geography (~1.1M triples).
# bench: all four scales, every system (rdflib-endpoint only up to 1M: it holds everything in Python memory);
# warm = median of 2 further runs, so that the whole comparison fits in about 1.5 hours on 2 cores.
# bench-quick: 100k, our service only (in process + HTTP), the regression guard (under 5 minutes).
bench: setup
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) -m bench.harness --scale 100000 --scale 1000000 --scale 5000000 --scale 10000000 --warm 2

bench-quick: setup
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) -m bench.harness --scale 100000 --systems inproc,http --warm 2 --wrk-seconds 3

# Soak (issue 7, not in CI): mixed load for SOAK_SECONDS against the built store; reports memory drift and errors.
SOAK_SECONDS ?= 1800
soak: build
	$(PY) -m tests.hardening.soak --duration $(SOAK_SECONDS)
