package vrrp

import (
	"context"
	"fmt"
	"time"

	"github.com/lvsctl/lvsctl/internal/trackfile"
)

// TrackFileConfig is a track_file (or the deprecated vrrp_track_file)
// block: a file holding an integer that moves the priority of the
// instances tracking it (keepalived 2.2.7, keepalived/trackers/track_file.c).
type TrackFileConfig struct {
	Name string
	// Path is the file as written in the configuration; the node resolves
	// symbolic links and watches its directory, which must exist.
	Path string
	// Weight (-254..254) and Reverse are the block's weight, which
	// references without their own use; the loader resolves them into
	// TrackRef, so the runtime uses only the references'.
	Weight  int
	Reverse bool
	// InitMode and InitValue are init_file: the value written when the
	// node starts (InitCreate: only when the file is missing).
	InitMode  trackfile.InitMode
	InitValue int
}

// ParamMatch says how a tracked process's parameters are compared
// (vrrp_track_process param_match; keepalived core/track_process.c).
type ParamMatch uint8

// Parameter match modes.
const (
	// ParamNone: the parameters are not looked at.
	ParamNone ParamMatch = iota
	// ParamExact: the process has exactly Params.
	ParamExact
	// ParamPartial: the process's parameters start with Params.
	ParamPartial
	// ParamInitial: as ParamPartial, and the last of Params need only be a
	// prefix of the process's parameter in that place.
	ParamInitial
)

// TrackProcessConfig is a vrrp_track_process block: the instances
// tracking it have quorum while between Quorum and QuorumMax processes
// match.
type TrackProcessConfig struct {
	Name string
	// Process is matched against the process name (/proc/PID/stat's comm,
	// at most 15 characters) or, with FullCommand, against argv[0].
	Process     string
	Params      []string
	ParamMatch  ParamMatch
	FullCommand bool
	// Weight and Reverse: see TrackFileConfig.
	Weight  int
	Reverse bool
	// Quorum..QuorumMax is the range of matching processes that has quorum.
	Quorum, QuorumMax int
	// ForkDelay holds a quorum change caused by processes appearing, and
	// TerminateDelay one caused by processes ending; the change is
	// dropped if the count returns within the delay.
	ForkDelay, TerminateDelay time.Duration
}

// TrackRef is a track_file or track_process entry of an instance, with
// the weight and direction resolved by the loader.
type TrackRef struct {
	Name    string
	Weight  int
	Reverse bool
}

func (c *Config) validateTrackers() error {
	files := map[string]bool{}
	for _, f := range c.TrackFiles {
		switch {
		case f.Name == "" || f.Path == "":
			return fmt.Errorf("%w: track_file needs a name and a file", ErrConfig)
		case files[f.Name]:
			return fmt.Errorf("%w: track_file %s defined twice", ErrConfig, f.Name)
		case f.Weight < -254 || f.Weight > 254:
			return fmt.Errorf("%w: track_file %s: weight %d outside -254..254", ErrConfig, f.Name, f.Weight)
		}
		files[f.Name] = true
	}
	procs := map[string]bool{}
	for _, p := range c.TrackProcesses {
		switch {
		case p.Name == "" || p.Process == "":
			return fmt.Errorf("%w: vrrp_track_process needs a name and a process", ErrConfig)
		case procs[p.Name]:
			return fmt.Errorf("%w: vrrp_track_process %s defined twice", ErrConfig, p.Name)
		case p.Quorum < 0 || p.QuorumMax < p.Quorum:
			return fmt.Errorf("%w: vrrp_track_process %s: quorum %d..%d", ErrConfig, p.Name, p.Quorum, p.QuorumMax)
		case p.ForkDelay < 0 || p.TerminateDelay < 0:
			return fmt.Errorf("%w: vrrp_track_process %s: negative delay", ErrConfig, p.Name)
		case c.ProcessScan <= 0:
			return fmt.Errorf("%w: process scan period %v must be positive", ErrConfig, c.ProcessScan)
		}
		procs[p.Name] = true
	}
	for _, in := range c.Instances {
		for _, r := range in.TrackFiles {
			if !files[r.Name] {
				return fmt.Errorf("%w: vrrp_instance %s: track_file %q is not a track_file block", ErrConfig, in.Name, r.Name)
			}
		}
		for _, r := range in.TrackProcesses {
			if !procs[r.Name] {
				return fmt.Errorf("%w: vrrp_instance %s: track_process %q is not a vrrp_track_process", ErrConfig, in.Name, r.Name)
			}
		}
	}
	return nil
}

