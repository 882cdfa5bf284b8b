#!/bin/sh
# Load benchmark of the health checker: 10,000 TCP_CHECK and HTTP_GET
# checks at delay_loop 1s against local listeners on 127.0.0.2-101.
#
# Runs inside a throw-away network namespace (unshare -n, loopback only), so
# the machine's own TIME_WAIT table and port range are untouched and every
# run starts clean. Needs root (or user namespaces) and util-linux unshare.
#
#   bench/healthcheck.sh                 # 30 s per kind
#   DURATION=10s N=5000 bench/healthcheck.sh
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
N=${N:-10000}
HTTP_N=${HTTP_N:-$N}
bin=$(mktemp -d)/hcbench
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/healthcheck
for kind in tcp http; do
	n=$N
	[ "$kind" = http ] && n=$HTTP_N
	echo "== $kind: $n checks, delay_loop 1s, $DURATION"
	unshare -n sh -c "ip link set lo up && exec '$bin' -kind $kind -n $n -duration $DURATION"
	echo
done
