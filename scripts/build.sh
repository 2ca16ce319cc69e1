#!/usr/bin/env bash
# scripts/build.sh [DIR [meson options...]]: configure (once) and build banana in
# DIR (default: build). Extra arguments go to `meson setup`, e.g.
#   scripts/build.sh build-asan -Db_sanitize=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "built in $dir"
