# Gatehouse. The two commands that matter: make run, make test.
GO       ?= go
BIN      := bin/gatehouse
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run run-pg build test check generate deps bench bench-engines bench-api test-reliability test-reliability-short fuzz screenshots clean vnu

## run: build and serve the demo on http://127.0.0.1:8080
run: build
	./$(BIN) serve --demo --data ./data

## run-pg: the demo on PostgreSQL: start a throwaway PostgreSQL (a new
## temporary directory, 127.0.0.1 on a free port, durability off), serve the
## demo on it (serve --demo --database URL) on http://127.0.0.1:8080, and on
## Ctrl-C stop both and remove the data
run-pg: build
	@$(MAKE) --no-print-directory deps DEBS='$(filter postgresql,$(DEBS))'
	$(GO) build -o bin/pgtemp ./cmd/pgtemp
	./bin/pgtemp -- ./$(BIN) serve --demo --data ./data-pg

## build: compile the single self-contained binary into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse

## generate: regenerate the templ views
generate:
	$(GO) tool templ generate

## check: formatting, vet, go.mod tidy, generated files up to date, and the
## OpenAPI document (handlers/openapi.json) valid and describing every API route
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy: run go mod tidy and commit"; exit 1; }
	$(GO) test -run '^TestOpenAPIDocument$$' ./handlers
	@tmp=$$(mktemp -d); cp -r views $$tmp/; \
	  $(GO) tool templ fmt $$tmp/views >/dev/null 2>&1; \
	  for f in views/*.templ; do cmp -s $$f $$tmp/$$f || { echo "$$f is not templ-formatted: run go tool templ fmt views"; rm -rf $$tmp; exit 1; }; done; \
	  $(GO) tool templ generate -path $$tmp >/dev/null 2>&1; \
	  for f in views/*_templ.go; do cmp -s $$f $$tmp/$$f || { echo "$$f is stale: run make generate and commit"; rm -rf $$tmp; exit 1; }; done; rm -rf $$tmp
	@echo "check: ok"

## deps: install what the tests need from Debian when missing: Chromium for
## the browser tests, nginx for the gateway test, wrk for the load script,
## PostgreSQL for the PostgreSQL tests (store/pgtest starts it) and run-pg
DEBS := $(if $(wildcard $(CHROMIUM)),,chromium) $(if $(wildcard /usr/sbin/nginx),,nginx) $(if $(wildcard /usr/bin/wrk),,wrk) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) \
	$(if $(shell command -v java),,default-jre-headless) $(if $(shell command -v npm),,npm)
deps:
	@if [ -n "$(strip $(DEBS))" ]; then \
	  echo "Installing from Debian: $(strip $(DEBS))"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEBS) >/dev/null; \
	fi
	$(GO) mod download

## vnu: the Nu Html Checker (the W3C validator, from npm's vnu-jar), with
## which the browser tests check the markup of every page they load
VNU_VERSION := 26.9.27
VNU_JAR := .cache/vnu/node_modules/vnu-jar/build/dist/vnu.jar
vnu: $(VNU_JAR)
$(VNU_JAR):
	npm install --no-save --no-audit --no-fund --silent --prefix .cache/vnu vnu-jar@$(VNU_VERSION)

## test: every test, race detector on, browser tests in headless Chromium;
## the multi-process cluster test on its own, printing its propagation
## figures (PostgreSQL, three replicas, nginx); then the store's and the
## handlers' tests again on PostgreSQL (a throwaway server that store/pgtest
## starts; with CI=true a missing PostgreSQL or nginx fails)
test: deps check vnu
	GATEHOUSE_CHROMIUM=$(CHROMIUM) GATEHOUSE_VNU_JAR=$(abspath $(VNU_JAR)) $(GO) test -race -count=1 -timeout 15m -skip '^TestCluster$$' ./...
	$(GO) test -race -count=1 -timeout 5m -v -run '^TestCluster$$' ./cmd/gatehouse
	GATEHOUSE_TEST_ENGINE=postgres $(GO) test -count=1 -timeout 15m ./store/... ./handlers

## bench: list page at 10k tokens (console and API with RQL filters and
## orders) and audit tab at 100k records (p99 server time), audit export
## memory at 10k and 100k records
bench:
	$(GO) test -run '^$$' -bench 'ListPage|APIList|AuditTab' -benchtime 300x ./handlers
	$(GO) test -run '^$$' -bench 'AuditExport' -benchtime 3x ./handlers

## bench-engines: SQLite and PostgreSQL side by side on the same bulk data
## (100 000 tokens, 1 000 000 audit records): console list pages, the audit
## trail and a token's tab, RQL list calls; p50/p99 server time and the ratio
bench-engines:
	$(GO) test -run '^$$' -bench '^BenchmarkEngines$$' -benchtime 1x -timeout 30m ./handlers

## bench-api: the real binary under wrk, 64 connections: throughput of the
## gateway verification over a bare handler (target ≥ 0.85), errors, p99; on
## SQLite, then on a throwaway PostgreSQL (verify is served from memory on both)
MIN_RATIO ?= 0.85
bench-api: deps build
	$(GO) run ./cmd/loadtest -bin $(BIN) -connections 64 -duration 12s -rounds 3 -min-ratio $(MIN_RATIO)
	$(GO) run ./cmd/loadtest -bin $(BIN) -engine postgres -connections 64 -duration 12s -rounds 3 -min-ratio $(MIN_RATIO)

## test-reliability: seed (100 000 tokens and 1 000 000 audit records in
## under a minute), load (64 connections for 30 s over list pages, details
## pages and verifications: 0 errors, p99, peak memory < 100 MB), crash (20
## rounds of kill -9 during a write storm, on SQLite and on a throwaway
## PostgreSQL: integrity, chain, every acknowledged edit present), the
## cluster (the same load on 3 replicas on PostgreSQL behind nginx, then on
## one of them alone: throughput side by side, 0 errors, memory per replica),
## the hostile-input catalogue, and axe-core and the keyboard on every page
HOSTILE_AND_A11Y := $(GO) test -count=1 -v -run '^TestHostileInputCatalogue$$' ./handlers && \
	GATEHOUSE_CHROMIUM=$(CHROMIUM) $(GO) test -count=1 -v -run '^(TestBrowserAccessibility|TestBrowserKeyboardOnly|TestBrowserFocusVisibleEverywhere)$$' ./cmd/gatehouse
test-reliability: deps build
	$(GO) run ./cmd/loadtest -bin $(BIN) -mix -tokens 100000 -audit 1000000 -connections 64 -duration 30s -max-rss 100 -max-seed 60s
	$(GO) run ./cmd/loadtest -bin $(BIN) -crash 20
	$(GO) run ./cmd/loadtest -bin $(BIN) -crash 20 -engine postgres
	$(GO) run ./cmd/loadtest -bin $(BIN) -mix -cluster 3 -tokens 100000 -audit 1000000 -connections 64 -duration 30s -max-rss 100
	$(HOSTILE_AND_A11Y)

## test-reliability-short: the load and crash parts, smaller, for CI (make
## test runs the catalogue and the browser checks)
test-reliability-short: deps build
	$(GO) run ./cmd/loadtest -bin $(BIN) -mix -tokens 10000 -audit 100000 -connections 64 -duration 10s -max-rss 100
	$(GO) run ./cmd/loadtest -bin $(BIN) -crash 5
	$(GO) run ./cmd/loadtest -bin $(BIN) -crash 5 -engine postgres
	$(GO) run ./cmd/loadtest -bin $(BIN) -mix -cluster 3 -tokens 10000 -audit 100000 -connections 64 -duration 10s -max-rss 100

## fuzz: the token-value, bearer and RQL fuzzers, each for a count of
## executions (10–25 s each on a 2-core machine). Counts, not durations:
## Go 1.26's fuzz coordinator can fail a duration run with "context deadline
## exceeded" at its end (go.dev/issue/75804, fixed in Go 1.27).
## FUZZTIME=500000x overrides all three (a duration such as 30s works too,
## with that risk).
FUZZ_TOKEN ?= 90000x
FUZZ_BEARER ?= 50000x
FUZZ_RQL ?= 12000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseTokenValue$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_TOKEN)) ./store
	$(GO) test -run '^$$' -fuzz '^FuzzBearer$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_BEARER)) ./handlers
	$(GO) test -run '^$$' -fuzz '^FuzzParseRQL$$' -fuzztime $(or $(FUZZTIME),$(FUZZ_RQL)) ./handlers

## screenshots: the README's screenshots (docs/screenshots), taken in
## headless Chromium from the demo; SHOTS=DIR ALL=1 takes every page at 1280
## and 390 px into DIR instead
SHOTS ?= $(CURDIR)/docs/screenshots
screenshots: deps
	GATEHOUSE_SCREENSHOTS=$(abspath $(SHOTS)) GATEHOUSE_SCREENSHOTS_ALL=$(ALL) GATEHOUSE_CHROMIUM=$(CHROMIUM) \
	  $(GO) test -count=1 -run '^TestScreenshots$$' ./cmd/gatehouse

clean:
	rm -rf bin
