# Pitboss developer commands. `make test` is what CI runs (.ci/run).
#
# When PITBOSS_BROKER_URL is set (an external Kafka), `broker`, `stop` and `reset` leave
# it alone; otherwise they manage the local noida-db broker under .state/broker.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# The local development broker; not a runtime dependency of the package.
LOCAL_BROKER_PKG ?= noida-db

.DEFAULT_GOAL := help
.PHONY: help install browser broker topics run test test-fast lint bench reset stop clean constraints

help:
	@echo "make install    create $(VENV) and install pitboss with dev tools (pinned)"
	@echo "make browser    Debian's Chromium (apt-get, as root) and playwright-core for the browser tests"
	@echo "make broker     start the local Kafka broker (skipped if PITBOSS_BROKER_URL is set)"
	@echo "make topics     create every topic with its partitions and configs"
	@echo "make run        a worker, the simulator and the rewards on screen (scripts/run.py);"
	@echo "                starts the local broker if none answers, and stops only that one"
	@echo "make test       every test (unit and end-to-end against the broker); what CI runs"
	@echo "make test-fast  the unit tests only: no broker, fewer hypothesis examples"
	@echo "make lint       ruff, the dead-code check (vulture), and the Kubernetes and compose files"
	@echo "make bench      Pitboss against its peers, latency, recovery (python -m scripts.bench)"
	@echo "make stop       stop the local broker (data kept)"
	@echo "make reset      stop the local broker, wipe its data and the workers' state"
	@echo "make clean      stop the broker, remove $(VENV) and .state"
	@echo "make constraints  re-pin constraints.txt from a fresh venv"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-installs only when the package metadata or the pins change.
$(STAMP): setup.cfg pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install -c constraints.txt -e '.[dev]' $(LOCAL_BROKER_PKG)
	@touch $@

install: $(STAMP)

# The browser tests drive Debian's Chromium (apt-get: root, or a clear message) with
# playwright-core pinned by tests/browser/package-lock.json; Playwright downloads no browser.
CHROMIUM := $(or $(PITBOSS_CHROMIUM),/usr/bin/chromium)
BROWSER_STAMP := tests/browser/node_modules/.installed

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "$(CHROMIUM) is missing: install Debian's chromium as root" \
	  "(apt-get install -y chromium), or set PITBOSS_CHROMIUM to a Chromium" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

browser: $(CHROMIUM) $(BROWSER_STAMP)

broker: install
	$(PY) scripts/broker.py start

# `topics create` needs a token with topics.admin: PITBOSS_TOKEN(_FILE) if given, else an admin
# token minted from the development identity (docs/security.md, "Commands that change things").
topics: broker
	@if [ -n "$$PITBOSS_TOKEN$$PITBOSS_TOKEN_FILE" ]; then $(VENV)/bin/pitboss topics create; else \
	  export PITBOSS_DEV_IDENTITY="$${PITBOSS_DEV_IDENTITY:-$${PITBOSS_STATE_DIR:-.state}/dev-identity}" && \
	  PITBOSS_TOKEN=$$($(PY) -m app.security mint-token --dir "$$PITBOSS_DEV_IDENTITY" \
	    --sub make-topics --role admin --ttl 300) $(VENV)/bin/pitboss topics create; fi

# run.py starts the broker itself (if none answers) and creates missing topics, so that on
# Ctrl-C it stops the broker only if it started it.
run: install
	$(PY) scripts/run.py

# The hypothesis profiles are tests/support/hypothesis_profiles.py's.
test: topics browser
	PITBOSS_HYPOTHESIS_PROFILE=full $(VENV)/bin/pytest

test-fast: install
	PITBOSS_HYPOTHESIS_PROFILE=fast $(VENV)/bin/pytest tests/unit -q

# The deployment files, offline: docker/k8s/ against the Kubernetes API's schemas (strict: an
# unknown field fails) for the oldest and newest versions supported, and docker/compose.yaml
# against the compose-spec schema (no compose client or engine runs here).
K8S_MANIFESTS := $(filter-out docker/k8s/kustomization.yaml,$(wildcard docker/k8s/*.yaml))

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/vulture
	$(VENV)/bin/kubernetes-validate --strict --quiet -k 1.30.0 $(K8S_MANIFESTS)
	$(VENV)/bin/kubernetes-validate --strict --quiet $(K8S_MANIFESTS)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker/compose.yaml

# The benchmark's peers (Quix Streams) come from the `bench` extra, installed on first use.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e '.[dev,bench]'
	@touch $@

# It runs on a private broker of its own (see scripts/bench/__main__.py), not on `make broker`'s:
# a million player states would make the shared broker's data file ~2 GB. BENCH_ARGS
# passes options, e.g. BENCH_ARGS="--only bare,quix --events 20000".
bench: $(BENCH_STAMP)
	$(PY) -m scripts.bench $(BENCH_ARGS)

stop:
	@if [ -x $(PY) ]; then $(PY) scripts/broker.py stop; else echo "no $(VENV): nothing to stop"; fi

reset: install
	$(PY) scripts/broker.py reset

clean: stop
	rm -rf $(VENV) .state

# Pins every transitive dependency from a throw-away venv built without constraints.
constraints:
	rm -rf .venv-pin
	$(PYTHON) -m venv .venv-pin
	.venv-pin/bin/python -m pip install --quiet --upgrade pip
	.venv-pin/bin/python -m pip install --quiet -e '.[dev,bench]' $(LOCAL_BROKER_PKG)
	.venv-pin/bin/python -m pip freeze --exclude-editable | grep -iv '^pitboss[ =@]' > constraints.txt
	rm -rf .venv-pin
	@echo "constraints.txt: $$(wc -l < constraints.txt) pins"
