package vrrp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock"
)

// ProcInfo is one process as the process tracker sees it.
type ProcInfo struct {
	// Comm is the process name (/proc/PID/stat's second field).
	Comm string
	// Cmdline is argv (/proc/PID/cmdline split at NUL bytes).
	Cmdline []string
	// Zombie processes have exited and are never counted.
	Zombie bool
}

// ProcLister lists the processes of the host (or of a fake, in tests).
type ProcLister func() ([]ProcInfo, error)

// ListProcs reads /proc. keepalived 2.2.7 (core/track_process.c,
// read_procs) reads the same files: stat for the name and the zombie
// state, cmdline for full_command and parameters. A process that ends
// while it is read is skipped.
func ListProcs() ([]ProcInfo, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	out := make([]ProcInfo, 0, len(ents))
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || name[0] < '1' || name[0] > '9' {
			continue
		}
		dir := filepath.Join("/proc", name)
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		p := ProcInfo{Comm: string(stat[open+1 : end])}
		if rest := stat[end+1:]; len(rest) >= 2 && rest[1] == 'Z' {
			p.Zombie = true
		}
		if cl, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cl) > 0 {
			p.Cmdline = strings.Split(strings.TrimSuffix(string(cl), "\x00"), "\x00")
		}
		out = append(out, p)
	}
	return out, nil
}

// matches reports whether p counts for the tracker c
// (keepalived core/track_process.c, read_procs and check_params).
func (c *TrackProcessConfig) matches(p ProcInfo) bool {
	if p.Zombie {
		return false
	}
	var params []string
	if c.FullCommand {
		if len(p.Cmdline) == 0 || p.Cmdline[0] != c.Process {
			return false
		}
		params = p.Cmdline[1:]
	} else {
		if p.Comm != c.Process {
			return false
		}
		if len(p.Cmdline) > 0 {
			params = p.Cmdline[1:]
		}
	}
	switch c.ParamMatch {
	case ParamExact:
		return equalStrings(params, c.Params)
	case ParamPartial, ParamInitial:
		if len(params) < len(c.Params) {
			return false
		}
		for i, want := range c.Params {
			last := i == len(c.Params)-1
			if params[i] != want && (c.ParamMatch != ParamInitial || !last || !strings.HasPrefix(params[i], want)) {
				return false
			}
		}
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// procScanner follows the quorum of process trackers by scanning the
// process list every period. keepalived follows forks and exits through
// the kernel's process connector instead; a scan finds the same counts,
// later by up to one period, and needs no netlink multicast privilege
// (docs/vrrp.md, "Tracking").
type procScanner struct {
	cfgs  []TrackProcessConfig
	list  ProcLister
	clock clock.Clock
	log   *slog.Logger
	st    []procState
}

type procState struct {
	up    bool
	count int
	// pending is when a held quorum change (fork_delay/terminate_delay)
	// is applied; zero: none.
	pending time.Time
}

func newProcScanner(cfgs []TrackProcessConfig, list ProcLister, c clock.Clock, log *slog.Logger) *procScanner {
	return &procScanner{cfgs: cfgs, list: list, clock: c, log: log, st: make([]procState, len(cfgs))}
}

func (s *procScanner) counts() ([]int, bool) {
	procs, err := s.list()
	if err != nil {
		s.log.Warn("process scan failed; tracked process quorum unchanged", "err", err)
		return nil, false
	}
	n := make([]int, len(s.cfgs))
	for _, p := range procs {
		for i := range s.cfgs {
			if s.cfgs[i].matches(p) {
				n[i]++
			}
		}
	}
	return n, true
}

func (c *TrackProcessConfig) quorate(n int) bool { return n >= c.Quorum && n <= c.QuorumMax }

// initial scans once and returns every tracker's quorum, without delays
// (keepalived's initial /proc scan).
func (s *procScanner) initial() map[string]bool {
	out := map[string]bool{}
	n, _ := s.counts()
	for i := range s.cfgs {
		c := 0
		if n != nil {
			c = n[i]
		}
		s.st[i] = procState{up: s.cfgs[i].quorate(c), count: c}
		out[s.cfgs[i].Name] = s.st[i].up
	}
	return out
}

// scan counts the processes once and reports every quorum change.
// A change waits ForkDelay when the count rose and TerminateDelay when it
// fell; a count that returns to the old side within the delay cancels it
// (keepalived core/track_process.c: the fork and terminate timers).
func (s *procScanner) scan(report func(name string, up bool)) {
	n, ok := s.counts()
	if !ok {
		return
	}
	now := s.clock.Now()
	for i := range s.cfgs {
		c, st := &s.cfgs[i], &s.st[i]
		want := c.quorate(n[i])
		switch {
		case want == st.up:
			st.pending = time.Time{}
		case st.pending.IsZero():
			delay := c.TerminateDelay
			if n[i] > st.count {
				delay = c.ForkDelay
			}
			st.pending = now.Add(delay)
		}
		st.count = n[i]
		if !st.pending.IsZero() && !now.Before(st.pending) {
			st.pending, st.up = time.Time{}, want
			report(c.Name, want)
		}
	}
}

func (s *procScanner) loop(ctx context.Context, period time.Duration, report func(name string, up bool)) {
	for {
		t := s.clock.NewTimer(period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		s.scan(report)
	}
}
