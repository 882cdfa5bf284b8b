//go:build e2e

package lab_test

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/e2e/lab"
)

// destroyThreads ends n OS threads of Go's pool: a goroutine that locks
// its thread and returns without unlocking destroys it (what the lab's
// namespace creation and an in-process VRRP node's namespace calls do).
func destroyThreads(n int) {
	for range n {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(done)
		}()
		<-done
		time.Sleep(time.Millisecond)
	}
}

// A child started with Pdeathsig dies when the thread that forked it ends
// (the hazard: here that thread is ended on purpose, as Go ends a pool
// thread whenever a goroutine exits locked on it); a process the lab
// starts lives through any number of pool thread exits, because the lab
// forks from a thread that lives until the lab closes.
func TestProcessSurvivesPoolThreads(t *testing.T) {
	l := lab.New(t)
	h := l.Host("spawn")
	p := h.Start("sleep", "60")

	hazard := exec.Command("sleep", "60")
	hazard.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No unlock: this thread ends with the goroutine, as a pool
		// thread does.
		started <- hazard.Start()
	}()
	require.NoError(t, <-started)
	t.Cleanup(func() { _ = hazard.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- hazard.Wait() }()
	select {
	case err := <-done:
		t.Logf("the child of the ended thread: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("a Pdeathsig child outlived the thread that forked it: the hazard this test guards against is not there")
	}

	destroyThreads(200)
	assert.NoError(t, p.Signal(0), "the lab's process lives through 200 pool thread exits")
}
