// Package notifyfifo writes keepalived 2.2.7's notify FIFOs: notify_fifo
// (every line), vrrp_notify_fifo (VRRP instances and sync groups) and
// lvs_notify_fifo (real servers and virtual servers), and runs the
// *_notify_fifo_script that reads each, the way keepalived's lib/notify.c
// (fifo_open, fifo_close), vrrp/vrrp_notify.c and check/ipwrapper.c do.
//
// A Hub owns the FIFOs of one daemon. Writing a line never blocks the
// caller (the VRRP node's goroutine, the director under its lock): each
// FIFO has a bounded queue and one writer goroutine; a line that does not
// fit is dropped, counted and logged. The FIFO is opened for reading and
// writing, as keepalived does, so lines written while no script reads wait
// in the pipe for the next reader, and a missing reader never blocks the
// open.
//
// The package knows the line formats (lines.go) and nothing of VRRP or
// IPVS; internal/app and cmd/lvsctl decide which lines are written.
package notifyfifo

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsctl/lvsctl/internal/script"
)

// FIFO is one notify FIFO of the configuration.
type FIFO struct {
	// Path is where the FIFO is: an absolute path.
	Path string `json:"path"`
	// Owner is who a FIFO lvsctl creates belongs to: the user and group
	// after the path, else script_user, else keepalived_script when it
	// exists (keepalived's notify_fifo handler); not Set: lvsctl's ids.
	Owner script.As `json:"owner"`
	// Script reads the FIFO (nil: none). It runs, as its own user, with
	// the FIFO's path as its last argument, from the FIFO's opening to its
	// closing, without a timeout.
	Script *script.Command `json:"script,omitempty"`
}

// Config is which FIFOs a daemon writes. internal/config fills it.
type Config struct {
	// Global (notify_fifo) gets every line; VRRP (vrrp_notify_fifo) the
	// VRRP lines, LVS (lvs_notify_fifo) the checker's. nil: none.
	Global *FIFO `json:"notify_fifo,omitempty"`
	VRRP   *FIFO `json:"vrrp_notify_fifo,omitempty"`
	LVS    *FIFO `json:"lvs_notify_fifo,omitempty"`
	// Mode is the permissions of a FIFO lvsctl creates: keepalived's 0644
	// less its umask (0177 unless global_defs sets umask), so 0600.
	Mode os.FileMode `json:"mode"`
}

// DefaultMode is the mode keepalived 2.2.7 creates a FIFO with when no
// umask is configured: mkfifo's 0644 under its default umask 0177.
const DefaultMode os.FileMode = 0o600

// Only is c for a daemon that runs VRRP (vrrp) and the virtual servers
// (lvs), as keepalived's processes open the FIFOs: its VRRP process
// notify_fifo and vrrp_notify_fifo, its checker process notify_fifo and
// lvs_notify_fifo, each only when it runs.
func (c Config) Only(vrrp, lvs bool) Config {
	if !vrrp {
		c.VRRP = nil
	}
	if !lvs {
		c.LVS = nil
	}
	if !vrrp && !lvs {
		c.Global = nil
	}
	return c
}

// Empty reports whether no FIFO is configured.
func (c Config) Empty() bool { return c.Global == nil && c.VRRP == nil && c.LVS == nil }

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("invalid notify FIFO configuration")

// Validate checks what the Hub relies on; internal/config reports the
// user's mistakes with their positions first.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	for _, f := range []*FIFO{c.Global, c.VRRP, c.LVS} {
		if f != nil && (!filepath.IsAbs(f.Path) || filepath.Clean(f.Path) != f.Path) {
			return bad("%q is not a clean absolute path", f.Path)
		}
	}
	if c.Global != nil {
		for _, f := range []*FIFO{c.VRRP, c.LVS} {
			if f != nil && f.Path == c.Global.Path {
				return bad("%s is notify_fifo and another FIFO: every line would be written twice", f.Path)
			}
		}
	}
	if c.VRRP != nil && c.LVS != nil && c.VRRP.Path == c.LVS.Path && c.VRRP.Script != nil && c.LVS.Script != nil {
		return bad("%s is vrrp_notify_fifo and lvs_notify_fifo, each with a script", c.VRRP.Path)
	}
	if c.Mode&^os.ModePerm != 0 {
		return bad("mode %v has more than permission bits", c.Mode)
	}
	return nil
}

