# The two commands of the README: `make run` and `make test`. Only Python 3.11+ and make needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test test-clock lint install install-dev db clean bench

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

# The site and the background worker (it sends the emails, with links to this PORT), stopped
# together by Ctrl-C.
run: db
	@SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} $(BIN)/flask worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' INT TERM EXIT; \
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT) --debug

lint: install-dev
	$(BIN)/flake8 .
	$(BIN)/isort --check-only --diff .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The tests that depend on the date and the hour, again at fixed instants (CLINICA_TEST_NOW): a
# Monday 00:30, a Friday 23:50, and the two days America/Santiago changes its clocks. SQLite only.
CLOCK_INSTANTS = 2026-11-30T00:30:00-03:00 2026-12-04T23:50:00-03:00 2026-04-04T23:30:00-04:00 \
                 2026-09-06T01:30:00-03:00
CLOCK_TESTS = tests/web tests/api tests/services/test_booking.py tests/services/test_staff_actions.py \
              tests/services/test_mail.py tests/test_cli.py
test-clock: install-dev
	@for at in $(CLOCK_INSTANTS); do \
	  echo "== tests at $$at"; \
	  CLINICA_TEST_NOW=$$at $(BIN)/python -m pytest -q -m "not concurrency" \
	    -k "not postgresql" $(CLOCK_TESTS) || exit 1; \
	done

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis

# A large clinic (50 doctors, ~200 000 appointments), timed in-process and with wrk against
# gunicorn; SQLite by default, DATABASE_URL=postgresql://... for an empty PostgreSQL database.
bench: install-dev
	$(BIN)/python -m bench.run
