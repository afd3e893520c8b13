# MedTrace: `make run` starts the app with demo data; `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test services chromium bench translations

STAMP := $(VENV)/.installed

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Installs only when pyproject.toml changed since the last install (or the
# venv is new): restarting `make run` takes seconds, not a reinstall.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

run: install
	$(BIN)/python run.py

# Recompile the .mo catalogs after editing app/translations/*/LC_MESSAGES/*.po
translations: install
	$(BIN)/python app/translations/compile.py

# PostgreSQL and Redis are started when not running (they are installed here).
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test"

# Browser tests drive Debian's Chromium (no browser downloads here).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)
	@fc-list 2>/dev/null | grep -qi "noto.*cjk" || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null)

test: install services chromium
	$(BIN)/python -m pytest -q

bench: install services
	$(BIN)/python bench/run_all.py
