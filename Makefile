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
GRAPH_INPUTS := $(shell find ontology graph_data -type f 2>/dev/null) $(wildcard service/build/*.py)

.PHONY: run test setup build check clean

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

var/store/CURRENT: $(STAMP) $(NODE_STAMP) $(GRAPH_INPUTS)
	$(KG) build

build: var/store/CURRENT

check: setup
	$(KG) check

run: build
	PORT=$(PORT) $(KG) serve --port $(PORT)

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf var
