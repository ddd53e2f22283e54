# coursekit: `make book` builds the book, `make test` runs the tests. Each target
# creates and fills .venv first if it is missing or older than the requirements.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= auto      # auto = gpu when a CUDA device is present, else cpu

# The project's data mirror, when it sits beside the repository and none is set.
ifeq ($(COURSEKIT_DATA_MIRROR),)
ifneq ($(wildcard ../shared/data),)
export COURSEKIT_DATA_MIRROR := $(abspath ../shared/data)
endif
endif

.PHONY: setup book test clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

book: setup
	$(BIN)/coursekit build --profile $(strip $(PROFILE))

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf _build
