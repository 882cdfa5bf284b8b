package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock"
)

// HealthEvent is a real server's health as its checks (aggregated by the
// health scheduler) last reported it. Only changes of Up or of the dynamic
// weight alter the table; every event updates the status.
type HealthEvent struct {
	Ref RealRef
	// Up is true when every checker of the real server passes.
	Up bool
	// HasWeight marks a dynamic weight (MISC_CHECK misc_dynamic): Weight
	// becomes the real server's effective weight.
	HasWeight bool
	Weight    int
	// Result is a short human-readable outcome ("HTTP 200", "connection refused").
	Result  string
	Latency time.Duration
	// FirstDown: no change, a checker's first verdict confirmed the down
	// state an alpha server starts in; the director runs notify_down, as
	// keepalived 2.2.7 (check/ipwrapper.c, update_svr_checker_state).
	FirstDown bool
}

// Scripts runs notify and quorum scripts. Run must not block the caller
// for long: the director calls it while holding its lock.
type Scripts interface {
	Run(ctx context.Context, script Script)
}

// Options tunes a Director. IPVS is required.
type Options struct {
	IPVS   IPVS
	Logger *slog.Logger
	// Clock stamps health changes for status (clock.System when nil).
	Clock clock.Clock
	// Scripts runs notify_up/down and quorum_up/down (none when nil).
	Scripts Scripts
	// KeepIPVS leaves the managed services in the kernel on Stop.
	KeepIPVS bool
	// Observer, when set, sees every applied/failed edit (metrics).
	Observer Observer
	// Events, when set, is told of quorum changes and of real servers
	// taken out by a reload or a stop (e-mail alerts).
	Events Events
}

// Events is told of the changes keepalived 2.2.7 notifies (scripts, mails,
// notify FIFOs: check/ipwrapper.c do_vs_notifies, do_rs_notifies,
// clear_service_rs). It is called with the director's lock held: it must
// not block.
type Events interface {
	Quorum(e QuorumEvent)
	// RealServerChanged: a health report moved a real server up or down,
	// or confirmed the down state an alpha server starts in (FirstDown),
	// where its notify_up / notify_down runs.
	RealServerChanged(ref RealRef, up bool)
	// RealServerGone: an alive real server left the pool because a
	// reload dropped it (or its service), or the director stops with
	// omega (its notify_down runs).
	RealServerGone(ref RealRef, stopping bool)
}

// QuorumEvent is a service's quorum state change, when its quorum_up or
// quorum_down runs.
type QuorumEvent struct {
	Service ServiceKey
	Up      bool
	// Init: the service starts (at Start, added by a reload, or kept
	// below quorum by a reload that gives it a new sorry server):
	// keepalived's "Starting with quorum up/down".
	Init bool
	// Stopping: the director stops with omega.
	Stopping           bool
	Quorum, Hysteresis int
	// Threshold is the weight sum the change was measured against:
	// Quorum+Hysteresis from down (and at start), Quorum-Hysteresis
	// from up; Weight is the live weight.
	Threshold, Weight int
}

// Observer is told about the director's work, for metrics.
type Observer interface {
	OpApplied(op Op)
	OpFailed(op Op, err error)
	Drift(n int)
}

// Director holds the desired state and the director's mirror of the
// kernel table, and keeps the two equal. All methods are safe for
// concurrent use; kernel calls are serialized by its lock.
type Director struct {
	mu      sync.Mutex
	ipvs    IPVS
	log     *slog.Logger
	clock   clock.Clock
	scripts Scripts
	obs     Observer
	events  Events
	keep    bool

	cfg      Config
	services []*vsState
	byKey    map[ServiceKey]*vsState
	// drained survives reloads: it is keyed by service and real server,
	// not by config objects.
	drained map[drainKey]bool
	// shadow mirrors the managed part of the kernel table after the last
	// dump plus every successful edit since.
	shadow Table
	// orphans are services a reload dropped from the config whose
	// deletion failed (EBUSY, a lost reply): still ours, so Sync dumps
	// them and deletes them again until they are gone.
	orphans map[ServiceKey]bool
	// uncertain are services with an edit that failed since the last
	// dump: the kernel may have done it anyway (ENOBUFS: the reply was
	// lost), so a service the mirror lacks may still exist.
	uncertain map[ServiceKey]bool
	// dirty is set when an edit failed; the next Sync dumps and retries.
	dirty   bool
	started bool
	tuning  batchTuning
}

