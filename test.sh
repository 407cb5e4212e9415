#!/usr/bin/env bash
# Sets up a fresh machine (OS packages) and runs the whole test suite: unit tests, gradient checks,
# PyTorch parity (Debian's python3-torch), CLI tests against the real binary, page tests in Debian's chromium,
# Kafka tests against librdkafka's mock cluster. Prints the wall time of every phase (setup, restore, build, each
# test project) and one closing line over all test assemblies.
#
#   ./test.sh          everything (what CI runs through .ci/run)
#   ./test.sh --fast   the developer's inner loop: unit and in-memory tests only (no OS setup, no child processes,
#                      no browser, no Kafka, no PyTorch), under a minute on a built tree
#
# NUGET_PACKAGES is honoured (.ci/run points it at an empty folder so every CI run proves a cold restore).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

fast=0
for arg in "$@"; do
  case "$arg" in
    --fast) fast=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (valid: --fast, --help)" >&2; exit 2 ;;
  esac
done

# Every test project, in the order they run. The fast loop takes the in-memory projects and, in them, leaves out the
# tests marked [Trait("Category", "Process")] (they start ffmpeg, python3, chromium, kcat or the aqa binary).
all_projects=(Scoring Pipeline Media Server Kafka Cli)
fast_projects=(Scoring Pipeline)

timings=()
phase_start=0
begin() { phase_start=$(date +%s.%N); echo "== $1 ==" >&2; }
finish() {
  local secs; secs=$(awk -v a="$phase_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  timings+=("$(printf '%-28s %7s s' "$1" "$secs")")
}
report() {
  echo "phase times:"
  for t in "${timings[@]}"; do echo "  $t"; done
}
total_start=$(date +%s.%N)

if [ "$fast" = 0 ]; then
  begin setup
  tools/setup.sh --with-torch --with-browser --with-kafka-tools
  finish setup
fi

begin restore
dotnet restore AqaStream.sln --nologo -v quiet
finish restore

begin build
dotnet build AqaStream.sln -c Release --no-restore --nologo -v quiet -tl:off
finish build

if [ "$fast" = 1 ]; then projects=("${fast_projects[@]}"); filter=(--filter "Category!=Process"); else projects=("${all_projects[@]}"); filter=(); fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
for p in "${projects[@]}"; do
  begin "test $p"
  set +e
  dotnet test "tests/AqaStream.$p.Tests/AqaStream.$p.Tests.csproj" -c Release --no-build --nologo "${filter[@]}" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || status=$rc
  finish "test $p"
done

report
awk -v a="$total_start" -v b="$(date +%s.%N)" 'BEGIN { printf "wall time: %.0f s\n", b - a }'
# One closing line over all test assemblies.
awk '/(Passed|Failed)! +- Failed:/ { gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
