package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock"
)

// Speaker is the BGP speaker the runtime drives: GoBGP (NewGoBGP) in
// production, a recording fake in tests. Its calls are quick and local:
// the sessions run in the speaker's own goroutines.
type Speaker interface {
	// Start starts the speaker with cfg's global part (router ID, AS,
	// listen port) and a default import policy that rejects every route.
	Start(ctx context.Context, cfg Config) error
	// Stop closes every session and stops the speaker.
	Stop(ctx context.Context) error
	AddPeer(ctx context.Context, n Neighbor) error
	// UpdatePeer changes a peer's settings (the session may reset).
	UpdatePeer(ctx context.Context, n Neighbor) error
	DeletePeer(ctx context.Context, addr netip.Addr) error
	// Announce adds p, replacing an earlier announcement of its prefix.
	Announce(ctx context.Context, p Path) error
	Withdraw(ctx context.Context, prefix netip.Prefix) error
	Peers(ctx context.Context) ([]PeerState, error)
}

// PeerState is a session as the speaker sees it.
type PeerState struct {
	Addr     netip.Addr `json:"addr"`
	RemoteAS uint32     `json:"remote_as"`
	// State is the session's FSM state ("idle", "active", "established" …).
	State       string `json:"state"`
	Established bool   `json:"established"`
	// Since is when the session was established (zero while it is not).
	Since time.Time `json:"since,omitzero"`
	// Uptime is how long it has been established.
	Uptime time.Duration `json:"uptime_ns,omitempty"`
}

// Options configure a Runtime.
type Options struct {
	Logger *slog.Logger
	// Clock times the shutdown drain (default: the system clock).
	Clock clock.Clock
	// OnChange hears every route transition (for the event log); it is
	// called with the runtime's lock held and must not call back.
	OnChange func(prev, next Route)
}

// Runtime keeps a Speaker's sessions and announcements equal to the
// configuration, the VIPs' health and the lifecycle phase. It is safe for
// concurrent use.
type Runtime struct {
	sp  Speaker
	log *slog.Logger
	clk clock.Clock
	on  func(prev, next Route)

	mu      sync.Mutex
	cfg     *Config // nil until Start succeeded
	vips    []VIP
	phase   Phase
	drained bool // an operator's drain: PhaseDrain while running
	routes  map[netip.Prefix]routeState
	dirty   bool
	lastErr string
}

type routeState struct {
	Route
	since time.Time
	// onWire is what the speaker was last told: announced, and with which
	// community.
	onWire, onWireGS bool
}

// New returns a runtime over sp; Start starts it.
func New(sp Speaker, o Options) *Runtime {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	return &Runtime{sp: sp, log: o.Logger, clk: o.Clock, on: o.OnChange, routes: map[netip.Prefix]routeState{}}
}

// Start starts the speaker, adds the neighbors and announces the healthy
// VIPs. The caller programs IPVS first: a route draws traffic at once. An
// error means the speaker did not start; an announcement that failed is
// logged, shown in the status and retried by Resync.
func (r *Runtime) Start(ctx context.Context, cfg Config, vips []VIP) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.startLocked(ctx, cfg); err != nil {
		return err
	}
	r.vips = slices.Clone(vips)
	_ = r.applyLocked(ctx) // logged, kept dirty for Resync
	return nil
}

func (r *Runtime) startLocked(ctx context.Context, cfg Config) error {
	if err := r.sp.Start(ctx, cfg); err != nil {
		return fmt.Errorf("bgp: start speaker: %w", err)
	}
	for _, n := range cfg.Neighbors {
		if err := r.sp.AddPeer(ctx, n); err != nil {
			if serr := r.sp.Stop(ctx); serr != nil {
				r.log.Warn("bgp: stopping the speaker", "err", serr)
			}
			return fmt.Errorf("bgp: neighbor %s: %w", n.Addr, err)
		}
	}
	c := cfg
	c.Neighbors = slices.Clone(cfg.Neighbors)
	r.cfg = &c
	r.log.Info("bgp speaker started", "router_id", cfg.RouterID, "local_as", cfg.LocalAS,
		"neighbors", len(cfg.Neighbors), "listen_port", cfg.ListenPort)
	return nil
}

// SetVIPs gives the VIPs and their health; routes that changed are
// announced or withdrawn.
func (r *Runtime) SetVIPs(ctx context.Context, vips []VIP) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.vips = slices.Clone(vips)
	if r.cfg == nil {
		return nil
	}
	return r.applyLocked(ctx)
}

