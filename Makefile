# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test unit lint bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m compileall -q fleetflame
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: setup
	$(VENV)/bin/fleetflame demo

test: setup system-deps
	$(PY) -m pytest -q -ra

unit: setup
	$(PY) -m pytest -q -m "not root and not lab"

lint: setup
	$(PY) -m mypy
	$(VENV)/bin/ruff check --select F fleetflame tests bench

bench: setup
	$(PY) bench/collapse.py
	$(PY) bench/render.py
	$(PY) bench/fleet.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
