#!/usr/bin/env bash
# test_nbd_proto.sh MODE BN_NBD_SERVE NBD_CHECK [TEST_NBD_CLIENT]: wires/nbd's NBD protocol
# against NBD programs nobody here wrote, on loopback and Unix sockets.
# Every server is started here and stopped by its PID.
#   server-nbdinfo   nbdinfo: size, read-only flag, export list, over TCP and Unix
#   server-qemu      qemu-img convert in and out (sha256 equal), qemu-io patterns,
#                    qemu-img info's size, a write to a read-only export refused
#   server-fio       fio's nbd engine: random writes QD32 verified (md5), trim
#   server-check     nbd-check (our client) against our server: verify run QD32
#                    (structured, simple, EXPORT_NAME), hostile requests; then
#                    the server's request counts agree with the client's
#   server-defer     the same against a back-end that completes 0-3 ms later
#                    (replies out of order, 128 in flight, pauses in reading);
#                    clients killed with requests in flight, the server lives
#   server-tls       STARTTLS with certificates from a test CA: nbdinfo and
#                    nbdcopy (libnbd, GnuTLS) over TLS, a pattern written and
#                    read back (sha256 equal); a plaintext client refused by
#                    --tls-require; a client without a certificate refused
#   client-tls       test_nbd_client over TLS (client certificates, the
#                    server's name checked), the server killed 3 times: every
#                    reconnect a TLS one, nothing lost or doubled; a server
#                    whose certificate names another host never used
#   client-qemu-nbd  nbd-check against qemu-nbd over a file, verify run
#   client-nbdkit    nbd-check against nbdkit memory, verify run
set -uo pipefail
mode=$1 serve=$2 check=$3 client_test=${4:-}
dir=$(mktemp -d /tmp/bn-nbd-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL ($mode): $*" >&2; [ -f "$dir/serve.log" ] && tail -20 "$dir/serve.log" >&2; exit 1; }
need() { command -v "$1" >/dev/null || { echo "skip: $1 not installed (scripts/deps.sh)"; exit 77; }; }

# start_serve FILE [ARGS...]: bn-nbd-serve on 127.0.0.1:any; sets $port, $spid.
serve_n=0
start_serve() {
	local file=$1; shift
	serve_n=$((serve_n + 1))
	"$serve" --file "$file" --listen "tcp:127.0.0.1:0" --port-file "$dir/port$serve_n" \
		--export vol "$@" 2>>"$dir/serve.log" &
	spid=$!; pids+=("$spid")
	for _ in $(seq 50); do [ -s "$dir/port$serve_n" ] && break; sleep 0.1; done
	[ -s "$dir/port$serve_n" ] || fail "bn-nbd-serve did not start"
	port=$(cat "$dir/port$serve_n")
}
# stop SPID: SIGTERM, wait, and the server's last line (its counts)
stop_serve() {
	kill "$1"; wait "$1" 2>/dev/null
}

# make_pki: a test CA and server and client certificates (for 127.0.0.1
# and localhost) in $pki, named as libnbd's tls-certificates wants them.
make_pki() {
	pki=$dir/pki; mkdir -p "$pki" "$dir/nocert"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=banana nbd test CA" -keyout "$pki/ca-key.pem" -out "$pki/ca-cert.pem" 2>"$dir/openssl.log" ||
		fail "openssl CA: $(tail -2 "$dir/openssl.log")"
	for who in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=banana nbd $who" \
			-keyout "$pki/$who-key.pem" -out "$pki/$who.csr" 2>>"$dir/openssl.log" || fail "openssl $who key"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=%s\n' \
			"$([ $who = server ] && echo serverAuth || echo clientAuth)" >"$pki/$who.ext"
		openssl x509 -req -in "$pki/$who.csr" -CA "$pki/ca-cert.pem" -CAkey "$pki/ca-key.pem" \
			-CAcreateserial -days 2 -extfile "$pki/$who.ext" -out "$pki/$who-cert.pem" 2>>"$dir/openssl.log" ||
			fail "openssl $who certificate"
	done
}

img=$dir/disk.img
truncate -s 64M "$img"
size=$((64 << 20))

case $mode in
server-nbdinfo)
	need nbdinfo
	start_serve "$img"
	got=$(timeout 10 nbdinfo --size "nbd://127.0.0.1:$port/vol") || fail "nbdinfo --size"
	[ "$got" = "$size" ] || fail "nbdinfo size $got, wanted $size"
	timeout 10 nbdinfo --is read-only "nbd://127.0.0.1:$port/vol" && fail "writable export said read-only"
	timeout 10 nbdinfo --can trim "nbd://127.0.0.1:$port/vol" || fail "trim not offered"
	timeout 10 nbdinfo --can flush "nbd://127.0.0.1:$port/vol" || fail "flush not offered"
	timeout 10 nbdinfo --can fua "nbd://127.0.0.1:$port/vol" || fail "fua not offered"
	timeout 10 nbdinfo --list "nbd://127.0.0.1:$port" | grep -q 'export="vol"' || fail "LIST lacks vol"
	# the default export ("") is the same export
	got=$(timeout 10 nbdinfo --size "nbd://127.0.0.1:$port") || fail "default export"
	[ "$got" = "$size" ] || fail "default export size $got"
	# an unknown export is refused (GO: NBD_REP_ERR_UNKNOWN)
	timeout 10 nbdinfo --size "nbd://127.0.0.1:$port/nope" 2>"$dir/err" && fail "unknown export served"
	grep -qi "unknown\|export" "$dir/err" || fail "unknown export: $(cat "$dir/err")"
	stop_serve "$spid"
	# read-only, over a Unix socket
	"$serve" --file "$img" --listen "unix:$dir/ro.sock" --export vol --read-only 2>>"$dir/serve.log" &
	spid=$!; pids+=("$spid")
	for _ in $(seq 50); do [ -S "$dir/ro.sock" ] && break; sleep 0.1; done
	uri="nbd+unix:///vol?socket=$dir/ro.sock"
	timeout 10 nbdinfo --is read-only "$uri" || fail "read-only export not read-only"
	got=$(timeout 10 nbdinfo --size "$uri") || fail "nbdinfo over Unix"
	[ "$got" = "$size" ] || fail "Unix size $got"
	timeout 10 nbdinfo --can trim "$uri" && fail "read-only export offers trim"
	echo "ok: nbdinfo: size $got, flags, list, default and unknown export, read-only over Unix"
	;;
