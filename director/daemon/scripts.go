package daemon

import (
	"context"
	"log/slog"
	"os/exec"
	"syscall"
	"time"
)

// ShellScripts runs notify and quorum scripts with /bin/sh -c, each in
// its own process group, without waiting for them (keepalived does not
// wait either), killing any that outlives Timeout.
type ShellScripts struct {
	Log     *slog.Logger
	Timeout time.Duration
}

// Run implements director.Scripts.
func (s ShellScripts) Run(ctx context.Context, script string) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The script must outlive a cancelled daemon context (omega scripts
	// run while stopping), so only the timeout bounds it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	cmd := exec.CommandContext(sctx, "/bin/sh", "-c", script)
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
