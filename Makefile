# citygov — the two README commands (`make run`, `make test`) plus lint and bench.
# Needs only Python 3.11 on the machine: the virtual environment and everything else is made here.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Domain apps that keep their own zh-Hant catalogue in citygov/<app>/locale.
APP_CATALOGUES := $(patsubst citygov/%/locale,%,$(wildcard citygov/*/locale))

.PHONY: run test test-fast lint bench venv clean messages

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "citygov needs Python 3.11 or newer, found %d.%d" % v[:2])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/citygov serve

test: $(STAMP)
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not browser" -x -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/citygov makemigrations --check --dry-run

bench: $(STAMP)
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

messages: $(STAMP)
	cd citygov && ../$(BIN)/citygov makemessages -l zh_Hant --no-obsolete --no-location --ignore "tests/*" --ignore "static/*" $(foreach app,$(APP_CATALOGUES),--ignore "$(app)/*")
	@for app in $(APP_CATALOGUES); do \
		echo "== citygov/$$app/locale"; \
		(cd citygov/$$app && CITYGOV_APP_CATALOGUE=1 ../../$(BIN)/citygov makemessages -l zh_Hant --no-obsolete --no-location --ignore "tests/*") || exit 1; \
	done
	cd citygov && ../$(BIN)/citygov compilemessages -l zh_Hant

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
