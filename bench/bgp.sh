#!/bin/sh
# Active-active directors behind an ECMP router (docs/bgp.md): a BIRD 2
# router with a multipath route for the VIP, three `lvsctl director up`
# announcing it over BGP, three real servers, 100 long-lived TCP streams.
# Events: a director leaves gracefully (SIGTERM), comes back, another
# crashes (link cut + kill -9), comes back. Prints one row per scheduler:
# broken streams per event and how long after the event the router's FIB
# changed.
#
#   bench/bgp.sh                    both rows
#   LVSCTL_BGP_ROWS='mh$'           only the rows matching (subtests: mh, mh-nosloppy, rr)
#
# Runs in the test VM (real IPVS); BIRD is the Debian package (bird2),
# shipped into the guest with its shared libraries by vmrun -host-bin.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIRD=${BIRD:-/usr/sbin/bird}
if [ ! -x "$BIRD" ]; then
	echo "bgp bench: $BIRD not found (apt-get install bird2, or make deps)" >&2
	exit 1
fi
echo "== BGP + ECMP, real kernel in the test VM (TCG), $("$BIRD" --version 2>&1 | head -1)"
echo "   cells: event broken/streams (event → router FIB changed)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! $GO run ./e2e/vm/cmd/vmrun -v -mem 1024 -timeout 20m -bin ./cmd/lvsctl -host-bin "$BIRD" \
	-run "^TestVMBGPECMP\$/${LVSCTL_BGP_ROWS:-}" ./e2e/ >"$out" 2>&1; then
	cat "$out" >&2
	echo "bgp bench: the VM measurement failed" >&2
	exit 1
fi
grep -E 'FIGURES|^vmrun: (ok|FAIL|timing)' "$out" | sed -E 's/^vm\| +[a-z_]+\.go:[0-9]+: //; s/FIGURES //'
