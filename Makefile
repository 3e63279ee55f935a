# jupyterlab-dsi: `make demo` opens JupyterLab on the sample ensemble; `make test` runs every test.
# Every target installs what it needs on a fresh machine and is fast when re-run: steps are
# skipped by stamp files that depend on the inputs that matter.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV)/bin)
export PATH := $(BIN):$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

STAMPS := .make
DATA := examples/data
ENSEMBLE := $(DATA)/ensemble
SAMPLE_DB := $(DATA)/sample.sqlite
SAMPLE_SIMS ?= 1000
PORT ?= 8888
NO_BROWSER ?=

TS_SOURCES := $(shell find src -name '*.ts' -not -path '*/__tests__/*') $(wildcard style/*) schema/plugin.json tsconfig.json rspack.config.js
PY_SOURCES := $(wildcard jupyterlab_dsi/*.py jupyterlab_dsi/*/*.py) jupyterlab_dsi/schema.sql pyproject.toml

.PHONY: all install demo test test-js test-py test-ui test-binder bench bench-smoke stress sample sample-rebuild chromium clean help

help:
	@echo "make demo   install everything, build the sample database, start JupyterLab on examples/"
	@echo "            (make demo NO_BROWSER=1 on a headless machine)"
	@echo "make sample the sample database, built only when missing (it keeps your datasets);"
	@echo "            make sample-rebuild rebuilds it, refused while it holds datasets unless FORCE=1"
	@echo "make test   install everything (Chromium included) and run jest, pytest and Galata"
	@echo "make bench  the explorer against its baselines in Chromium, and post-processing throughput"
	@echo "make stress concurrency, fault, bad-file, hostile-input, fuzz and size tests, with figures"

all: install

$(STAMPS):
	@mkdir -p $(STAMPS)

# -- Python: a venv inside the repo with the build tools and JupyterLab ------------------------
$(STAMPS)/venv: | $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "jupyterlab==4.6.4" "jupyter-builder>=1.3,<2" \
	  "hatchling>=1.5" editables "hatch-jupyter-builder>=0.9" "hatch-nodejs-version>=0.3.2"
	@touch $@

# -- JavaScript: exactly the locked packages. npm ci never rewrites package-lock.json (the lock
# holds every platform's optional rspack binding and their deps; tests/test_makefile.py checks
# that `npm install` leaves it as it is) and fails when package.json and the lock disagree.
$(STAMPS)/node: package.json package-lock.json | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# -- The prebuilt extension ------------------------------------------------------------------
$(STAMPS)/labextension: $(STAMPS)/venv $(STAMPS)/node $(TS_SOURCES)
	npm run --silent build
	@touch $@

# -- The package, editable, with the labextension linked into the venv -----------------------
# With the mlflow extra: CI runs tests/test_mlflow.py against a real MLflow store; with the
# xarray extra, tests/test_xarray_fields.py reads real netCDF and Zarr files.
$(STAMPS)/install: $(STAMPS)/labextension pyproject.toml package.json
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[test,mlflow,xarray]"
	$(BIN)/jupyter-builder develop . --overwrite >/dev/null
	$(BIN)/jupyter server extension enable jupyterlab_dsi --sys-prefix >/dev/null
	@touch $@

install: $(STAMPS)/install
	@$(BIN)/jupyter dsi --version

# -- The sample ensemble and its database (three methods: L2, L1, Linf against sim00000) ------
# Built only when missing: users save datasets into it, so a source change never rebuilds it
# (the script says when it is stale). `make sample-rebuild` rebuilds it, refused while it holds
# datasets unless FORCE=1. The install is order-only so that reinstalling never triggers a build.
$(SAMPLE_DB): | $(STAMPS)/install
	bash examples/build_sample.sh $(DATA) $(SAMPLE_SIMS)

sample: $(STAMPS)/install
	bash examples/build_sample.sh $(DATA) $(SAMPLE_SIMS)