// Options are a Hub's collaborators.
type Options struct {
	Logger *slog.Logger
	// Run starts the FIFO scripts (the zero Runner: in this process's
	// namespaces). Its Grace is the time between SIGTERM and SIGKILL
	// (ScriptGrace when 0, keepalived's one second).
	Run script.Runner
	// Queue is each FIFO's queue, in lines (DefaultQueue when 0).
	Queue int
	// Flush is how long closing a FIFO waits for room in a full pipe
	// (DefaultFlush when 0); ScriptWait how long a script that reads to
	// the end of the FIFO gets to exit by itself before SIGTERM
	// (DefaultScriptWait when 0).
	Flush, ScriptWait time.Duration
}

// Defaults of Options.
const (
	// DefaultQueue lines wait for each FIFO's writer, on top of the
	// pipe's own 64 KiB (about 2,000 lines): a whole farm changing at
	// once fits.
	DefaultQueue      = 1024
	DefaultFlush      = 500 * time.Millisecond
	DefaultScriptWait = time.Second
	// ScriptGrace is keepalived's: it sends SIGTERM to its children at
	// stop and SIGKILL one second later (lib/notify.c script_killall,
	// child_killed_thread).
	ScriptGrace = time.Second
)

// Counters are what one FIFO did since it was opened.
type Counters struct {
	Path    string
	Written uint64
	// Dropped lines did not fit in the queue, failed to be written, or
	// were still queued when the FIFO closed and the pipe stayed full.
	Dropped uint64
}

// Hub writes the lines of one daemon to its FIFOs. Its zero value is not
// usable: make one with New. VRRP and LVS are safe for concurrent use and
// never block; Apply and Close are serialized.
type Hub struct {
	o Options

	// roles is what VRRP and LVS read: swapped whole by Apply.
	roles atomic.Pointer[roles]

	mu     sync.Mutex
	byPath map[string]*fifo
	closed bool
}

// roles are the open FIFOs by role (nil: none). VRRP and LVS may be the
// same FIFO; Global is never one of them (Validate).
type roles struct{ global, vrrp, lvs *fifo }

