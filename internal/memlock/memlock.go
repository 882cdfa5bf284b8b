// Package memlock keeps a daemon's memory resident: a VRRP node or a
// director that waits on a page fault (its code evicted from the page
// cache, read back from a slow or busy disk) misses its adverts and its
// health checks, and a backup takes over from a master that is alive.
// keepalived offers the same as vrrp_no_swap / checker_no_swap
// (core/process.c, set_process_dont_swap: mlockall); lvsctl does it by
// default.
package memlock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Lock reads every page mapped now (the binary's code and data, the heap
// so far) into memory and locks it there (MCL_CURRENT), then marks every
// mapping to be locked as it is first touched (MCL_FUTURE | MCL_ONFAULT:
// heap the runtime reserves is not filled in advance). It needs
// CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK.
func Lock() error {
	if err := unix.Mlockall(unix.MCL_CURRENT); err != nil {
		return fmt.Errorf("mlockall(MCL_CURRENT): %w", err)
	}
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		_ = unix.Munlockall()
		return fmt.Errorf("mlockall(MCL_FUTURE|MCL_ONFAULT): %w", err)
	}
	return nil
}
