package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/script"
)

// RunHostScript runs startup_script or shutdown_script (kind says which,
// for the log) and waits for it, at most its timeout; the script policy
// of package script applies (user, process group, SIGTERM then SIGKILL).
// As keepalived 2.2.7 does (core/main.c: run_startup_script,
// startup_shutdown_script_completed, stop_keepalived), a failing, timed
// out or missing script is logged and the daemon goes on: the startup
// script runs after the file is loaded and before anything is started,
// the shutdown script after everything stopped. A zero script is none.
func RunHostScript(ctx context.Context, kind string, s config.HostScript, log *slog.Logger) {
	if s.Command == "" {
		return
	}
	c, err := script.Parse(s.Command)
	if err != nil {
		log.Error(kind+" script cannot run", "script", s.Command, "err", err)
		return
	}
	c.As = s.As
	start := time.Now()
	log.Info("running "+kind+" script", "script", s.Command, "user", s.As.String(), "timeout", s.Timeout)
	if err := (script.Runner{}).Run(ctx, c, s.Timeout); err != nil {
		log.Warn(kind+" script failed; going on", "script", s.Command, "err", err, "took", time.Since(start).Round(time.Millisecond))
		return
	}
	log.Info(kind+" script done", "script", s.Command, "took", time.Since(start).Round(time.Millisecond))
}

// shutdownScript is the shutdown_script of the configuration in force.
func (dm *Daemon) shutdownScript() config.HostScript {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return dm.shutdown
}

func (dm *Daemon) setShutdownScript(s config.HostScript) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	dm.shutdown = s
}
