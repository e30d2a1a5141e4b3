# The lineage dashboard's two commands (see README): `make run` and `make test`. `make bench` measures the sync, the
# lineage pages, promotions and the audit log's verification.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1

.PHONY: setup run test lint bench clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

run: setup
	$(BIN)/python manage.py bootstrap
	@echo "Lineage dashboard: http://$(HOST):$(PORT)/  (Ctrl-C stops the server and its scheduler)"
	@if [ -n "$$REDIS_URL" ]; then \
	  $(BIN)/celery -A lineage_site worker --beat --loglevel INFO --concurrency 2 & \
	else \
	  $(BIN)/python manage.py run_scheduler & \
	fi; \
	beside=$$!; trap 'kill $$beside 2>/dev/null' EXIT; \
	$(BIN)/gunicorn lineage_site.wsgi --bind $(HOST):$(PORT) --workers 2 --timeout 120 --access-logfile -

lint: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark mirrors into a database of its own, so it never touches the dashboard's data.
BENCH_DB := sqlite:///$(CURDIR)/var/bench/site.sqlite3
bench: setup
	@mkdir -p var/bench
	DATABASE_URL=$(BENCH_DB) $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DB) $(BIN)/python manage.py bench_mlflow $(BENCH_ARGS)
	DATABASE_URL=$(BENCH_DB) $(BIN)/python manage.py bench_dvc $(DVC_BENCH_ARGS)
	DATABASE_URL=$(BENCH_DB) $(BIN)/python manage.py bench_lineage $(LINEAGE_BENCH_ARGS)
	DATABASE_URL=$(BENCH_DB) $(BIN)/python manage.py bench_promotions $(PROMOTION_BENCH_ARGS)
	DATABASE_URL=$(BENCH_DB) $(BIN)/python manage.py bench_audit $(AUDIT_BENCH_ARGS)

clean:
	rm -rf $(VENV) var
