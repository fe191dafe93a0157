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
RUN := $(UV) run --locked --no-sync

.PHONY: help up down test lint format bench install clean-state proxy-tools

help:
	@echo "make up     start PostgreSQL, migrate, start Dagster (webserver + daemon); print URLs"
	@echo "make down   stop everything make up started (data is kept in .pwr/)"
	@echo "make test   ruff + pytest against a real PostgreSQL"
	@echo "make bench  benchmarks (prints figures; not part of make test)"

$(UV):
	@mkdir -p $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked
	@touch $@

install: .venv/.synced

up: install
	$(RUN) pwr up

down: install
	$(RUN) pwr down

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: install
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

test: install lint proxy-tools
	$(RUN) pytest

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
