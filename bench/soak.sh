#!/bin/sh
# Soak: `lvsctl director up` with 1,000 virtual servers x 10 real servers
# inside the test VM for SOAK_MINUTES (default 30) under churn: real
# servers flapping, a reload every 10 s, drift every 30 s, VRRP against a
# peer. Prints one line per minute and a pass criterion at the end (flat
# memory, goroutines and descriptors; a converged table). Needs root, qemu.
#   SOAK_MINUTES=N   duration of the churn (default 30)
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
min=${SOAK_MINUTES:-30}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Boot, cold start and the final convergence take a few minutes of their own.
timeout="$((min + 15))m"
if ! LVSCTL_VM_TIMEOUT="$timeout" $GO run ./e2e/vm/cmd/vmrun -v -mem 1024 -test-timeout "$timeout" -bin ./cmd/lvsctl \
	-run '^TestVMSoak$' ./bench/soak -- -soak.minutes "$min" >"$out" 2>&1; then
	cat "$out" >&2
	echo "soak: failed" >&2
	exit 1
fi
grep -E 'SOAK|^vmrun: (ok|FAIL|timing)' "$out" | sed -E 's/^vm\| +[a-z_]+\.go:[0-9]+: //'
