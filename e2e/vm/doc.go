// Package vm runs Go tests inside a QEMU guest whose kernel has real IPVS.
//
// The machine running the tests (a developer's laptop, CI) usually has no
// IPVS and cannot load modules, so the VM tier boots Debian's stock kernel
// (package linux-image-amd64) under qemu-system-x86_64 with a small
// initramfs: busybox-static, the kernel modules the tests need (IPVS and its
// schedulers, veth, bridge, …), static Go test binaries and any extra static
// binaries (lvsctl itself). The guest's /init loads the modules, runs every
// test binary in turn and prints a result marker per binary and one for the
// whole run; the runner (cmd/vmrun) streams the console and exits with the
// guests' result.
//
// The part of the initramfs that does not change between runs (busybox and
// the modules) is cached; the test binaries go into a second cpio archive
// that the kernel unpacks on top of the first.
package vm