type drainKey struct {
	svc ServiceKey
	rs  DestKey
}

type vsState struct {
	cfg      VirtualService
	rs       []*rsState
	byKey    map[DestKey]*rsState
	quorumUp bool
}

type rsState struct {
	cfg RealServer
	// fresh marks a real server installed by this Start or Reload (no
	// state carried over), for InitNotifies.
	fresh   bool
	alive   bool
	since   time.Time
	weight  int
	result  string
	checked time.Time
	latency time.Duration
}

// ErrNotFound is returned for an unknown virtual or real server.
var ErrNotFound = errors.New("not found")

// New validates cfg and returns a director that has not touched the
// kernel yet (see Start).
func New(cfg Config, opts Options) (*Director, error) {
	if opts.IPVS == nil {
		return nil, errors.New("director: no IPVS client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Director{
		ipvs:    opts.IPVS,
		log:     opts.Logger,
		clock:   opts.Clock,
		scripts: opts.Scripts,
		obs:     opts.Observer,
		events:  opts.Events,
		keep:    opts.KeepIPVS,
		tuning:  batchTuning{oneProc: defaultOneProc, noGC: defaultNoGC},
		drained: map[drainKey]bool{},
		orphans: map[ServiceKey]bool{}, uncertain: map[ServiceKey]bool{},
		shadow: Table{},
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clock == nil {
		d.clock = clock.System{}
	}
	d.install(cfg, nil)
	return d, nil
}

// install makes cfg current, carrying health state over from old (nil at
// start) for real servers that stay.
func (d *Director) install(cfg Config, old map[ServiceKey]*vsState) {
	now := d.clock.Now()
	d.cfg = cfg
	d.services = make([]*vsState, 0, len(cfg.Services))
	d.byKey = make(map[ServiceKey]*vsState, len(cfg.Services))
	for _, vc := range cfg.Services {
		vs := &vsState{cfg: vc, byKey: make(map[DestKey]*rsState, len(vc.RealServers)),
			rs: make([]*rsState, 0, len(vc.RealServers))}
		prev := old[vc.Service.Key]
		// One allocation for the states of a service's real servers:
		// 10,000 real servers are installed on every start and reload.
		states := make([]rsState, len(vc.RealServers))
		for i, rc := range vc.RealServers {
			var p *rsState
			if prev != nil {
				p = prev.byKey[rc.Key()]
			}
			rs := &states[i]
			initRSState(rs, rc, vc.Alpha || rc.Alpha, p, now)
			vs.rs = append(vs.rs, rs)
			vs.byKey[rc.Key()] = rs
		}
		sum := vs.liveWeight()
		if prev != nil {
			vs.quorumUp = prev.quorumUp
		} else {
			vs.quorumUp = sum >= vc.Quorum+vc.Hysteresis
		}
		d.services = append(d.services, vs)
		d.byKey[vc.Service.Key] = vs
	}
}

// initRSState fills rs for rc, carrying the health of prev (the same
// real server before a reload) over.
func initRSState(rs *rsState, rc RealServer, alpha bool, prev *rsState, now time.Time) {
	*rs = rsState{cfg: rc, weight: rc.Weight, since: now, alive: true, fresh: prev == nil}
	switch {
	case prev != nil && (prev.cfg.Checked || !rc.Checked):
		rs.alive = prev.alive || !rc.Checked
		rs.since, rs.result, rs.checked, rs.latency = prev.since, prev.result, prev.checked, prev.latency
		if prev.weight != prev.cfg.Weight && prev.cfg.Weight == rc.Weight {
			// A dynamic weight stays until the next check result says
			// otherwise; a config change of the weight wins.
			rs.weight = prev.weight
		}
		if prev.alive != rs.alive {
			rs.since = now
		}
	case alpha && rc.Checked:
		// New (or newly checked) under alpha: down until its checks pass.
		rs.alive, rs.result = false, "not checked yet (alpha)"
	}
}

func (vs *vsState) liveWeight() int {
	sum := 0
	for _, rs := range vs.rs {
		if rs.alive {
			sum += clampWeight(rs.weight)
		}
	}
	return sum
}

// sorryActive says whether the sorry server replaces the real servers.
func (vs *vsState) sorryActive() bool { return vs.cfg.Sorry != nil && !vs.quorumUp }

// desired computes the table entry this service should have now.
func (d *Director) desired(vs *vsState) *TableService {
	key := vs.cfg.Service.Key
	ts := &TableService{Service: vs.cfg.Service, Dests: make(map[DestKey]Destination, len(vs.rs)+1)}
	ts.Service.Stats = Stats{}
	sorry := vs.sorryActive()
	for _, rs := range vs.rs {
		w := rs.weight
		if d.drained[drainKey{key, rs.cfg.Key()}] {
			w = 0
		}
		switch {
		case rs.alive && !sorry:
			ts.Dests[rs.dkey(key)] = rs.cfg.Destination(key, w)
		case rs.cfg.InhibitOnFailure:
			ts.Dests[rs.dkey(key)] = rs.cfg.Destination(key, 0)
		}
	}
	if s := vs.cfg.Sorry; s != nil {
		dst := s.Destination(key, s.Weight)
		switch {
		case sorry:
			ts.Dests[dst.Key()] = dst
		case vs.cfg.SorryInhibit:
			if _, ok := ts.Dests[dst.Key()]; !ok {
				dst.Weight = 0
				ts.Dests[dst.Key()] = dst
			}
		}
	}
	return ts
}

func (rs *rsState) dkey(svc ServiceKey) DestKey {
	if rs.cfg.Forward != Masq {
		return DestKey{Addr: rs.cfg.Addr, Port: svc.Port}
	}
	return rs.cfg.Key()
}

func (d *Director) desiredTable() Table {
	t := make(Table, len(d.services))
	for _, vs := range d.services {
		t[vs.cfg.Service.Key] = d.desired(vs)
	}
	return t
}

func (d *Director) managed(k ServiceKey) bool { return d.byKey[k] != nil }

// owned says whether lvsctl must keep k in shape: configured, or dropped
// from the config but not deleted yet.
func (d *Director) owned(k ServiceKey) bool { return d.byKey[k] != nil || d.orphans[k] }

// adoptOrphans remembers the services that the config no longer has but
// the kernel may still hold (in the mirror: their deletion failed; or
// uncertain after a failed edit), and forgets orphans that are surely
// gone or configured again.
func (d *Director) adoptOrphans() {
	for k := range d.orphans {
		if d.managed(k) || d.shadow[k] == nil && !d.uncertain[k] {
			delete(d.orphans, k)
		}
	}
	adopt := func(k ServiceKey) {
		if d.managed(k) || d.orphans[k] {
			return
		}
		d.log.Warn("service dropped from the config may still be in the kernel, will retry", "vs", k.String())
		d.orphans[k] = true
	}
	for k := range d.shadow {
		adopt(k)
	}
	for k := range d.uncertain {
		adopt(k)
	}
}

// Start reads the managed part of the kernel table once, adopts what is
// already right and applies the rest. Failed edits are logged and retried
// by the next Sync; Start returns an error only when the table cannot be
// read.
func (d *Director) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.initNotifies(ctx)
	for _, vs := range d.services {
		d.startQuorum(ctx, vs)
	}
	actual, err := Dump(ctx, d.ipvs, d.managed)
	if err != nil {
		return err
	}
	adopted := 0
	for k := range actual {
		if d.managed(k) {
			adopted++
		}
	}
	d.shadow = actual
	ops := Diff(d.desiredTable(), d.shadow, d.managed)
	if len(ops) >= bigBatch {
		defer tuneForBatch(d.tuning.oneProc, d.tuning.noGC)()
	}
	res := d.apply(ctx, ops, "start")
	d.started = true
	d.log.Info("IPVS table programmed", "services", len(d.services), "existing_services", adopted,
		"ops", len(res.Applied), "failed", len(res.Failed))
	return nil
}

// apply performs ops, logs each and remembers failures for a retry.
func (d *Director) apply(ctx context.Context, ops []Op, why string) ApplyResult {
	res := Apply(ctx, d.ipvs, ops, d.shadow)
	// Big batches (cold start of thousands of entries) are summarized by
	// the caller; each edit is then only worth a debug line.
	level := slog.LevelInfo
	if len(res.Applied) > 100 {
		level = slog.LevelDebug
	}
	logOps := d.log.Enabled(ctx, level)
	for _, op := range res.Applied {
		if logOps || op.Kind == OpDelDest {
			d.logOp(ctx, level, op, why)
		}
		if d.obs != nil {
			d.obs.OpApplied(op)
		}
	}
	for _, f := range res.Failed {
		d.uncertain[f.Op.Service.Key] = true
		d.log.Error("IPVS edit failed, will retry", "op", f.Op.String(), "err", f.Err, "why", why)
		if d.obs != nil {
			d.obs.OpFailed(f.Op, f.Err)
		}
	}
	for _, op := range res.Skipped {
		d.uncertain[op.Service.Key] = true
		d.log.Warn("IPVS edit postponed after an earlier failure", "op", op.String(), "why", why)
	}
	if len(res.Failed) > 0 || len(res.Skipped) > 0 {
		d.dirty = true
	}
	return res
}

func (d *Director) logOp(ctx context.Context, level slog.Level, op Op, why string) {
	if op.Kind == OpDelDest {
		if vs := d.byKey[op.Service.Key]; vs != nil && !d.known(vs, op.Dest.Key()) {
			attrs := []any{"op", op.String(), "why", why}
			d.log.Warn("removed destination unknown to the config", append(attrs, "vs", op.Service.Key.String(),
				"rs", op.Dest.Key().String())...)
			return
		}
	}
	if d.log.Enabled(ctx, level) {
		d.log.Log(ctx, level, "IPVS edit", "op", op.String(), "why", why)
	}
}

// known says whether dk is a destination the config can produce.
func (d *Director) known(vs *vsState, dk DestKey) bool {
	for _, rs := range vs.rs {
		if rs.dkey(vs.cfg.Service.Key) == dk {
			return true
		}
	}
	if s := vs.cfg.Sorry; s != nil && s.Destination(vs.cfg.Service.Key, 0).Key() == dk {
		return true
	}
	return false
}

// Dirty reports whether an edit failed since the last successful Sync.
func (d *Director) Dirty() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dirty
}

