# cairn — make demo (rehearse on a throwaway cluster / the twin), make test (the whole suite).
SHELL := /bin/bash
GO ?= go
PKGS_DEBIAN := postgresql-15 postgresql-client-15 openssh-server openssh-client rsync pgbackrest cron tmux awscli pgcopydb postgresql-plpython3-15 postgresql-server-dev-15 libkrb5-dev gcc zip sudo nodejs
# npm is its own package in Debian; a nodejs from elsewhere (NodeSource) ships it and conflicts with it
PKGS_DEBIAN += $(if $(shell command -v npm),,npm)
# mermaid, jsdom and dompurify, pinned in package-lock.json: the tests check the report's gantt block
# with mermaid's own parser (scripts/mermaid/check.mjs)
MERMAID := scripts/mermaid/node_modules/.package-lock.json
BIN := bin/cairn

.PHONY: all deps build test test-short fuzz vet demo demo-sample bench bench-migrate bench-downtime clean lambda lambda-all

# the dblink-secret runbook's Lambda function, embedded in cairn (x86_64 for this machine; lambda-all adds arm64)
LAMBDA_BUNDLE := steps/lambda/bundle
LAMBDA_SRC := $(wildcard cmd/cairn-secret-lambda/*.go) scripts/build-lambda.sh go.sum

all: build

## deps: install the Debian packages cairn's tests and demo use (as root); otherwise say what to install
deps:
	@missing=""; for p in $(PKGS_DEBIAN); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "cairn needs these Debian packages:$$missing"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	fi
	@mkdir -p /run/sshd 2>/dev/null || true
	@$(MAKE) --no-print-directory $(MERMAID)

$(MERMAID): scripts/mermaid/package.json scripts/mermaid/package-lock.json
	cd scripts/mermaid && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: lambda
	$(GO) build -o $(BIN) ./cmd/cairn

lambda: $(LAMBDA_BUNDLE)/cairn-secret-lambda-x86_64.zip

lambda-all: $(LAMBDA_BUNDLE)/cairn-secret-lambda-x86_64.zip $(LAMBDA_BUNDLE)/cairn-secret-lambda-arm64.zip

$(LAMBDA_BUNDLE)/cairn-secret-lambda-%.zip: $(LAMBDA_SRC)
	./scripts/build-lambda.sh $*

vet:
	$(GO) vet ./...

## test: vet, the whole suite on real PostgreSQL/sshd/rsync/pgbackrest/cron/twin, then brief fuzzing
test: deps lambda vet
	$(GO) test -count=1 -timeout 25m ./...
	$(MAKE) --no-print-directory fuzz

# Budgets are execution counts, never durations: a duration -fuzztime can fail a clean run with a bare
# "context deadline exceeded" at its boundary on a loaded machine (golang/go#75804, fixed only in Go
# 1.27); a count takes the deadline out of the coordinator. Minimization is counted too. A crash still
# fails the stage and writes its input under testdata/fuzz/. scripts/fuzz-repeat.sh runs this twenty times.
FUZZ_FLAGS := -run '^$$' -fuzzminimizetime 2000x
fuzz:
	$(GO) test $(FUZZ_FLAGS) -fuzz '^FuzzLoad$$' -fuzztime $(or $(FUZZ_LOAD_N),40000x) ./runbooks
	$(GO) test $(FUZZ_FLAGS) -fuzz '^FuzzParseAssignments$$' -fuzztime $(or $(FUZZ_PARSE_N),20000x) ./runbooks
	$(GO) test $(FUZZ_FLAGS) -fuzz '^FuzzTemplate$$' -fuzztime $(or $(FUZZ_REF_N),20000x) ./internal/ref

## demo: cairn on its rehearsal twin, rds-encrypt ready to rehearse
demo: deps build
	@./scripts/demo.sh

## demo-sample: the generic sample runbook against a throwaway local cluster
demo-sample: deps build
	@./scripts/demo-sample.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tui/...

bench-migrate: deps build
	@./bench/migrate.sh

## bench-downtime: rds-encrypt's strategies under a writer, downtime as the writer sees it (as root; not in make test)
## DOWNTIME_FLAGS e.g. "-rows 30000,300000 -speeds fast -strategies replicate"
bench-downtime: deps build
	$(GO) run ./bench/downtime -cairn $(BIN) $(DOWNTIME_FLAGS)

clean:
	rm -rf bin
