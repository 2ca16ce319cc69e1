#!/usr/bin/env bash
# scripts/test.sh [--sanitize | --tsan] [--summary FILE] [meson test args...]
# Installs what is missing, builds, and runs every test with meson. Ends with
#   tests: N passed, N failed, N skipped
# listing each skipped test with its reason and each failed test by name.
#   --sanitize   a separate clang build (build-san) with AddressSanitizer,
#                UndefinedBehaviorSanitizer (no recovery) and the libFuzzer targets.
#   --tsan       a separate clang build (build-tsan) with ThreadSanitizer, running
#                the threaded parts (TSAN_TESTS below: framework, xensim, net,
#                blk, controller; picked to fit CI's budget of ~7 min: about
#                4 min with a clean build on this 2-core machine, loaded) unless
#                tests are named. Every process writes its reports
#                to build-tsan/tsan/ (tests/tsan.supp: third-party libraries
#                only); each report counts as one failed test.
#   --summary F  also write "passed failed skipped" to F (used by .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
sanitize=0
tsan=0
summary=""
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) sanitize=1; shift ;;
	--tsan) tsan=1; shift ;;
	--summary) summary=$2; shift 2 ;;
	*) break ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "note: not root: tests that need root (netns, TAP, bridges) will be skipped" >&2
fi
scripts/deps.sh || exit 1

# The TSan run: what has threads (bananad's loops, xensim, the Corms, the
# controller) under load and under hostile or churning control.
TSAN_TESTS=(
	fw_loop fw_endpoint fw_wire fw_wire_iface fw_params fw_xenbus_handshake fw_xenbus_die
	fw_xenbus_reconnect fw_xenbus_hostile fw_xenbus_remove
	hv_grant hv_evtchn hv_domains hv_proto xs_libxenstore
	topo_parse store ctl_cli ctl_yaml ctl_restart ctl_scale ctl_origin
	shm bridge guest_vif net_ping net_iperf net_iperf_4q net_reconnect net_restart net_peer
	net_hostile
	blk_msg vbd_parse corm_uring corm_uring_verify guest_vbd_verify guest_vbd_rings
	guest_vbd_nbd guest_vbd_hostile guest_vbd_rewire guest_vbd_restart guest_vbd_restart-usr2
	vbd_storm_handshake vbd_storm_churn display
	store_etcd cluster_ctl2 cluster_unreachable vxlan_interop
	vbd_swap net_swap migrate display_remote swap_corm
)
tsan_dir=""
if [ $tsan -eq 1 ]; then
	dir=build-tsan
	CC=clang scripts/build.sh "$dir" -Db_sanitize=thread -Db_lundef=false || exit 1
	tsan_dir=$PWD/$dir/tsan
	rm -rf "$tsan_dir"
	mkdir -p "$tsan_dir"
	export TSAN_OPTIONS=${TSAN_OPTIONS:-suppressions=$PWD/tests/tsan.supp:log_path=$tsan_dir/report:second_deadlock_stack=1}
	# the storms' counts, bounded smaller under TSan's slowdown
	export BN_STORM_ROUNDS=${BN_STORM_ROUNDS:-20} BN_STORM_CYCLES=${BN_STORM_CYCLES:-80}
	[ $# -gt 0 ] || set -- "${TSAN_TESTS[@]}"
elif [ $sanitize -eq 1 ]; then
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

python3 - "$dir/meson-logs/testlog.json" "$summary" "$dir" "$tsan_dir" <<'PY'
import glob, json, os, re, sys
path, summary, d, tsan_dir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
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
# ThreadSanitizer reports, one file per process that had any (log_path)
if tsan_dir:
    reports = sorted(glob.glob(os.path.join(tsan_dir, "report*")))
    for r in reports:
        text = open(r, errors="replace").read()
        n = text.count("WARNING: ThreadSanitizer:")
        first = next((l for l in text.splitlines() if "ThreadSanitizer" in l), "?")
        failed.append(f"ThreadSanitizer: {os.path.basename(r)}: {n} report(s), first: {first.strip()[:120]}")
        bad += 1
        print(f"==== {r} (first 60 lines)")
        print("\n".join(text.splitlines()[:60]))
for s in skipped:
    print(f"  skipped [{d}] {s}")
for f in failed:
    print(f"  FAILED  [{d}] {f}")
print(f"tests ({d}): {ok} passed, {bad} failed, {skip} skipped")
if summary:
    open(summary, "w").write(f"{ok} {bad} {skip}\n")
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] || [ $rc -ne 0 ] || rc=1
exit $rc
