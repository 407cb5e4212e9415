#!/usr/bin/env bash
# Shared by ./aqa and ./bench: builds one app of the repository once (Release, again only when a source, project or
# page file changed) into artifacts/NAME and runs it. OS packages come from tools/setup.sh.
#   tools/build/run-app.sh PROJECT.csproj NAME ASSEMBLY.dll [ARGS...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project="$root/$1"; out="$root/artifacts/$2"; bin="$out/$3"; shift 3
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v dotnet >/dev/null 2>&1 \
  || [ ! -f "$root/web/node_modules/.package-lock.json" ] || [ "$root/web/package-lock.json" -nt "$root/web/node_modules/.package-lock.json" ]; then
  "$root/tools/setup.sh" >&2
fi
if [ ! -f "$bin" ] || [ -n "$(find "$root/src" "$root/benchmarks" "$root/tests/Shared" "$root/Directory.Build.props" "$root/Directory.Packages.props" -newer "$bin" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.html' -o -name '*.js' -o -name '*.css' \) -print -quit)" ]; then
  echo "building $(basename "$bin" .dll) (Release) ..." >&2
  log="$(mktemp)"
  if ! dotnet build "$project" -c Release -o "$out" -nologo -v quiet -tl:off >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "$(basename "$bin" .dll): build failed" >&2; exit 1
  fi
  rm -f "$log"
  touch "$bin"
fi
exec dotnet "$bin" "$@"
