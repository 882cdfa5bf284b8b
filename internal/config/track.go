package config

import (
	"math"
	"strconv"
	"time"

	"github.com/lvsctl/lvsctl/internal/trackfile"
	"github.com/lvsctl/lvsctl/vrrp"
)

// File and process tracking: the track_file / vrrp_track_file and
// vrrp_track_process blocks, and the track_file / track_process entries
// of vrrp_instance and vrrp_sync_group. keepalived 2.2.7:
// keepalived/trackers/track_file.c (the blocks and their references),
// keepalived/vrrp/vrrp_parser.c (vrrp_tprocess_* handlers),
// keepalived/vrrp/vrrp_track.c (alloc_track_process),
// keepalived/vrrp/vrrp_data.c (alloc_vrrp_process: quorum 1, no maximum).

// defaultProcessScan is how often lvsctl scans /proc for tracked
// processes (keepalived follows the kernel's process connector instead;
// docs/vrrp.md, "Tracking").
const defaultProcessScan = 200 * time.Millisecond

// NoQuorumMax is TrackProcess.QuorumMax when quorum_max is not given.
const NoQuorumMax = math.MaxInt32

// TrackFile is a track_file (or vrrp_track_file) block.
type TrackFile struct {
	Pos  Position `json:"pos"`
	Name string   `json:"name"`
	File string   `json:"file"`
	// Weight multiplies the file's value (1); -254..254.
	Weight  int  `json:"weight"`
	Reverse bool `json:"reverse"`
	// Init is "" (no init_file), "create" (write InitValue when the file
	// is missing) or "overwrite" (write it at every start).
	Init      string `json:"init_file,omitempty"`
	InitValue int    `json:"init_value,omitempty"`
}

// TrackProcess is a vrrp_track_process block.
type TrackProcess struct {
	Pos     Position `json:"pos"`
	Name    string   `json:"name"`
	Process string   `json:"process"`
	Params  []string `json:"params,omitempty"`
	// ParamMatch is "" (parameters not compared), "exact", "partial" or
	// "initial"; parameters on the process line imply "exact".
	ParamMatch string `json:"param_match,omitempty"`
	// FullCommand matches Process against argv[0] instead of the process
	// name; parameters and param_match imply it.
	FullCommand bool `json:"full_command"`
	Weight      int  `json:"weight"`
	Reverse     bool `json:"reverse"`
	// Quorum..QuorumMax matching processes have quorum (1..NoQuorumMax).
	Quorum         int           `json:"quorum"`
	QuorumMax      int           `json:"quorum_max"`
	ForkDelay      time.Duration `json:"fork_delay"`
	TerminateDelay time.Duration `json:"terminate_delay"`
}

// TrackRef is a track_file or track_process entry: NAME [weight W
// [reverse|noreverse]]. Without a weight the block's weight and direction
// apply; with a weight and no direction, the block's direction.
type TrackRef struct {
	Pos        Position `json:"pos"`
	Name       string   `json:"name"`
	Weight     int      `json:"weight"`
	WeightSet  bool     `json:"weight_set"`
	Reverse    bool     `json:"reverse"`
	ReverseSet bool     `json:"reverse_set"`
}

// weightReverse reads "weight N [reverse]" (vrrp_script, track_file,
// vrrp_track_process blocks) with N in lo..hi.
func (d *decoder) weightReverse(n *node, lo, hi int64, w *int, reverse *bool) {
	if !d.shape(n, false, 1, 2) {
		return
	}
	if v, ok := d.intRange(n.args[0], "weight", lo, hi); ok {
		*w = int(v)
	}
	if len(n.args) == 2 {
		if n.args[1].text != "reverse" {
			d.diag.errorf(n.args[1].pos(), "weight: expected \"reverse\", got %q", n.args[1].text)
			return
		}
		*reverse = true
	}
}