// trackState is what an instance knows of the files and processes it
// tracks; the node keeps it current (trackChanged).
type trackState struct {
	files   []TrackRef
	fileVal map[string]int64
	procs   []TrackRef
	procUp  map[string]bool
}

func newTrackState(ic InstanceConfig) trackState {
	return trackState{files: ic.TrackFiles, procs: ic.TrackProcesses,
		fileVal: map[string]int64{}, procUp: map[string]bool{}}
}

// fileStatus is the priority change a file's value makes, or fault.
// keepalived 2.2.7 track_file.c (update_track_file_status and
// process_update_vrrp_track_file_status) and vrrp/vrrp_track.c
// (initialise_vrrp_file_tracking_priorities): with weight 0 a non-zero
// value (reverse: a zero value) is FAULT; otherwise value × weight (× -1
// with reverse) is added, held to -254..253, and -254 is FAULT.
func fileStatus(v int64, r TrackRef) (delta int, fault bool) {
	if r.Weight == 0 {
		return 0, (v != 0) != r.Reverse
	}
	s := v * int64(r.Weight)
	if r.Reverse {
		s = -s
	}
	s = max(-254, min(253, s))
	if s == -254 {
		return 0, true
	}
	return int(s), false
}

// procStatus is the priority change a process tracker's quorum makes, or
// fault. keepalived 2.2.7 vrrp/vrrp_track.c
// (initialise_process_tracking_priorities,
// process_update_track_process_status): weight 0 is FAULT without quorum
// (reverse: with quorum); a positive weight is added (× -1 with reverse)
// while there is quorum, a negative one while there is not.
func procStatus(up bool, r TrackRef) (delta int, fault bool) {
	if r.Weight == 0 {
		return 0, up == r.Reverse
	}
	if (r.Weight > 0) != up {
		return 0, false
	}
	if r.Reverse {
		return -r.Weight, false
	}
	return r.Weight, false
}

func (t *trackState) fault() bool {
	for _, r := range t.files {
		if _, f := fileStatus(t.fileVal[r.Name], r); f {
			return true
		}
	}
	for _, r := range t.procs {
		if _, f := procStatus(t.procUp[r.Name], r); f {
			return true
		}
	}
	return false
}

// faults names what puts the instance in FAULT, and the tracked
// processes without quorum, for Status.
func (t *trackState) faults() []string {
	var out []string
	for _, r := range t.files {
		if _, f := fileStatus(t.fileVal[r.Name], r); f {
			out = append(out, fmt.Sprintf("track_file %s value %d", r.Name, t.fileVal[r.Name]))
		}
	}
	for _, r := range t.procs {
		if !t.procUp[r.Name] {
			out = append(out, "track_process "+r.Name+" without quorum")
		}
	}
	return out
}

func (t *trackState) delta() int {
	d := 0
	for _, r := range t.files {
		s, _ := fileStatus(t.fileVal[r.Name], r)
		d += s
	}
	for _, r := range t.procs {
		s, _ := procStatus(t.procUp[r.Name], r)
		d += s
	}
	return d
}

// takeOver keeps what a reload's rebuilt instance already knows.
func (t *trackState) takeOver(old *trackState) {
	for k, v := range old.fileVal {
		t.fileVal[k] = v
	}
	for k, v := range old.procUp {
		t.procUp[k] = v
	}
}

// nodeTrackers is the node's side of file and process tracking: the
// current value of every track file and the quorum of every tracked
// process, kept on Run's goroutine, and the goroutines that watch them.
type nodeTrackers struct {
	// gen tells the results of a tracker set a reload replaced apart.
	gen     uint64
	files   []TrackFileConfig
	paths   map[string]string // name → resolved path
	fileVal map[string]int64
	procs   []TrackProcessConfig
	procUp  map[string]bool
	watcher *trackfile.Watcher
	scanner *procScanner
	stop    func()
}

// trackEvent reports a change seen by a tracker goroutine.
type trackEvent struct {
	gen uint64
	// path is a track file that changed ("" with all: every file).
	path string
	all  bool
	// proc is set for a process tracker whose quorum changed.
	proc   string
	procUp bool
}

// CheckHost reports what New or Reload would refuse on this host that
// Validate cannot see: a track file whose directory is missing. It
// changes nothing, so a caller can check a whole configuration first.
func (c *Config) CheckHost() error {
	_, err := prepareTrackers(c, 0)
	return err
}

// prepareTrackers resolves the track files of cfg; it changes nothing.
func prepareTrackers(cfg *Config, gen uint64) (*nodeTrackers, error) {
	t := &nodeTrackers{gen: gen, files: cfg.TrackFiles, paths: map[string]string{}, fileVal: map[string]int64{},
		procs: cfg.TrackProcesses, procUp: map[string]bool{}}
	for _, f := range cfg.TrackFiles {
		p, err := trackfile.Resolve(f.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: track_file %s: %w", ErrConfig, f.Name, err)
		}
		t.paths[f.Name] = p
	}
	return t, nil
}