sample-rebuild: $(STAMPS)/install
	FORCE=$(FORCE) bash examples/build_sample.sh --rebuild $(DATA) $(SAMPLE_SIMS)

demo: install sample
	@echo "Starting JupyterLab on examples/ with the DSI Explorer open on $(SAMPLE_DB)"
	jupyter lab --ServerApp.root_dir=examples --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
	  --DSIConfig.default_db=data/sample.sqlite $(if $(NO_BROWSER),--no-browser,) \
	  $(if $(filter 0,$(shell id -u)),--allow-root,)

# -- Tests -----------------------------------------------------------------------------------
chromium:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the Galata tests"; \
	  $(if $(shell command -v sudo),sudo,) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(if $(shell command -v sudo),sudo,) apt-get install -y -qq chromium >/dev/null; }

# The install, not only the npm packages: tests/js/ runs the Python side through .venv's jupyter.
# The sample database too: the scratch-method tests inject into a replica of the real sample.
test-js: $(STAMPS)/install $(SAMPLE_DB)
	npx jest --ci

test-py: $(STAMPS)/install
	$(BIN)/pytest -q -p no:cacheprovider

test-ui: $(STAMPS)/install $(SAMPLE_DB) chromium
	cd ui-tests && npx playwright test

# Binder's steps replayed in a fresh environment (binder/replay.sh), then the Binder link opened.
test-binder: $(STAMPS)/node chromium
	bash binder/replay.sh .binder-env
	cd ui-tests && npx playwright test -c binder.config.js

test: install chromium
	$(MAKE) --no-print-directory test-js
	$(MAKE) --no-print-directory bench-smoke
	$(MAKE) --no-print-directory test-py
	$(MAKE) --no-print-directory test-ui
	$(MAKE) --no-print-directory test-binder

# -- Stress: concurrency, faults, bad files, hostile input, fuzzing and size -------------------
# The last line printed is the figures.
stress: $(STAMPS)/install $(SAMPLE_DB)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/stress
	npx jest --ci src/filter/__tests__/fuzz.spec.ts
	$(BIN)/python stress/report.py

# -- Benchmark: the views against parcoord-es and plain D3 in Chromium (bench/README.md), the
# panel in a real JupyterLab as the database grows in methods (bench/scale.js), then
# post-processing throughput (bench/postprocess.py), VTK reading (bench/vtk.py) and logging a
# training run's metric points (bench/runs.py).
bench: $(STAMPS)/node $(STAMPS)/labextension $(STAMPS)/install $(SAMPLE_DB) chromium
	node bench/run.js
	node bench/scale.js
	$(BIN)/python bench/postprocess.py
	$(BIN)/python bench/vtk.py
	$(BIN)/python bench/runs.py

# The same harness, small (10k rows, 3 moves, 5 time steps, about 30 s), in `make test`: a change
# that breaks the bench (src/ moving under bench/dsi.ts, the schema under bench/db.js) fails CI;
# post-processing's bench likewise on tiny ensembles (seconds; it writes bench/.cache/, not the figures),
# and the scale suite on 500 simulations at 2 and 4 methods in a real JupyterLab (about 45 s).
# It exits non-zero when a jupyterlab-dsi figure cannot be measured. Its times are not figures.
bench-smoke: $(STAMPS)/node $(STAMPS)/install $(SAMPLE_DB) chromium
	npx tsc -p bench/tsconfig.json
	node bench/run.js --smoke
	node bench/scale.js --smoke
	$(BIN)/python bench/runs.py --smoke
	$(BIN)/python bench/postprocess.py --smoke

# The sample's folder goes too, unless its database holds datasets (FORCE=1 removes it anyway).
clean:
	rm -rf $(STAMPS) lib jupyterlab_dsi/labextension tsconfig.tsbuildinfo
	FORCE=$(FORCE) bash examples/build_sample.sh --remove $(DATA)
