#!/bin/bash
# tests/xenlab/test_ci_skip.sh: when QEMU cannot be had (a PATH without it and
# an apt-get that fails), tests/xenlab/ci counts every lab test as skipped,
# says why beside each and on its closing lines, and exits 77; it never
# reports "0 skipped" for a lab that did not run (issue 12).
set -uo pipefail
LAB=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A PATH of links to every tool this machine has but QEMU's and apt's; apt-get
# and apt-cache answer as they do with no mirror reachable.
mkdir "$tmp/bin"
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
	[ -d "$d" ] || continue
	for f in "$d"/*; do
		n=${f##*/}
		case "$n" in qemu-system-* | apt-get | apt-cache) continue ;; esac
		[ -e "$tmp/bin/$n" ] || [ -L "$tmp/bin/$n" ] || ln -s "$f" "$tmp/bin/$n"
	done
done
for n in apt-get apt-cache; do
	printf '#!/bin/sh\necho "E: Failed to fetch (no mirror in this test)" >&2\nexit 100\n' >"$tmp/bin/$n"
	chmod +x "$tmp/bin/$n"
done
PATH=$tmp/bin command -v qemu-system-x86_64 >/dev/null && fail "the PATH still has QEMU"

ntests=$(ls "$LAB"/tests/*.sh | wc -l)
[ "$ntests" -gt 0 ] || fail "no lab tests found"
PATH=$tmp/bin "$LAB/ci" "$tmp/never-built" >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ "$rc" = 77 ] || fail "ci exited $rc, not 77"
grep -qx "xenlab: 0 passed, 0 failed, $ntests skipped" "$tmp/out" ||
	fail "the closing line does not count the $ntests lab tests as skipped"
for t in "$LAB"/tests/*.sh; do
	t=${t##*/}
	grep -qE "^  SKIP ${t%.sh}: ." "$tmp/out" || fail "no SKIP line with a reason for ${t%.sh}"
done
if [ "$(id -u)" = 0 ]; then
	# As root the reason is the failed install, naming QEMU's package.
	grep -qE '^xenlab: SKIP: .*apt-get could not install.*qemu-system-x86' "$tmp/out" ||
		fail "the reason does not say that apt-get could not install qemu-system-x86"
else
	grep -qE '^xenlab: SKIP: .*root' "$tmp/out" || fail "the reason does not say that root is needed"
fi
[ -e "$tmp/never-built" ] && fail "ci built bananad although the lab could not run"
echo "PASS: ci counted $ntests lab tests as skipped, with the reason"