// startTrackers writes init_file values, reads every track file, scans
// /proc once and starts the goroutines that follow changes. reload is
// true for a tracker set a reload installs (init_file never overwrites
// then).
func (n *Node) startTrackers(t *nodeTrackers, reload bool) {
	for _, f := range t.files {
		if err := trackfile.Init(t.paths[f.Name], f.InitMode, f.InitValue, reload); err != nil {
			n.log.Error("track file init_file failed", "track_file", f.Name, "err", err)
		}
		t.fileVal[f.Name] = n.readTrackFile(f.Name, t.paths[f.Name], 0)
	}
	ctx, cancel := context.WithCancel(n.bg)
	t.stop = cancel
	if len(t.files) > 0 {
		w, err := trackfile.NewWatcher()
		if err == nil {
			for _, f := range t.files {
				if err = w.Add(t.paths[f.Name]); err != nil {
					break
				}
			}
		}
		if err != nil {
			// The values read now stay: say loudly that changes are not seen.
			n.log.Error("cannot watch track files; their values are not followed", "err", err)
			if w != nil {
				_ = w.Close()
			}
		} else {
			t.watcher = w
			n.wg.Add(2)
			go func() {
				defer n.wg.Done()
				<-ctx.Done()
				_ = w.Close()
			}()
			go func() {
				defer n.wg.Done()
				err := w.Run(func(path string) {
					ev := trackEvent{gen: t.gen, path: path, all: path == ""}
					select {
					case n.events <- nodeEvent{track: &ev}:
					case <-ctx.Done():
					}
				})
				if err != nil {
					n.log.Error("track file watch ended; values are no longer followed", "err", err)
				}
			}()
		}
	}
	if len(t.procs) > 0 {
		t.scanner = newProcScanner(t.procs, n.procs, n.clock, n.log)
		for name, up := range t.scanner.initial() {
			t.procUp[name] = up
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			t.scanner.loop(ctx, n.cfg.ProcessScan, func(name string, up bool) {
				ev := trackEvent{gen: t.gen, proc: name, procUp: up}
				select {
				case n.events <- nodeEvent{track: &ev}:
				case <-ctx.Done():
				}
			})
		}()
	}
}

// readTrackFile reads a track file; an out-of-range number keeps prev.
func (n *Node) readTrackFile(name, path string, prev int64) int64 {
	v, err := trackfile.Read(path)
	if err != nil {
		n.log.Warn("track file value ignored", "track_file", name, "path", path, "err", err)
		return prev
	}
	return v
}

// refreshTrackState copies the node's current values into an instance.
func (n *Node) refreshTrackState(in *instance) {
	if n.tk == nil {
		return
	}
	for _, r := range in.tr.files {
		in.tr.fileVal[r.Name] = n.tk.fileVal[r.Name]
	}
	for _, r := range in.tr.procs {
		in.tr.procUp[r.Name] = n.tk.procUp[r.Name]
	}
}

// trackChanged applies a tracker event on Run's goroutine.
func (n *Node) trackChanged(ev trackEvent) {
	t := n.tk
	if t == nil || ev.gen != t.gen {
		return // from a tracker set a reload replaced
	}
	changed := false
	if ev.proc != "" {
		if t.procUp[ev.proc] != ev.procUp {
			t.procUp[ev.proc] = ev.procUp
			n.log.Info("tracked process quorum "+map[bool]string{true: "gained", false: "lost"}[ev.procUp], "track_process", ev.proc)
			changed = true
		}
	} else {
		for _, f := range t.files {
			if !ev.all && t.paths[f.Name] != ev.path {
				continue
			}
			v := n.readTrackFile(f.Name, t.paths[f.Name], t.fileVal[f.Name])
			if v != t.fileVal[f.Name] {
				n.log.Info("track file value changed", "track_file", f.Name, "from", t.fileVal[f.Name], "to", v)
				t.fileVal[f.Name] = v
				changed = true
			}
		}
	}
	if !changed {
		return
	}
	for _, in := range n.insts {
		n.refreshTrackState(in)
	}
	n.retrack()
}

// replaceTrackers stops the running tracker set and starts t (a reload).
func (n *Node) replaceTrackers(t *nodeTrackers) {
	if n.tk != nil && n.tk.stop != nil {
		n.tk.stop()
	}
	n.tk = t
	n.startTrackers(t, true)
	for _, in := range n.insts {
		n.refreshTrackState(in)
	}
}