// New returns a Hub with no FIFO.
func New(o Options) *Hub {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Run.Grace <= 0 {
		o.Run.Grace = ScriptGrace
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Flush <= 0 {
		o.Flush = DefaultFlush
	}
	if o.ScriptWait <= 0 {
		o.ScriptWait = DefaultScriptWait
	}
	h := &Hub{o: o, byPath: map[string]*fifo{}}
	h.roles.Store(&roles{})
	return h
}

// VRRP writes a VRRP line to notify_fifo and vrrp_notify_fifo.
func (h *Hub) VRRP(l VRRPLine) {
	if h == nil {
		return
	}
	r := h.roles.Load()
	h.write(l.Line(), r.global, r.vrrp)
}

// LVS writes a checker line to notify_fifo and lvs_notify_fifo.
func (h *Hub) LVS(l LVSLine) {
	if h == nil {
		return
	}
	r := h.roles.Load()
	h.write(l.Line(), r.global, r.lvs)
}

func (h *Hub) write(line string, to ...*fifo) {
	var b []byte
	for _, f := range to {
		if f != nil {
			if b == nil {
				b = []byte(line)
			}
			f.enqueue(b)
		}
	}
}

// Apply makes the Hub write to the FIFOs of c, as a diff against the
// ones it has: a FIFO whose path, owner and script stay is not touched (its
// script keeps running); one whose script changed gets the new script; a
// new path is created (or taken over) and opened, and its script started;
// a path no longer configured is closed (and removed if lvsctl made it),
// and its script stopped. If a new FIFO cannot be opened, nothing changes.
func (h *Hub) Apply(c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("notify FIFOs: closed")
	}
	type want struct {
		owner script.As
		cmd   *script.Command
	}
	wants := map[string]*want{}
	for _, f := range []*FIFO{c.Global, c.VRRP, c.LVS} {
		if f == nil {
			continue
		}
		w := wants[f.Path]
		if w == nil {
			w = &want{owner: f.Owner}
			wants[f.Path] = w
		}
		// vrrp_notify_fifo and lvs_notify_fifo may be one FIFO, with one
		// script (Validate): keepalived runs the one given.
		if f.Script != nil && w.cmd == nil {
			w.cmd = f.Script
		}
	}
	// New paths first: one that fails leaves everything as it was.
	opened := map[string]*fifo{}
	for path, w := range wants {
		if h.byPath[path] != nil {
			continue
		}
		f, err := openFIFO(path, c.Mode, w.owner, h.o.Queue, h.o.Logger)
		if err != nil {
			for _, o := range opened {
				o.close(0, 0)
			}
			return err
		}
		opened[path] = f
	}
	var gone []*fifo
	for path, f := range h.byPath {
		w := wants[path]
		if w == nil {
			gone = append(gone, f)
			delete(h.byPath, path)
			continue
		}
		if f.created && (f.owner != w.owner || f.mode != c.Mode) {
			// keepalived makes the FIFO again on reload, with the new
			// owner and mode; lvsctl keeps it open and changes them.
			h.reown(f, c.Mode, w.owner)
		}
		if !sameCmd(f.cmd, w.cmd) {
			f.stopScript(0)
			f.startScript(h.o.Run, w.cmd)
		}
	}
	for path, f := range opened {
		h.byPath[path] = f
		f.startScript(h.o.Run, wants[path].cmd)
	}
	role := func(f *FIFO) *fifo {
		if f == nil {
			return nil
		}
		return h.byPath[f.Path]
	}
	h.roles.Store(&roles{global: role(c.Global), vrrp: role(c.VRRP), lvs: role(c.LVS)})
	// Lines already queued for a FIFO that goes are still written; the
	// ones VRRP and LVS hand over from now on go to the new set.
	closeAll(gone, h.o.Flush, h.o.ScriptWait)
	return nil
}

func (h *Hub) reown(f *fifo, mode os.FileMode, owner script.As) {
	if err := os.Chmod(f.path, mode.Perm()); err != nil {
		h.o.Logger.Warn("notify FIFO: changing its mode", "fifo", f.path, "err", err)
	}
	if err := chown(f.path, owner); err != nil {
		h.o.Logger.Warn("notify FIFO: changing its owner", "fifo", f.path, "owner", owner.String(), "err", err)
	}
	f.mode, f.owner = mode, owner
}

func sameCmd(a, b *script.Command) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Line != b.Line || a.Shell != b.Shell || a.As != b.As || len(a.Argv) != len(b.Argv) {
		return false
	}
	for i := range a.Argv {
		if a.Argv[i] != b.Argv[i] {
			return false
		}
	}
	return true
}

// closeAll closes fs side by side: each may wait for its script.
func closeAll(fs []*fifo, flush, scriptWait time.Duration) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.close(flush, scriptWait)
		}()
	}
	wg.Wait()
}

// Close writes what is queued, closes every FIFO (removing the ones lvsctl
// made) and stops their scripts; later lines are dropped silently. A
// daemon calls it once its last lines (the VRRP instances' STOP, omega's
// DOWN) are written.
func (h *Hub) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	h.roles.Store(&roles{})
	var all []*fifo
	for path, f := range h.byPath {
		all = append(all, f)
		delete(h.byPath, path)
	}
	closeAll(all, h.o.Flush, h.o.ScriptWait)
}

// Counters are the counts of the open FIFOs.
func (h *Hub) Counters() []Counters {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Counters, 0, len(h.byPath))
	for path, f := range h.byPath {
		out = append(out, Counters{Path: path, Written: f.written.Load(), Dropped: f.dropped.Load()})
	}
	slices.SortFunc(out, func(a, b Counters) int { return strings.Compare(a.Path, b.Path) })
	return out
}
