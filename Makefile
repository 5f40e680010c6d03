# cairn — make demo (rehearse on a throwaway cluster / the twin), make test (the whole suite).
SHELL := /bin/bash
GO ?= go
PKGS_DEBIAN := postgresql-15 postgresql-client-15 openssh-server openssh-client rsync pgbackrest cron tmux awscli pgcopydb postgresql-plpython3-15 zip sudo
BIN := bin/cairn

.PHONY: all deps build test test-short fuzz vet demo demo-sample bench bench-migrate clean lambda lambda-all

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

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 10s ./runbooks
	$(GO) test -run '^$$' -fuzz '^FuzzParseAssignments$$' -fuzztime 5s ./runbooks
	$(GO) test -run '^$$' -fuzz '^FuzzTemplate$$' -fuzztime 5s ./internal/ref

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

clean:
	rm -rf bin
