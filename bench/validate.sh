#!/usr/bin/env bash
# Online validation benchmark (issue 4): a base registry of about 1,000,000 residents loaded
# with `sangam ingest`, then noisy copies of some of them (and people the registry lacks),
# from `sangam synth --linkage` with the same seed, looked up by their details alone:
#  1. in-process, one at a time with no batch (the incremental matching rate), after the
#     resident index is built;
#  2. over HTTP, `POST /v1/validate` to a `sangam serve` of the same data (p50/p99 latency),
#     with the server's peak memory.
#
#   bench/validate.sh [HOUSEHOLDS]     default 232558 (about 1M residents)
#   SANGAM_BENCH_BIN=/path/to/sangam   to measure another build
set -euo pipefail
cd "$(dirname "$0")/.."
households=${1:-232558}
queries=${QUERIES:-5000}
bin=${SANGAM_BENCH_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -q -p sangam-cli
  bin=${CARGO_TARGET_DIR:-target}/release/sangam
fi
work=$(mktemp -d /tmp/sangam-validate.XXXXXX)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== data: $households households"
"$bin" synth --households "$households" --seed 7 --out "$work/registry.csv" >/dev/null
"$bin" synth --households "$households" --seed 7 --linkage "$work/linkage" \
  --scheme-share 0.01 >/dev/null
rm -f "$work/linkage/base.csv"
/usr/bin/time -f 'ingest: %e s, peak %M KiB' \
  "$bin" ingest --data-dir "$work/hub" --dataset base "$work/registry.csv" >/dev/null
rm -f "$work/registry.csv"

echo "== in-process: $queries queries, details only"
/usr/bin/time -f 'in-process run: %e s, peak %M KiB' \
  "$bin" bench-validate --data-dir "$work/hub" --queries "$work/linkage/scheme.csv" \
  --limit "$queries"

echo "== HTTP: POST /v1/validate"
printf 'a long enough passphrase\n' > "$work/password"
"$bin" users set --data-dir "$work/hub" --username bench-admin --role admin \
  --password-file "$work/password" >/dev/null
port=$((20000 + RANDOM % 20000))
/usr/bin/time -f 'server: peak %M KiB, cpu %U+%S s' -o "$work/serve.time" \
  "$bin" serve --data-dir "$work/hub" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
token=$(curl -fs -X POST "http://127.0.0.1:$port/v1/session" -H 'content-type: application/json' \
  -d '{"username":"bench-admin","password":"a long enough passphrase"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -fs -X POST "http://127.0.0.1:$port/v1/datasets?organisation=bench" \
  -H "authorization: Bearer $token" -H 'content-type: application/toml' --data-binary @- >/dev/null <<'SPEC'
dataset = "bench_scheme"
version = 1
title = "Benchmark scheme"
record_key = "id"
[[columns]]
name = "id"
kind = "text"
required = true
[[columns]]
name = "name"
kind = "person_name"
required = true
SPEC
"$bin" bench-validate --url "http://127.0.0.1:$port" --username bench-admin \
  --password-file "$work/password" --dataset bench_scheme \
  --queries "$work/linkage/scheme.csv" --limit "$queries"
kill -INT "$server"; wait "$server" 2>/dev/null || true; server=
cat "$work/serve.time"
