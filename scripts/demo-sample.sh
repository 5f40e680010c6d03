#!/usr/bin/env bash
# Runs the sample runbook against a throwaway local PostgreSQL cluster (removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d /var/tmp/cairn-demo-XXXXXX); chmod 755 "$dir"
trap './bin/cairn __pgcluster down --dir "$dir/pg" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
eval "$(./bin/cairn __pgcluster up --dir "$dir/pg")"
export CAIRN_STATE_DIR="$dir/state" CAIRN_ROLE_PASSWORD="demo-$(date +%s)"
./bin/cairn plan sample-role -p role=demo_app
./bin/cairn run sample-role -p role=demo_app
