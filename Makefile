# The two commands of the README: `make run` and `make test`. Only Python 3.11+ and make needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test lint install install-dev db clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when the dependencies change.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Create or upgrade the schema, then load the demo clinic if the database is empty.
db: install
	$(BIN)/flask init-db
	$(BIN)/flask seed-demo

run: db
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT) --debug

lint: install-dev
	$(BIN)/flake8 .
	$(BIN)/isort --check-only --diff .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis

# A large clinic (50 doctors, ~200 000 appointments), timed in-process and with wrk against
# gunicorn; SQLite by default, DATABASE_URL=postgresql://... for an empty PostgreSQL database.
bench: install-dev
	$(BIN)/python -m bench.run
