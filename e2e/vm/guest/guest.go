// Package guest holds helpers for tests that run inside the lvsctl test VM
// (package vm): they fail a test early, with a message that says what to
// do, when it runs somewhere else or the kernel lacks what it needs.
package guest

import (
	"fmt"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

// EnvVM is set to "1" by the guest's /init for every test binary.
const EnvVM = "LVSCTL_VM"

// InVM reports whether the process runs inside the test VM.
func InVM() bool { return os.Getenv(EnvVM) == "1" }

// IPVSFamily checks that the kernel has the IPVS generic-netlink family.
// Do this before using moby/ipvs: without the family it silently does
// nothing, and its GetConfig panics.
func IPVSFamily() error {
	if _, err := netlink.GenlFamilyGet("IPVS"); err != nil {
		return fmt.Errorf("the kernel has no IPVS generic-netlink family (ip_vs not loaded?): %w", err)
	}
	return nil
}

// RequireIPVS fails the test at once unless it runs inside the test VM with
// IPVS available.
func RequireIPVS(t testing.TB) {
	t.Helper()
	if !InVM() {
		t.Fatalf("this is a VM-tier test (build tag vm) and needs the kernel with IPVS in the test VM; "+
			"run it with `make e2e-vm VM_RUN=%s` or `go run ./e2e/vm/cmd/vmrun -run %s`", t.Name(), t.Name())
	}
	if err := IPVSFamily(); err != nil {
		t.Fatalf("%v", err)
	}
}
