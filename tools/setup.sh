#!/usr/bin/env bash
# Installs what AqaStream needs on a fresh Debian 12 machine (idempotent):
#   ffmpeg                        video decode/encode (ingest, synthetic venue)         always (apt)
#   nodejs, npm                   front-end packages                                    always, when missing (apt)
#   web/node_modules              @microsoft/signalr (the pages' client), playwright-core (browser tests)
#                                 always (npm ci from web/package-lock.json)
#   python3-torch, python3-numpy  the PyTorch reference (parity tests, bench)           with --with-torch (apt)
#   chromium                      the real browser for the page tests                   with --with-browser (apt)
#   kcat                          an independent Kafka client (cross-process tests)     with --with-kafka-tools (apt)
#   docker-compose                validates deploy/docker-compose.yml (no engine here) with --with-kafka-tools (apt)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
for arg in "$@"; do
  case "$arg" in
    --with-torch) /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1 || need+=(python3-torch python3-numpy) ;;
    --with-browser) [ -x /usr/bin/chromium ] || need+=(chromium) ;;
    --with-kafka-tools)
      command -v kcat >/dev/null 2>&1 || need+=(kcat)
      command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose) ;;
    *) echo "setup: unknown option $arg (use --with-torch, --with-browser, --with-kafka-tools)" >&2; exit 2 ;;
  esac
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} ..." >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  # Another apt run (unattended upgrades, a parallel setup) may hold the dpkg lock: wait for it instead of failing.
  lock_wait=(-o DPkg::Lock::Timeout="${AQA_APT_LOCK_TIMEOUT:-600}")
  if command -v fuser >/dev/null 2>&1 && fuser /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; then
    echo "setup: another apt run holds the dpkg lock; waiting up to ${AQA_APT_LOCK_TIMEOUT:-600} s for it ..." >&2
  fi
  $sudo_cmd apt-get "${lock_wait[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get "${lock_wait[@]}" install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -f "$root/web/node_modules/.package-lock.json" ] || [ "$root/web/package-lock.json" -nt "$root/web/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in web/ ..." >&2
  (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is required (dotnet on PATH)" >&2; exit 1; }
