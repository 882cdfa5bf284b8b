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

// A process the lab starts survives the end of Go's pool threads; one
// started the way the lab used to (from a pool thread, with Pdeathsig)
// is killed by it.
func TestProcessSurvivesPoolThreads(t *testing.T) {
	l := lab.New(t)
	h := l.Host("spawn")
	p := h.Start("sleep", "60")

	// The old way: forked from a pool thread inside the namespace.
	old := exec.Command("sleep", "60")
	old.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, h.Do(old.Start))
	oldDone := make(chan error, 1)
	go func() { oldDone <- old.Wait() }()
	t.Cleanup(func() { _ = old.Process.Kill() })

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		destroyThreads(50)
		select {
		case err := <-oldDone:
			t.Logf("the process started from a pool thread ended: %v", err)
			assert.NoError(t, p.Signal(0), "the lab's process is still running")
			return
		default:
		}
	}
	t.Fatal("the process started from a pool thread outlived 20 s of thread exits: the test shows nothing")
}
