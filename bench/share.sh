#!/usr/bin/env bash
# Sharing (issue 5): the consumer resident lookup, authenticated (EdDSA access token), policy
# checked (status, IP allow-list, agreement, scope, purpose, rate limits, field projection,
# scraping detector) and access-logged (every record in the hash-chained audit log before it
# is sent), against the same lookup with the gate and the log switched off. `wrk` on
# loopback drives both in the same run; the report gives requests per second, p50 and p99,
# and the ratio. Targets: guarded >= 5,000 requests/s, ratio >= 0.40.
#
#   bench/share.sh [HOUSEHOLDS]        default 20000 (about 85,000 residents)
#   SECONDS_PER_RUN=20 CONNECTIONS=64
#   SANGAM_BENCH_BIN=/path/to/sangam   to measure another build
set -euo pipefail
cd "$(dirname "$0")/.."
households=${1:-20000}
bin=${SANGAM_BENCH_BIN:-}
if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [ -z "$bin" ]; then
  cargo build --release -q -p sangam-cli
  bin=${CARGO_TARGET_DIR:-target}/release/sangam
fi
work=$(mktemp -d /tmp/sangam-share.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
export RUST_LOG=warn
"$bin" demo --data-dir "$work" --households "$households" --no-serve >/dev/null
"$bin" bench-share --data-dir "$work" --seconds "${SECONDS_PER_RUN:-20}" \
  --connections "${CONNECTIONS:-64}"
echo "== the access log after the run"
"$bin" audit verify --data-dir "$work"
