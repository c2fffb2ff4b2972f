#!/usr/bin/env bash
# Upload benchmark (issue 3): `sangam ingest` of synthetic base-registry files on SQLite and
# PostgreSQL, against `sqlite3 .import` of the same CSV into an unindexed table, measured in
# the same run so that the ratio holds on a noisy machine. Peak memory from /usr/bin/time.
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
timed() { # timed OUTFILE cmd... -> prints "seconds peak_kib"
  local out=$1; shift
  /usr/bin/time -f '%e %M' -o "$out.time" "$@" > "$out" 2>/dev/null
  cat "$out.time"
}

printf '%-10s %-9s %-10s %9s %12s %10s %s\n' rows backend what seconds rows_per_sec peak_MiB note
for households in "${sizes[@]}"; do
  csv="$work/base-$households.csv"
  "$bin" synth --households "$households" --seed 1 --out "$csv" 2>/dev/null
  rows=$(( $(wc -l < "$csv") - 1 ))

  # sqlite3 .import into an unindexed table: the floor for loading this CSV into SQLite.
  if command -v sqlite3 >/dev/null; then
    db="$work/import-$households.db"
    read -r s m < <(timed "$work/import.out" sqlite3 "$db" \
      -cmd "PRAGMA journal_mode=WAL" -cmd "PRAGMA synchronous=FULL" -cmd ".mode csv" ".import $csv members")
    import_s=$s
    printf '%-10s %-9s %-10s %9s %12.0f %10.1f %s\n' "$rows" sqlite sqlite3 "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" ".import, no indexes"
  fi

  dir="$work/hub-$households"
  read -r s m < <(timed "$work/ingest.out" "$bin" ingest --data-dir "$dir" --dataset base "$csv")
  ratio=""
  [ -n "${import_s:-}" ] && ratio=$(python3 -c "print(f'{$s/$import_s:.2f}x sqlite3 .import')")
  printf '%-10s %-9s %-10s %9s %12.0f %10.1f %s\n' "$rows" sqlite ingest "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" "$ratio"
  grep -q '"status":"committed"' "$work/ingest.out" || { echo "ingest did not commit:"; cat "$work/ingest.out"; exit 1; }

  if [ -n "$pg_admin" ]; then
    name="sangam_bench_$households"
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $name" -qc "CREATE DATABASE $name" >/dev/null
    url="${pg_admin%/*}/$name"
    read -r s m < <(timed "$work/ingest-pg.out" "$bin" ingest --data-dir "$dir-pg" --database-url "$url" --dataset base "$csv")
    printf '%-10s %-9s %-10s %9s %12.0f %10.1f %s\n' "$rows" postgres ingest "$(secs "$s")" "$(python3 -c "print($rows/$s)")" "$(python3 -c "print($m/1024)")" ""
    grep -q '"status":"committed"' "$work/ingest-pg.out" || { echo "ingest did not commit:"; cat "$work/ingest-pg.out"; exit 1; }
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $name" >/dev/null
  fi
done
