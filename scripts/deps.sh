#!/usr/bin/env bash
# scripts/deps.sh: install, from Debian's packages, whatever banana needs that
# this machine lacks (build tools, libraries, and the real peers the tests run:
# xenstore-utils, nbdkit, qemu-nbd, iperf3, fio, openvpn, etcd). Idempotent; runs
# apt-get only when something is missing. docs/dependencies.md says why each is here.
set -euo pipefail

PKGS=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev clang-format python3
	# libraries
	libxen-dev liburing-dev libnbd-dev libyaml-dev libjson-c-dev
	libnl-3-dev libnl-route-3-dev libmnl-dev libsystemd-dev libmicrohttpd-dev libcap-ng-dev libseccomp-dev
	libcurl4-openssl-dev libssl-dev
	# real peers and tools used by tests, the demo and bench/
	xenstore-utils iproute2 iputils-ping iperf3 nbdkit qemu-utils libnbd-bin fio openvpn
	etcd-server etcd-client tcpdump procps psmisc util-linux
	# the Debian package (scripts/package.sh), man pages
	debhelper dpkg-dev lintian scdoc
	# metrics scrape test (a real HTTP client and Prometheus' own checker);
	# the test cluster (curl for etcd's JSON gateway, openssl for its TLS)
	curl prometheus openssl
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "banana needs these Debian packages: ${missing[*]}" >&2
	echo "run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
