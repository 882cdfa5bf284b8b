package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a program running inside a host. The lab stops it at cleanup
// and logs its output when the test failed.
type Process struct {
	host *Host
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // valid after done is closed
}

// Start runs name with args inside the host, in a process group of its own.
// The command is found in PATH as usual.
func (h *Host) Start(name string, args ...string) *Process {
	h.lab.t.Helper()
	p, err := h.start(exec.Command(name, args...))
	if err != nil {
		h.fatalf("start %s: %v", name, err)
	}
	return p
}

// StartCmd is Start for a prepared command (to set Env, Dir or Stdin).
// Stdout and Stderr are taken over by the lab when they are nil.
func (h *Host) StartCmd(cmd *exec.Cmd) *Process {
	h.lab.t.Helper()
	p, err := h.start(cmd)
	if err != nil {
		h.fatalf("start %s: %v", cmd.Path, err)
	}
	return p
}

func (h *Host) start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{host: h, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The child is forked from the host's spawner thread, inside the
	// namespace, and inherits it; Pdeathsig fires when that thread ends,
	// at the lab's close (thread.go, spawner).
	if err := h.spawn.do(cmd.Start); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.lab.onClose(func() {
		p.Stop(5 * time.Second)
		if h.lab.t.Failed() {
			h.lab.t.Logf("lab: output of %s on %s:\n%s", cmd.Path, h.name, p.Output())
		}
	})
	return p, nil
}

// Run runs a command inside the host to completion and returns its combined
// output.
func (h *Host) Run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out []byte
	err := h.Do(func() error {
		var err error
		out, err = cmd.CombinedOutput()
		return err
	})
	if err != nil {
		return string(out), fmt.Errorf("%s %v on %s: %w: %s", name, args, h.name, err, out)
	}
	return string(out), nil
}

// PID is the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Output is what the process has written to stdout and stderr so far (when
// the lab captures them).
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process group.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return errors.New("process already exited")
	default:
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal %v to %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// Wait waits for the process to exit, at most timeout, and returns its exit
// error (nil on exit status 0).
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("process %d did not exit within %v", p.cmd.Process.Pid, timeout)
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, waits up to grace, then kills it.
// It returns the exit error as Wait does.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return p.err
	}
	_ = p.Signal(syscall.SIGTERM)
	if err := p.Wait(grace); err == nil || p.Exited() {
		return err
	}
	return p.Kill()
}

// Kill sends SIGKILL to the process group and waits for the process.
func (p *Process) Kill() error {
	_ = p.Signal(syscall.SIGKILL)
	return p.Wait(10 * time.Second)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a child's
// stdout and stderr copiers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
