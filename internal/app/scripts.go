package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/script"
)

// ExecScripts runs the director's notify and quorum scripts with the one
// script policy (package script), without making the director wait for
// them (keepalived does not wait either).
type ExecScripts struct {
	Log *slog.Logger
	// Timeout bounds each script (default 30s).
	Timeout time.Duration
}

// Run implements director.Scripts: the script runs as the user the
// configuration resolved for it (script.As).
func (s ExecScripts) Run(ctx context.Context, ds director.Script) {
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
	go func() {
		if err := (script.Runner{}).Run(ctx, c, timeout); err != nil {
			log.Warn("notify script failed", "script", line, "user", ds.As.String(), "err", err)
			return
		}
		log.Debug("notify script done", "script", line)
	}()
}
