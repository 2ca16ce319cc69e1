#!/usr/bin/env bash
# scripts/test.sh [--sanitize] [--summary FILE] [meson test args...]
# Installs what is missing, builds, and runs every test with meson. Ends with
#   tests: N passed, N failed, N skipped
# listing each skipped test with its reason and each failed test by name.
#   --sanitize   a separate clang build (build-san) with AddressSanitizer,
#                UndefinedBehaviorSanitizer (no recovery) and the libFuzzer targets.
#   --summary F  also write "passed failed skipped" to F (used by .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
sanitize=0
summary=""
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) sanitize=1; shift ;;
	--summary) summary=$2; shift 2 ;;
	*) break ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "note: not root: tests that need root (netns, TAP, bridges) will be skipped" >&2
fi
scripts/deps.sh || exit 1

if [ $sanitize -eq 1 ]; then
	dir=build-san
	CC=clang scripts/build.sh "$dir" -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all -Dfuzzing=true || exit 1
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
	dir=build
	scripts/build.sh "$dir" || exit 1
fi

meson test -C "$dir" --no-rebuild --print-errorlogs "$@"
rc=$?

python3 - "$dir/meson-logs/testlog.json" "$summary" "$dir" <<'PY'
import json, os, re, sys
path, summary, d = sys.argv[1], sys.argv[2], sys.argv[3]
# In CI a test skipped for a tool that is not installed is a missing install
# step (scripts/deps.sh installs every tool a test needs): it counts as failed.
ci = os.environ.get("CI", "") not in ("", "0", "false")
missing_tool = re.compile(r"not installed|missing|command not found", re.I)
ok = bad = skip = 0
skipped, failed = [], []
try:
    lines = open(path).read().splitlines()
except OSError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    r = t.get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r == "SKIP":
        out = (t.get("stdout") or "").strip().splitlines()
        why = next((l for l in reversed(out) if "skip" in l.lower()), out[-1] if out else "")
        if ci and missing_tool.search(why):
            bad += 1
            failed.append(f"{t['name']} (skipped in CI for a missing tool: {why.strip()[:120]}; "
                          "scripts/deps.sh must install it)")
            continue
        skip += 1
        skipped.append(f"{t['name']}: {why.strip()[:160]}")
    else:
        bad += 1
        failed.append(f"{t['name']} ({r})")
for s in skipped:
    print(f"  skipped [{d}] {s}")
for f in failed:
    print(f"  FAILED  [{d}] {f}")
print(f"tests ({d}): {ok} passed, {bad} failed, {skip} skipped")
if summary:
    open(summary, "w").write(f"{ok} {bad} {skip}\n")
PY
exit $rc
