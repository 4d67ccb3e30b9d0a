# Every target creates .venv itself: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all,dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seawall gameday
	@echo "At 10,000 clients on virtual time: $(BIN)/seawall sim run metastable (seawall sim list for the rest)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict tests/typing

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q

# Each edge benchmark compares seawall with the bare library in one run, as a ratio, and
# is cut at BENCH_LIMIT seconds so a wedged server cannot hang the run.
BENCH_LIMIT ?= 300

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/lint.py
	timeout $(BENCH_LIMIT) $(BIN)/python -m benchmarks.requests_overhead
	timeout $(BENCH_LIMIT) $(BIN)/python benchmarks/wsgi_overhead.py
	timeout $(BENCH_LIMIT) $(BIN)/python benchmarks/grpc_overhead.py
	$(BIN)/python benchmarks/sim.py
	$(BIN)/python benchmarks/sim.py --metastable

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
