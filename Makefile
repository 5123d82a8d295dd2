# ketasim — two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ketasim demo --out out/demo
	$(BIN)/ketasim plan examples/patients/trd_iv_ketamine.yaml --report out/demo/plan.html

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q src tests

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pk.py
	$(BIN)/python benchmarks/bench_trial.py

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
