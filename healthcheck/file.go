package healthcheck

import (
	"fmt"
	"math"
	"time"

	"github.com/lvsctl/lvsctl/internal/trackfile"
)

// FILE_CHECK follows keepalived 2.2.7: keepalived/check/check_file.c (the
// checker and its start-up state) and keepalived/trackers/track_file.c
// (reading the file, update_track_file_status and
// process_update_checker_track_file_status). It is not a polled probe:
// the scheduler reads the file when the checker starts and again each
// time the inotify watcher (internal/trackfile) reports the file written,
// created, renamed or removed. docs/healthcheck.md, "FILE_CHECK", says
// why it lives in the scheduler.

// fileState is the FILE_CHECK part of a scheduled check.
type fileState struct {
	// path is the resolved file (trackfile.Resolve) the watcher reports.
	path string
	// value is the last value read (an out-of-range number keeps it).
	value int64
	// delta is what the checker adds to the server's configured weight
	// while it is up (keepalived's checker->cur_weight).
	delta int
}

// fileVerdict is keepalived's update_track_file_status for one checker:
// with weight 0 a non-zero value (with reverse, a zero value) is a fault;
// otherwise value × weight (negated by reverse), bounded to the int range
// (weight_range), is added to the weight, and only a product at or below
// INT_MIN (IPVS_WEIGHT_FAULT) is a fault. A weight that ends up at or
// below 0 leaves the server up: IPVS gets weight 0 (real_weight,
// check_data.h), which the director's clamp does too.
func fileVerdict(f *FileSpec, v int64) (up bool, delta int) {
	if f.Weight == 0 {
		return (v != 0) == f.Reverse, 0
	}
	p := v * int64(f.Weight)
	if f.Reverse {
		p = -p
	}
	if p <= math.MinInt32 {
		return false, 0
	}
	return true, int(min(p, math.MaxInt32))
}

// fileReason describes the verdict of value v.
func fileReason(s *Spec, v int64, up bool, delta int) string {
	what := fmt.Sprintf("%s track_file %s (%s): value %d", s.Kind, s.File.Name, s.File.Path, v)
	switch {
	case !up:
		return what + " takes the server down"
	case s.File.Weight != 0:
		return fmt.Sprintf("%s, weight %+d", what, delta)
	}
	return what
}

// probeFile reads the file once, for CheckOnce (`lvsctl check --once`).
func probeFile(s *Spec) Result {
	v, err := trackfile.Read(s.File.Path)
	if err != nil {
		return fail(s, "", "%v", err)
	}
	up, delta := fileVerdict(s.File, v)
	return Result{OK: up, Reason: fileReason(s, v, up, delta)}
}

// readFile reads c's file and sets the checker's state from it; it
// returns the reason to report.
func (s *Scheduler[K]) readFile(c *check[K], now time.Time) string {
	f := c.file
	v, err := trackfile.Read(f.path)
	if err != nil {
		// keepalived logs "Invalid number" and keeps the last value.
		s.log.Warn("track file value ignored", "track_file", c.spec.File.Name, "path", f.path, "err", err)
		v = f.value
	}
	f.value = v
	up, delta := fileVerdict(c.spec.File, v)
	c.m.up, f.delta = up, delta
	c.lastRun = now
	c.reason = fileReason(&c.spec, v, up, delta)
	return c.reason
}

// startFile sets up a new FILE_CHECK: init_file, the watch, and the first
// read (the caller reports the change). path is the resolved file.
func (s *Scheduler[K]) startFile(c *check[K], path string, now time.Time) string {
	c.file = &fileState{path: path}
	f := c.spec.File
	if err := trackfile.Init(path, f.InitMode, f.InitValue, s.sets > 0); err != nil {
		s.log.Error("track file init_file failed", "track_file", f.Name, "err", err)
	}
	set := s.files[path]
	if set == nil {
		set = map[*check[K]]struct{}{}
		s.files[path] = set
	}
	set[c] = struct{}{}
	s.watch(path)
	return s.readFile(c, now)
}

// dropFile forgets a removed FILE_CHECK. The directory's watch stays:
// events for files no checker reads are ignored.
func (s *Scheduler[K]) dropFile(c *check[K]) {
	if set := s.files[c.file.path]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.files, c.file.path)
		}
	}
}

// watch makes the watcher (started on first use) follow path's directory.
// Without a watcher the values read at start stay, which is logged.
func (s *Scheduler[K]) watch(path string) {
	if s.watcher == nil && !s.watchFailed {
		w, err := trackfile.NewWatcher()
		if err != nil {
			s.watchFailed = true
			s.log.Error("cannot watch track files; FILE_CHECK values are read once and not followed", "err", err)
			return
		}
		s.watcher = w
		ctx := s.runCtx
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			err := w.Run(func(p string) {
				select {
				case s.fileCh <- p:
				case <-ctx.Done():
				}
			})
			if err != nil {
				s.log.Error("track file watch ended; FILE_CHECK values are no longer followed", "err", err)
			}
		}()
	}
	if s.watcher == nil {
		return
	}
	if err := s.watcher.Add(path); err != nil {
		s.log.Error("cannot watch track file; its value is read once and not followed", "path", path, "err", err)
	}
}

// fileChanged reads again every FILE_CHECK of path ("": of every file,
// after the watcher's queue overflowed) and reports what changed.
func (s *Scheduler[K]) fileChanged(path string) {
	now := s.clock.Now()
	for p, set := range s.files {
		if path != "" && p != path {
			continue
		}
		for c := range set {
			reason := s.readFile(c, now)
			s.maybeEmit(c.srv, reason, now, 0)
		}
	}
}

// closeWatcher ends the watcher goroutine (Run's exit path).
func (s *Scheduler[K]) closeWatcher() {
	if s.watcher != nil {
		_ = s.watcher.Close()
		s.watcher = nil
	}
}

// resolveFiles resolves the file of every FILE_CHECK of servers, so that
// Set fails before it changes anything when a directory is missing
// (keepalived 2.2.7 init_track_files drops such a track file).
func resolveFiles[K comparable](servers []Server[K]) (map[string]string, error) {
	var out map[string]string
	for i := range servers {
		for j := range servers[i].Checks {
			sp := &servers[i].Checks[j]
			if sp.Kind != FileCheck || sp.File == nil {
				continue
			}
			if out == nil {
				out = map[string]string{}
			}
			if _, ok := out[sp.File.Path]; ok {
				continue
			}
			p, err := trackfile.Resolve(sp.File.Path)
			if err != nil {
				return nil, fmt.Errorf("server %v: %w: FILE_CHECK track_file %s: %w", servers[i].Key, ErrInvalidSpec, sp.File.Name, err)
			}
			out[sp.File.Path] = p
		}
	}
	return out, nil
}
