#!/usr/bin/env bash
# bench/migrate.sh — time cairn's data-moving steps against the peers, in ONE run, on two data sets,
# between two fresh local PostgreSQL 15 clusters with the same settings (the method of
# shared/bench/migration-peers.sh: same cluster settings, checkpoint + sync before each run, methods
# interleaved inside each repetition, warm-up excluded, rows/indexes/constraints checked after each).
#
#   peers:  seed   pg_dump db > f.sql ; psql -f f.sql                     (the original article)
#           b2z0   pg_dump -Fd -j2 -Z0 ; pg_restore -j2                   (best disk peer measured)
#           b2     pg_dump -Fd -j2 ; pg_restore -j2                       (default gzip)
#           dz0    pg_dump -Fc -Z0 | pg_restore                           (stream, one job)
#           pgcopydb  pgcopydb clone --table-jobs 2 --index-jobs 2        (0.10, Debian)
#   cairn:  cdisk  the runbook's pg-dump + pg-restore steps (-Fd -j2 under an exported snapshot, gzip'd
#                  only when a sample compresses 8:1 or better (pgb yes, many no),
#                  row counts; schema by pg_restore, rows by cairn's parallel COPY FREEZE from the dump's
#                  files with each table's indexes built as it lands, the rest by pg_restore -j2)
#           cstream  the pg-stream-copy step (parallel binary COPY FREEZE under one snapshot, each
#                  table's indexes built as it lands, the rest by pg_restore -j2)
# Data sets: pgb (pgbench -i -s $SCALE: one dominant table) and many (16 tables × $ROWS rows: bigint
# key, text, two secondary indexes). Ratio = peer time ÷ cairn time (above 1: cairn is faster), on the
# minimum over REPS repetitions; the spread (max-min)/min is printed too, and the CPU floor (the
# cheapest method's CPU seconds ÷ cores).
#
# usage: [SCALE=50] [ROWS=240000] [REPS=5] [JOBS=2] [OUT=dir] [CAIRN=bin/cairn] bench/migrate.sh
#        SCALE=10 ROWS=48000 is a scaled-down run for small machines (about 1/5 of the data).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root (clusters run as the postgres user)"; exit 1; }
PGBIN=/usr/lib/postgresql/15/bin
export PATH=$PGBIN:$PATH
HERE=$(cd "$(dirname "$0")/.." && pwd)
CAIRN=${CAIRN:-$HERE/bin/cairn}
[ -x "$CAIRN" ] || (cd "$HERE" && go build -o "$CAIRN" ./cmd/cairn) || { echo "cannot build cairn"; exit 1; }
SCALE=${SCALE:-50}; ROWS=${ROWS:-240000}; REPS=${REPS:-5}; JOBS=${JOBS:-2}
METHODS=${METHODS:-"seed b2z0 b2 dz0 pgcopydb cdisk cstream"}
BASE=$(mktemp -d /var/tmp/bench-migrate-XXXXXX); chmod 755 "$BASE"
SOCK=$BASE/sock; WORK=$BASE/work; mkdir -p "$SOCK" "$WORK"; chown postgres:postgres "$SOCK"
OUT=${OUT:-$HERE/bench/results-$(date +%Y%m%d-%H%M%S)}; mkdir -p "$OUT"
RES=$OUT/results.tsv; LOG=$OUT/bench.log
HZ=$(getconf CLK_TCK); NCPU=$(nproc)
log(){ echo "$(date +%T) $*" | tee -a "$LOG" >&2; }
now(){ date +%s.%N; }
sub(){ awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a-b}'; }
port_free(){ ! ss -ltnxH 2>/dev/null | grep -qE "[:.]$1( |$)|PGSQL\.$1( |$)"; }
pick_port(){ local p; while :; do p=$((57000 + RANDOM % 1000)); port_free $p && [ "$p" != "${1:-}" ] && { echo $p; return; }; done; }
SRC_PORT=$(pick_port); TGT_PORT=$(pick_port "$SRC_PORT")
S=(-h "$SOCK" -p "$SRC_PORT" -U postgres); T=(-h "$SOCK" -p "$TGT_PORT" -U postgres)
SRCURI="postgresql://postgres@%2F${SOCK//\//%2F}:$SRC_PORT"; TGTURI="postgresql://postgres@%2F${SOCK//\//%2F}:$TGT_PORT"
sq(){ psql "${S[@]}" -X -qAt -v ON_ERROR_STOP=1 "$@"; }
tq(){ psql "${T[@]}" -X -qAt -v ON_ERROR_STOP=1 "$@"; }

