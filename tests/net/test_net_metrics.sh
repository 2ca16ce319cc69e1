#!/bin/bash
# test_net_metrics.sh: bananad --metrics 127.0.0.1:PORT scraped by curl
# while vm1 pings vm2 through bananad (shm wires to one bridge Corm): every
# scrape passes promtool check metrics (Debian's prometheus package), the
# wires are up, the counters of vm1's wire and Spike grow between scrapes
# and match the traffic, drops are reported by reason; bananactl top shows
# vm1-net's rates in human units (table and --json); unknown paths are 404
# and no wire option value (where keys live) is exported.
# usage: test_net_metrics.sh XENSIM BANANAD BANANACTL SIM_NETGUEST
XENSIM=$1 BANANAD=$2 BANANACTL=$3 NG=$4
. "$(dirname "$0")/netlib.sh"
nl_need_root
for c in curl promtool python3; do
    command -v $c >/dev/null || { echo "SKIP: $c not installed (scripts/deps.sh installs it)"; exit 77; }
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port/metrics
NL_BANANAD_ARGS="--metrics 127.0.0.1:$port"
nl_start
nl_topology vm1 vm2
nl_guest vm1 1
nl_guest vm2 2

# scrape N: the page in $base/scrapeN.txt, checked by promtool
scrape() {
    local n=$1 code
    code=$(curl -sS -o "$base/scrape$n.txt" -w '%{http_code} %{content_type}' --max-time 5 "$url") ||
        nl_fail "scrape $n: curl failed"
    [[ $code == "200 text/plain; version=0.0.4"* ]] || nl_fail "scrape $n: got '$code'"
    promtool check metrics <"$base/scrape$n.txt" >"$base/promtool$n.out" 2>&1 ||
        nl_fail "scrape $n: promtool check metrics: $(cat "$base/promtool$n.out")"
}
# value FILE METRIC LABEL-MATCH...: the one sample of METRIC whose labels hold every match
value() {
    local f=$1 m=$2 line
    shift 2
    line=$(grep "^$m{" "$f")
    for l in "$@"; do line=$(grep -F "$l" <<<"$line"); done
    [ "$(wc -l <<<"$line")" -eq 1 ] && [ -n "$line" ] || { echo "no single sample $m $*" >&2; echo -1; return; }
    echo "${line##* }"
}

scrape 0
[ "$(value "$base/scrape0.txt" banana_wire_up 'wire="vm1-net"')" = 1 ] || nl_fail "vm1-net not up in the metrics: $(grep banana_wire_up "$base/scrape0.txt")"
[ "$(value "$base/scrape0.txt" banana_wire_up 'wire="vm2-net"')" = 1 ] || nl_fail "vm2-net not up"
grep -q '^banana_endpoint_info{endpoint="hostA/vm1/vif0",kind="spike",class="vif",state="connected"} 1$' "$base/scrape0.txt" ||
    nl_fail "no connected vif Spike of vm1: $(grep endpoint_info "$base/scrape0.txt")"
sent_of() { value "$1" banana_wire_messages_total 'wire="vm1-net"' 'endpoint="hostA/vm1/vif0"' 'direction="sent"'; }
s0=$(sent_of "$base/scrape0.txt")

# traffic: 300 pings 10 ms apart, scraped (and watched with bananactl top) while they run
nl_bg vm1 ping -c 300 -i 0.01 -W 2 10.77.0.2 >"$base/ping.out" 2>&1
ppid=$!
sleep 0.7
scrape 1
s1=$(sent_of "$base/scrape1.txt")
"$BANANACTL" top -n 1 >"$base/top.txt" 2>&1 || nl_fail "bananactl top: $(cat "$base/top.txt")"
"$BANANACTL" --json top -n 1 >"$base/top.json" 2>&1 || nl_fail "bananactl --json top: $(cat "$base/top.json")"
wait $ppid
grep -q " 0% packet loss" "$base/ping.out" || nl_fail "ping lost packets: $(tail -2 "$base/ping.out")"
scrape 2
s2=$(sent_of "$base/scrape2.txt")
echo "vm1's Spike end of vm1-net: sent $s0 before, $s1 during, $s2 after 300 pings"
[ "$s1" -gt "$s0" ] || nl_fail "sent did not grow during traffic ($s0 -> $s1)"
[ "$s2" -ge $((s0 + 300)) ] || nl_fail "sent grew by $((s2 - s0)), want >= 300 (one per echo request)"
# top: vm1-net carried about 100 echo requests and 100 replies a second
rate=$(python3 -c '
import json, sys
w = [w for w in json.load(open(sys.argv[1]))["wires"] if w["name"] == "vm1-net"][0]
print(int(w["msgs_out_per_s"]))' "$base/top.json") || nl_fail "top --json: $(cat "$base/top.json")"
[ "$rate" -ge 50 ] && [ "$rate" -le 1000 ] || nl_fail "top says vm1-net sends $rate msg/s, want 50..1000 (ping every 10 ms, both ends: about 200; a loaded machine stretches ping's interval)"
grep -E "^vm1-net +shm +up +[0-9.]+k? " "$base/top.txt" >/dev/null || nl_fail "top's table has no vm1-net row: $(cat "$base/top.txt")"
grep -E "^vm1-net .*(KiB|MiB)" "$base/top.txt" >/dev/null || nl_fail "top's table shows no bytes in human units: $(cat "$base/top.txt")"
echo "ok: bananactl top under traffic: $(grep ^vm1-net "$base/top.txt" | tr -s ' ')"
r2=$(value "$base/scrape2.txt" banana_wire_messages_total 'wire="vm1-net"' 'endpoint="hostA/vm1/vif0"' 'direction="received"')
[ "$r2" -ge 300 ] || nl_fail "vm1's end received $r2, want >= 300 (one per echo reply)"
e2=$(value "$base/scrape2.txt" banana_endpoint_messages_total 'endpoint="hostA/vm1/vif0"' 'direction="from_device"')
[ "$e2" -ge 300 ] || nl_fail "vm1's Spike sent $e2 messages from the device, want >= 300"
b2=$(value "$base/scrape2.txt" banana_wire_bytes_total 'wire="vm1-net"' 'endpoint="hostA/vm1/vif0"' 'direction="sent"')
[ "$b2" -ge $((300 * 98)) ] || nl_fail "vm1's end sent $b2 bytes, want >= 300 frames of 98"
for r in full too_big malformed down other; do
    v=$(value "$base/scrape2.txt" banana_wire_drops_total 'wire="vm1-net"' 'endpoint="hostA/vm1/vif0"' "reason=\"$r\"")
    [ "$v" -ge 0 ] || nl_fail "no drops_total for reason $r"
done
echo "ok: 3 scrapes pass promtool check metrics; counters follow the traffic (received $r2, $b2 bytes sent)"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")
[ "$code" = 404 ] || nl_fail "GET /nope answered $code, want 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$url")
[ "$code" = 405 ] || nl_fail "POST /metrics answered $code, want 405"
# a bridge name is an option of the Corm, fine; wire options (keys) never
grep -q 'options\|secret\|key=' "$base/scrape2.txt" && nl_fail "the metrics export options: $(grep -m3 'options\|secret\|key=' "$base/scrape2.txt")"
kill -0 "$BPID" || nl_fail "bananad died"
echo "ok: 404 and 405 for other requests; no option values exported; bananad alive"
exit 0
