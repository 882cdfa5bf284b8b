package vrrp

import (
	"context"
	"log/slog"

	"github.com/lvsctl/lvsctl/internal/clock"
	"github.com/lvsctl/lvsctl/internal/script"
)

// trackScript is one vrrp_script with its rise/fall state.
type trackScript struct {
	cfg     ScriptConfig
	cmd     script.Command
	problem string
	// stop ends the loop (set when it starts).
	stop context.CancelFunc
}

type scriptResult struct {
	name string
	ok   bool
	// src tells a result of the running script from a late one of a
	// script a reload replaced.
	src *trackScript
}

func newTrackScript(cfg ScriptConfig) (*trackScript, error) {
	c, err := script.Parse(cfg.Command)
	if err != nil {
		return nil, err
	}
	c.As = cfg.As
	return &trackScript{cfg: cfg, cmd: c}, nil
}

// loop runs the script every interval and reports each change of its
// OK/failing state after Rise successes or Fall failures in a row.
func (s *trackScript) loop(ctx context.Context, runner script.Runner, clk clock.Clock, log *slog.Logger, report func(scriptResult)) {
	ok := !s.cfg.InitFail
	run, fail := 0, 0
	logged := false
	// Runs start on a fixed grid like a ticker's; a run that overruns its
	// slot is followed by the next at once rather than by a burst.
	next := clk.Now()
	for {
		err := runner.Run(ctx, s.cmd, s.cfg.Timeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fail++
			run = 0
			if !logged && s.problem != "" {
				logged = true
				log.Error("track script cannot run; counting it as failing", "script", s.cfg.Name, "err", err)
			}
		} else {
			run++
			fail = 0
		}
		switch {
		case ok && fail >= s.cfg.Fall:
			ok = false
			report(scriptResult{name: s.cfg.Name, ok: false, src: s})
		case !ok && run >= s.cfg.Rise:
			ok = true
			report(scriptResult{name: s.cfg.Name, ok: true, src: s})
		}
		now := clk.Now()
		next = next.Add(s.cfg.Interval)
		if next.Before(now) {
			next = now
		}
		t := clk.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}
