# semcom: one-command setup, tests and demo.   `make help` lists the targets.
#
# Every target that runs code first brings the setup up to date:
#   1. Debian packages (checked with dpkg-query whenever a step below runs;
#      apt-get only when one is missing, through sudo when not root)
#   2. .venv with the project installed editable (redone when pyproject.toml
#      or constraints.txt change; edits to semcom_core/ need nothing)
#   3. gr-semcom built with CMake and installed into .venv (redone when a
#      file under gr-semcom/ changes)
# The heavy steps live in scripts/setup.sh; this file decides when to run them.

SHELL := /bin/bash

# ---- settings (override on the command line: make setup APT=0) -----------
VENV          = .venv
BASE_PYTHON  ?= /usr/bin/python3
APT          ?= $(if $(filter 1 yes true,$(SEMCOM_SKIP_APT)),0,1)
GR_SRC       ?= gr-semcom
GR_BUILD     ?= build/gr-semcom
GR_CMAKE_ARGS ?=
PYTEST_ARGS  ?=
DEMO_ARGS    ?=

PY          := $(VENV)/bin/python
BLOCKS_DIR  := $(CURDIR)/$(VENV)/share/gnuradio/grc/blocks
# Environment for running project code: the venv first on PATH, and GRC /
# grcc told where the installed gr-semcom block YAML is (after any user path).
RUN_ENV     := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
               GRC_BLOCKS_PATH="$(BLOCKS_DIR)$(if $(GRC_BLOCKS_PATH),:$(GRC_BLOCKS_PATH))"
SETUP       := APT="$(APT)" BASE_PYTHON="$(BASE_PYTHON)" VENV="$(VENV)" \
               GR_SRC="$(GR_SRC)" GR_BUILD="$(GR_BUILD)" GR_CMAKE_ARGS="$(GR_CMAKE_ARGS)" \
               bash scripts/setup.sh

# ---- stamp files: a step reruns only when its inputs are newer -------------
DEPS_STAMP  := $(VENV)/.stamp-deps
GR_STAMP    := $(GR_BUILD)/.stamp-install
# Every file and folder of the GNU Radio module except Python caches (folders
# too, so that deleting or renaming a file also triggers a rebuild).
GR_FILES    := $(shell find $(GR_SRC) \( -name __pycache__ -o -name .pytest_cache \
                 -o -name '*.pyc' \) -prune -o -print 2>/dev/null)

# The gr stamp holds the source folder and CMake arguments it was built with;
# building from another folder or with other arguments redoes the step.
GR_CONFIG   := $(abspath $(GR_SRC)) $(GR_CMAKE_ARGS)
ifneq ($(strip $(shell cat $(GR_STAMP) 2>/dev/null)),$(strip $(GR_CONFIG)))
$(GR_STAMP): FORCE
endif

.DEFAULT_GOAL := help
.PHONY: help setup demo test fuzz bundle grc clean FORCE

help:
	@echo "make demo    set up if needed, then run the demo (.venv/bin/semcom demo)"
	@echo "make test    set up if needed, then run the test suite (pytest; PYTEST_ARGS=...)"
	@echo "make setup   Debian packages, .venv, gr-semcom (APT=0 skips apt-get)"
	@echo "make fuzz    the property-based fuzz suite, long (tests/fuzz; make test runs it briefly)"
	@echo "make bundle  train and export the model bundle (scripts/make_bundle.sh)"
	@echo "make grc     open GNU Radio Companion with the venv and the semcom blocks"
	@echo "make clean   remove build/ and .venv"

setup: $(GR_STAMP)
	@echo "setup: ready ($(VENV); gr-semcom blocks in $(BLOCKS_DIR))"

# The venv: redone when pyproject.toml or constraints.txt change. Each setup
# recipe first checks the Debian packages (dpkg-query; apt-get only for what
# is missing), so a setup that is up to date never touches apt.
$(DEPS_STAMP): pyproject.toml constraints.txt
	@$(SETUP) apt venv
	@touch $@

# gr-semcom: rebuilt and reinstalled when any of its files or the venv change.
$(GR_STAMP): $(DEPS_STAMP) $(GR_FILES)
	@$(SETUP) apt gr
	@echo '$(GR_CONFIG)' >$@

demo: setup
	$(RUN_ENV) $(VENV)/bin/semcom demo $(DEMO_ARGS)

# pytest's own exit status is kept (5 means no test was collected).
test: setup
	$(RUN_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# The property-based fuzz suite with many more examples than in `make test` (minutes).
fuzz: setup
	$(RUN_ENV) HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/fuzz

bundle: setup
	$(RUN_ENV) bash scripts/make_bundle.sh

# GRC runs flowgraphs with the interpreter it was started with: start it
# with the venv's Python so generated flowgraphs can import torch and semcom.
grc: setup
	@$(SETUP) gui
	@grc=$$(command -v gnuradio-companion) || { echo "gnuradio-companion not found" >&2; exit 1; }; \
	  echo "starting $$grc with $(PY)"; $(RUN_ENV) $(PY) "$$grc" $(GRC_ARGS)

clean:
	rm -rf build $(VENV) semcom.egg-info
