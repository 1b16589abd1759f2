# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test unit lint bench clean system-deps lock

# constraints.txt pins every package (and its dependencies) that the venv gets, so that a clean
# clone installs what CI ran. Update it deliberately: `make lock` after changing pyproject.toml.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	$(PY) -m compileall -q fleetflame
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: setup
	$(VENV)/bin/fleetflame demo

test: setup system-deps lint
	$(PY) -m pytest -q -ra

unit: setup
	$(PY) -m pytest -q -m "not root and not lab"

lint: setup
	$(PY) -m mypy
	$(VENV)/bin/ruff check fleetflame tests bench

# Re-resolve the newest versions pyproject.toml allows and write them to constraints.txt.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install -q -e '.[test]'
	.lockvenv/bin/pip freeze --exclude-editable | grep -v '^#' > constraints.txt
	rm -rf .lockvenv

# Every goal's benchmark, each printing its figures beside its baseline (docs/BENCHMARKS.md).
bench: setup system-deps
	$(PY) bench/collapse.py
	$(PY) bench/collapse_limits.py
	$(PY) bench/render.py
	$(PY) bench/exports.py
	$(PY) bench/skew.py
	$(PY) bench/fleet.py
	$(PY) bench/fleet.py --rtt-ms 100
	$(PY) bench/fleet.py --simulate 64,256

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