// Sync dumps the managed services, logs everything that differs from what
// the director last programmed (changes made behind its back), and repairs
// the table. It returns the number of drifted entries and the error of the
// dump or of failed edits.
func (d *Director) Sync(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	actual, err := Dump(ctx, d.ipvs, d.owned)
	if err != nil {
		return 0, err
	}
	drift := d.logDrift(actual)
	if drift > 0 && d.obs != nil {
		d.obs.Drift(drift)
	}
	d.shadow = actual
	d.dirty = false
	clear(d.uncertain)
	res := d.apply(ctx, Diff(d.desiredTable(), d.shadow, d.owned), "resync")
	d.adoptOrphans()
	return drift, res.Err()
}

// logDrift compares the previous mirror with a fresh dump.
func (d *Director) logDrift(actual Table) int {
	n := 0
	warn := func(msg string, args ...any) {
		n++
		d.log.Warn("IPVS changed behind lvsctl's back: "+msg, args...)
	}
	for _, k := range sortedKeys(d.shadow) {
		was := d.shadow[k]
		now := actual[k]
		if now == nil {
			warn("service deleted", "vs", k.String())
			continue
		}
		if sameTable(was, now) {
			continue
		}
		if !ServiceEqual(was.Service, now.Service) {
			warn("service changed", "vs", k.String(), "was", Op{Kind: OpNewService, Service: was.Service}.String(),
				"now", Op{Kind: OpNewService, Service: now.Service}.String())
		}
		for _, dst := range sortedDests(was.Dests) {
			got, ok := now.Dests[dst.Key()]
			switch {
			case !ok:
				warn("destination deleted", "vs", k.String(), "rs", dst.Key().String())
			case !DestEqual(dst, got):
				warn("destination changed", "vs", k.String(), "rs", dst.Key().String(),
					"weight_was", dst.Weight, "weight_now", got.Weight, "fwd_was", dst.Forward.String(), "fwd_now", got.Forward.String())
			}
		}
		for _, dst := range sortedDests(now.Dests) {
			if _, ok := was.Dests[dst.Key()]; !ok {
				warn("destination added", "vs", k.String(), "rs", dst.Key().String(), "weight", dst.Weight)
			}
		}
	}
	for _, k := range sortedKeys(actual) {
		if _, ok := d.shadow[k]; !ok && d.started {
			warn("service added", "vs", k.String())
		}
	}
	return n
}

