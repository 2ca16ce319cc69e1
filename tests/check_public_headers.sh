#!/usr/bin/env bash
# tests/check_public_headers.sh SRCDIR: a device class uses the framework
# through its public API alone. Every `#include "..."` in devices/<class>/
# names either a public header (include/banana/) or a file of that class's
# own folder; anything else (framework/bn_xenbus_int.h, another class's
# header, sim/...) fails, naming the file, the line and the header.
# Run with a second argument DIR to check one folder (the test feeds it a
# class that reaches into a private header, to show the check can fail).
set -u
src=${1:?usage: check_public_headers.sh SRCDIR [CLASSDIR]}
cd "$src" || exit 1
[ -d include/banana ] || { echo "FAIL: no include/banana in $src"; exit 1; }
if [ $# -ge 2 ]; then
	dirs=("$2")
else
	dirs=()
	for d in devices/*/; do dirs+=("${d%/}"); done
fi
bad=0 n=0
for d in "${dirs[@]}"; do
	while IFS= read -r f; do
		n=$((n + 1))
		while IFS=: read -r line hdr; do
			hdr=${hdr#*\"}
			hdr=${hdr%%\"*}
			if [ -f "include/banana/$hdr" ] || [ -f "$d/$hdr" ]; then
				continue
			fi
			echo "$f:$line: includes \"$hdr\", which is neither public (include/banana/) nor the class's own"
			bad=$((bad + 1))
		done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
	done < <(find "$d" -name '*.[ch]' | sort)
done
echo "${#dirs[@]} class folder(s), $n files checked, $bad private include(s)"
[ "$n" -gt 0 ] || { echo "FAIL: no source files found"; exit 1; }
[ "$bad" -eq 0 ]
