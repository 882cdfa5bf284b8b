package healthcheck

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"

	"github.com/lvsctl/lvsctl/internal/cmdline"
)

// miscGrace is how long a timed-out script gets between SIGTERM and
// SIGKILL (keepalived waits 2 seconds too).
const miscGrace = 2 * time.Second

func probeMisc(ctx context.Context, s *Spec) Result {
	argv, err := cmdline.Split(s.Misc.Command)
	if err != nil || len(argv) == 0 {
		return fail(s, "", "bad misc_path: %v", err)
	}
	timeout := s.Misc.Timeout
	if timeout <= 0 {
		timeout = s.DelayLoop
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Its own process group, so a timeout kills the script and everything
	// it started, not only the leader.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = miscGrace
	err = cmd.Run()
	if cmd.Process != nil {
		// Reap stragglers the script left in its group, whatever happened.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return pass(s, "")
	case timedOut:
		return fail(s, "", "timed out after %s", timeout)
	case errors.As(err, &exitErr):
		code := exitErr.ExitCode()
		if code >= 2 && code <= 255 && s.Misc.Dynamic {
			r := pass(s, "")
			r.Weight, r.HasWeight = code-2, true
			return r
		}
		if code < 0 {
			return fail(s, "", "killed: %v", exitErr)
		}
		return fail(s, "", "exited with status %d", code)
	default:
		return fail(s, "", "%v", err)
	}
}
