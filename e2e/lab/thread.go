package lab

import (
	"errors"
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

// spawner starts a host's processes from one OS thread that stays inside
// the host's namespace for the lab's lifetime. A child started with
// Pdeathsig gets that signal when the *thread* that forked it ends, and a
// thread of Go's pool can end at any moment: a goroutine that locks its
// thread and returns without unlocking destroys it (the lab's namespace
// creation does, and so does an in-process VRRP node for each call into
// its namespace). Lab processes started from pool threads were killed
// (SIGKILL, no output) seconds after they started, in tests that had not
// touched them. This thread ends only when the lab closes, after the
// host's processes were stopped.
type spawner struct {
	req  chan func()
	stop chan struct{}
}

// newSpawner starts the spawner's thread inside ns.
func newSpawner(ns netns.NsHandle) (*spawner, error) {
	s := &spawner{req: make(chan func()), stop: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread is inside ns and dies with this
		// goroutine.
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		errc <- nil
		for {
			select {
			case fn := <-s.req:
				fn()
			case <-s.stop:
				return
			}
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return s, nil
}

// do runs fn on the spawner's thread and returns its error (an error
// once the lab has closed).
func (s *spawner) do(fn func() error) error {
	errc := make(chan error, 1)
	select {
	case s.req <- func() { errc <- fn() }:
		return <-errc
	case <-s.stop:
		return errors.New("the lab is closed")
	}
}

func (s *spawner) close() { close(s.stop) }