server-qemu)
	need qemu-img; need qemu-io
	start_serve "$img"
	uri="nbd://127.0.0.1:$port/vol"
	head -c 24M /dev/urandom >"$dir/pat"
	truncate -s 64M "$dir/pat"
	timeout 60 qemu-img convert -n -f raw -O raw "$dir/pat" "$uri" || fail "qemu-img convert in"
	timeout 60 qemu-img convert -f raw -O raw "$uri" "$dir/back" || fail "qemu-img convert out"
	a=$(sha256sum <"$dir/pat" | cut -d' ' -f1); b=$(sha256sum <"$dir/back" | cut -d' ' -f1)
	[ "$a" = "$b" ] || fail "sha256 differs: $a $b"
	c=$(sha256sum <"$img" | cut -d' ' -f1)
	[ "$a" = "$c" ] || fail "the file behind the server differs"
	timeout 30 qemu-img info --output=json "$uri" | grep -q "\"virtual-size\": $size" || fail "qemu-img info size"
	out=$(timeout 30 qemu-io -f raw -c 'write -P 0xab 1000 70000' -c 'write -z 200000 65536' \
		-c 'flush' -c 'read -P 0xab 1000 70000' -c 'read -P 0 200000 65536' "$uri" 2>&1) ||
		fail "qemu-io: $out"
	echo "$out" | grep -qi "pattern verification failed\|error" && fail "qemu-io: $out"
	stop_serve "$spid"
	start_serve "$img" --read-only
	out=$(timeout 30 qemu-io -f raw -c 'write -P 1 0 4096' "nbd://127.0.0.1:$port/vol" 2>&1) &&
		fail "qemu-io wrote to a read-only export: $out"
	echo "$out" | grep -qi "read-only\|permission\|not permitted" || fail "read-only write: $out"
	out=$(timeout 30 qemu-io -r -f raw -c 'read -P 0xab 1000 70000' "nbd://127.0.0.1:$port/vol" 2>&1) ||
		fail "qemu-io read-only read: $out"
	echo "ok: qemu-img in/out sha256 $a, qemu-io patterns, size, read-only refused"
	;;
