package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/script"
)

// ExecScripts runs the director's notify and quorum scripts with the one
// script policy (package script), without making the director wait for
// them (keepalived does not wait either). Wait lets a stopping daemon give
// the last ones (omega's) time to run before it exits.
type ExecScripts struct {
	Log *slog.Logger
	// Timeout bounds each script (default 30s).
	Timeout time.Duration

	running sync.WaitGroup
}

// ScriptStopWait is how long a stopping daemon waits for the scripts it
// started (omega's notify_down and quorum_down run while stopping):
// keepalived 2.2.7's checker waits one second for its children
// (check_daemon.c checker_terminate_phase1, checker_shutdown_backstop_thread).
const ScriptStopWait = time.Second

// Run implements director.Scripts: the script runs as the user the
// configuration resolved for it (script.As).
func (s *ExecScripts) Run(ctx context.Context, ds director.Script) {
	line := ds.Line
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := script.Parse(line)
	if err != nil {
		log.Error("notify script cannot run", "script", line, "err", err)
		return
	}
	c.As = ds.As
	// The script must outlive a cancelled daemon context (omega scripts
	// run while stopping), so only the timeout bounds it.
	ctx = context.WithoutCancel(ctx)
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		if err := (script.Runner{}).Run(ctx, c, timeout); err != nil {
			log.Warn("notify script failed", "script", line, "user", ds.As.String(), "err", err)
			return
		}
		log.Debug("notify script done", "script", line)
	}()
}

// Wait returns once every script started so far has ended, or when ctx
// ends (the scripts go on then; the error says so).
func (s *ExecScripts) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scripts still running: %w", ctx.Err())
	}
}