// Reload replaces the configuration and applies only the difference to
// the kernel, computed against the director's mirror (no dump). Health
// state, quorum state and drains of servers that stay are kept. On a
// validation error nothing changes.
func (d *Director) Reload(ctx context.Context, cfg Config) (ApplyResult, error) {
	if err := cfg.Validate(); err != nil {
		return ApplyResult{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	oldManaged := d.byKey
	oldServices := d.services
	d.install(cfg, oldManaged)
	d.notifyGone(ctx, oldServices)
	d.initNotifies(ctx)
	// Services dropped from the config were ours: remove them too.
	managed := func(k ServiceKey) bool { return d.byKey[k] != nil || oldManaged[k] != nil || d.orphans[k] }
	for k := range d.drained {
		if vs := d.byKey[k.svc]; vs == nil || vs.byKey[k.rs] == nil {
			delete(d.drained, k)
		}
	}
	for _, vs := range d.services {
		if oldManaged[vs.cfg.Service.Key] == nil {
			// A service the reload adds starts as at Start (keepalived
			// runs init_service_vs for it).
			d.startQuorum(ctx, vs)
			continue
		}
		wasUp := vs.quorumUp
		d.updateQuorum(ctx, vs)
		// keepalived 2.2.7 (check/ipwrapper.c) runs update_quorum_state
		// with init set for a reloaded service too: one that stays below
		// its quorum and gets a sorry server that was not in use (new, or
		// another address: clear_diff_s_srv keeps only an equal one
		// alive) "starts with quorum down" again, adds it and runs
		// quorum_down.
		if old := oldManaged[vs.cfg.Service.Key]; !wasUp && !vs.quorumUp && vs.cfg.Sorry != nil && !sameDest(old.cfg.Sorry, vs.cfg.Sorry) {
			d.log.Info("starting with quorum down (sorry server added by the reload)", "vs", vs.cfg.Service.Key.String(),
				"quorum", vs.cfg.Quorum, "hysteresis", vs.cfg.Hysteresis, "weight", vs.liveWeight())
			d.runScript(ctx, vs.cfg.QuorumDown)
			d.quorumEvent(vs, false, true, false, vs.cfg.Quorum+vs.cfg.Hysteresis, vs.liveWeight())
		}
	}
	res := d.apply(ctx, Diff(d.desiredTable(), d.shadow, managed), "reload")
	// A dropped service still in the mirror was not deleted: forgetting
	// it would leave it in the kernel for good.
	d.adoptOrphans()
	d.log.Info("configuration reloaded", "services", len(d.services), "ops", len(res.Applied), "failed", len(res.Failed))
	return res, nil
}

// HandleHealth applies one health report: a change of the real server's
// liveness (or dynamic weight) becomes the edits of its service only.
func (d *Director) HandleHealth(ctx context.Context, ev HealthEvent) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	svc, real := ev.Ref.Service, ev.Ref.Real
	vs := d.byKey[svc]
	if vs == nil {
		return fmt.Errorf("health event for %s: virtual server %w", svc, ErrNotFound)
	}
	rs := vs.byKey[real]
	if rs == nil {
		return fmt.Errorf("health event for %s in %s: real server %w", real, svc, ErrNotFound)
	}
	now := d.clock.Now()
	rs.result, rs.checked, rs.latency = ev.Result, now, ev.Latency
	changed := false
	if ev.FirstDown && !ev.Up && !rs.alive {
		d.log.Info("real server down (first check)", "vs", svc.String(), "rs", real.String(), "result", ev.Result)
		d.runScript(ctx, rs.cfg.NotifyDown)
		d.realServerChanged(ev.Ref, false)
	}
	if ev.Up != rs.alive {
		rs.alive, rs.since, changed = ev.Up, now, true
		verb := map[bool]string{true: "up", false: "down"}[ev.Up]
		d.log.Info("real server "+verb, "vs", svc.String(), "rs", real.String(), "result", ev.Result)
		if ev.Up {
			d.runScript(ctx, rs.cfg.NotifyUp)
		} else {
			d.runScript(ctx, rs.cfg.NotifyDown)
		}
		d.realServerChanged(ev.Ref, ev.Up)
	}
	weight := rs.cfg.Weight
	if ev.HasWeight {
		weight = ev.Weight
	}
	if ev.Up && weight != rs.weight {
		// A dynamic weight (misc_dynamic) while up; a report without one
		// returns to the configured weight, as keepalived does.
		d.log.Info("weight changed by the check", "vs", svc.String(), "rs", real.String(), "from", rs.weight, "to", weight)
		rs.weight, changed = weight, true
	}
	if !changed {
		return nil
	}
	d.updateQuorum(ctx, vs)
	return d.syncService(ctx, vs, "health")
}

// initNotifies runs notify_up for the fresh real servers that start alive
// when the configuration asks for it (Config.InitNotifies), and forgets
// which ones were fresh.
func (d *Director) initNotifies(ctx context.Context) {
	for _, vs := range d.services {
		for _, rs := range vs.rs {
			if rs.fresh && rs.alive && d.cfg.InitNotifies {
				d.log.Info("real server up (initial state, rs_init_notifies)", "vs", vs.cfg.Service.Key.String(), "rs", rs.cfg.Key().String())
				d.runScript(ctx, rs.cfg.NotifyUp)
				// keepalived's do_rs_notifies writes the FIFO line too.
				d.realServerChanged(RealRef{Service: vs.cfg.Service.Key, Real: rs.cfg.Key()}, true)
			}
			rs.fresh = false
		}
	}
}

// startQuorum runs the quorum script of a service that starts (at Start,
// or added by Reload). keepalived 2.2.7 (check/ipwrapper.c:
// init_service_vs calls update_quorum_state with init set, after
// set_quorum_states in check/check_data.c left every new service "down"
// because no real server is alive yet): a service that starts with its
// quorum met "gains" it and runs quorum_up (operators announce the
// service from it); one that starts below its quorum runs quorum_down
// only when it has a sorry server to put in, otherwise nothing was lost
// and nothing runs.
func (d *Director) startQuorum(ctx context.Context, vs *vsState) {
	c := vs.cfg
	if vs.quorumUp {
		d.log.Info("starting with quorum up", "vs", c.Service.Key.String(),
			"quorum", c.Quorum, "hysteresis", c.Hysteresis, "weight", vs.liveWeight())
		d.runScript(ctx, c.QuorumUp)
		d.quorumEvent(vs, true, true, false, c.Quorum+c.Hysteresis, vs.liveWeight())
		return
	}
	d.log.Info("starting with quorum down", "vs", c.Service.Key.String(),
		"quorum", c.Quorum, "hysteresis", c.Hysteresis, "weight", vs.liveWeight())
	if c.Sorry != nil {
		d.runScript(ctx, c.QuorumDown)
		d.quorumEvent(vs, false, true, false, c.Quorum+c.Hysteresis, vs.liveWeight())
	}
}

// realServerChanged tells Events where notify_up / notify_down run.
func (d *Director) realServerChanged(ref RealRef, up bool) {
	if d.events != nil {
		d.events.RealServerChanged(ref, up)
	}
}

// quorumEvent tells Events of vs's quorum state now (up) with its live
// weight.
func (d *Director) quorumEvent(vs *vsState, up, init, stopping bool, threshold, weight int) {
	if d.events == nil {
		return
	}
	c := vs.cfg
	d.events.Quorum(QuorumEvent{Service: c.Service.Key, Up: up, Init: init, Stopping: stopping,
		Quorum: c.Quorum, Hysteresis: c.Hysteresis, Threshold: threshold, Weight: weight})
}

// notifyGone runs notify_down for every alive real server of old that the
// configuration now installed no longer has (alone, or with its whole
// service), and quorum_down for a dropped service whose quorum was up, as
// keepalived 2.2.7 does on a reload (check/ipwrapper.c: clear_diff_rs and
// clear_diff_services call clear_service_rs, which runs do_rs_notifies and
// mails "=> Removing <="; for a dropped service clear_service_rs_list
// then runs update_vs_notifies, which loses the quorum at weight 0).
func (d *Director) notifyGone(ctx context.Context, old []*vsState) {
	for _, ovs := range old {
		k := ovs.cfg.Service.Key
		nvs := d.byKey[k]
		for _, rs := range ovs.rs {
			if !rs.alive || (nvs != nil && nvs.byKey[rs.cfg.Key()] != nil) {
				continue
			}
			d.log.Info("real server removed by the reload while up", "vs", k.String(), "rs", rs.cfg.Key().String())
			d.runScript(ctx, rs.cfg.NotifyDown)
			if d.events != nil {
				d.events.RealServerGone(RealRef{Service: k, Real: rs.cfg.Key()}, false)
			}
		}
		if nvs == nil && ovs.quorumUp {
			c := ovs.cfg
			d.log.Info("lost quorum (service removed by the reload)", "vs", k.String(), "quorum", c.Quorum, "hysteresis", c.Hysteresis)
			d.runScript(ctx, c.QuorumDown)
			d.quorumEvent(ovs, false, false, false, c.Quorum-c.Hysteresis, 0)
		}
	}
}

// sameDest reports whether two sorry servers are the same destination
// (keepalived's rs_iseq: address and port).
func sameDest(a, b *RealServer) bool {
	return a != nil && b != nil && a.Addr == b.Addr && a.Port == b.Port
}

// updateQuorum moves the quorum state with keepalived's hysteresis rule.
func (d *Director) updateQuorum(ctx context.Context, vs *vsState) {
	sum := vs.liveWeight()
	c := vs.cfg
	switch {
	case !vs.quorumUp && sum >= c.Quorum+c.Hysteresis:
		vs.quorumUp = true
		d.log.Info("gained quorum", "vs", c.Service.Key.String(), "quorum", c.Quorum, "hysteresis", c.Hysteresis, "weight", sum)
		d.runScript(ctx, c.QuorumUp)
		d.quorumEvent(vs, true, false, false, c.Quorum+c.Hysteresis, sum)
	case vs.quorumUp && (sum == 0 || sum < c.Quorum-c.Hysteresis):
		vs.quorumUp = false
		d.log.Warn("lost quorum", "vs", c.Service.Key.String(), "quorum", c.Quorum, "hysteresis", c.Hysteresis, "weight", sum)
		d.runScript(ctx, c.QuorumDown)
		d.quorumEvent(vs, false, false, false, c.Quorum-c.Hysteresis, sum)
	}
}

func (d *Director) syncService(ctx context.Context, vs *vsState, why string) error {
	k := vs.cfg.Service.Key
	res := d.apply(ctx, DiffService(nil, d.desired(vs), d.shadow[k]), why)
	return res.Err()
}

func (d *Director) runScript(ctx context.Context, script Script) {
	if script.IsZero() || d.scripts == nil {
		return
	}
	d.scripts.Run(ctx, script)
}

// Drain sets a real server's weight to 0 (existing connections finish;
// no new ones) or, with on=false, restores it. The setting survives
// reloads as long as the server stays in the config.
func (d *Director) Drain(ctx context.Context, svc ServiceKey, rs DestKey, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	vs := d.byKey[svc]
	if vs == nil {
		return fmt.Errorf("virtual server %s: %w", svc, ErrNotFound)
	}
	if vs.byKey[rs] == nil {
		return fmt.Errorf("real server %s in %s: %w", rs, svc, ErrNotFound)
	}
	k := drainKey{svc, rs}
	if on {
		d.drained[k] = true
	} else {
		delete(d.drained, k)
	}
	d.log.Info(map[bool]string{true: "draining real server", false: "enabling real server"}[on], "vs", svc.String(), "rs", rs.String())
	return d.syncService(ctx, vs, map[bool]string{true: "drain", false: "enable"}[on])
}

// Stop removes the managed services from the kernel unless KeepIPVS was
// set; with omega it runs the down notifications first.
func (d *Director) Stop(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, vs := range d.services {
		if !vs.cfg.Omega {
			continue
		}
		for _, rs := range vs.rs {
			if rs.alive {
				d.runScript(ctx, rs.cfg.NotifyDown)
				if d.events != nil {
					d.events.RealServerGone(RealRef{Service: vs.cfg.Service.Key, Real: rs.cfg.Key()}, true)
				}
			}
		}
		d.runScript(ctx, vs.cfg.QuorumDown)
		d.quorumEvent(vs, false, false, true, vs.cfg.Quorum-vs.cfg.Hysteresis, 0)
	}
	if d.keep {
		d.log.Info("leaving IPVS services in place", "services", len(d.services))
		return nil
	}
	var ops []Op
	for _, k := range sortedKeys(d.shadow) {
		if d.owned(k) {
			ops = append(ops, Op{Kind: OpDelService, Service: Service{Key: k}})
		}
	}
	return d.apply(ctx, ops, "stop").Err()
}

// Resolve finds the configured real server q names.
func (d *Director) Resolve(q RealQuery) (RealRef, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.services {
		k := s.cfg.Service.Key
		if !q.matchService(k) {
			continue
		}
		for _, r := range s.rs {
			if q.matchReal(r.cfg.Key()) {
				return RealRef{Service: k, Real: r.cfg.Key()}, nil
			}
		}
		return RealRef{}, fmt.Errorf("real server %s in %s: %w", q.Real, k, ErrNotFound)
	}
	return RealRef{}, fmt.Errorf("virtual server %s: %w", q.Service, ErrNotFound)
}

// sameTable is the cheap check before the sorted, logged comparison.
func sameTable(a, b *TableService) bool {
	if !ServiceEqual(a.Service, b.Service) || len(a.Dests) != len(b.Dests) {
		return false
	}
	for k, d := range a.Dests {
		if o, ok := b.Dests[k]; !ok || !DestEqual(d, o) {
			return false
		}
	}
	return true
}
