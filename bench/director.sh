#!/bin/sh
# Director benchmarks: the reconciler against the recording fake (no root,
# no kernel), then the same work against the real kernel inside the test VM.
# Prints the figures quoted in docs/director.md.
#
#   bench/director.sh          both parts
#   bench/director.sh fake     only the fake-IPVS benchmarks
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}

echo "== reconciler against the fake IPVS (100,000 destinations = 10,000 services x 10)"
$GO test -run '^$' -bench 'ColdStart100k|Resync100k|Diff100k|ReloadOneOf10000' -benchtime 5x -count 1 ./director/ |
	grep -E '^Benchmark|^cpu'
echo "== reload changing one real server among 10,000 issues exactly one IPVS edit"
$GO test -count 1 -run 'TestReloadChangingOneOf10000IssuesOneOp' -v ./director/ | grep -E '^(--- |ok|FAIL)'

[ "${1:-}" = fake ] && exit 0
echo "== real kernel in the test VM (TCG emulation: expect 10-20x slower than bare metal)"
$GO run ./e2e/vm/cmd/vmrun -v -run 'TestVMScale' ./director/ipvs 2>&1 | grep -E 'FIGURES|PASS|FAIL'
