#!/usr/bin/env bash
# Upload benchmark (issue 3): `sangam ingest` of synthetic base-registry files on SQLite and
# PostgreSQL, against `sqlite3 .import` of the same CSV into an unindexed table, measured in
# the same run so that the ratio holds on a noisy machine; and the same file through the HTTP
# API (`sangam upload` to a `sangam serve` of a fresh data directory), against the offline
# path. Peak memory from /usr/bin/time: of `sangam ingest`, and of the server for HTTP. On a
# machine shared with other work, wall time swings with the others' load; cpu_s (user plus
# system time of the process, for HTTP the server's whole run) swings much less.
#
#   bench/ingest.sh [HOUSEHOLDS...]        default: 23256 232558 (about 100k and 1M rows)
#   SANGAM_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test to include PostgreSQL
#   SANGAM_BENCH_BIN=/path/to/sangam to measure another build (say, of the commit before)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SANGAM_BENCH_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -q -p sangam-cli
  bin=${CARGO_TARGET_DIR:-target}/release/sangam
fi
work=$(mktemp -d /tmp/sangam-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(23256 232558)
pg_admin=${SANGAM_BENCH_DATABASE_URL:-}

secs() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
timed() { # timed OUTFILE cmd... -> prints "seconds peak_kib cpu_seconds"
  local out=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$out.time" "$@" > "$out" 2>/dev/null
  awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$out.time"
}

# The HTTP path: a server of its own on a free port, an officer of the base registry's
# organisation (as crates/cli/tests/upload.rs makes one), `sangam upload` timed from the start
# of the send to the counts. Prints "seconds server_peak_kib server_cpu_seconds".
http_upload() { # http_upload CSV DATA_DIR [--database-url URL]
  local csv=$1 dir=$2; shift 2
  printf 'a long enough passphrase\n' > "$work/password"
  "$bin" users set --data-dir "$dir" "$@" --username bench-officer --role nodal-officer \
    --organisation civil-supplies --password-file "$work/password" >/dev/null 2>&1
  /usr/bin/time -f '%M %U %S' -o "$work/serve.time" \
    "$bin" serve --data-dir "$dir" "$@" --listen 127.0.0.1:0 2> "$work/serve.err" &
  local pid=$! url=""
  for _ in $(seq 600); do
    url=$(sed -n 's/^Sangam is serving on //p' "$work/serve.err" | head -1)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "serve did not start:"; cat "$work/serve.err"; kill "$pid"; exit 1; }
  /usr/bin/time -f '%e' -o "$work/upload.time" "$bin" upload --url "$url" --user bench-officer \
    --password-file "$work/password" --dataset base "$csv" > "$work/upload.out" 2>/dev/null
  # The server's own pid is the child of time(1); SIGTERM shuts it down gracefully.
  kill -TERM $(pgrep -P "$pid") 2>/dev/null || true
  wait "$pid" || true
  grep -q '"status":"committed"' "$work/upload.out" || { echo "upload did not commit:"; cat "$work/upload.out" "$work/serve.err"; exit 1; }
  echo "$(cat "$work/upload.time") $(tail -1 "$work/serve.time" | awk '{printf "%s %.2f", $1, $2 + $3}')"
}

printf '%-10s %-9s %-10s %9s %12s %10s %7s %s\n' rows backend what seconds rows_per_sec peak_MiB cpu_s note
for households in "${sizes[@]}"; do
  csv="$work/base-$households.csv"
  "$bin" synth --households "$households" --seed 1 --out "$csv" 2>/dev/null
  rows=$(( $(wc -l < "$csv") - 1 ))

  # sqlite3 .import into an unindexed table: the floor for loading this CSV into SQLite. Twice:
  # with the rollback journal (sqlite3's default, and what `sangam ingest` keeps when it has
  # the store to itself, so the ratio is taken against this one) and with the WAL (what a
  # serving hub keeps).
  import_s=""
  if command -v sqlite3 >/dev/null; then
    for journal in delete wal; do
      db="$work/import-$households-$journal.db"
      read -r s m c < <(timed "$work/import.out" sqlite3 "$db" \
        -cmd "PRAGMA journal_mode=$journal" -cmd "PRAGMA synchronous=FULL" -cmd ".mode csv" ".import $csv members")
      [ "$journal" = delete ] && import_s=$s
      rm -f "$db"*
      printf '%-10s %-9s %-10s %9s %12.0f %10.1f %7s %s\n' "$rows" sqlite "sqlite3" "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" "$c" ".import, no indexes, journal $journal"
    done
  fi

  dir="$work/hub-$households"
  read -r s m c < <(timed "$work/ingest.out" "$bin" ingest --data-dir "$dir" --dataset base "$csv")
  ratio=""
  [ -n "$import_s" ] && ratio=$(python3 -c "print(f'{$s/$import_s:.2f}x sqlite3 .import (journal delete)')")
  printf '%-10s %-9s %-10s %9s %12.0f %10.1f %7s %s\n' "$rows" sqlite ingest "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" "$c" "$ratio"
  grep -q '"status":"committed"' "$work/ingest.out" || { echo "ingest did not commit:"; cat "$work/ingest.out"; exit 1; }
  ingest_s=$s
  read -r s m c < <(http_upload "$csv" "$dir-http")
  printf '%-10s %-9s %-10s %9s %12.0f %10.1f %7s %s\n' "$rows" sqlite http "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" "$c" "$(python3 -c "print(f'{$s/$ingest_s:.2f}x ingest; peak of the server')")"

  if [ -n "$pg_admin" ]; then
    name="sangam_bench_$households"
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $name" -qc "CREATE DATABASE $name" >/dev/null
    url="${pg_admin%/*}/$name"
    read -r s m c < <(timed "$work/ingest-pg.out" "$bin" ingest --data-dir "$dir-pg" --database-url "$url" --dataset base "$csv")
    printf '%-10s %-9s %-10s %9s %12.0f %10.1f %7s %s\n' "$rows" postgres ingest "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" "$c" ""
    grep -q '"status":"committed"' "$work/ingest-pg.out" || { echo "ingest did not commit:"; cat "$work/ingest-pg.out"; exit 1; }
    ingest_s=$s
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $name" -qc "CREATE DATABASE $name" >/dev/null
    read -r s m c < <(http_upload "$csv" "$dir-pg-http" --database-url "$url")
    printf '%-10s %-9s %-10s %9s %12.0f %10.1f %7s %s\n' "$rows" postgres http "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" "$c" "$(python3 -c "print(f'{$s/$ingest_s:.2f}x ingest; peak of the server')")"
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $name" >/dev/null
  fi
done
