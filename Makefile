# The two commands: `make demo` and `make test`. Both build .venv from nothing but python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench bench-learn install system-tools clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/shopveil demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) system-tools lint typecheck
	bash scripts/run-tests.sh

# wrk, chromium and chromedriver from Debian's packages (needs root when one is missing):
# the browser tests and the service's load benchmark use them.
system-tools:
	bash scripts/install-system-tools.sh

# Benchmarks time peer tools in the same run: they need the [bench] extra and ../shared/data.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_gdpr_preset.py
	$(BIN)/python benchmarks/check_online_retail_gdpr.py
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_detect.py
	$(BIN)/python benchmarks/bench_pseudo.py
	$(BIN)/python benchmarks/bench_mask.py
	$(BIN)/python benchmarks/bench_keys.py
	$(BIN)/python benchmarks/bench_anonymity.py
	$(BIN)/python benchmarks/bench_dp_speed.py
	$(BIN)/python benchmarks/bench_dp_accuracy.py --runs 20 --peer-runs 3
	$(BIN)/python benchmarks/learn_report.py

# Private personalization only: recommenders, churn / CLV, PATE; rewrites their tables
# in docs/benchmarks.md and the plots in docs/img.
bench-learn: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/learn_report.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
