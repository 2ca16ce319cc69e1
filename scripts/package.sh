#!/usr/bin/env bash
# scripts/package.sh [OUTDIR]: build banana's Debian packages (banana and
# banana-sim, debian/) with dpkg-buildpackage -us -uc -b from a copy of this
# tree's files (tracked and new, not ignored: no build directories) in a
# temporary folder, so that nothing is written next to the tree; then run
# lintian on them. The .deb, .buildinfo and .changes files and lintian's
# report (lintian.txt) land in OUTDIR (default: build-deb). Exit 1 when the
# build fails or lintian reports an error.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for c in dpkg-buildpackage dh lintian; do
	command -v $c >/dev/null || { echo "package.sh: $c missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
work=$(mktemp -d /tmp/banana-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/banana-$version
mkdir "$src"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z -co --exclude-standard | grep -zv '^tests/xenlab/' |
		xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' | tar -c --null -T - | tar -x -C "$src"
else # a tarball of the tree: everything but build directories
	tar -c --exclude='./build*' --exclude=./tests/xenlab . | tar -x -C "$src"
fi
start=$(date +%s)
(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	echo "package.sh: dpkg-buildpackage failed (whole log: $out/build.log)" >&2
	exit 1
}
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
echo "package.sh: built $(cd "$out" && ls ./*.deb | tr '\n' ' ')in $(($(date +%s) - start)) s"
changes=$(ls "$out"/*.changes)
rc=0
lintian --fail-on error "$changes" >"$out/lintian.txt" 2>&1 || rc=$?
cat "$out/lintian.txt"
if [ $rc -ne 0 ]; then
	echo "package.sh: lintian reports errors (above)" >&2
	exit 1
fi
echo "package.sh: lintian: $(grep -c '^E:' "$out/lintian.txt") errors, $(grep -c '^W:' "$out/lintian.txt") warnings"
