# Two commands for a fresh machine with Python 3.11:
#   make run   - install, migrate, seed the demo and serve http://127.0.0.1:8000 (SQLite, in-process tasks)
#   make test  - install what the tests need, make sure PostgreSQL, Redis and Chromium are there, run the whole suite

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# The test database and broker; override either on the command line or in the environment.
DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/0
# A local trial of the production processes: a throwaway key, plain http on this machine.
PRODUCTION_ENV = DATABASE_URL="$(DATABASE_URL)" REDIS_URL="$(REDIS_URL)" DEBUG=false \
	SECRET_KEY=local-production-trial-only ALLOWED_HOSTS=127.0.0.1,localhost SECURE_COOKIES=false

.PHONY: run run-production test install install-dev services browser lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

run: install
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The production set of processes (Procfile: web on gunicorn, a Celery worker, Celery beat),
# run locally against PostgreSQL and Redis. Ctrl-C stops all three.
run-production: install services
	$(PRODUCTION_ENV) $(BIN)/python manage.py migrate --noinput
	$(PRODUCTION_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(PRODUCTION_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

services:
	.ci/services "$(DATABASE_URL)" "$(REDIS_URL)"

# Debian's Chromium for the browser tests (installed with apt-get where it is missing).
browser:
	.ci/browser

# One test process per core, each on its own test database; a test file stays on one process,
# so the file-scoped demo data is seeded once and the Celery integration tests never overlap.
PARALLEL = -n auto --dist loadfile

# The tests that depend on the project Safeshare is added to (its URLs under another prefix,
# its pages and templates, the flow and its timers, the sign-in pages) run a second time in a
# host project that is not config/ (tests/host_project), on its own test database, to prove
# Safeshare installs as a plugin. The rules and services below the pages do not depend on it.
HOST_PROJECT_TESTS = tests/test_plugin.py tests/test_flow_paths.py \
	tests/test_http_walkthroughs.py tests/test_access_matrix.py tests/test_escalation.py \
	tests/test_decision_record.py tests/test_date_inputs.py

test: install-dev services browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	DATABASE_URL="$(DATABASE_URL)" REDIS_URL="$(REDIS_URL)" $(BIN)/pytest $(PARALLEL) \
		--cov --cov-report=term
	DATABASE_URL="$(DATABASE_URL)" TEST_DATABASE_NAME=test_host_project $(BIN)/pytest $(PARALLEL) \
		--ds=tests.host_project.settings -p no:cacheprovider -q $(HOST_PROJECT_TESTS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache
