#!/usr/bin/env bash
# fuzz-repeat.sh — run the Makefile's fuzz stage N times (default 20) while a build runs beside it,
# to show the stage cannot fail by chance on a loaded machine (its budgets are execution counts,
# see the Makefile). Prints one line per run and a closing count; exits non-zero if any run failed,
# keeping that run's output.
#   scripts/fuzz-repeat.sh [N]
#   FUZZ_REPEAT_BUILD='go build -a -o /dev/null ./cmd/cairn' scripts/fuzz-repeat.sh 20
set -uo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"
build="${FUZZ_REPEAT_BUILD:-go build -a -o /dev/null ./cmd/cairn}"
logs="$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz-repeat.XXXXXX")"

# The build beside it: rebuilt from scratch (-a) in a loop until the fuzz runs end.
( trap 'pkill -P $BASHPID; exit' TERM; while :; do $build >>"$logs/build.log" 2>&1; echo "build exit $?" >>"$logs/build.log"; done ) &
builder=$!
stop_builder() { kill "$builder" 2>/dev/null; pkill -P "$builder" 2>/dev/null; wait "$builder" 2>/dev/null; }
trap stop_builder EXIT
trap 'exit 130' INT TERM

pass=0 fail=0
for i in $(seq 1 "$n"); do
	start=$(date +%s)
	if make --no-print-directory fuzz >"$logs/run-$i.log" 2>&1; then
		pass=$((pass + 1)); verdict=PASS
	else
		fail=$((fail + 1)); verdict=FAIL
	fi
	printf 'run %2d/%d %s in %ss (load %s; last execs per target: %s)\n' "$i" "$n" "$verdict" "$(($(date +%s) - start))" \
		"$(cut -d' ' -f1 /proc/loadavg)" "$(grep -B1 -E '^(PASS|--- FAIL|FAIL)' "$logs/run-$i.log" | grep -o 'execs: [0-9]*' | awk '{print $2}' | paste -sd, -)"
	[ "$verdict" = FAIL ] && { echo "--- run $i output ($logs/run-$i.log):"; tail -n 20 "$logs/run-$i.log"; }
done
builds=$(grep -c '^build exit' "$logs/build.log" 2>/dev/null || echo 0)
echo "fuzz-repeat: $pass passed, $fail failed (builds completed beside it: $builds; logs in $logs)"
[ "$fail" -eq 0 ]
