# ketasim — two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: demo test browser postgres lint typecheck unit fast bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ketasim demo --out out/demo
	$(BIN)/ketasim plan examples/patients/trd_iv_ketamine.yaml --report out/demo/plan.html
	rm -f out/demo/clinic.db out/demo/clinic.db-wal out/demo/clinic.db-shm
	$(BIN)/ketasim clinic demo --db sqlite:///out/demo/clinic.db

test: $(STAMP) browser postgres lint typecheck unit

# The browser tests drive Debian's chromium: install it when missing (as root, or with
# password-less sudo); otherwise stop at once with the one command to run. Never skipped.
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "make test: the browser tests need Debian's chromium, and this user cannot install it."; \
	     echo "Run once:  sudo apt-get install -y chromium   then run make test again."; exit 1; fi; \
	echo "make test: installing Debian's chromium for the browser tests (apt-get)"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null && \
	test -x $(CHROMIUM)

# The registry tests start a real PostgreSQL server in a temporary folder (tests/pg.py):
# install Debian's postgresql when initdb is missing; otherwise stop at once with the command.
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "make test: the registry tests need PostgreSQL, and this user cannot install it."; \
	     echo "Run once:  sudo apt-get install -y postgresql   then run make test again."; exit 1; fi; \
	echo "make test: installing Debian's postgresql for the registry tests (apt-get)"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null && \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q src tests

# everything but the tests marked slow (a quicker loop while developing)
fast: $(STAMP) browser postgres
	$(BIN)/pytest -q -m "not slow" src tests

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pk.py
	$(BIN)/python benchmarks/bench_trial.py
	$(BIN)/python benchmarks/bench_server_memory.py
	$(BIN)/python benchmarks/bench_registry.py

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
