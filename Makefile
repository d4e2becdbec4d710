# Every target creates (or reuses) the local virtualenv .venv, installs Papyra into it in
# editable mode with its test dependencies, and compiles the Cython speedups in place where a
# C compiler exists (PAPYRA_NO_EXTENSIONS=1: pure Python; PAPYRA_REQUIRE_EXTENSIONS=1: a failed
# compile is an error).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.papyra-installed
PYTEST_ARGS ?=
# `make test` type-checks after the tests; `make test TYPECHECK=0` skips it (CI runs the suite
# twice and mypy once: its result does not depend on which twin is loaded).
TYPECHECK := 1

.PHONY: demo test bench bench-peers docs docs-serve typecheck lint ext clean

demo: ext
	$(BIN)/python examples/demo.py
	$(BIN)/python examples/quickstart_demo.py

test: lint ext
	$(BIN)/python -m pytest $(PYTEST_ARGS)
ifneq ($(filter-out 0,$(TYPECHECK)),)
	$(BIN)/python -m mypy
endif

bench: ext
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-enable -p no:cacheprovider $(PYTEST_ARGS)

# Optional, not in CI: Papyra against 0.3.0, pykka, Thespian and the raw-asyncio ceilings in one
# run (benchmarks/peers/run.py), then the plot docs/img/peers.png from the JSON results
# (docs/performance.md shows both).
bench-peers: ext
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation -e '.[test,bench]'
	$(BIN)/python benchmarks/peers/run.py $(PEERS_ARGS)
	$(BIN)/python benchmarks/plot.py benchmarks/peers/results.json docs/img/peers.png

# The documentation site (mkdocs.yml, docs/): a strict build fails on any warning (a broken
# link, a reference that does not resolve, a docstring that does not render). The reference
# pages read the sources of this checkout (griffe), so no compiled extension is needed. The
# tools are in the `test` extra (tests/docs builds the site too) and in the `docs` extra.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs serve

typecheck: $(STAMP)
	$(BIN)/python -m mypy

# ruff: lint and import order (configured in pyproject.toml).
lint: $(STAMP)
	$(BIN)/python -m ruff check .

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip setuptools wheel cython
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation -e '.[test]'
	touch $@

# Incremental: Cython and build_ext skip what is up to date.
ext: $(STAMP)
ifeq ($(filter-out 0,$(PAPYRA_NO_EXTENSIONS)),)
	$(BIN)/python setup.py -q build_ext --inplace
else
	@echo "PAPYRA_NO_EXTENSIONS=$(PAPYRA_NO_EXTENSIONS): using the pure-Python implementation"
endif

clean:
	rm -rf build site $(VENV) papyra/_speedups/*.so papyra/_speedups/*.c
