#!/usr/bin/env bash
# make demo: start the rehearsal twin (a local AWS whose RDS instances are real PostgreSQL clusters)
# seeded with the demo application, then open cairn on it with rds-encrypt ready to rehearse.
# The twin keeps running afterwards (`./bin/cairn twin down` stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
cairn=./bin/cairn
state="${CAIRN_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/cairn}"
twin_dir="$state/twin-demo"
if [ "$(id -u)" = 0 ]; then
	# as root the twin's clusters run as `postgres`, which cannot reach /root: keep the twin elsewhere
	twin_dir="${CAIRN_DEMO_DIR:-/var/lib/cairn}/twin-demo"
	install -d -m 0755 "$(dirname "$twin_dir")"
fi
rows="${DEMO_ROWS:-200000}"

eval "$($cairn twin up --dir "$twin_dir" --detach --seed demo --rows "$rows" --speed realistic)"
echo "twin ready at $AWS_ENDPOINT_URL (state in $twin_dir; stop it with: $cairn twin down --dir $twin_dir)" >&2
if ! $cairn list | grep -q '^rds-encrypt '; then
	echo "rds-encrypt is not built into this cairn yet: opening the wizard" >&2
	exec $cairn
fi
args=(run rds-encrypt -p instance=app-db -p kms-key=alias/cairn-demo -p credentials-secret=cairn/app-db/master --rehearsal)
if [ -t 1 ]; then
	exec $cairn "${args[@]}"
fi
# not on a terminal: show the plan instead of running
exec $cairn plan rds-encrypt -p instance=app-db -p kms-key=alias/cairn-demo -p credentials-secret=cairn/app-db/master
