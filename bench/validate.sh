#!/usr/bin/env bash
# Matching in the hub (issue 4): a base registry of about 1,000,000 residents loaded with
# `sangam ingest`, and a scheme list of noisy copies of some of them (and of people the
# registry lacks) from `sangam synth --linkage` with the same seed. Measures:
#  1. the scheme list uploaded to a `sangam serve` and linked by the link job (resident index
#     build, model training, then every record looked up), until nothing is pending;
#  2. `POST /v1/validate` of scheme people by their details alone: p50/p95/p99 latency, one
#     request at a time, with the server's peak memory;
#  3. in-process, after the server stops: the index rebuilt, then the same people matched
#     one at a time with no batch (the incremental matching rate).
#
#   bench/validate.sh [HOUSEHOLDS]     default 232558 (about 1M residents)
#   QUERIES=5000                       people looked up in 2 and 3
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
trap 'kill "${server:-}" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
export RUST_LOG=warn

echo "== data: $households households"
"$bin" synth --households "$households" --seed 7 --out "$work/registry.csv" >/dev/null
"$bin" synth --households "$households" --seed 7 --linkage "$work/linkage" \
  --scheme-share 0.01 | tail -n1
rm -f "$work/linkage/base.csv"
/usr/bin/time -f 'ingest: %e s, peak %M KiB' \
  "$bin" ingest --data-dir "$work/hub" --dataset base "$work/registry.csv" >/dev/null
rm -f "$work/registry.csv"

printf 'a long enough passphrase\n' > "$work/password"
"$bin" users set --data-dir "$work/hub" --username bench-admin --role admin \
  --password-file "$work/password" >/dev/null
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
/usr/bin/time -f 'server: peak %M KiB, cpu %U+%S s' -o "$work/serve.time" \
  "$bin" serve --data-dir "$work/hub" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "$url/healthz" >/dev/null && break; sleep 0.2; done
token=$(curl -fs -X POST "$url/v1/session" -H 'content-type: application/json' \
  -d '{"username":"bench-admin","password":"a long enough passphrase"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
auth="authorization: Bearer $token"
curl -fs -X POST "$url/v1/datasets?organisation=bench" -H "$auth" \
  -H 'content-type: application/toml' --data-binary @- >/dev/null <<'SPEC'
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
[[columns]]
name = "relative_name"
kind = "person_name"
[[columns]]
name = "gender"
kind = "gender"
[[columns]]
name = "dob"
kind = "dob"
[[columns]]
name = "id_number"
kind = "id_number"
[[columns]]
name = "mobile"
kind = "mobile"
[[columns]]
name = "village_code"
kind = "village_code"
[[columns]]
name = "pincode"
kind = "pincode"
SPEC

echo "== the scheme list uploaded and linked"
start=$(date +%s.%N)
"$bin" upload --url "$url" --user bench-admin --password-file "$work/password" \
  --dataset bench_scheme "$work/linkage/scheme.csv" 2>/dev/null | tail -n1
uploaded=$(date +%s.%N)
while :; do
  links=$(curl -fs "$url/v1/datasets/bench_scheme/links" -H "$auth")
  pending=$(printf '%s' "$links" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])')
  [ "$pending" = 0 ] && break
  sleep 0.5
done
done_at=$(date +%s.%N)
python3 - "$start" "$uploaded" "$done_at" "$links" <<'PY'
import json, sys
start, uploaded, done, links = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
total = sum(links[k] for k in ("linked", "review", "not_found"))
print(f"upload {uploaded-start:.1f} s; linking {done-uploaded:.1f} s (index build and training included) "
      f"for {total} records: {links}")
PY

echo "== HTTP: POST /v1/validate, $queries people by their details"
"$bin" bench-validate --url "$url" --username bench-admin \
  --password-file "$work/password" --dataset bench_scheme \
  --queries "$work/linkage/scheme.csv" --limit "$queries"
pkill -INT -P "$server"; wait "$server" 2>/dev/null || true; server=
cat "$work/serve.time"

echo "== in-process: the index rebuilt, then $queries people matched one at a time"
/usr/bin/time -f 'in-process run: %e s, peak %M KiB' \
  "$bin" bench-validate --data-dir "$work/hub" --queries "$work/linkage/scheme.csv" \
  --limit "$queries"
