# Two commands: `make quickstart` (the miniature study on CPU) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.jre-installed

.PHONY: quickstart test lint install browser clean-runs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# torch==2.13.0 resolves to the CPU build on these machines; install it first so nothing
# else pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml examples/jre-bench-jamcqa/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The report test renders HTML in headless Chromium (Debian's package); it skips, saying so,
# where Chromium cannot be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "chromium could not be installed; the report rendering test will be skipped"; }

# mypy checks the import package jre, which setuptools maps from core/ (with plugins/ as
# jre.plugins); .mypy_src links that tree into place, rebuilt each time so new modules count.
lint: $(STAMP)
	$(BIN)/ruff check .
	rm -rf .mypy_src && mkdir -p .mypy_src/jre
	for f in core/*; do case $$f in */__pycache__) ;; *) ln -s ../../$$f .mypy_src/jre/ ;; esac; done
	ln -s ../../plugins .mypy_src/jre/plugins
	$(BIN)/mypy -p jre

test: lint browser
	$(BIN)/python -m pytest -q

quickstart: $(STAMP)
	$(BIN)/jre run recipes/quickstart.toml

clean-runs:
	rm -rf runs