server-fio)
	need fio
	fio --enghelp 2>/dev/null | grep -qw nbd || { echo "skip: fio without the nbd engine"; exit 77; }
	start_serve "$img"
	timeout 120 fio --name=nbdverify --ioengine=nbd --uri="nbd://127.0.0.1:$port/vol" \
		--rw=randwrite --bs=4k --iodepth=32 --size=16M --verify=md5 --verify_fatal=1 \
		--do_verify=1 --verify_state_save=0 --output="$dir/fio.out" >/dev/null 2>&1 || fail "fio verify: $(tail -20 "$dir/fio.out")"
	grep -q "err= 0" "$dir/fio.out" || fail "fio reported errors: $(grep err= "$dir/fio.out")"
	timeout 60 fio --name=nbdtrim --ioengine=nbd --uri="nbd://127.0.0.1:$port/vol" \
		--rw=randtrim --bs=64k --iodepth=8 --size=8M --output="$dir/fio2.out" >/dev/null 2>&1 ||
		fail "fio trim: $(tail -20 "$dir/fio2.out")"
	stop_serve "$spid"
	grep -q "write [1-9]" "$dir/serve.log" || fail "server counted no writes"
	grep -q "trim [1-9]" "$dir/serve.log" || fail "server counted no trims"
	echo "ok: fio nbd engine: 16 MiB random writes QD32 verified, trims; $(tail -1 "$dir/serve.log")"
	;;
server-check)
	start_serve "$img"
	out=$(timeout 120 "$check" --connect "tcp:127.0.0.1:$port" --export vol --size $size --qd 32 --ops 20000) ||
		fail "verify structured: $out"
	echo "$out"
	out=$(timeout 120 "$check" --connect "tcp:127.0.0.1:$port" --export vol --no-structured --qd 32 --ops 5000) ||
		fail "verify simple: $out"
	echo "$out"
	out=$(timeout 120 "$check" --connect "tcp:127.0.0.1:$port" --export vol --export-name --qd 8 --ops 2000) ||
		fail "verify EXPORT_NAME: $out"
	echo "$out"
	out=$(timeout 60 "$check" --connect "tcp:127.0.0.1:$port" --export vol --mode hostile) ||
		fail "hostile: $out"
	echo "$out"
	out=$(timeout 60 "$check" --connect "tcp:127.0.0.1:$port" --export vol --mode hostile --no-structured) ||
		fail "hostile simple: $out"
	# a peer that sends garbage, one that sends an oversized option, one that
	# goes away mid-request: the server keeps serving
	printf 'garbage!' | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$port" 2>/dev/null
	python3 - "$port" <<'PY' || fail "oversized option not refused"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
assert s.recv(18)[:8] == b"NBDMAGIC"
s.sendall(struct.pack(">I", 3) + struct.pack(">QII", 0x49484156454F5054, 7, 1 << 30))
s.settimeout(5)
assert s.recv(100) == b"", "server kept a connection with a 1 GiB option"
PY
	python3 - "$port" <<'PY' || fail "half a write"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.recv(18); s.sendall(struct.pack(">I", 3))
name = b"vol"
s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 4 + len(name) + 2) + struct.pack(">I", len(name)) + name + b"\0\0")
s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 1, 1, 0, 1 << 20) + b"x" * 1000)
s.close()
PY
	kill -0 "$spid" || fail "server died"
	stop_serve "$spid"
	# a hostile client's reach: 4 connections at most, 500 ms to shake hands
	start_serve "$img" --max-conns 4 --handshake-timeout 500
	python3 - "$port" <<'PY' || fail "connection limit / handshake timeout"
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
for s in idle:
    assert s.recv(18)[:8] == b"NBDMAGIC"
