# PwR Platform — the two commands: `make up` and `make test`.
# Needs only python3 (3.11) and make: a pinned uv is bootstrapped into .pwr/tools, and uv never
# downloads a Python of its own (it uses the python3 on PATH).

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .pwr/tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_LINK_MODE := copy
# Install compiled bytecode (.pyc) with every package, as the Docker images do. Without it, a
# machine or container with PYTHONDONTWRITEBYTECODE=1 (common, and set on this project's CI)
# compiles Dagster, SQLAlchemy, … from source in EVERY new Python process: each Dagster run
# worker, every `pwr` command, every Superset start. `import dagster` measured 2.1 CPU-s without
# .pyc files and 0.9 CPU-s with them (issue 16).
export UV_COMPILE_BYTECODE := 1
RUN := $(UV) run --locked --no-sync

.PHONY: help up down test lint format bench install clean-state proxy-tools superset-install superset-lock browser

help:
	@echo "make up     start PostgreSQL, migrate, start Dagster (webserver + daemon); print URLs"
	@echo "make down   stop everything make up started (data is kept in .pwr/)"
	@echo "make test   ruff + pytest against a real PostgreSQL"
	@echo "make bench  benchmarks (prints figures; not part of make test)"
	@echo "make superset-install  Superset's own virtualenv (.venv-superset) from superset/requirements.lock"

$(UV):
	@mkdir -p $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The stamp's name changed when bytecode compilation was added: an existing .venv syncs once more.
.venv/.synced-bytecode: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked
	@# the project itself is installed editable (uv compiles site-packages only)
	$(UV) run --locked --no-sync python -m compileall -q -j 0 pwr_platform bench
	@touch $@

install: .venv/.synced-bytecode

up: install superset-install
	$(RUN) pwr up

down: install
	$(RUN) pwr down

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: install
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

# Two pytest-xdist workers (PYTEST_WORKERS=0 runs in one process): the session Superset's tests
# stay together in one worker, started first; the other worker takes everything else around them
# (groups: pwr_platform_tests/conftest.py). PYTEST_ARGS adds options or selects tests.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
test: install lint superset-install browser proxy-tools
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

bench: install
	$(RUN) python -m bench

clean-state:
	@echo "This deletes .pwr/ (database files, Dagster history). Run 'make down' first."

# --------------------------------------------------------------------------- docker/ proxy checks
# Debian's caddy validates docker/Caddyfile and serves it over HTTPS in the tests
# (pwr_platform_tests/test_docker_proxy.py). Installed only when missing and only as root; the
# package's systemd unit is disabled at once, so it never starts a proxy on this machine's :80.
proxy-tools:
	@if command -v caddy >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian caddy (checks docker/Caddyfile in the tests) …"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null; \
		if command -v systemctl >/dev/null; then systemctl disable --now caddy.service >/dev/null 2>&1 || true; fi; \
	else echo "note: caddy missing (install Debian's caddy package) – the docker proxy tests will fail"; fi

# --------------------------------------------------------------------------- Superset
# Superset is an application with its own virtualenv: it needs SQLAlchemy < 2 and pandas < 2.2,
# the platform uses 2.x. requirements.lock pins every package with hashes (from requirements.in).
SUPERSET_VENV := .venv-superset

$(SUPERSET_VENV)/.installed: $(UV) superset/requirements.lock
	$(UV) venv --quiet --allow-existing --python "$(UV_PYTHON)" $(SUPERSET_VENV)
	@# --python: name the venv explicitly (UV_PYTHON, exported above, would otherwise win)
	$(UV) pip sync --quiet --require-hashes --python $(SUPERSET_VENV)/bin/python superset/requirements.lock
	@touch $@

superset-install: $(SUPERSET_VENV)/.installed

# Re-resolve the lock after editing superset/requirements.in (not needed for a normal install).
# Superset publishes the exact set it is tested with (requirements/base.txt in its repository at
# each release tag); the lock is compiled with that file as constraints, so every package
# Superset pins gets Superset's version and only what it leaves open is resolved here. Its
# "-e ./superset-core" line (a path inside Superset's own checkout) is no constraint and is
# dropped. SUPERSET_CONSTRAINTS may be a URL or a local copy of that file.
SUPERSET_VERSION = $(shell sed -n 's/^apache-superset\[postgres\]==\([^ ]*\).*/\1/p' superset/requirements.in)
SUPERSET_CONSTRAINTS ?= https://raw.githubusercontent.com/apache/superset/$(SUPERSET_VERSION)/requirements/base.txt

superset-lock: $(UV)
	@mkdir -p .pwr
	$(PYTHON) -c 'import sys, urllib.request; src = sys.argv[1]; \
		text = urllib.request.urlopen(src).read().decode() if "://" in src else open(src).read(); \
		open(sys.argv[2], "w").write("".join(l for l in text.splitlines(True) if not l.lstrip().startswith("-e ")))' \
		"$(SUPERSET_CONSTRAINTS)" .pwr/superset-constraints.txt
	$(UV) pip compile superset/requirements.in -o superset/requirements.lock \
		--constraint .pwr/superset-constraints.txt \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet

# Debian's Chromium for the browser tests (never a downloaded browser build). As root it is
# installed with apt; otherwise it must already be there (the tests say so when it is not).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian chromium for the browser tests …"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: /usr/bin/chromium missing (install Debian's chromium package) – browser tests will fail"; fi
