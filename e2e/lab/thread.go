package lab

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// onThrowawayThread runs fn on a fresh goroutine locked to its OS thread and
// never unlocks it, so the runtime destroys the thread afterwards. Use it for
// work that changes the thread's namespace without restoring it.
func onThrowawayThread(fn func() error) error {
	return onThread(func() (unlock bool, err error) { return false, fn() })
}

// inNamespace runs fn on a locked OS thread that is inside ns, then switches
// the thread back. If switching back fails the thread is left locked, so the
// runtime destroys it instead of reusing it in the wrong namespace.
func inNamespace(ns netns.NsHandle, fn func() error) error {
	return onThread(func() (bool, error) {
		orig, err := netns.Get()
		if err != nil {
			return false, fmt.Errorf("get current namespace: %w", err)
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			return false, fmt.Errorf("enter namespace: %w", err)
		}
		ferr := fn()
		return netns.Set(orig) == nil, ferr
	})
}

// onThread runs fn on a new goroutine locked to its thread and waits. A panic
// in fn is re-raised in the caller's goroutine, so the test's cleanups still
// run and remove the namespaces.
func onThread(fn func() (unlock bool, err error)) error {
	type result struct {
		err      error
		panicked any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var res result
		defer func() {
			if p := recover(); p != nil {
				res.panicked = p
			}
			done <- res
		}()
		var unlock bool
		unlock, res.err = fn()
		if unlock {
			runtime.UnlockOSThread()
		}
	}()
	res := <-done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}
