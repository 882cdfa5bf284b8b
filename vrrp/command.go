package vrrp

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

// command is a parsed notify or track script line.
type command struct {
	text  string
	argv  []string
	shell bool
}

// parseCommand turns a keepalived script line into argv with the rule every
// script of lvsctl follows (package cmdline): lines with shell syntax run
// under /bin/sh -c, everything else runs directly.
func parseCommand(s string) (command, error) {
	argv, shell, err := cmdline.Argv(s)
	if err != nil {
		return command{text: s}, fmt.Errorf("script %q: %w", s, err)
	}
	return command{text: s, argv: argv, shell: shell}, nil
}

// check reports why the command cannot run (missing, not executable); nil
// when it looks runnable. Shell lines are checked for /bin/sh only.
func (c command) check() error {
	if len(c.argv) == 0 {
		return errors.New("empty command")
	}
	if _, err := exec.LookPath(c.argv[0]); err != nil {
		return fmt.Errorf("%s: %w", c.argv[0], err)
	}
	return nil
}

// starter starts a prepared command; the runtime uses it to start children
// inside the network namespace the node was created in.
type starter func(*exec.Cmd) error

// run executes the command with extra arguments appended, bounded by
// timeout. The whole process group is killed on timeout.
func (c command) run(ctx context.Context, start starter, timeout time.Duration, extra ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := append(append([]string(nil), c.argv...), extra...)
	if c.shell && len(extra) > 0 {
		// Like keepalived, append the words to the command line (quoted).
		line := c.text
		for _, e := range extra {
			line += " '" + strings.ReplaceAll(e, "'", `'\''`) + "'"
		}
		argv = []string{"/bin/sh", "-c", line}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = nil, nil
	cmd.Env = os.Environ()
	if err := start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s: %w", argv[0], ctx.Err())
	}
}
