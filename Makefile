# Two commands: `make demo` and `make test`. Both bootstrap .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO_DIR ?= demo
SCALE ?= project
SEED ?= 42
# the tests run in two worker processes (pytest-xdist; each file's tests in one, so that a module's fixture, e.g. a
# demo run, is built once), taken in the order tests/conftest.py gives them: in one process the suite left the
# second core idle most of the time
TEST_WORKERS ?= 2

.PHONY: demo test bench venv clean

venv: $(TEST_STAMP)

# The venv for `make demo` holds what icam needs; `make test` adds the test tools (pytest, Playwright, ...) to it.
# It has no pip of its own: uv (a wheel from PyPI, put in by the system's pip) installs the wheels side by side, then
# compileall writes their bytecode and icam's, tests folders left out (nothing imports them; a file that does not
# compile is left to Python, as pip does): 20–25 s with uv's cache empty, where pip took 54 s with its cache full
# (docs/benchmarks.md). Where uv cannot be had or cannot reach an index (a mirror only pip is configured for), the
# venv gets its own pip (ensurepip) and pip installs them.
venv_pip = (($(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null) && \
	$(BIN)/python -m pip install --quiet $(1))
PURELIB = $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
install = ($(BIN)/uv pip install --python $(BIN)/python --quiet -e '$(1)' || $(call venv_pip,-e '$(1)')) && \
	($(BIN)/python -m compileall -qq -j 0 -x '[/\\]tests?[/\\]' "$(PURELIB)" src || true)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet uv || $(call venv_pip,uv) || \
		echo "uv not installed: pip installs icam's packages"
	$(call install,.)
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(call install,.[test])
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/icam demo --dir $(DEMO_DIR) --scale $(SCALE) --seed $(SEED)

test: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# the web app's load test: 100 concurrent writers; issue 17 asks for 1,000 writes each (WEB_LOAD_OPERATIONS=1000),
# about an hour per database on 2 cores, so `make bench` runs 80 each (docs/benchmarks.md)
WEB_LOAD_OPERATIONS ?= 80

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/speed_vs_base.py
	$(BIN)/python benchmarks/risk_tiled.py --gpx
	$(BIN)/python benchmarks/distance.py
	$(BIN)/python benchmarks/web_load.py --writers 100 --operations $(WEB_LOAD_OPERATIONS)
	$(BIN)/python benchmarks/credibility.py --scale small --seeds 1-4 --effects 0,0.38,0.59 --displacements 0,0.2
	$(BIN)/python benchmarks/counterfactual_truth.py --scale small --seeds 1-4 --effects 0,0.38

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
