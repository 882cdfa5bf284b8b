package director

import (
	"os"
	"runtime"
	"runtime/debug"
)

// bigBatch is the plan size from which Start tunes the Go runtime for
// the apply (a cold start of 1,000 services × 10 real servers is 11,000
// edits; a restart that adopts a table is a handful).
const bigBatch = 1000

// tuneForBatch makes a long run of netlink calls cheaper and returns the
// function that undoes it. One P: every call is a synchronous round trip
// to the kernel on one goroutine, and with more Ps the idle ones spin and
// are woken on every netpoller event for nothing (measured in the VM:
// 7-17 % on a cold start in TestVMColdStartTuning, three runs; per call
// in TestVMCallCost 23 % in one run, nothing in another: small next to
// the emulated guest's noise, but never worse). Pausing the GC is possible too but is off: it
// did not measurably help (the batch allocates only about 3 KiB per call)
// and the heap grew by that much, RSS after start 36-37 MB instead of
// 27-29 MB.
func tuneForBatch(oneProc, noGC bool) (restore func()) {
	procs, gc := -1, -2
	if oneProc {
		procs = runtime.GOMAXPROCS(1)
	}
	if noGC {
		gc = debug.SetGCPercent(-1)
	}
	// Setting GOMAXPROCS turns off the runtime's own updates of it (it
	// follows the cgroup's CPU quota); give them back unless the operator
	// fixed the value with the environment variable.
	fixed := os.Getenv("GOMAXPROCS") != ""
	return func() {
		if noGC {
			debug.SetGCPercent(gc)
		}
		switch {
		case oneProc && fixed:
			runtime.GOMAXPROCS(procs)
		case oneProc:
			runtime.SetDefaultGOMAXPROCS()
		}
	}
}

// batchTuning is what Start does for a big batch; tests measure the
// alternatives.
type batchTuning struct{ oneProc, noGC bool }

// What Start does by default (measured: see TestVMColdStartTuning).
const (
	defaultOneProc = true
	defaultNoGC    = false
)
