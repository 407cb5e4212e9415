#!/usr/bin/env bash
# Installs the OS packages AqaStream needs on a fresh Debian 12 machine (idempotent, apt):
#   libopenblas0-pthread          GEMM for the scorer (cblas_sgemm)            always
#   ffmpeg                        video decode/encode (ingest, synthetic venue) always
#   python3-torch, python3-numpy  the PyTorch reference (parity tests, bench)  with --with-torch
set -euo pipefail
need=()
[ -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ] || need+=(libopenblas0-pthread)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
if [ "${1:-}" = "--with-torch" ]; then
  /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1 || need+=(python3-torch python3-numpy)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} ..." >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is required (dotnet on PATH)" >&2; exit 1; }