fifth = socket.create_connection(("127.0.0.1", port), timeout=5)
assert fifth.recv(18) == b"", "a fifth connection was served"
t0 = time.time()
for s in idle:
    assert s.recv(100) == b"", "an idle client kept its connection"
waited = time.time() - t0
assert 0.2 < waited < 3, "idle clients dropped after %.2f s" % waited
PY
	out=$(timeout 60 "$check" --connect "tcp:127.0.0.1:$port" --export vol --qd 32 --ops 2000) ||
		fail "verify after idle clients were dropped: $out"
	stop_serve "$spid"
	grep -q "handshake not done in time" "$dir/serve.log" || fail "handshake timeout not logged"
	grep -q "one refused" "$dir/serve.log" || fail "connection limit not logged"
	sock=$dir/u.sock
	"$serve" --file "$img" --listen "unix:$sock" --export vol 2>>"$dir/serve.log" &
	spid=$!; pids+=("$spid")
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	out=$(timeout 120 "$check" --connect "unix:$sock" --export vol --size $size --qd 32 --ops 5000) ||
		fail "verify over Unix: $out"
	echo "$out"
	stop_serve "$spid"
	grep -q "protocol error" "$dir/serve.log" || fail "garbage not logged as a protocol error"
	grep -q "message too long" "$dir/serve.log" || fail "oversized option not logged"
	echo "ok: our client against our server: verify runs, hostile requests answered, bad peers dropped"
	;;
server-defer)
	start_serve "$img" --defer
	out=$(timeout 120 "$check" --connect "tcp:127.0.0.1:$port" --export vol --size $size --qd 128 --ops 20000) ||
		fail "verify QD128, deferred: $out"
	echo "$out"
	out=$(timeout 120 "$check" --connect "tcp:127.0.0.1:$port" --export vol --no-structured --qd 32 --ops 5000) ||
		fail "verify simple, deferred: $out"
	echo "$out"
	out=$(timeout 60 "$check" --connect "tcp:127.0.0.1:$port" --export vol --mode hostile) ||
		fail "hostile, deferred: $out"
	# clients that die with requests in flight (the server completes them
	# into the void and frees the connection afterwards)
	for i in 1 2 3; do
		"$check" --connect "tcp:127.0.0.1:$port" --export vol --qd 128 --ops 1000000 >/dev/null 2>&1 &
		cpid=$!
		sleep 0.$((2 + i))
		kill -KILL "$cpid"; wait "$cpid" 2>/dev/null
	done
	kill -0 "$spid" || fail "server died when clients did"
	out=$(timeout 120 "$check" --connect "tcp:127.0.0.1:$port" --export vol --qd 32 --ops 5000) ||
		fail "verify after the killed clients: $out"
	echo "$out"
	stop_serve "$spid"
	tail -1 "$dir/serve.log" | grep -q "conns 7 " || fail "server counts: $(tail -1 "$dir/serve.log")"
	echo "ok: deferred back-end: verify QD128 and simple, hostile, 3 clients killed mid-run, server serving"
	;;
server-tls)
	need nbdinfo; need nbdcopy; need openssl
	make_pki
	cp "$pki/ca-cert.pem" "$dir/nocert/"
	start_serve "$img" --tls-cert "$pki/server-cert.pem" --tls-key "$pki/server-key.pem" \
		--tls-ca "$pki/ca-cert.pem" --tls-require
	uri="nbds://127.0.0.1:$port/vol?tls-certificates=$pki"
	out=$(timeout 10 nbdinfo "$uri" 2>&1) || fail "nbdinfo over TLS: $out"
	echo "$out" | grep -q "with TLS" || fail "nbdinfo: TLS not used: $out"
	echo "$out" | grep -q "export-size: $size" || fail "nbdinfo over TLS: size: $out"
	head -c 8M /dev/urandom >"$dir/pat"
	timeout 60 nbdcopy "$dir/pat" "$uri" || fail "nbdcopy in over TLS"
	timeout 60 nbdcopy "$uri" - | head -c 8M >"$dir/back" || true
	a=$(sha256sum <"$dir/pat" | cut -d' ' -f1); b=$(sha256sum <"$dir/back" | cut -d' ' -f1)
	[ "$a" = "$b" ] || fail "sha256 over TLS differs: $a $b"
	# plaintext: the server says TLS is required
	out=$(timeout 10 nbdinfo "nbd://127.0.0.1:$port/vol" 2>&1) && fail "plaintext served under --tls-require"
	echo "$out" | grep -qi "tls" || fail "plaintext refusal does not say TLS: $out"
	# no client certificate: the handshake fails, the server lives on
	out=$(timeout 10 nbdinfo "nbds://127.0.0.1:$port/vol?tls-certificates=$dir/nocert" 2>&1) &&
		fail "a client without a certificate was served"
	kill -0 "$spid" || fail "server died"
	out=$(timeout 10 nbdinfo --size "$uri" 2>&1) || fail "TLS after the refusals: $out"
	stop_serve "$spid"
	grep -q "TLS handshake failed" "$dir/serve.log" || fail "no handshake failure logged"
	echo "ok: STARTTLS: nbdinfo and nbdcopy over TLS (sha256 $a), plaintext and certificate-less clients refused"
	;;
