#!/usr/bin/env bash
# Sets up a fresh machine (OS packages) and runs the whole test suite: unit tests, gradient checks,
# PyTorch parity (Debian's python3-torch), CLI tests against the real binary, page tests in Debian's chromium.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
tools/setup.sh --with-torch --with-browser --with-kafka-tools
log="$(mktemp)"
set +e
dotnet test AqaStream.sln -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over all test assemblies.
awk '/(Passed|Failed)! +- Failed:/ { gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"
