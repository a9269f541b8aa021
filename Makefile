# Everything a fresh machine with Python 3.11 and make needs: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
LANGS  := tr az kk ky uz tk ru en

.PHONY: demo test run locales compile venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when pyproject.toml changes; dev extras always, they are small.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

compile: venv
	$(BIN)/pybabel compile -d locales -D messages --statistics 2>&1 | grep -v '^$$' || true
	@for l in $(LANGS); do test -f locales/$$l/LC_MESSAGES/messages.mo || { echo "missing catalogue for $$l"; exit 1; }; done

# Extract msgids from the code, merge them into every catalogue, compile.
locales: venv
	$(BIN)/pybabel extract -F babel.cfg -k _ -k __ -k gettext -k lazy_gettext -k ngettext:1,2 -k pgettext:1c,2 -k npgettext:1c,2,3 \
	    --no-location --sort-output --project=kardes -o locales/messages.pot bot handlers jobs db
	@for l in $(LANGS); do \
	    if [ -f locales/$$l/LC_MESSAGES/messages.po ]; then \
	        $(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i locales/messages.pot -d locales -D messages -l $$l; \
	    else \
	        $(BIN)/pybabel init -i locales/messages.pot -d locales -D messages -l $$l; \
	    fi; \
	done
	$(MAKE) compile

demo: compile
	$(BIN)/kardes db upgrade
	$(BIN)/kardes demo

run: compile
	$(BIN)/kardes db upgrade
	$(BIN)/kardes run

# Four workers (pytest-xdist) share the suite: each has its own database, sandbox and bots. Much
# of a chat test is waiting for the bot's round trips, so four keep two cores busy. The slow tests
# start first (tests/conftest.py) and the three warm-process tests share one worker (loadgroup):
# on PostgreSQL 81 s against 94 s for three workers with worksteal, the same on SQLite.
PYTEST_ARGS ?= -n 4 --dist loadgroup

# Bytecode and pytest's rewritten test modules are cached even where the environment says not to
# (PYTHONDONTWRITEBYTECODE): otherwise every worker compiles the project and rewrites every test
# module again, about 3.5 s of CPU each, on every run.
test: compile
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
