#!/usr/bin/env bash
# Line and branch coverage of the NativeLayers libraries, per assembly (see docs/coverage.md).
#
#   bash tools/coverage.sh [TEST_PROJECT ...]
#
# Runs each test project (all of tests/*/ by default) one after another with coverlet's collector
# (tools/coverage.runsettings: the NativeLayers assemblies and nl, not the tests, the model generator nor the ILGPU
# kernels), then merges the Cobertura files with ReportGenerator (the local tool in .config/dotnet-tools.json) into
#   artifacts/coverage/Summary.txt   line and branch coverage per assembly and per class
#   artifacts/coverage/Summary.md    the same as Markdown
#   artifacts/coverage/Cobertura.xml the merged report (uncovered lines and branches by file)
# $COVERAGE_OUT moves the output folder. Tests that need ../shared run when it is there (they add coverage) and
# skip otherwise. A failing test makes the script exit 1 after the report is written.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

out=${COVERAGE_OUT:-artifacts/coverage}
raw="$out/raw"
rm -rf "$out"
mkdir -p "$raw"

if [ "$#" -gt 0 ]; then projects=("$@"); else projects=(tests/*/*.csproj); fi

dotnet tool restore >/dev/null || { echo "error: dotnet tool restore failed (ReportGenerator)" >&2; exit 1; }

status=0
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  dotnet test "$project" -c Release --collect "XPlat Code Coverage" --settings tools/coverage.runsettings \
    --results-directory "$raw/$name" || status=1
done

shopt -s nullglob
reports=("$raw"/*/*/coverage.cobertura.xml)
if [ "${#reports[@]}" -eq 0 ]; then echo "error: no coverage report was written" >&2; exit 1; fi
joined=$(IFS=';'; echo "${reports[*]}")

dotnet tool run reportgenerator "-reports:$joined" "-targetdir:$out" \
  "-reporttypes:TextSummary;MarkdownSummary;Cobertura" "-sourcedirs:$PWD" \
  "-title:NativeLayers $(git rev-parse --short HEAD 2>/dev/null)" >/dev/null || exit 1

echo
# Per assembly: line and branch coverage (the bold rows of ReportGenerator's Markdown summary).
printf '%-36s %8s %10s\n' assembly lines branches
grep -E '^\| \*\*[A-Za-z]' "$out/Summary.md" | grep -v -E 'coverage:|\*\*(Name|Assembly)\*\*' | tr -d '*' |
  awk -F'|' '{ gsub(/ /, "", $2); gsub(/ /, "", $7); gsub(/ /, "", $10); printf "%-36s %8s %10s\n", $2, $7, $10 }'
grep -E '^  (Line|Branch) coverage:' "$out/Summary.txt"
echo "coverage report: $out/Summary.txt, $out/Summary.md, $out/Cobertura.xml"
exit $status
