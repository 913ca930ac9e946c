# Fleetsite: `make run` serves the embedded default on http://127.0.0.1:8080; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# Extra drivers follow DATABASE_URL, so the SQLite default needs no system libraries.
DB_REQUIREMENTS := $(if $(findstring mysql,$(DATABASE_URL)),requirements-mysql.txt,)$(if $(findstring postgres,$(DATABASE_URL)),requirements-postgres.txt,)

.PHONY: run test lint bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime
	$(if $(DB_REQUIREMENTS),$(BIN)/pip install --quiet -r $(DB_REQUIREMENTS),@true)

install-dev: $(VENV)/.installed-dev
	$(if $(DB_REQUIREMENTS),$(BIN)/pip install --quiet -r $(DB_REQUIREMENTS),@true)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# PYTEST_ARGS narrows a run (`make test PYTEST_ARGS='-m "not browser"'`).
# .ci/test-tools installs the Debian tools the packaging and browser tests use (as root), or
# names them in one line and stops; TEST_TOOLS=skip leaves them out.
test: install-dev
	$(if $(filter skip,$(TEST_TOOLS)),@true,bash .ci/test-tools)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist worksteal $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/pip install --quiet -r requirements-mysql.txt
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
