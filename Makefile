# Parley. `make run` starts the whole product; `make test` installs what the
# tests need (Debian's chromium, coturn and apertium, npm packages) when missing and
# runs every test. See README.md.

SHELL := /bin/bash
GO    ?= go
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
WEB   := widget agent-app e2e

# Test against local PostgreSQL and Redis when they answer (CI starts them).
PARLEY_TEST_POSTGRES ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable')
PARLEY_TEST_REDIS    ?= $(shell (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && echo 127.0.0.1:6379)
export PARLEY_TEST_POSTGRES PARLEY_TEST_REDIS

# Fuzz targets run briefly in `make test` (corpora in testdata/fuzz).
# Bounded by executions, not seconds: a time limit that expires while Go
# minimizes a new input fails the run with "context deadline exceeded".
FUZZTIME ?= 150000x
FUZZ := ./pkg/protocol:FuzzDecode ./pkg/auth:FuzzVisitorToken ./pkg/auth:FuzzVerifyIdentityJWT ./pkg/keyring:FuzzOpen

.PHONY: run build test test-deps test-go test-fuzz test-web test-e2e test-fleet fleet lint web bench bench-quick bench-reports bench-search bench-dashboard tour

run:
	$(GO) run ./signaling

build:
	$(GO) build -o bin/signaling ./signaling

# What the tests need, installed only when missing.
test-deps:
	@if ! command -v chromium >/dev/null || ! command -v turnserver >/dev/null; then \
		echo "installing Debian packages chromium and coturn"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium coturn >/dev/null; \
	fi
	@if ! command -v apertium >/dev/null || ! apertium -l 2>/dev/null | grep -qE '^\s*spa-eng\s*$$'; then \
		echo "installing Debian packages apertium and apertium-eng-spa (offline translation)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq apertium apertium-eng-spa >/dev/null; \
	fi
	@for d in $(WEB); do \
		if [ ! -f $$d/node_modules/.package-lock.json ] || [ $$d/package-lock.json -nt $$d/node_modules/.package-lock.json ]; then \
			(cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
		fi; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test-go:
	@echo "PostgreSQL: $${PARLEY_TEST_POSTGRES:-not tested}; Redis: $${PARLEY_TEST_REDIS:-not tested}"
	$(GO) test -race -timeout 25m ./...

# The multi-node tests alone, with their figures (they also run in
# test-go): the failure test (kill -9 of a node and of a relay, Redis and
# PostgreSQL restarts) and the routing race across three nodes.
test-fleet:
	$(GO) test -v -count=1 -timeout 8m ./fleet

# Three signaling nodes and two relays on local PostgreSQL and Redis
# (README, "Running a fleet"); `scripts/fleet.sh stop` stops them.
fleet:
	bash scripts/fleet.sh start

test-fuzz:
	@for t in $(FUZZ); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x $$pkg || exit 1; \
	done

# Front ends: type checks, unit tests, and committed dist/ equal to a fresh build.
test-web:
	cd widget && npm run --silent check && npm test && npm run --silent check-dist
	cd agent-app && npm run --silent check && npm run --silent check-dist

test-e2e:
	cd e2e && npm test

test: test-deps lint test-go test-fuzz test-web test-e2e

# Rebuild both front ends into dist/ (commit the result).
web:
	cd widget && npm run build
	cd agent-app && npm run build

# Benchmarks run on PostgreSQL too when it answers (a fresh schema per run).
bench:
	PARLEY_BENCH_POSTGRES=$${PARLEY_BENCH_POSTGRES:-$$PARLEY_TEST_POSTGRES} bash bench/run.sh full

bench-quick:
	PARLEY_BENCH_POSTGRES=$${PARLEY_BENCH_POSTGRES:-$$PARLEY_TEST_POSTGRES} bash bench/run.sh quick

# Reports over a generated year: 100,000 conversations, 1,000,000 messages,
# on SQLite and (when it answers) PostgreSQL; prints the timings.
# Search over 1,000,000 generated messages on SQLite and (when
# PARLEY_TEST_POSTGRES is set) PostgreSQL: index time and query times.
bench-search:
	PARLEY_SEARCH_MESSAGES=1000000 $(GO) test -v -count=1 -timeout 90m -run TestSearchScale ./pkg/store

# The dashboard's first view on 10,000 conversations and 1,000,000
# messages, timed in headless Chromium with a trace; writes
# docs/bench-dashboard.md.
bench-dashboard: test-deps
	cd e2e && node firstview.bench.mjs

# The README tour's screenshots, taken by the browser tests (docs/tour).
tour: test-deps
	bash scripts/tour.sh

bench-reports:
	PARLEY_REPORT_CONVERSATIONS=100000 $(GO) test -v -count=1 -timeout 60m -run TestReportScale ./pkg/report