// Resync retries edits that failed.
func (r *Runtime) Resync(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg == nil || !r.dirty {
		return nil
	}
	return r.applyLocked(ctx)
}

// Reload applies a new configuration: unchanged neighbors keep their
// sessions, changed ones are updated, removed ones deleted, new ones
// added; a new router ID, AS or listen port restarts the speaker (every
// session resets, which BGP cannot avoid).
func (r *Runtime) Reload(ctx context.Context, cfg Config, vips []VIP) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.vips = slices.Clone(vips)
	old := r.cfg
	if old == nil {
		if err := r.startLocked(ctx, cfg); err != nil {
			return err
		}
		return r.applyLocked(ctx)
	}
	if old.RouterID != cfg.RouterID || old.LocalAS != cfg.LocalAS || old.ListenPort != cfg.ListenPort {
		r.log.Warn("bgp: router_id, local_as or listen port changed: restarting the speaker (sessions reset)")
		if err := r.sp.Stop(ctx); err != nil {
			r.log.Warn("bgp: stopping the speaker", "err", err)
		}
		r.cfg = nil
		for p, st := range r.routes {
			st.onWire, st.onWireGS = false, false
			r.routes[p] = st
		}
		if err := r.startLocked(ctx, cfg); err != nil {
			return err
		}
		return r.applyLocked(ctx)
	}
	var errs []error
	have := make(map[netip.Addr]Neighbor, len(old.Neighbors))
	for _, n := range old.Neighbors {
		have[n.Addr] = n
	}
	want := make(map[netip.Addr]bool, len(cfg.Neighbors))
	for _, n := range cfg.Neighbors {
		want[n.Addr] = true
		h, ok := have[n.Addr]
		switch {
		case !ok:
			errs = append(errs, wrapPeer("add", n.Addr, r.sp.AddPeer(ctx, n)))
		case !sameNeighbor(h, n):
			errs = append(errs, wrapPeer("update", n.Addr, r.sp.UpdatePeer(ctx, n)))
		}
	}
	for _, n := range old.Neighbors {
		if !want[n.Addr] {
			errs = append(errs, wrapPeer("delete", n.Addr, r.sp.DeletePeer(ctx, n.Addr)))
		}
	}
	c := cfg
	c.Neighbors = slices.Clone(cfg.Neighbors)
	r.cfg = &c
	errs = append(errs, r.applyLocked(ctx))
	return errors.Join(errs...)
}

func wrapPeer(op string, addr netip.Addr, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("bgp: %s neighbor %s: %w", op, addr, err)
}

// sameNeighbor compares what the speaker sees (not the position).
func sameNeighbor(a, b Neighbor) bool {
	a.Pos, b.Pos = "", ""
	return a == b
}

// Drain moves every announced route to graceful shutdown (on) or back
// (off) without stopping: an operator takes the director out of the ECMP
// group before maintenance.
func (r *Runtime) Drain(ctx context.Context, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drained = on
	if r.cfg == nil {
		return nil
	}
	return r.applyLocked(ctx)
}

