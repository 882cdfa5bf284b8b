// Package script runs every external program lvsctl starts on the
// configuration's behalf (MISC_CHECK, VRRP notify and track scripts, the
// director's notify_up/down and quorum_up/down) with one policy:
//
//   - the line becomes argv by package cmdline's rule (Parse: /bin/sh -c
//     only for lines with shell syntax; ParseNoShell: never a shell, as
//     MISC_CHECK requires);
//   - each run gets its own process group, no stdin and no output;
//   - at the timeout (or when ctx ends) the group gets SIGTERM, then SIGKILL
//     after the grace period; whatever the script left in its group is
//     killed when it exits;
//   - it runs as the user the configuration named (As: script_user, a
//     MISC_CHECK "user" line, the user after a notify script), and with
//     enable_script_security a script that a non-root user could modify is
//     refused (Secure), as keepalived 2.2.7 does (lib/notify.c:
//     set_script_env, check_script_secure, check_security).
package script

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/lvsctl/lvsctl/internal/cmdline"
)

// DefaultGrace is the time between SIGTERM and SIGKILL of a script that
// ran out of time (keepalived waits 2 seconds too).
const DefaultGrace = 2 * time.Second

// ErrTimeout is wrapped by Run's error when the script ran out of time.
var ErrTimeout = errors.New("script timed out")

// Command is one parsed script line.
type Command struct {
	// Line is the line as configured.
	Line string
	// Argv is what runs: the words of Line, or /bin/sh -c Line.
	Argv []string
	// Shell is true when Argv runs Line under /bin/sh.
	Shell bool
	// As is who runs it and whether its path must be secure.
	As As
}

// As says how a configured script runs. The zero value runs it as lvsctl
// itself with no path check. It is comparable, so that configurations
// holding it can be compared with ==.
type As struct {
	// Set is true when the script runs as UID:GID (resolved from User and
	// Group when the configuration was loaded).
	Set   bool   `json:"set"`
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	// Secure (enable_script_security) refuses to run a script that a
	// non-root user could modify when it runs as root (Secure).
	Secure bool `json:"secure,omitempty"`
}

// String is "user:group" for logs ("" when As is not Set).
func (a As) String() string {
	if !a.Set {
		return ""
	}
	return a.User + ":" + a.Group
}

// Parse turns a script line into a Command with cmdline's shell rule.
func Parse(line string) (Command, error) {
	argv, shell, err := cmdline.Argv(line)
	if err != nil {
		return Command{Line: line}, fmt.Errorf("script %q: %w", line, err)
	}
	return Command{Line: line, Argv: argv, Shell: shell}, nil
}

// ParseNoShell splits a script line into words and never uses a shell.
func ParseNoShell(line string) (Command, error) {
	argv, err := cmdline.Split(line)
	if err == nil && len(argv) == 0 {
		err = cmdline.ErrEmpty
	}
	if err != nil {
		return Command{Line: line}, fmt.Errorf("script %q: %w", line, err)
	}
	return Command{Line: line, Argv: argv}, nil
}

// Check reports why the command cannot run (missing, not executable).
func (c Command) Check() error {
	if len(c.Argv) == 0 {
		return cmdline.ErrEmpty
	}
	if _, err := exec.LookPath(c.Argv[0]); err != nil {
		return fmt.Errorf("%s: %w", c.Argv[0], err)
	}
	return nil
}

// With returns the argv that runs the command with extra arguments
// appended; a shell line gets them appended to the line, quoted (as
// keepalived appends them).
func (c Command) With(extra ...string) []string {
	if len(extra) == 0 {
		return c.Argv
	}
	if c.Shell {
		line := c.Line
		for _, e := range extra {
			line += " '" + strings.ReplaceAll(e, "'", `'\''`) + "'"
		}
		return []string{"/bin/sh", "-c", line}
	}
	return append(append([]string(nil), c.Argv...), extra...)
}

// Runner runs commands. The zero value is ready to use.
type Runner struct {
	// Start starts a prepared command (nil: cmd.Start). The VRRP runtime
	// starts its children inside the network namespace it was created in.
	Start func(*exec.Cmd) error
	// Grace is the time between SIGTERM and SIGKILL (0: DefaultGrace).
	Grace time.Duration
}

// Run runs c with extra arguments and waits for it, bounded by timeout
// (<= 0: only ctx bounds it). It returns nil on exit status 0, an error
// wrapping *exec.ExitError on another status, and one wrapping ErrTimeout
// when the script was stopped at the timeout.
func (r Runner) Run(ctx context.Context, c Command, timeout time.Duration, extra ...string) error {
	argv := c.With(extra...)
	if len(argv) == 0 {
		return cmdline.ErrEmpty
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	if c.As.Secure {
		if err := Secure(c); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: credential(c.As)}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = grace
	start := r.Start
	if start == nil {
		start = (*exec.Cmd).Start
	}
	if err := start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	err := cmd.Wait()
	// Kill what the script left in its group, whatever happened.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w after %s", argv[0], ErrTimeout, timeout)
		}
		return fmt.Errorf("%s: %w", argv[0], ctxErr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}

// credential is the identity the child switches to: keepalived's
// set_script_env (lib/notify.c) does setgid, setgroups(1, &gid) (dropping
// every other supplementary group) and setuid. Nothing changes when the
// script runs as lvsctl's own ids and lvsctl is not root (unit tests).
func credential(a As) *syscall.Credential {
	if !a.Set {
		return nil
	}
	if os.Geteuid() != 0 && int(a.UID) == os.Geteuid() && int(a.GID) == os.Getegid() {
		return nil
	}
	return &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: []uint32{a.GID}}
}

// ExitCode is the exit status in err from Run, or -1 when the script did
// not exit by itself (not started, killed, timed out).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