init_cluster(){ local d=$BASE/$1; mkdir -p "$d"; chown postgres:postgres "$d"
  runuser -u postgres -- initdb -D "$d/data" -A trust -E UTF8 --locale=C.UTF-8 >"$OUT/initdb-$1.log" 2>&1 || { log "initdb $1 failed"; exit 1; }
  cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $2
unix_socket_directories = '$SOCK'
shared_buffers = 256MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
fsync = on
CONF
  runuser -u postgres -- pg_ctl -D "$d/data" -l "$d/server.log" -w start >/dev/null || { log "start $1 failed"; exit 1; }; }
stop_cluster(){ [ -f "$BASE/$1/data/postmaster.pid" ] && runuser -u postgres -- pg_ctl -D "$BASE/$1/data" -m fast -w stop >/dev/null 2>&1; }
cleanup(){ stop_cluster src; stop_cluster tgt; [ "${KEEP:-0}" = 1 ] || rm -rf "$BASE"; }
trap cleanup EXIT; trap 'exit 130' INT TERM

{ echo "date: $(date -u +%FT%TZ)"; echo "nproc: $NCPU"; grep -m1 'model name' /proc/cpuinfo; free -h | head -2
  pg_dump --version; pgcopydb --version 2>&1 | grep -v INFO | head -1; "$CAIRN" --version 2>/dev/null || true
  echo "scale=$SCALE rows_per_table=$ROWS reps=$REPS jobs=$JOBS"; echo "loadavg at start: $(cat /proc/loadavg)"; } >"$OUT/machine.txt" 2>&1
init_cluster src "$SRC_PORT"; init_cluster tgt "$TGT_PORT"

log "loading pgb (pgbench -i -s $SCALE) and many (16 x $ROWS rows)"
createdb "${S[@]}" pgb; pgbench "${S[@]}" -i -s "$SCALE" -q pgb >"$OUT/pgbench-init.log" 2>&1
createdb "${S[@]}" many
load_tab(){ sq -d many <<SQL
create table mt_$1 (id bigint not null, k int not null, v text not null, ts timestamptz not null);
insert into mt_$1 select g, (random()*1000000)::int, md5(g::text) || '-' || g, timestamptz '2026-01-01' - g * interval '1 second' from generate_series(1, $ROWS) g;
alter table mt_$1 add primary key (id);
create index mt_$1_k on mt_$1 (k);
create index mt_$1_v on mt_$1 (v);
SQL
}
( for i in 01 02 03 04 05 06 07 08; do load_tab $i; done ) & p1=$!
( for i in 09 10 11 12 13 14 15 16; do load_tab $i; done ) & p2=$!
wait $p1 $p2
for db in pgb many; do sq -d "$db" -c "vacuum (freeze, analyze)"; sq -d "$db" -c "select '$db', pg_size_pretty(pg_database_size('$db'))" >>"$OUT/sizes.txt"; done
sq -d postgres -c checkpoint

# cairn's steps, run by the real binary from a runbook file (the same kinds rds-encrypt uses)
cat >"$BASE/bench-copy.yaml" <<YAML
schema: 1
name: bench-copy
title: cairn's data-moving steps between two local clusters (bench/migrate.sh)
parameters:
  - { name: mode, type: enum, values: [dump, stream], required: true }
  - { name: db, type: string, required: true }
  - { name: dir, type: string, required: true }
  - { name: jobs, type: int, default: "2" }
steps:
  - id: dump
    title: pg-dump
    kind: pg-dump
    when: \${params.mode} == "dump"
    with: { source: { conn: "host=$SOCK port=$SRC_PORT user=postgres" }, dir: "\${params.dir}", jobs: "\${params.jobs}", databases: "\${params.db}" }
  - id: restore
    title: pg-restore
    kind: pg-restore
    when: \${params.mode} == "dump"
    with: { target: { conn: "host=$SOCK port=$TGT_PORT user=postgres" }, dir: "\${params.dir}", jobs: "\${params.jobs}" }
  - id: stream
    title: pg-stream-copy
    kind: pg-stream-copy
    when: \${params.mode} == "stream"
    with: { source: { conn: "host=$SOCK port=$SRC_PORT user=postgres" }, target: { conn: "host=$SOCK port=$TGT_PORT user=postgres" }, dir: "\${params.dir}", jobs: "\${params.jobs}", databases: "\${params.db}" }
YAML
export CAIRN_STATE_DIR=$BASE/cairn-state

