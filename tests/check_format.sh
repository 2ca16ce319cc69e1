#!/usr/bin/env bash
# tests/check_format.sh SRCDIR: every C source and header of the project is
# clang-format clean with the project's .clang-format. Fails naming each file
# that is not, with the first lines of the change clang-format wants.
set -u
src=${1:?usage: check_format.sh SRCDIR}
cd "$src" || exit 1
command -v clang-format >/dev/null || { echo "skip: clang-format is not installed"; exit 77; }
bad=0 n=0
while IFS= read -r f; do
	n=$((n + 1))
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not clang-format clean: $f"
		clang-format "$f" | diff -u "$f" - | sed -n '3,12p'
		bad=$((bad + 1))
	fi
done < <(find include framework devices wires controller config sim tests bench -name '*.[ch]' -not -path '*/.cache/*' | sort)
echo "$n files checked, $bad not clean"
[ "$n" -gt 50 ] || { echo "FAIL: found only $n files: wrong source dir?"; exit 1; }
[ "$bad" -eq 0 ]
