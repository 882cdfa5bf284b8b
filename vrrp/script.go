package vrrp

import (
	"context"
	"log/slog"
)

// trackScript is one vrrp_script with its rise/fall state.
type trackScript struct {
	cfg     ScriptConfig
	cmd     command
	problem string
}

type scriptResult struct {
	name string
	ok   bool
}

func newTrackScript(cfg ScriptConfig) (*trackScript, error) {
	c, err := parseCommand(cfg.Command)
	if err != nil {
		return nil, err
	}
	return &trackScript{cfg: cfg, cmd: c}, nil
}

// loop runs the script every interval and reports each change of its
// OK/failing state after Rise successes or Fall failures in a row.
func (s *trackScript) loop(ctx context.Context, start starter, clock Clock, log *slog.Logger, report func(scriptResult)) {
	ok := !s.cfg.InitFail
	run, fail := 0, 0
	logged := false
	// Runs start on a fixed grid like a ticker's; a run that overruns its
	// slot is followed by the next at once rather than by a burst.
	next := clock.Now()
	for {
		err := s.cmd.run(ctx, start, s.cfg.Timeout)
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
			report(scriptResult{name: s.cfg.Name, ok: false})
		case !ok && run >= s.cfg.Rise:
			ok = true
			report(scriptResult{name: s.cfg.Name, ok: true})
		}
		now := clock.Now()
		next = next.Add(s.cfg.Interval)
		if next.Before(now) {
			next = now
		}
		c, stop := clock.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			stop()
			return
		case <-c:
		}
	}
}