client-tls)
	need openssl
	[ -x "$client_test" ] || fail "test_nbd_client not given"
	make_pki
	out=$(timeout 150 "$client_test" "$serve" 10000 3 "$pki" 2>"$dir/client.log") ||
		fail "client over TLS: $out $(tail -20 "$dir/client.log")"
	echo "$out"
	n=$(grep -c "structured replies" "$dir/client.log")
	[ "$n" -eq 4 ] || fail "$n TLS connects, wanted 4"
	# a server whose certificate does not name the peer the client expects
	out=$(timeout 30 "$client_test" "$serve" 1000 0 "$pki" wrong-peer 2>"$dir/client2.log") ||
		fail "wrong peer: $out $(tail -5 "$dir/client2.log")"
	echo "$out"
	grep -q "TLS handshake failed" "$dir/client2.log" || fail "wrong peer: no handshake failure logged"
	echo "ok: our client over TLS through 3 server kills; a server with another name refused"
	;;
client-qemu-nbd)
	need qemu-nbd
	qemu-nbd --help | grep -q -- '--pid-file' || true
	qemu-nbd -t -f raw -x vol -k "$dir/q.sock" --pid-file="$dir/q.pid" "$img" 2>"$dir/qemu.log" &
	qpid=$!; pids+=("$qpid")
	for _ in $(seq 50); do [ -S "$dir/q.sock" ] && break; sleep 0.1; done
	[ -S "$dir/q.sock" ] || fail "qemu-nbd did not start: $(cat "$dir/qemu.log")"
	out=$(timeout 120 "$check" --connect "unix:$dir/q.sock" --export vol --size $size --qd 32 --ops 10000) ||
		fail "verify against qemu-nbd: $out"
	echo "$out"
	out=$(timeout 120 "$check" --connect "unix:$dir/q.sock" --export vol --no-structured --qd 16 --ops 2000) ||
		fail "verify against qemu-nbd, simple replies: $out"
	echo "$out"
	echo "ok: our client against qemu-nbd"
	;;
client-nbdkit)
	need nbdkit
	nbdkit --foreground --exit-with-parent -U "$dir/k.sock" --pidfile "$dir/k.pid" memory 64M 2>"$dir/nbdkit.log" &
	kpid=$!; pids+=("$kpid")
	for _ in $(seq 50); do [ -S "$dir/k.sock" ] && break; sleep 0.1; done
	[ -S "$dir/k.sock" ] || fail "nbdkit did not start: $(cat "$dir/nbdkit.log")"
	out=$(timeout 120 "$check" --connect "unix:$dir/k.sock" --size $size --qd 32 --ops 10000) ||
		fail "verify against nbdkit memory: $out"
	echo "$out"
	out=$(timeout 120 "$check" --connect "unix:$dir/k.sock" --export-name --qd 16 --ops 2000) ||
		fail "verify against nbdkit, EXPORT_NAME: $out"
	echo "$out"
	echo "ok: our client against nbdkit memory"
	;;
*)
	fail "unknown mode"
	;;
esac
