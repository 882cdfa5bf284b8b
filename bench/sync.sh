#!/bin/sh
# Connection synchronisation on failover (docs/sync.md): two directors,
# 20 long-lived TCP streams through the VIP plus a fresh connection every
# 50 ms, three events (master crash, the returning master preempting,
# graceful stop). Prints one row per director implementation: broken
# streams, failed fresh connections and the IPVS entries the director
# taking over held.
#
#   bench/sync.sh                 every row
#   LVSCTL_SYNC_ROWS='keepalived$'  only the rows matching (subtests: lvsctl-refresh, lvsctl,
#                                  lvsctl-nosync, keepalived, keepalived-refresh, keepalived-nosync)
#
# Runs in the test VM (real IPVS); keepalived is the Debian package, shipped
# into the guest with its shared libraries by vmrun -host-bin.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
if [ ! -x "$KEEPALIVED" ]; then
	echo "sync bench: $KEEPALIVED not found (apt-get install keepalived, or make deps)" >&2
	exit 1
fi
echo "== connection sync on failover, real kernel in the test VM (TCG), keepalived $("$KEEPALIVED" --version 2>&1 | head -1 | cut -d' ' -f2)"
echo "   cells: broken streams / streams, failed / fresh connections, (IPVS entries on the director taking over)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! $GO run ./e2e/vm/cmd/vmrun -v -timeout 20m -bin ./cmd/lvsctl -host-bin "$KEEPALIVED" \
	-run "^TestVMSyncFailover\$/${LVSCTL_SYNC_ROWS:-}" ./e2e/ -- -sync.keepalived >"$out" 2>&1; then
	cat "$out" >&2
	echo "sync bench: the VM measurement failed" >&2
	exit 1
fi
grep -E 'FIGURES|^vmrun: (ok|FAIL|timing)' "$out" | sed -E 's/^vm\| +[a-z_]+\.go:[0-9]+: //; s/FIGURES //'
