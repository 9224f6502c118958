#!/usr/bin/env bash
# Wall time of the offline CPU quickstart study (all experiments, analyses, report) from an
# empty run folder. Usage: bench/quickstart.sh   (JRE_QUICKSTART=ci for the small grid)
# Last line: quickstart seconds=<s>
set -euo pipefail
cd "$(dirname "$0")/.."
JRE="${JRE:-.venv/bin/jre}"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/jre-quickstart.XXXXXX")"
trap 'rm -rf "$RUN_DIR"' EXIT
start=$(date +%s.%N)
"$JRE" run recipes/quickstart.toml --run-dir "$RUN_DIR/run" > "$RUN_DIR/log" 2>&1 || { tail -20 "$RUN_DIR/log"; exit 1; }
end=$(date +%s.%N)
grep -E '^(report:|- )' "$RUN_DIR/log" || true
python3 -c "print(f'quickstart seconds={$end - $start:.1f}')"
