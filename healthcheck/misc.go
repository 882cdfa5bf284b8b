package healthcheck

import (
	"context"
	"errors"
	"os/exec"
	"time"

	"github.com/lvsctl/lvsctl/internal/script"
)

// miscGrace is how long a timed-out script gets between SIGTERM and
// SIGKILL (keepalived waits 2 seconds too).
const miscGrace = 2 * time.Second

// newMiscProbe builds the MISC_CHECK probe of s. misc_path is split into
// words once and never run through a shell (keepalived's MISC_CHECK
// semantics); internal/script gives each run its own process group and
// kills it at the timeout.
func newMiscProbe(s *Spec) probeFunc {
	cmd, err := script.ParseNoShell(s.Misc.Command)
	if err != nil {
		r := fail(s, "", "bad misc_path: %v", err)
		return func(context.Context, int) Result { return r }
	}
	cmd.As = s.Misc.As
	run := script.Runner{Grace: miscGrace}
	return func(ctx context.Context, _ int) Result { return probeMisc(ctx, s, run, cmd) }
}

func probeMisc(ctx context.Context, s *Spec, run script.Runner, cmd script.Command) Result {
	timeout := s.Misc.Timeout
	if timeout <= 0 {
		timeout = s.DelayLoop
	}
	err := run.Run(ctx, cmd, timeout)
	code := script.ExitCode(err)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return pass(s, "")
	case errors.Is(err, script.ErrTimeout):
		return fail(s, "", "timed out after %s", timeout)
	case code >= 2 && code <= 255 && s.Misc.Dynamic:
		r := pass(s, "")
		r.Weight, r.HasWeight = code-2, true
		return r
	case code > 0:
		return fail(s, "", "exited with status %d", code)
	case errors.As(err, &exitErr):
		return fail(s, "", "killed: %v", exitErr)
	default:
		return fail(s, "", "%v", err)
	}
}
