#!/bin/sh
# Director benchmarks: the reconciler against the recording fake (no root,
# no kernel), then the same work against the real kernel inside the test VM.
# Prints the figures quoted in docs/director.md.
#
#   bench/director.sh          both parts
#   bench/director.sh fake     only the fake-IPVS benchmarks
#   LVSCTL_BENCH_ROUNDS=N      VM measurements per figure (default 2)
#
# The VM part also loads the same 1,000 x 10 configuration with keepalived
# (the Debian package, shipped into the guest with its shared libraries by
# vmrun -host-bin) and prints both side by side.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}

echo "== reconciler against the fake IPVS (100,000 destinations = 10,000 services x 10)"
$GO test -run '^$' -bench 'ColdStart100k|Resync100k|Diff100k|ReloadOneOf10000' -benchtime 5x -count 1 ./director/ |
	grep -E '^Benchmark|^cpu'
echo "== reload changing one real server among 10,000 issues exactly one IPVS edit"
$GO test -count 1 -run 'TestReloadChangingOneOf10000IssuesOneOp' -v ./director/ | grep -E '^(--- |ok|FAIL)'

[ "${1:-}" = fake ] && exit 0
KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
if [ ! -x "$KEEPALIVED" ]; then
	echo "director bench: $KEEPALIVED not found (apt-get install keepalived, or make deps)" >&2
	exit 1
fi
echo "== real kernel in the test VM (TCG emulation: expect 10-20x slower than bare metal)"
echo "   lvsctl vs keepalived $("$KEEPALIVED" --version 2>&1 | head -1 | cut -d' ' -f2), ${LVSCTL_BENCH_ROUNDS:-2} rounds"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! $GO run ./e2e/vm/cmd/vmrun -v -count "${LVSCTL_BENCH_ROUNDS:-2}" -bin ./cmd/lvsctl -host-bin "$KEEPALIVED" \
	-run '^(TestVMScale|TestVMKeepalivedComparison)$' ./director/ipvs ./bench/directorvm >"$out" 2>&1; then
	cat "$out" >&2
	echo "director bench: the VM measurement failed" >&2
	exit 1
fi
# The figures without the console prefix and the test's file:line.
grep -E 'FIGURES|^vmrun: (ok|FAIL|timing)' "$out" | sed -E 's/^vm\| +[a-z_]+\.go:[0-9]+: //'
