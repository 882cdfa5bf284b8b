package daemon

import (
	"context"
	"log/slog"
	"os/exec"
	"syscall"
	"time"

	"github.com/lvsctl/lvsctl/internal/cmdline"
)

// ExecScripts runs notify and quorum scripts as the VRRP notify scripts run
// (package cmdline: directly, or under /bin/sh -c when the line uses shell
// syntax), each in its own process group, without waiting for them
// (keepalived does not wait either), killing any that outlives Timeout.
type ExecScripts struct {
	Log     *slog.Logger
	Timeout time.Duration
}

// Run implements director.Scripts.
func (s ExecScripts) Run(ctx context.Context, script string) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	argv, _, err := cmdline.Argv(script)
	if err != nil {
		log.Error("notify script cannot run", "script", script, "err", err)
		return
	}
	// The script must outlive a cancelled daemon context (omega scripts
	// run while stopping), so only the timeout bounds it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	cmd := exec.CommandContext(sctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		cancel()
		log.Error("notify script did not start", "script", script, "err", err)
		return
	}
	go func() {
		defer cancel()
		if err := cmd.Wait(); err != nil {
			log.Warn("notify script failed", "script", script, "err", err)
			return
		}
		log.Debug("notify script done", "script", script)
	}()
}
