# Triage Portal — everyday commands. `make run` and `make test` work from a fresh clone with
# only Python 3.11 installed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
PORT ?= 8000

# `make oidc-provider` installs the test identity provider alone.
.PHONY: oidc-provider install run test test-quick lint format deploy-check bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

# The OpenID Connect provider the single sign-on tests run (Node.js; skipped without npm).
OIDC_PROVIDER := tests/oidc/provider
OIDC_STAMP := $(OIDC_PROVIDER)/node_modules/.installed

$(OIDC_STAMP): $(OIDC_PROVIDER)/package.json $(OIDC_PROVIDER)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
	  echo "npm not found: the single sign-on tests will be skipped (install Node.js 20+ to run them)"; \
	fi

install: $(STAMP) $(OIDC_STAMP)

oidc-provider: $(OIDC_STAMP)

## Start web (port $(PORT)), a Celery worker and beat with a seeded sandbox and demo team.
run: install
	PORT=$(PORT) bin/run-dev

## The whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, else SQLite).
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

## A quick subset: no browser, worker or slow tests.
test-quick: install
	$(PY) -m pytest -m "not slow and not browser and not worker" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider tests/test_architecture.py

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Django's deployment checklist with production-like settings: must report nothing.
deploy-check: install
	DEBUG=0 SECRET_KEY="$$(openssl rand -hex 40)" \
	PORTAL_ENCRYPTION_KEYS="$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
	ALLOWED_HOSTS=portal.example.com SANDBOX_ENABLED=0 \
	$(PY) manage.py check --deploy --fail-level WARNING

## Performance figures into bench-results.json. SCALE=1000000 runs the benchmarks that grow with
## the data at a million findings (about an hour and a half; see the README).
bench: install
	$(PY) -m bench

.PHONY: loadtest loadtest-short loadtest-seed profile
## Load test: gunicorn + worker on PostgreSQL/Redis, 100,000 findings, 100 browsing + 10 bulk
## users for 60 s; prints requests/s, p50/p95/p99, errors, the server's CPU per request and
## the share of requests served (loadtest-results.json).
loadtest: install
	$(PY) -m loadtest.run $(LOADTEST_ARGS)

## The same at CI size: 8 + 2 users, 15 s, 5,000 findings.
loadtest-short: install
	$(PY) -m loadtest.run --short $(LOADTEST_ARGS)

## The load test's database without the load (LOADTEST_ARGS=--short: 5,000 findings), for
## `make profile`; prints its DATABASE_URL.
loadtest-seed: install
	$(PY) -m loadtest.run --seed-only $(LOADTEST_ARGS)

## One page's time by layer (middleware, queries, model building, templates, view), median of
## 5 requests, on the load test's database (DATABASE_URL): PAGE=findings, or a /t/load/ path.
profile: install
	$(PY) -m loadtest.profile $(if $(PAGE),--page "$(PAGE)") $(PROFILE_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