func (d *decoder) trackFileBlock(n *node) TrackFile {
	f := TrackFile{Pos: n.pos(), Name: n.args[0].text, Weight: 1}
	if n.key.text == "vrrp_track_file" {
		d.diag.warnf(n.pos(), "vrrp_track_file is deprecated (in keepalived too): write track_file; accepted with the same meaning")
	}
	d.walk(n, n.key.text, n.key.text+" "+f.Name, map[string]kw{
		"file":   {fn: func(n *node) { d.str(n, &f.File) }},
		"weight": {fn: func(n *node) { d.weightReverse(n, -254, 254, &f.Weight, &f.Reverse) }},
		"init_file": {fn: func(n *node) {
			// init_file [VALUE] [overwrite], in either order.
			f.Init = "create"
			for _, a := range n.args {
				if a.text == "overwrite" {
					f.Init = "overwrite"
					continue
				}
				if v, ok := d.intRange(a, "init_file value", -254, 254); ok {
					f.InitValue = int(v)
				}
			}
		}},
	})
	if f.File == "" {
		d.diag.errorf(n.pos(), "%s %s has no file: keepalived would drop it (\"No file set for track_file\")", n.key.text, f.Name)
	}
	return f
}

func (d *decoder) trackProcessBlock(n *node) TrackProcess {
	p := TrackProcess{Pos: n.pos(), Name: n.args[0].text, Quorum: 1, QuorumMax: NoQuorumMax}
	quorumSet, maxSet := false, false
	var delay, forkDelay, termDelay *time.Duration
	d.walk(n, "vrrp_track_process", "vrrp_track_process "+p.Name, map[string]kw{
		"process": {fn: func(n *node) {
			if !d.shape(n, false, 1, -1) {
				return
			}
			p.Process = n.args[0].text
			for _, a := range n.args[1:] {
				p.Params = append(p.Params, a.text)
			}
		}},
		"param_match": {fn: func(n *node) {
			if !d.shape(n, false, 0, 1) {
				return
			}
			p.ParamMatch = "exact"
			if len(n.args) == 1 {
				switch n.args[0].text {
				case "initial", "partial":
					p.ParamMatch = n.args[0].text
				default:
					d.diag.errorf(n.args[0].pos(), "param_match: %q is not initial or partial (nothing: exact)", n.args[0].text)
				}
			}
		}},
		"weight":          {fn: func(n *node) { d.weightReverse(n, -254, 254, &p.Weight, &p.Reverse) }},
		"quorum":          {fn: func(n *node) { quorumSet = true; d.intKw(n, 1, 65535, &p.Quorum) }},
		"quorum_max":      {fn: func(n *node) { maxSet = true; d.intKw(n, 0, 65535, &p.QuorumMax) }},
		"delay":           {fn: func(n *node) { d.durPtr(n, time.Microsecond, time.Hour, false, &delay) }},
		"fork_delay":      {fn: func(n *node) { d.durPtr(n, time.Microsecond, time.Hour, false, &forkDelay) }},
		"terminate_delay": {fn: func(n *node) { d.durPtr(n, time.Microsecond, time.Hour, false, &termDelay) }},
		"full_command":    {fn: func(n *node) { d.flag(n, &p.FullCommand) }},
	})
	for _, dl := range []struct {
		src *time.Duration
		dst *time.Duration
	}{{delay, &p.ForkDelay}, {delay, &p.TerminateDelay}, {forkDelay, &p.ForkDelay}, {termDelay, &p.TerminateDelay}} {
		if dl.src != nil {
			*dl.dst = *dl.src
		}
	}
	if len(p.Params) > 0 && p.ParamMatch == "" {
		p.ParamMatch = "exact"
	}
	if p.ParamMatch != "" {
		p.FullCommand = true
	}
	// quorum_max 0 alone tracks that no process runs (vrrp_parser.c,
	// vrrp_tprocess_quorum_max_handler).
	if maxSet && p.QuorumMax == 0 && !quorumSet {
		p.Quorum = 0
	}
	if p.QuorumMax < p.Quorum {
		d.diag.errorf(n.pos(), "vrrp_track_process %s: quorum %d is above quorum_max %d: keepalived would ignore one of them", p.Name, p.Quorum, p.QuorumMax)
	}
	if p.Process == "" {
		d.diag.errorf(n.pos(), "vrrp_track_process %s has no process: keepalived would drop it (\"process name not specified\")", p.Name)
	}
	return p
}

