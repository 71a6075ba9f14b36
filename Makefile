# The two commands of the README: `make run` and `make test`. Only Python 3.11+ and make needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test test-clock lint install install-dev db clean bench translations

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

# The compiled catalogues (.mo) are built from the ones people edit (.po), never committed.
CATALOGUES := $(wildcard clinica_web/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@ --statistics 2>&1 | tail -n 1

install: $(VENV)/.installed $(COMPILED)
install-dev: $(VENV)/.installed-dev $(COMPILED)

# The services' messages are found in their error classes' calls (clinica_web/services/errors.py).
ERROR_KEYWORDS := -k DomainError -k InvalidInput -k NotFound -k NotAllowed -k SlotUnavailable -k SlotTaken \
                  -k PatientBusy -k BookingKeyUsed
# After changing words in the code or templates: the catalogue template (messages.pot) and every
# language's catalogue brought up to date; then translate what is new (README).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k N_ $(ERROR_KEYWORDS) --ignore-dirs '.*' \
	  --no-location --sort-output \
	  -o clinica_web/translations/messages.pot .
	$(BIN)/pybabel update -i clinica_web/translations/messages.pot -d clinica_web/translations --no-fuzzy-matching

# Create or upgrade the schema, then load the demo clinic if the database is empty.
db: install
	$(BIN)/flask init-db
	$(BIN)/flask seed-demo

# The site and the background worker (it sends the emails, with links to this PORT), stopped
# together by Ctrl-C.
run: db
	@export SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)}; \
	$(BIN)/flask worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' INT TERM EXIT; \
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT) --debug

lint: install-dev
	$(BIN)/flake8 .
	$(BIN)/isort --check-only --diff .

# On every core (pytest-xdist): each worker makes its own databases.
test: lint
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

# The tests that depend on the date and the hour, again at fixed instants (CLINICA_TEST_NOW): a
# Monday 00:30, a Friday 23:50, and the two days America/Santiago changes its clocks. SQLite only;
# the four runs at once, each in a folder of its own (the machine has cores to spare for them).
CLOCK_INSTANTS = 2026-11-30T00:30:00-03:00 2026-12-04T23:50:00-03:00 2026-04-04T23:30:00-04:00 \
                 2026-09-06T01:30:00-03:00
CLOCK_TESTS = tests/web/test_pages.py tests/api/test_booking_api.py tests/api/test_clinic_api.py
test-clock: install-dev
	@rm -rf .clock-runs; mkdir -p .clock-runs; \
	for at in $(CLOCK_INSTANTS); do \
	  (CLINICA_TEST_NOW=$$at $(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=.clock-runs/$$at \
	     -m "not concurrency" -k "not postgresql" $(CLOCK_TESTS) > .clock-runs/$$at.log 2>&1; \
	   echo $$? > .clock-runs/$$at.status) & \
	done; wait; failed=0; \
	for at in $(CLOCK_INSTANTS); do \
	  echo "== the date-sensitive tests at $$at"; \
	  if [ "$$(cat .clock-runs/$$at.status)" = 0 ]; then tail -n 1 .clock-runs/$$at.log; \
	  else tail -n 60 .clock-runs/$$at.log; failed=1; fi; \
	done; exit $$failed

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis .clock-runs

# A large clinic (50 doctors, ~200 000 appointments, the three weeks ahead booked solid), timed
# in-process and with wrk against gunicorn (the busy pages and APIs, the month view and the next
# free times across the 50 doctors), each GET's query count checked against a small clinic's,
# then the worker sending 10 000 due reminders to a local SMTP server beside a bare smtplib client
# (BENCH_REMINDERS=n for another count, 0 to skip); SQLite by default, DATABASE_URL=postgresql://...
# for an empty PostgreSQL database.
bench: install-dev
	$(BIN)/python -m bench.run
