#!/bin/busybox sh
# /init of the lvsctl test VM (see package vm). It runs as PID 1: it must
# never exit (the kernel would panic), so every path ends in poweroff.

/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin:/sbin HOME=/root TMPDIR=/tmp LVSCTL_VM=1

. /vm/config.sh

# The result markers carry a per-run nonce so that test output can never be
# mistaken for them.
finish() {
	echo "LVSCTL-VM-RESULT $NONCE rc=$1"
	sync
	poweroff -f
	sleep 10
}
fail() {
	echo "LVSCTL-VM-ERROR $NONCE $*"
	finish 125
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run || fail "mount /run"
mount -t tmpfs tmpfs /tmp || fail "mount /tmp"
# Named network namespaces live under /var/run/netns (iproute2's place,
# used by e2e/lab); their bind mounts need a writable, private tree.
mkdir -p /var && ln -s /run /var/run
# The kernel calls this for request_module (scheduler or link type loaded on
# demand).
echo /sbin/modprobe > /proc/sys/kernel/modprobe
hostname lvsctl-vm
ip link set lo up || fail "lo up"

for m in $MODULES; do
	modprobe "$m" || fail "modprobe $m"
done
[ -e /proc/net/ip_vs ] || fail "IPVS not available after loading ip_vs (/proc/net/ip_vs missing)"

echo "LVSCTL-VM-READY $NONCE uptime=$(cut -d' ' -f1 /proc/uptime)"

rc=0
# run_test NAME DIR BINARY ARGS...: one test binary, run from its package
# directory like `go test` does.
run_test() {
	name=$1 dir=$2 bin=$3
	shift 3
	echo "LVSCTL-VM-START $NONCE test=$name uptime=$(cut -d' ' -f1 /proc/uptime)"
	mkdir -p "$dir"
	(cd "$dir" && "$bin" "$@")
	r=$?
	echo "LVSCTL-VM-RESULT $NONCE test=$name rc=$r uptime=$(cut -d' ' -f1 /proc/uptime)"
	[ "$r" -eq 0 ] || rc=1
}
. /vm/tests.sh
finish $rc