cpu_snap(){ awk '/^cpu /{print $2+$3+$4+$7+$8, $6, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
check_db(){ local db=$1 q a b
  q=$(sq -d "$db" -c "select string_agg(format('select %L, count(*) from %I.%I', relname, schemaname, relname), ' union all ' order by relname) from pg_stat_user_tables")" order by 1"
  local meta="select 'indexes', count(*) from pg_indexes where schemaname='public' union all select 'constraints', count(*) from pg_constraint where connamespace='public'::regnamespace"
  a=$(sq -d "$db" -c "$q" 2>&1; sq -d "$db" -c "$meta" 2>&1); b=$(tq -d "$db" -c "$q" 2>&1; tq -d "$db" -c "$meta" 2>&1)
  [ "$a" = "$b" ] && echo OK || { echo MISMATCH; diff <(echo "$a") <(echo "$b") >>"$LOG"; }; }

m_seed(){ pg_dump "${S[@]}" "$1" >"$WORK/dump.sql" 2>>"$2" && psql "${T[@]}" -X -q -d "$1" -f "$WORK/dump.sql" >/dev/null 2>>"$2"; }
m_b2z0(){ pg_dump "${S[@]}" -Fd -j 2 -Z0 -f "$WORK/dir" "$1" 2>>"$2" && pg_restore "${T[@]}" -j 2 -d "$1" "$WORK/dir" 2>>"$2"; }
m_b2(){ pg_dump "${S[@]}" -Fd -j 2 -f "$WORK/dir" "$1" 2>>"$2" && pg_restore "${T[@]}" -j 2 -d "$1" "$WORK/dir" 2>>"$2"; }
m_dz0(){ pg_dump "${S[@]}" -Fc -Z0 "$1" 2>>"$2" | pg_restore "${T[@]}" -d "$1" 2>>"$2"; }
m_pgcopydb(){ pgcopydb clone --source "$SRCURI/$1" --target "$TGTURI/$1" --table-jobs 2 --index-jobs 2 --dir "$WORK/pgcopydb" >>"$2" 2>&1; }
m_cdisk(){ "$CAIRN" --file "$BASE/bench-copy.yaml" run bench-copy -p mode=dump -p db="$1" -p dir="$WORK/cairn" -p jobs="$JOBS" --yes --no-tui >>"$2" 2>&1; }
m_cstream(){ "$CAIRN" --file "$BASE/bench-copy.yaml" run bench-copy -p mode=stream -p db="$1" -p dir="$WORK/cairn" -p jobs="$JOBS" --yes --no-tui >>"$2" 2>&1; }

# cairn's own split of a run, from its journal: the data-moving steps' apply time (what is compared
# with the peers, who run nothing else), the row verification after them, and the rest of the wall
# time of `cairn run` (runner start, plan, checks, journal, exit)
journal_split(){ local j; j=$(ls "$CAIRN_STATE_DIR"/runs/*/journal.jsonl 2>/dev/null | head -1)
  [ -n "$j" ] || { echo "- -"; return; }
  jq -rs --argjson ns 1e9 '[ ([.[] | select(.type == "step.applied" and (.step == "dump" or .step == "restore" or .step == "stream")) | .elapsed] | add), ([.[] | select(.type == "step.verified") | .elapsed] | add) ] | map((. // 0) / $ns | . * 100 | round | . / 100) | @tsv' "$j" | tr '\t' ' '; }

printf "dataset\tmethod\trep\twall_s\tcpu_s\trc\tcheck\tcopy_s\tverify_s\tload1\n" >"$RES"
run_one(){ local ds=$1 m=$2 rep=$3
  tq -d postgres -c "drop database if exists $ds"
  case $m in cdisk|cstream) ;; *) tq -d postgres -c "create database $ds";; esac   # cairn creates its own, fresh
  rm -rf "${WORK:?}"/* "$CAIRN_STATE_DIR"; tq -d postgres -c checkpoint; sq -d postgres -c checkpoint; sync
  local err=$OUT/$ds-$m-$rep.err; : >"$err"; local c0 c1 t0 t1 rc
  c0=($(cpu_snap)); t0=$(now); "m_$m" "$ds" "$err"; rc=$?; t1=$(now); c1=($(cpu_snap))
  local wall cpu; wall=$(sub "$t1" "$t0"); cpu=$(awk -v b="$((c1[0]-c0[0]))" -v hz="$HZ" 'BEGIN{printf "%.2f", b/hz}')
  local copy=$wall verify=0 extra=""   # a peer's copy is its whole wall time: it does nothing else
  case $m in cdisk|cstream) read -r copy verify <<<"$(journal_split)"; extra=" copy=${copy}s verify=${verify}s";; esac
  local chk; chk=$(check_db "$ds")
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$ds" "$m" "$rep" "$wall" "$cpu" "$rc" "$chk" "$copy" "$verify" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RES"
  log "$ds $m rep$rep wall=${wall}s$extra cpu=${cpu}s rc=$rc $chk load=$(cut -d' ' -f1 /proc/loadavg)"; }

run_one pgb seed 0   # warm-up (WAL segment creation), excluded
for rep in $(seq 1 "$REPS"); do for ds in pgb many; do for m in $METHODS; do run_one $ds $m "$rep"; done; done; done

# ---- summary: minimum per method, spread, ratios peer ÷ cairn, CPU floor -------------------------
# Compared time: a peer's wall time; cairn's data-moving steps' apply time from the journal. cairn's
# verification and the fixed cost of `cairn run` are printed apart, with the end-to-end ratio too.
{
echo "== $(date -u +%FT%TZ) scale=$SCALE rows=$ROWS reps=$REPS jobs=$JOBS cores=$NCPU (min over reps; spread = (max-min)/min)"
awk -F'\t' -v cores="$NCPU" '
  NR>1 && $3>0 { k=$1 SUBSEP $2; ds[$1]=1; me[$2]=1; l=$10+0; if(!nl||l<lmin)lmin=l; if(!nl||l>lmax)lmax=l; lsum+=l; nl++
    if($6!=0||$7!="OK"){bad[k]++; next}; t=$8+0; w=$4+0
    if(!(k in mn)||t<mn[k]){mn[k]=t; cpu[k]=$5+0; ver[k]=$9+0; wat[k]=w}; if(!(k in mx)||t>mx[k])mx[k]=t; if(!(k in mw)||w<mw[k])mw[k]=w }
  END {
    for (d in ds) {
      printf "\n%s:   (peers: wall time; cairn: its data-moving steps (journal apply time) | verification | rest of `cairn run`)\n", d; floor=1e9
      for (m in me) { k=d SUBSEP m; if(!(k in mn)){ if(bad[k]) printf "  %-9s FAILED/MISMATCH in all %d runs\n", m, bad[k]; continue }
        printf "  %-9s min %7.2fs  spread %4.0f%%  cpu %7.2fs", m, mn[k], 100*(mx[k]-mn[k])/mn[k], cpu[k]
        if (m=="cdisk"||m=="cstream") printf "  | verify %.2fs | fixed %.2fs | whole cairn run %.2fs (min wall %.2fs)", ver[k], wat[k]-mn[k]-ver[k], wat[k], mw[k]
        printf "%s\n", (bad[k]?"  FAILED/MISMATCH x" bad[k]:""); if(cpu[k]/cores<floor)floor=cpu[k]/cores }
      printf "  CPU floor (cheapest method CPU s / %d cores): %.2fs\n", cores, floor
      bestdisk=""; for (m in me) if (m=="seed"||m=="b2z0"||m=="b2") { k=d SUBSEP m; if(k in mn && (bestdisk==""||mn[k]<mn[d SUBSEP bestdisk]))bestdisk=m }
      best=""; for (m in me) if (m!="cdisk"&&m!="cstream") { k=d SUBSEP m; if(k in mn && (best==""||mn[k]<mn[d SUBSEP best]))best=m }
      if (bestdisk != "" && (d SUBSEP "cdisk") in mn) { b=mn[d SUBSEP bestdisk]; c=d SUBSEP "cdisk"; printf "  ratio dump-to-disk: best disk peer %s %.2fs / cairn cdisk steps %.2fs = %.2f (target >= 0.95); end to end (whole cairn run %.2fs, verification included) %.2f\n", bestdisk, b, mn[c], b/mn[c], mw[c], b/mw[c] }
      if (best != "" && (d SUBSEP "cstream") in mn) { b=mn[d SUBSEP best]; c=d SUBSEP "cstream"; printf "  ratio streamed: best peer %s %.2fs / cairn cstream step %.2fs = %.2f (target >= 1.0); end to end (whole cairn run %.2fs) %.2f\n", best, b, mn[c], b/mn[c], mw[c], b/mw[c] }
      if ((d SUBSEP "seed") in mn && (d SUBSEP "cstream") in mn) printf "  vs the seed: seed %.2fs / cairn cstream step %.2fs = %.2f\n", mn[d SUBSEP "seed"], mn[d SUBSEP "cstream"], mn[d SUBSEP "seed"]/mn[d SUBSEP "cstream"]
    }
    if (nl) printf "\nload average (1 min) after each timed run: min %.2f, mean %.2f, max %.2f\n", lmin, lsum/nl, lmax
  }' "$RES"
echo "loadavg at end: $(cat /proc/loadavg)"
} | tee "$OUT/summary.txt"
