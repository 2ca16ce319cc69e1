#!/bin/bash
# run_fuzz.sh FUZZ_BINARY SECONDS: run a libFuzzer target for SECONDS with a
# private corpus dir; 77 (skipped) when the target was not built (meson
# -Dfuzzing=true with clang builds it).
set -u
bin=$1 secs=$2
if [ ! -x "$bin" ]; then
        echo "fuzz target $bin not built (needs -Dfuzzing=true and clang): skipping"
        exit 77
fi
dir=$(mktemp -d /tmp/bn-fuzz.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 "$dir"
