#!/usr/bin/env bash
# fuzz_run.sh FUZZ_BINARY [SECONDS [SEED_DIR]]: run a libFuzzer target for a
# bounded time from a corpus in a temporary directory (empty, or a copy of
# SEED_DIR: the tree's seeds are never written to). Exit 77 (skipped) when the
# target was not built (it needs -Dfuzzing=true and clang).
set -uo pipefail
bin=${1:-}
secs=${2:-60}
seed=${3:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "skip: fuzz target not built (configure with CC=clang -Dfuzzing=true)"
	exit 77
fi
bin=$(realpath "$bin")
dir=$(mktemp -d /tmp/bn-fuzz.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus"
[ -n "$seed" ] && cp -r "$seed"/. "$dir/corpus/"
cd "$dir" || exit 1
"$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus"
rc=$?
if [ $rc -ne 0 ]; then
	echo "fuzzer failed (rc $rc); crashing inputs:"
	for f in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-*; do
		[ -e "$f" ] && { echo "$f"; od -An -tx1 "$f" | head -20; }
	done
	exit 1
fi
echo "fuzzer ran ${secs}s without a crash"
