package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/eventlog"
)

// The BGP speaker (bgp { }, bgp_announce; docs/bgp.md) is wired like the
// sync daemons: created when a configuration first asks for it, after IPVS
// is programmed (a route draws traffic at once), reloaded with the rest,
// and stopped make-before-break before the IPVS services are removed: the
// routes leave with the graceful-shutdown community, stay for the drain
// time while this director still forwards, and are withdrawn; only then do
// the services go. The announcements follow the services' quorum: every
// health transition pokes the watcher, and a short ticker catches what no
// event reports (drains, reloads, retries).

// bgpPoll is how often the watcher looks at the quorums without a poke.
const bgpPoll = time.Second

// bgpState is the daemon's BGP part; dm.mu guards it.
type bgpState struct {
	rt *bgp.Runtime
	// announce is the services whose VIPs are announced.
	announce []director.ServiceKey
	poke     chan struct{}
	// sloppy: net.ipv4.vs.sloppy_tcp is set by lvsctl; sloppySaved is the
	// value found before, put back when it is no longer needed.
	sloppy      bool
	sloppySaved string
	// stopped is set once Run stops BGP: a reload still in flight must not
	// start it again.
	stopped bool
}

func (dm *Daemon) bgpRuntime() *bgp.Runtime {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return dm.bgp.rt
}

// pokeBGP tells the watcher that a quorum may have changed.
func (dm *Daemon) pokeBGP() {
	dm.mu.Lock()
	c := dm.bgp.poke
	dm.mu.Unlock()
	if c == nil {
		return
	}
	select {
	case c <- struct{}{}:
	default:
	}
}

// bgpVIPs is each announced VIP with its service's quorum now. Without
// IPVS (no director) nothing is healthy.
func (dm *Daemon) bgpVIPs() []bgp.VIP {
	dm.mu.Lock()
	keys := dm.bgp.announce
	dir := dm.dir
	dm.mu.Unlock()
	var q map[director.ServiceKey]bool
	if dir != nil {
		q = dir.Quorums()
	}
	out := make([]bgp.VIP, 0, len(keys))
	for _, k := range keys {
		out = append(out, bgp.VIP{Prefix: bgp.HostPrefix(k.Addr), Healthy: q[k]})
	}
	return out
}

// applyBGP brings the speaker and sloppy_tcp to d: the first
// configuration with a bgp block starts it, later ones reload it, one
// without stops it (make-before-break).
func (dm *Daemon) applyBGP(ctx context.Context, d *config.Desired) error {
	dm.mu.Lock()
	stopped := dm.bgp.stopped
	dm.mu.Unlock()
	if stopped {
		return nil
	}
	wantSloppy := d.BGP != nil && d.BGP.SloppyTCP && len(d.BGPAnnounce) > 0
	if err := dm.setSloppyTCP(wantSloppy); err != nil {
		return err
	}
	dm.mu.Lock()
	dm.bgp.announce = append([]director.ServiceKey(nil), d.BGPAnnounce...)
	rt := dm.bgp.rt
	dm.mu.Unlock()
	switch {
	case d.BGP == nil && rt == nil:
		return nil
	case d.BGP == nil:
		dm.stopBGPRuntime()
		return nil
	case rt != nil:
		if err := rt.Reload(ctx, *d.BGP, dm.bgpVIPs()); err != nil {
			// Sessions and routes that failed are retried by the watcher;
			// the configuration itself was valid.
			dm.log.Error("bgp reload, retrying what failed", "err", err)
		}
		return nil
	}
	sp := dm.o.NewBGPSpeaker(dm.log)
	rt = bgp.New(sp, bgp.Options{Logger: dm.log, OnChange: dm.bgpRouteChanged})
	if err := rt.Start(ctx, *d.BGP, dm.bgpVIPs()); err != nil {
		return err
	}
	poke := make(chan struct{}, 1)
	dm.mu.Lock()
	dm.bgp.rt, dm.bgp.poke = rt, poke
	dm.mu.Unlock()
	dm.spawn("bgp", func(ctx context.Context) error { return dm.watchBGP(ctx, rt, poke) })
	return nil
}

// watchBGP feeds the quorums to rt until ctx ends or rt is replaced.
func (dm *Daemon) watchBGP(ctx context.Context, rt *bgp.Runtime, poke <-chan struct{}) error {
	t := time.NewTicker(bgpPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poke:
		case <-t.C:
		}
		if dm.bgpRuntime() != rt {
			return nil
		}
		if err := rt.SetVIPs(ctx, dm.bgpVIPs()); err != nil {
			dm.log.Warn("bgp: updating the announcements", "err", err)
		}
		if err := rt.Resync(ctx); err != nil {
			dm.log.Warn("bgp: retrying failed edits", "err", err)
		}
	}
}

// bgpRouteChanged records a route transition; it runs under the runtime's
// lock and only appends to the event log.
func (dm *Daemon) bgpRouteChanged(prev, next bgp.Route) {
	to := "withdrawn"
	switch {
	case next.Announced && next.GracefulShutdown:
		to = "announced (graceful shutdown)"
	case next.Announced:
		to = "announced"
	}
	from := "-"
	switch {
	case prev.Reason == "":
	case prev.Announced && prev.GracefulShutdown:
		from = "announced (graceful shutdown)"
	case prev.Announced:
		from = "announced"
	default:
		from = "withdrawn"
	}
	dm.record(eventlog.Event{Kind: eventlog.KindBGP, Subject: next.Prefix.String(), From: from, To: to,
		Message: string(next.Reason)})
}

