#!/bin/sh
# Measures VRRP handover for lvsctl and keepalived side by side, in network
# namespaces created and removed by the test (nothing touches the root
# namespace): graceful stop, cable cut, return, and VRRPv3 with
# advert_int 0.1. Needs root and the Debian package keepalived.
#   LVSCTL_BENCH_ROUNDS=N   rounds per implementation (default 3)
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "vrrp-handover: must run as root (network namespaces)" >&2
	exit 1
fi
if ! command -v keepalived >/dev/null 2>&1; then
	echo "vrrp-handover: keepalived not installed (apt-get install keepalived)" >&2
	exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! go test -tags bench -count=1 -timeout 20m -v -run 'TestVRRPHandover$' ./bench/vrrphandover/ >"$out" 2>&1; then
	cat "$out" >&2
	echo "vrrp-handover: measurement failed" >&2
	exit 1
fi
# Print the table only.
awk '/^VRRP handover/{p=1} p&&/^--- PASS|^PASS|^ok/{exit} p' "$out"