// Stop leaves make-before-break: the routes are re-announced with the
// graceful-shutdown community, kept for the configured drain time while
// this director still forwards, withdrawn, and the speaker stops. The
// caller removes the IPVS services only after Stop returns. A cancelled
// ctx cuts the drain short but still withdraws.
func (r *Runtime) Stop(ctx context.Context) error {
	r.mu.Lock()
	if r.cfg == nil {
		r.mu.Unlock()
		return nil
	}
	drain := r.cfg.ShutdownDrain
	r.phase = PhaseDrain
	err := r.applyLocked(ctx)
	announced := r.announcedLocked()
	r.mu.Unlock()
	if announced > 0 && drain > 0 {
		r.log.Info("bgp: draining before the withdrawal", "routes", announced, "drain", drain.String())
		t := r.clk.NewTimer(drain)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = PhaseShutdown
	// The withdrawal must go out even when ctx ended the drain.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second+r.cfg.WithdrawGrace)
	defer cancel()
	err = errors.Join(err, r.applyLocked(wctx))
	if grace := r.cfg.WithdrawGrace; announced > 0 && grace > 0 {
		// The sessions stay up meanwhile: closing them is a withdrawal too.
		r.mu.Unlock()
		t := r.clk.NewTimer(grace)
		<-t.C()
		r.mu.Lock()
	}
	if serr := r.sp.Stop(wctx); serr != nil {
		err = errors.Join(err, fmt.Errorf("bgp: stop speaker: %w", serr))
	}
	r.cfg = nil
	r.log.Info("bgp speaker stopped")
	return err
}

func (r *Runtime) announcedLocked() int {
	n := 0
	for _, st := range r.routes {
		if st.onWire {
			n++
		}
	}
	return n
}

// applyLocked makes the speaker's announcements equal Decide's routes.
func (r *Runtime) applyLocked(ctx context.Context) error {
	phase := r.phase
	if phase == PhaseRun && r.drained {
		phase = PhaseDrain
	}
	want := Decide(r.vips, phase)
	now := r.clk.Now()
	var errs []error
	seen := make(map[netip.Prefix]bool, len(want))
	for _, w := range want {
		seen[w.Prefix] = true
		st, had := r.routes[w.Prefix]
		if !had || st.Route != w {
			if r.on != nil {
				r.on(st.Route, w)
			}
			r.log.Info("bgp route", "prefix", w.Prefix, "announced", w.Announced, "graceful_shutdown", w.GracefulShutdown,
				"reason", string(w.Reason))
			st.Route, st.since = w, now
		}
		switch {
		case w.Announced && (!st.onWire || st.onWireGS != w.GracefulShutdown):
			if err := r.sp.Announce(ctx, PathOf(w)); err != nil {
				errs = append(errs, fmt.Errorf("bgp: announce %s: %w", w.Prefix, err))
				break
			}
			st.onWire, st.onWireGS = true, w.GracefulShutdown
		case !w.Announced && st.onWire:
			if err := r.sp.Withdraw(ctx, w.Prefix); err != nil {
				errs = append(errs, fmt.Errorf("bgp: withdraw %s: %w", w.Prefix, err))
				break
			}
			st.onWire, st.onWireGS = false, false
		}
		r.routes[w.Prefix] = st
	}
	// VIPs a reload removed: withdraw and forget.
	for _, p := range slices.SortedFunc(maps.Keys(r.routes), comparePrefix) {
		if seen[p] {
			continue
		}
		st := r.routes[p]
		if st.onWire {
			if err := r.sp.Withdraw(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("bgp: withdraw %s: %w", p, err))
				continue
			}
		}
		if r.on != nil {
			r.on(st.Route, Route{Prefix: p, Reason: "removed"})
		}
		delete(r.routes, p)
	}
	err := errors.Join(errs...)
	r.dirty = err != nil
	r.lastErr = ""
	if err != nil {
		r.lastErr = err.Error()
		r.log.Error("bgp: edits failed, will retry", "err", err)
	}
	return err
}

// Status is the runtime's state for `director status` and metrics.
type Status struct {
	RouterID netip.Addr    `json:"router_id"`
	LocalAS  uint32        `json:"local_as"`
	Phase    string        `json:"phase"`
	Drained  bool          `json:"drained,omitempty"`
	Peers    []PeerState   `json:"peers"`
	Routes   []RouteStatus `json:"routes"`
	// LastError is the last failed edit (retried), or "".
	LastError string `json:"last_error,omitempty"`
}

// RouteStatus is one VIP's route.
type RouteStatus struct {
	Prefix           netip.Prefix `json:"prefix"`
	Announced        bool         `json:"announced"`
	GracefulShutdown bool         `json:"graceful_shutdown,omitempty"`
	Reason           Reason       `json:"reason"`
	Since            time.Time    `json:"since"`
}

// Status reads the sessions from the speaker and merges the routes.
func (r *Runtime) Status(ctx context.Context) (Status, error) {
	r.mu.Lock()
	st := Status{Phase: r.phase.String(), Drained: r.drained, LastError: r.lastErr, Routes: []RouteStatus{}, Peers: []PeerState{}}
	running := r.cfg != nil
	if running {
		st.RouterID, st.LocalAS = r.cfg.RouterID, r.cfg.LocalAS
	}
	for _, p := range slices.SortedFunc(maps.Keys(r.routes), comparePrefix) {
		rs := r.routes[p]
		st.Routes = append(st.Routes, RouteStatus{Prefix: p, Announced: rs.onWire, GracefulShutdown: rs.onWireGS,
			Reason: rs.Reason, Since: rs.since})
	}
	r.mu.Unlock()
	if !running {
		return st, nil
	}
	peers, err := r.sp.Peers(ctx)
	if err != nil {
		return st, fmt.Errorf("bgp: read sessions: %w", err)
	}
	slices.SortFunc(peers, func(a, b PeerState) int { return a.Addr.Compare(b.Addr) })
	st.Peers = peers
	return st, nil
}