// stopBGP leaves make-before-break; it runs before the IPVS services are
// removed. ctx of Run is over by then: the drain gets its own time.
func (dm *Daemon) stopBGP() {
	// A reload over the socket may still run: it owns the BGP state until
	// it is done.
	dm.reloadMu.Lock()
	defer dm.reloadMu.Unlock()
	dm.mu.Lock()
	dm.bgp.stopped = true
	dm.mu.Unlock()
	dm.stopBGPRuntime()
	if err := dm.setSloppyTCP(false); err != nil {
		dm.log.Warn("restoring net.ipv4.vs.sloppy_tcp", "err", err)
	}
}

func (dm *Daemon) stopBGPRuntime() {
	dm.mu.Lock()
	rt := dm.bgp.rt
	dm.bgp.rt, dm.bgp.poke = nil, nil
	dm.mu.Unlock()
	if rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := rt.Stop(ctx); err != nil {
		dm.log.Error("stopping BGP", "err", err)
	}
}

// DrainBGP moves every announced VIP to graceful shutdown (on) or back:
// routers prefer the other directors while this one keeps forwarding.
func (dm *Daemon) DrainBGP(ctx context.Context, on bool) error {
	rt := dm.bgpRuntime()
	if rt == nil {
		return errors.New("bgp: the configuration has no bgp block")
	}
	if err := rt.Drain(ctx, on); err != nil {
		return err
	}
	to := "announced"
	if on {
		to = "drained"
	}
	dm.record(eventlog.Event{Kind: eventlog.KindDrain, Subject: "bgp", To: to, Message: "by the operator"})
	return nil
}

// sloppyTCPPath is net.ipv4.vs.sloppy_tcp of the daemon's network
// namespace.
func (dm *Daemon) sloppyTCPPath() string {
	return filepath.Join(dm.o.ProcSys, "net", "ipv4", "vs", "sloppy_tcp")
}

// setSloppyTCP sets net.ipv4.vs.sloppy_tcp=1 (on) or puts back the value
// found before lvsctl set it (off). Without it a director drops the
// mid-flow segments of connections it did not see start, which is every
// connection an ECMP change moves to it.
func (dm *Daemon) setSloppyTCP(on bool) error {
	st := &dm.bgp
	if on == st.sloppy {
		return nil
	}
	p := dm.sloppyTCPPath()
	if on {
		old, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("bgp sloppy_tcp: %w (is IPVS loaded in this network namespace?)", err)
		}
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("bgp sloppy_tcp: %w", err)
		}
		st.sloppy, st.sloppySaved = true, strings.TrimSpace(string(old))
		dm.log.Info("set net.ipv4.vs.sloppy_tcp=1", "was", st.sloppySaved)
		return nil
	}
	if err := os.WriteFile(p, []byte(st.sloppySaved+"\n"), 0o644); err != nil {
		return fmt.Errorf("bgp sloppy_tcp: %w", err)
	}
	st.sloppy = false
	dm.log.Info("restored net.ipv4.vs.sloppy_tcp", "value", st.sloppySaved)
	return nil
}

// bgpCollector exports the sessions and routes once there is a speaker.
type bgpCollector struct {
	dm                                              *Daemon
	sessionUp, sessionUptime, routeAnnounced, gshut *prometheus.Desc
}

func newBGPCollector(dm *Daemon) *bgpCollector {
	return &bgpCollector{dm: dm,
		sessionUp: prometheus.NewDesc("lvsctl_bgp_session_established",
			"1 when the BGP session with the neighbor is established.", []string{"neighbor", "state"}, nil),
		sessionUptime: prometheus.NewDesc("lvsctl_bgp_session_uptime_seconds",
			"How long the BGP session has been established (0 when it is not).", []string{"neighbor"}, nil),
		routeAnnounced: prometheus.NewDesc("lvsctl_bgp_route_announced",
			"1 when the VIP's route is announced; reason says why it is in its state (healthy, no-quorum, drain, shutdown).",
			[]string{"prefix", "reason"}, nil),
		gshut: prometheus.NewDesc("lvsctl_bgp_route_graceful_shutdown",
			"1 when the VIP's route carries the GRACEFUL_SHUTDOWN community (drain or stop).", []string{"prefix"}, nil),
	}
}

func (c *bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessionUp
	ch <- c.sessionUptime
	ch <- c.routeAnnounced
	ch <- c.gshut
}

func (c *bgpCollector) Collect(ch chan<- prometheus.Metric) {
	rt := c.dm.bgpRuntime()
	if rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := rt.Status(ctx)
	if err != nil {
		c.dm.log.Warn("bgp metrics", "err", err)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, p := range st.Peers {
		ch <- prometheus.MustNewConstMetric(c.sessionUp, prometheus.GaugeValue, b(p.Established), p.Addr.String(), p.State)
		ch <- prometheus.MustNewConstMetric(c.sessionUptime, prometheus.GaugeValue, p.Uptime.Seconds(), p.Addr.String())
	}
	for _, r := range st.Routes {
		ch <- prometheus.MustNewConstMetric(c.routeAnnounced, prometheus.GaugeValue, b(r.Announced), r.Prefix.String(), string(r.Reason))
		ch <- prometheus.MustNewConstMetric(c.gshut, prometheus.GaugeValue, b(r.GracefulShutdown), r.Prefix.String())
	}
}

// defaultBGPSpeaker is the default Options.NewBGPSpeaker: GoBGP in this
// process.
func defaultBGPSpeaker(log *slog.Logger) bgp.Speaker { return bgp.NewGoBGP(log) }
