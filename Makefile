# The README's commands. Everything a fresh clone needs is set up from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export STUDENTVAULT_HOME ?= $(CURDIR)/var
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/studentvault

.PHONY: run test lint pytest-sqlite pytest-postgres bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make run: set up the embedded demo district and serve it over HTTPS on https://localhost:8443
run: $(STAMP)
	$(BIN)/studentvault demo setup
	$(BIN)/studentvault serve

## make test: lint, then the whole suite on SQLite and on PostgreSQL
test: $(STAMP) lint pytest-sqlite pytest-postgres

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check studentvault config tests bench manage.py
	$(BIN)/mypy studentvault config
	$(BIN)/lint-imports
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run

pytest-sqlite: $(STAMP)
	DATABASE_URL= STUDENTVAULT_TEST_DB=sqlite $(BIN)/pytest -n 2 -p no:cacheprovider

pytest-postgres: $(STAMP)
	@bash scripts/require-postgres "$(PG_TEST_URL)"
	DATABASE_URL=$(PG_TEST_URL) STUDENTVAULT_TEST_DB=postgres $(BIN)/pytest -n 2 -p no:cacheprovider

## make bench: the speed targets of the issues, measured (not run by make test)
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
