#!/usr/bin/env bash
# Creates (or brings up to date) the Python venv the Splink side of the matching benchmark runs
# in. Idempotent: a venv whose installed packages already match requirements.txt is left alone.
#
#   bench/match/setup.sh            # venv at ${SANGAM_BENCH_VENV:-$HOME/.cache/sangam-bench-venv}
#
# Prints the venv's path on the last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${SANGAM_BENCH_VENV:-$HOME/.cache/sangam-bench-venv}"
python="${PYTHON:-python3}"
requirements="$here/requirements.txt"
stamp="$venv/.sangam-requirements.sha256"

command -v "$python" >/dev/null || { echo "setup.sh: $python not found; install Python 3.10 or later" >&2; exit 1; }
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || { echo "setup.sh: $python is older than 3.10" >&2; exit 1; }

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "setup.sh: venv up to date" >&2
  echo "$venv"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "setup.sh: creating venv at $venv" >&2
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet -r "$requirements" >&2
# Check that what the scripts import really loads before saying the venv is ready.
"$venv/bin/python" -c 'import splink, recordlinkage, pandas, duckdb; from splink import DuckDBAPI, Linker' >&2
echo "$want" >"$stamp"
echo "setup.sh: venv ready: splink $("$venv/bin/python" -c 'import splink; print(splink.__version__)')" >&2
echo "$venv"