// trackRefs decodes a track_file or track_process block of references.
func (d *decoder) trackRefs(n *node) []TrackRef {
	out := []TrackRef{}
	what := n.key.text
	if !d.shape(n, true, 0, 0) {
		return out
	}
	for _, c := range n.children {
		if d.special(c) {
			continue
		}
		if c.block {
			d.diag.errorf(c.pos(), "unexpected block in %s", what)
			continue
		}
		r := TrackRef{Pos: c.pos(), Name: c.key.text}
		args := c.args
		if len(args) > 0 {
			if args[0].text != "weight" || len(args) < 2 || len(args) > 3 {
				d.diag.errorf(args[0].pos(), "%s entry: expected NAME [weight N [reverse|noreverse]]", what)
				continue
			}
			v, ok := d.intRange(args[1], what+" weight", -254, 254)
			if !ok {
				continue
			}
			r.Weight, r.WeightSet = int(v), true
			if len(args) == 3 {
				switch args[2].text {
				case "reverse", "noreverse":
					r.Reverse, r.ReverseSet = args[2].text == "reverse", true
				default:
					d.diag.errorf(args[2].pos(), "%s entry: expected \"reverse\" or \"noreverse\", got %q", what, args[2].text)
					continue
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// validateTracking reports references to undefined blocks and blocks
// defined twice. keepalived ignores such a reference with a log line, so
// the instance would silently not track what the file says (rule 1).
func validateTracking(cfg *Config, diag *diagnostics) {
	files := map[string]Position{}
	for _, f := range cfg.TrackFiles {
		if first, dup := files[f.Name]; dup {
			diag.errorf(f.Pos, "track_file %s defined twice (first at %s)", f.Name, first)
			continue
		}
		files[f.Name] = f.Pos
	}
	procs := map[string]Position{}
	for _, p := range cfg.TrackProcesses {
		if first, dup := procs[p.Name]; dup {
			diag.errorf(p.Pos, "vrrp_track_process %s defined twice (first at %s)", p.Name, first)
			continue
		}
		procs[p.Name] = p.Pos
	}
	check := func(owner string, fr, pr []TrackRef) {
		seen := map[string]bool{}
		for _, r := range fr {
			if _, ok := files[r.Name]; !ok {
				diag.errorf(r.Pos, "track_file %s: no track_file block of that name", r.Name)
			} else if seen[r.Name] {
				diag.errorf(r.Pos, "%s tracks track_file %s twice: keepalived would ignore the second", owner, r.Name)
			}
			seen[r.Name] = true
		}
		seen = map[string]bool{}
		for _, r := range pr {
			if _, ok := procs[r.Name]; !ok {
				diag.errorf(r.Pos, "track_process %s: no vrrp_track_process of that name", r.Name)
			} else if seen[r.Name] {
				diag.errorf(r.Pos, "%s tracks track_process %s twice: keepalived would ignore the second", owner, r.Name)
			}
			seen[r.Name] = true
		}
	}
	for _, in := range cfg.VRRPInstances {
		check("vrrp_instance "+in.Name, in.TrackFiles, in.TrackProcesses)
	}
	for _, g := range cfg.VRRPSyncGroups {
		check("vrrp_sync_group "+g.Name, g.TrackFiles, g.TrackProcesses)
	}
}

// resolveRef applies the block's weight and direction where the entry
// gives none (keepalived: vrrp_alloc_track_file, alloc_track_process).
func resolveRef(r TrackRef, weight int, reverse bool) vrrp.TrackRef {
	out := vrrp.TrackRef{Name: r.Name, Weight: weight, Reverse: reverse}
	if r.WeightSet {
		out.Weight = r.Weight
		if r.ReverseSet {
			out.Reverse = r.Reverse
		}
	}
	return out
}

// vrrpTracking fills the tracking part of out (VRRP's conversion): the
// blocks, and each instance's references including its sync group's.
func (c *Config) vrrpTracking(out *vrrp.Config) {
	fileByName := map[string]TrackFile{}
	for _, f := range c.TrackFiles {
		fileByName[f.Name] = f
		out.TrackFiles = append(out.TrackFiles, vrrp.TrackFileConfig{Name: f.Name, Path: f.File, Weight: f.Weight,
			Reverse: f.Reverse, InitMode: initMode(f.Init), InitValue: f.InitValue})
	}
	procByName := map[string]TrackProcess{}
	for _, p := range c.TrackProcesses {
		procByName[p.Name] = p
		out.TrackProcesses = append(out.TrackProcesses, vrrp.TrackProcessConfig{Name: p.Name, Process: p.Process,
			Params: p.Params, ParamMatch: paramMatch(p.ParamMatch), FullCommand: p.FullCommand, Weight: p.Weight,
			Reverse: p.Reverse, Quorum: p.Quorum, QuorumMax: p.QuorumMax, ForkDelay: p.ForkDelay, TerminateDelay: p.TerminateDelay})
	}
	out.ProcessScan = defaultProcessScan
	groupOf := map[string]*VRRPSyncGroup{}
	for i := range c.VRRPSyncGroups {
		for _, m := range c.VRRPSyncGroups[i].Group {
			groupOf[m.Name] = &c.VRRPSyncGroups[i]
		}
	}
	for i := range out.Instances {
		ic := &out.Instances[i]
		var src *VRRPInstance
		for j := range c.VRRPInstances {
			if c.VRRPInstances[j].Name == ic.Name {
				src = &c.VRRPInstances[j]
			}
		}
		if src == nil {
			continue
		}
		files, procs := src.TrackFiles, src.TrackProcesses
		// keepalived adds a sync group's tracked objects to every member;
		// an object the member tracks itself keeps one entry.
		if g := groupOf[ic.Name]; g != nil {
			files = append(append([]TrackRef(nil), files...), g.TrackFiles...)
			procs = append(append([]TrackRef(nil), procs...), g.TrackProcesses...)
		}
		seen := map[string]bool{}
		for _, r := range files {
			if f, ok := fileByName[r.Name]; ok && !seen[r.Name] {
				seen[r.Name] = true
				ic.TrackFiles = append(ic.TrackFiles, resolveRef(r, f.Weight, f.Reverse))
			}
		}
		seen = map[string]bool{}
		for _, r := range procs {
			if p, ok := procByName[r.Name]; ok && !seen[r.Name] {
				seen[r.Name] = true
				ic.TrackProcesses = append(ic.TrackProcesses, resolveRef(r, p.Weight, p.Reverse))
			}
		}
	}
}

func initMode(s string) trackfile.InitMode {
	switch s {
	case "create":
		return trackfile.InitCreate
	case "overwrite":
		return trackfile.InitOverwrite
	}
	return trackfile.NoInit
}

func paramMatch(s string) vrrp.ParamMatch {
	switch s {
	case "exact":
		return vrrp.ParamExact
	case "partial":
		return vrrp.ParamPartial
	case "initial":
		return vrrp.ParamInitial
	}
	return vrrp.ParamNone
}

// Text form (WriteText).

func (p *printer) trackFile(f *TrackFile) {
	p.open("track_file", quote(f.Name))
	p.line("file", quote(f.File))
	w := strconv.Itoa(f.Weight)
	if f.Reverse {
		w += " reverse"
	}
	p.line("weight", w)
	switch f.Init {
	case "create":
		p.line("init_file", strconv.Itoa(f.InitValue))
	case "overwrite":
		p.line("init_file", strconv.Itoa(f.InitValue)+" overwrite")
	}
	p.close()
}

func (p *printer) trackProcess(t *TrackProcess) {
	p.open("vrrp_track_process", quote(t.Name))
	args := quote(t.Process)
	for _, a := range t.Params {
		args += " " + quote(a)
	}
	p.line("process", args)
	switch t.ParamMatch {
	case "exact":
		p.line("param_match")
	case "partial", "initial":
		p.line("param_match", t.ParamMatch)
	}
	if t.FullCommand {
		p.line("full_command")
	}
	w := strconv.Itoa(t.Weight)
	if t.Reverse {
		w += " reverse"
	}
	p.line("weight", w)
	if t.QuorumMax == 0 && t.Quorum == 0 {
		p.line("quorum_max", "0")
	} else {
		p.line("quorum", strconv.Itoa(t.Quorum))
		if t.QuorumMax != NoQuorumMax {
			p.line("quorum_max", strconv.Itoa(t.QuorumMax))
		}
	}
	if t.ForkDelay > 0 {
		p.line("fork_delay", fmtSeconds(t.ForkDelay))
	}
	if t.TerminateDelay > 0 {
		p.line("terminate_delay", fmtSeconds(t.TerminateDelay))
	}
	p.close()
}

func (p *printer) trackRefs(key string, refs []TrackRef) {
	if len(refs) == 0 {
		return
	}
	p.open(key)
	for _, r := range refs {
		if !r.WeightSet {
			p.line(quote(r.Name))
			continue
		}
		w := "weight " + strconv.Itoa(r.Weight)
		if r.ReverseSet {
			w += map[bool]string{true: " reverse", false: " noreverse"}[r.Reverse]
		}
		p.line(quote(r.Name), w)
	}
	p.close()
}

func (d *decoder) addTrackFile(cfg *Config, n *node) {
	if d.shape(n, true, 1, 1) {
		cfg.TrackFiles = append(cfg.TrackFiles, d.trackFileBlock(n))
	}
}

// fileCheck decodes a real server's FILE_CHECK block: keepalived 2.2.7
// keepalived/check/check_file.c (file_check_handler, track_file_handler,
// track_file_weight_handler, file_end_handler). alpha is the real
// server's, for the director's start state only.
func (d *decoder) fileCheck(n *node, alpha bool) (Checker, bool) {
	c := Checker{Pos: n.pos(), Type: CheckFile, Rise: 1, Fall: 1, Alpha: alpha}
	if !d.shape(n, true, 0, 0) {
		return c, false
	}
	fc := &FileChecker{}
	var ref token
	weightSet := false
	d.walk(n, string(CheckFile), string(CheckFile), map[string]kw{
		"track_file": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				fc.TrackFile, ref = t.text, t
			}
		}},
		"weight": {fn: func(n *node) {
			if !d.shape(n, false, 1, 2) {
				return
			}
			// IPVS_WEIGHT_LIMIT is INT32_MAX in keepalived 2.2.7 (ip_vs.h).
			v, ok := d.intRange(n.args[0], "FILE_CHECK weight", -math.MaxInt32, math.MaxInt32)
			if !ok {
				return
			}
			fc.Weight, fc.Reverse, weightSet = int(v), false, true
			if len(n.args) == 2 {
				switch n.args[1].text {
				case "reverse", "noreverse":
					fc.Reverse = n.args[1].text == "reverse"
				default:
					d.diag.errorf(n.args[1].pos(), "FILE_CHECK weight: expected \"reverse\" or \"noreverse\", got %q (keepalived would ignore the line)", n.args[1].text)
				}
			}
		}},
	})
	if fc.TrackFile == "" {
		d.diag.errorf(n.pos(), "FILE_CHECK has no track_file: keepalived would ignore the checker")
		return c, false
	}
	var tf *TrackFile
	for i := range d.trackFiles {
		// The first block of that name, as find_tracked_file_by_name.
		if d.trackFiles[i].Name == fc.TrackFile {
			tf = &d.trackFiles[i]
			break
		}
	}
	if tf == nil {
		d.diag.errorf(ref.pos(), "track_file %s: no track_file block of that name (keepalived would ignore the FILE_CHECK)", fc.TrackFile)
		return c, false
	}
	fc.File, fc.Init, fc.InitValue = tf.File, tf.Init, tf.InitValue
	if !weightSet {
		fc.Weight, fc.Reverse = tf.Weight, tf.Reverse
	}
	c.File = fc
	return c, true
}
