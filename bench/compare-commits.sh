#!/usr/bin/env bash
# Same-run CPU comparison of two builds of `nl`: this working tree against BASE (a commit), both built in Release,
# `nl bench` run alternately (A B A B ...) so that the shared machine's drift hits both alike. Prints each build's
# median over rounds of the per-run medians for every test row, and the ratio new / base.
#
# usage: bench/compare-commits.sh BASE MODEL_DIR [ROUNDS] [-- extra nl bench options]
#   e.g. bench/compare-commits.sh HEAD~3 /tmp/llama-768-f32 5 -- --prompt-tokens 128 --gen-tokens 64 -r 5
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/compare-commits.sh BASE MODEL_DIR [ROUNDS] [-- nl bench options]}
model=${2:?model folder}
rounds=${3:-5}
shift $(( $# >= 3 ? 3 : $# ))
[ "${1:-}" = "--" ] && shift
extra=("$@")

work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/base" "$base"
echo "building $base and the working tree ..." >&2
dotnet build "$work/base/src/NativeLayers.Cli" -c Release -o "$work/base-bin" >/dev/null
dotnet build src/NativeLayers.Cli -c Release -o "$work/new-bin" >/dev/null

run() { "$1/nl" bench --model "$model" "${extra[@]}" 2>/dev/null | awk -F'|' '/\| (pp|tg)[0-9]/ { gsub(/ /, "", $8); gsub(/ /, "", $9); print $8, $9 }'; }
for ((r = 0; r < rounds; r++)); do
  run "$work/base-bin" | sed 's/^/base /' >> "$work/results"
  run "$work/new-bin" | sed 's/^/new /' >> "$work/results"
done

python3 - "$work/results" "$base" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    build, test, value = line.split()
    rows[(test, build)].append(float(value))
print(f"| test | {sys.argv[2]} tok/s (median of runs) | this tree tok/s | new / base | runs |")
print("|---|---|---|---|---|")
for test in sorted({t for t, _ in rows}):
    b, n = statistics.median(rows[(test, 'base')]), statistics.median(rows[(test, 'new')])
    print(f"| {test} | {b:.1f} | {n:.1f} | {n / b:.3f} | {len(rows[(test, 'new')])} |")
PY
