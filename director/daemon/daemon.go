// Package daemon runs `lvsctl director up`, keepalived's replacement in one
// process: it loads the configuration, programs IPVS through a
// director.Director, feeds it the health-check transitions, runs the
// file's VRRP instances, heals drift on a timer, reloads on request (SIGHUP
// or the control socket), serves status and metrics, and cleans up on stop.
//
// The kernel's IPVS is opened only when the configuration has virtual
// servers, so a VRRP-only file (keepalived + nginx) runs on a kernel
// without IPVS.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/control"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/vrrp"
)

// Health is the health-check scheduler (healthcheck.Scheduler).
type Health interface {
	Run(ctx context.Context) error
	Set(ctx context.Context, servers []healthcheck.Server[director.RealRef]) error
	Events() <-chan healthcheck.Event[director.RealRef]
	Status(ctx context.Context) ([]healthcheck.Status[director.RealRef], error)
}

// Loaded is one successfully loaded configuration.
type Loaded struct {
	Director director.Config
	// Checks are keyed by the real server they check.
	Checks []healthcheck.Server[director.RealRef]
	// VRRP is the file's vrrp_instance, vrrp_sync_group and vrrp_script
	// part; no instances means no VRRP.
	VRRP vrrp.Config
}

// VRRP is a set of VRRP instances (*vrrp.Node).
type VRRP interface {
	// Run runs the instances until ctx ends, then hands the addresses over.
	Run(ctx context.Context) error
	Status() []vrrp.InstanceStatus
	// Close releases a node whose Run was never called.
	Close() error
}

// NewVRRPNode is the default Options.NewVRRP: vrrp.New in the calling
// thread's network namespace.
func NewVRRPNode(cfg vrrp.Config, log *slog.Logger) (VRRP, error) {
	n, err := vrrp.New(cfg, vrrp.WithLogger(log))
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Options configure Run. Load is required, and IPVS or OpenIPVS.
type Options struct {
	// Load reads and validates the configuration; it is called at start
	// and on every reload. Its error should list every problem with its
	// position (errors.Join or a type with Unwrap() []error).
	Load func() (*Loaded, error)
	// IPVS is an IPVS client that is already open (tests: the fake).
	IPVS director.IPVS
	// OpenIPVS opens the kernel's IPVS when IPVS is nil. It is called only
	// once a configuration has virtual servers, so a VRRP-only file never
	// needs IPVS. close is called when the daemon stops.
	OpenIPVS func() (client director.IPVS, close func() error, err error)
	// NoVRRP ignores the configuration's vrrp_instance blocks.
	NoVRRP bool
	// NewVRRP creates the VRRP instances (default NewVRRPNode).
	NewVRRP func(cfg vrrp.Config, log *slog.Logger) (VRRP, error)
	// Health runs the checks; nil runs none (every server stays up).
	Health Health
	Logger *slog.Logger
	// Resync is the drift-healing interval (0: never).
	Resync time.Duration
	// Retry is how soon failed edits are retried (default 2s).
	Retry time.Duration
	// KeepIPVS leaves the services in the kernel on stop.
	KeepIPVS bool
	// Socket is the control socket path ("": none).
	Socket string
	// MetricsListen is the Prometheus listen address ("": none).
	MetricsListen string
	Scripts       director.Scripts
	// Reload delivers reload requests (SIGHUP).
	Reload <-chan struct{}
	// Collectors are extra metrics served with the director's and the
	// VRRP instances'.
	Collectors []prometheus.Collector
	// Ready is called once the table is programmed and the control
	// socket listens.
	Ready func(d *Daemon)
}

// Daemon is a running director daemon; it implements control.Daemon.
type Daemon struct {
	o       Options
	log     *slog.Logger
	dir     *director.Director
	metrics *director.Metrics

	// reloadMu serializes reloads from SIGHUP and the socket.
	reloadMu sync.Mutex
	// cfg is the director configuration that runs (guarded by reloadMu),
	// restored when a reload fails half-way.
	cfg director.Config

	ipvs *lazyIPVS
	// vrrp is nil when the configuration has no VRRP instances (or NoVRRP);
	// vrrpCfg is the configuration it runs.
	vrrp    VRRP
	vrrpCfg vrrp.Config

	metricsAddr string
}

// MetricsAddr is the address metrics are served on ("" when off).
func (dm *Daemon) MetricsAddr() string { return dm.metricsAddr }

// Run runs the daemon until ctx ends, then stops cleanly: the VRRP
// instances hand their addresses over, the checks end, and the managed IPVS
// services are removed unless KeepIPVS. The services stay programmed until
// VRRP has let go of the VIPs, so a leaving master forwards until the end.
func Run(ctx context.Context, o Options) error {
	if o.Load == nil || (o.IPVS == nil && o.OpenIPVS == nil) {
		return errors.New("daemon: Load and IPVS or OpenIPVS are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retry <= 0 {
		o.Retry = 2 * time.Second
	}
	if o.NewVRRP == nil {
		o.NewVRRP = NewVRRPNode
	}
	dm := &Daemon{o: o, log: o.Logger, metrics: director.NewMetrics(), ipvs: &lazyIPVS{open: o.OpenIPVS}}
	if o.IPVS != nil {
		dm.ipvs.c = o.IPVS
	}
	defer dm.ipvs.close(o.Logger)
	l, err := o.Load()
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	dir, err := director.New(l.Director, director.Options{IPVS: dm.ipvs, Logger: o.Logger, Scripts: o.Scripts,
		KeepIPVS: o.KeepIPVS, Observer: dm.metrics})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if len(l.Director.Services) > 0 {
		if err := dm.ipvs.ensure(); err != nil {
			return err
		}
	}
	// vrrpRuns is set when Run takes the node over; until then every
	// failure must close it.
	vrrpRuns := false
	if !o.NoVRRP && len(l.VRRP.Instances) > 0 {
		node, err := o.NewVRRP(l.VRRP, o.Logger)
		if err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
		dm.vrrp, dm.vrrpCfg = node, l.VRRP
		defer func() {
			if !vrrpRuns {
				if cerr := node.Close(); cerr != nil {
					o.Logger.Warn("closing VRRP", "err", cerr)
				}
			}
		}()
	} else if len(l.VRRP.Instances) > 0 {
		o.Logger.Info("not running the vrrp_instance blocks (--no-vrrp)", "instances", len(l.VRRP.Instances))
	}
	dm.dir = dir
	dm.cfg = l.Director
	dm.metrics.SetSource(dir.Status)
	if err := dir.Start(ctx); err != nil {
		return fmt.Errorf("program IPVS: %w", err)
	}
	// Parsing and the cold start leave megabytes of garbage (a big file, one
	// netlink buffer per edit) that the runtime would keep resident for
	// minutes; the daemon then idles for days, so give it back now.
	debug.FreeOSMemory()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 5)
	spawn := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(runCtx); err != nil && runCtx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	if o.Health != nil {
		// The scheduler takes Set only while it runs.
		spawn("health checks", o.Health.Run)
		spawn("health events", dm.consumeHealth)
		if err := o.Health.Set(runCtx, l.Checks); err != nil {
			cancel()
			wg.Wait()
			dm.stop(err)
			return fmt.Errorf("health checks: %w", err)
		}
	}
	if o.Socket != "" {
		srv, err := control.Listen(o.Socket, dm, o.Logger)
		if err != nil {
			cancel()
			wg.Wait()
			dm.stop(err)
			return err
		}
		spawn("control socket", srv.Serve)
	}
	if o.MetricsListen != "" {
		ln, err := net.Listen("tcp", o.MetricsListen)
		if err != nil {
			cancel()
			wg.Wait()
			dm.stop(err)
			return fmt.Errorf("metrics listener: %w", err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(dm.metrics)
		collectors := o.Collectors
		if dm.vrrp != nil {
			collectors = append(collectors[:len(collectors):len(collectors)], VRRPCollector(dm.vrrp.Status))
		}
		for _, c := range collectors {
			if err := reg.Register(c); err != nil {
				cancel()
				wg.Wait()
				ln.Close()
				dm.stop(err)
				return fmt.Errorf("metrics: %w", err)
			}
		}
		hs := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
		spawn("metrics", func(ctx context.Context) error {
			stop := context.AfterFunc(ctx, func() { hs.Close() })
			defer stop()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		dm.metricsAddr = ln.Addr().String()
		o.Logger.Info("serving metrics", "addr", dm.metricsAddr)
	}
	if dm.vrrp != nil {
		vrrpRuns = true
		spawn("vrrp", dm.vrrp.Run)
	}
	if o.Ready != nil {
		o.Ready(dm)
	}
	o.Logger.Info("director running", "services", len(l.Director.Services), "ipvs", dm.ipvs.opened(),
		"vrrp_instances", len(dm.vrrpStatus()), "resync", o.Resync.String())

	err = dm.loop(runCtx, errc)
	cancel()
	wg.Wait()
	if serr := dm.stop(err); serr != nil && err == nil {
		err = serr
	}
	return err
}

func (dm *Daemon) loop(ctx context.Context, errc <-chan error) error {
	var resync <-chan time.Time
	if dm.o.Resync > 0 {
		t := time.NewTicker(dm.o.Resync)
		defer t.Stop()
		resync = t.C
	}
	// Failed edits are retried with a fresh dump, backing off while they
	// keep failing so a broken kernel is not hammered with full dumps.
	delay := dm.o.Retry
	maxDelay := max(dm.o.Resync, dm.o.Retry)
	retry := time.NewTimer(delay)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			dm.log.Error("stopping after a component failed", "err", err)
			return err
		case <-dm.o.Reload:
			dm.Reload(ctx)
		case <-resync:
			dm.sync(ctx)
		case <-retry.C:
			if dm.dir.Dirty() {
				dm.sync(ctx)
			}
			if dm.dir.Dirty() {
				delay = min(2*delay, maxDelay)
			} else {
				delay = dm.o.Retry
			}
			retry.Reset(delay)
		}
	}
}

func (dm *Daemon) sync(ctx context.Context) {
	n, err := dm.dir.Sync(ctx)
	if err != nil {
		dm.log.Error("resync failed", "err", err)
		return
	}
	if n > 0 {
		dm.log.Warn("repaired IPVS drift", "entries", n)
	}
}

func (dm *Daemon) stop(cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := dm.dir.Stop(ctx)
	if err != nil {
		dm.log.Error("removing IPVS services", "err", err)
	}
	dm.log.Info("director stopped", "cause", fmt.Sprint(cause))
	return err
}

func (dm *Daemon) consumeHealth(ctx context.Context) error {
	events := dm.o.Health.Events()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			ref := ev.Key
			he := director.HealthEvent{Service: ref.Service, Real: ref.Real, Up: ev.New == healthcheck.Up,
				Result: ev.Reason, HasWeight: ev.HasWeight, Weight: ev.Weight, Latency: ev.Latency}
			err := dm.dir.HandleHealth(ctx, he)
			if errors.Is(err, director.ErrNotFound) {
				// Reloads install the real servers before their checks,
				// so only a server a reload removed can get here.
				dm.log.Info("health event for a server no longer configured, ignored",
					"vs", ref.Service.String(), "rs", ref.Real.String())
				continue
			}
			if err != nil {
				dm.log.Error("applying health change", "vs", ref.Service.String(), "rs", ref.Real.String(), "err", err)
			}
		}
	}
}

// Director is the running director (for tests and embedding).
func (dm *Daemon) Director() *director.Director { return dm.dir }

// Status implements control.Daemon: the director's status with the
// checks' latest results merged in, and the VRRP instances.
func (dm *Daemon) Status(ctx context.Context) (control.Status, error) {
	st, err := dm.directorStatus(ctx)
	if err != nil {
		return control.Status{}, err
	}
	out := control.Status{Status: st, IPVS: dm.ipvs.opened()}
	for _, s := range dm.vrrpStatus() {
		out.VRRP = append(out.VRRP, control.VRRPInstanceOf(s))
	}
	return out, nil
}

func (dm *Daemon) vrrpStatus() []vrrp.InstanceStatus {
	if dm.vrrp == nil {
		return nil
	}
	return dm.vrrp.Status()
}

func (dm *Daemon) directorStatus(ctx context.Context) (director.Status, error) {
	st, err := dm.dir.Status(ctx)
	if err != nil || dm.o.Health == nil {
		return st, err
	}
	hs, err := dm.o.Health.Status(ctx)
	if err != nil {
		return st, nil
	}
	// director.Status names services and real servers by their text
	// only, so the typed key is matched through its String forms.
	type k struct{ svc, rs string }
	idx := map[k]*director.RealStatus{}
	for i := range st.Services {
		s := &st.Services[i]
		for j := range s.Reals {
			idx[k{s.Key, s.Reals[j].Addr}] = &s.Reals[j]
		}
	}
	for _, h := range hs {
		r := idx[k{h.Key.Service.String(), h.Key.Real.String()}]
		if r == nil {
			continue
		}
		r.LastResult = h.Reason
		for _, c := range h.Checks {
			if c.LastRun.After(r.LastCheck) {
				r.LastCheck = c.LastRun
			}
		}
	}
	return st, nil
}

// Reload implements control.Daemon: load the configuration again; on
// error keep the running one and log every problem.
func (dm *Daemon) Reload(ctx context.Context) []error {
	dm.reloadMu.Lock()
	defer dm.reloadMu.Unlock()
	start := time.Now()
	l, err := dm.o.Load()
	if err == nil {
		// Validate before touching anything, so a bad file changes neither
		// the checks nor the table.
		err = l.Director.Normalize()
	}
	if err == nil && dm.o.Health != nil {
		err = validateChecks(l.Checks)
	}
	if err == nil && len(l.Director.Services) > 0 {
		// A VRRP-only start left IPVS closed; virtual servers need it now.
		err = dm.ipvs.ensure()
	}
	if err == nil {
		// The director first, the checks after: a check of a new real
		// server may report at once, the scheduler reports transitions
		// only, so the director must know the server by then or the
		// state is lost until the next transition.
		_, err = dm.dir.Reload(ctx, l.Director)
	}
	if err == nil {
		if dm.o.Health != nil {
			if err = dm.o.Health.Set(ctx, l.Checks); err != nil {
				// Validated above, so only a stopping scheduler gets
				// here: put the running configuration back.
				if _, rerr := dm.dir.Reload(ctx, dm.cfg); rerr != nil {
					dm.log.Error("restoring the running configuration", "err", rerr)
				}
			}
		}
	}
	if err != nil {
		errs := Unjoin(err)
		for _, e := range errs {
			dm.log.Error("reload failed, keeping the running configuration", "err", e)
		}
		dm.metrics.Reload("error")
		return errs
	}
	dm.cfg = l.Director
	if dm.vrrpChanged(l.VRRP) {
		// Rebuilding running instances would give up mastership; keepalived
		// users restart for such changes too, so the change waits for it.
		dm.log.Warn("vrrp_instance changes take effect when the director restarts")
	}
	dm.metrics.Reload("ok")
	dm.log.Info("reload done", "took", time.Since(start).String())
	debug.FreeOSMemory() // as after the start: reloads are rare, their garbage large
	return nil
}

// vrrpChanged reports whether cfg differs from the VRRP configuration
// that runs (none when NoVRRP).
func (dm *Daemon) vrrpChanged(cfg vrrp.Config) bool {
	if dm.o.NoVRRP {
		return false
	}
	if dm.vrrp == nil {
		return len(cfg.Instances) > 0
	}
	return !reflect.DeepEqual(cfg, dm.vrrpCfg)
}

// Drain implements control.Daemon.
func (dm *Daemon) Drain(ctx context.Context, vs, rs string, on bool) error {
	svc, real, err := dm.dir.Lookup(vs, rs)
	if err != nil {
		return err
	}
	return dm.dir.Drain(ctx, svc, real, on)
}

var _ control.Daemon = (*Daemon)(nil)

// lazyIPVS is the director's IPVS: the kernel's client once a
// configuration with virtual servers opened it, and an empty table that
// refuses edits before that. A VRRP-only configuration never opens it,
// so it runs on kernels without IPVS.
type lazyIPVS struct {
	open func() (director.IPVS, func() error, error)

	mu     sync.Mutex
	c      director.IPVS
	closer func() error
}

// errIPVSNotOpen is never expected: edits only follow a configuration with
// services, which opens IPVS first.
var errIPVSNotOpen = errors.New("IPVS is not open (the configuration had no virtual_server)")

func (l *lazyIPVS) ensure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return nil
	}
	c, closer, err := l.open()
	if err != nil {
		return fmt.Errorf("open IPVS: %w", err)
	}
	l.c, l.closer = c, closer
	return nil
}

func (l *lazyIPVS) client() director.IPVS {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

func (l *lazyIPVS) opened() bool { return l.client() != nil }

func (l *lazyIPVS) close(log *slog.Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closer != nil {
		if err := l.closer(); err != nil {
			log.Warn("closing IPVS", "err", err)
		}
		l.closer = nil
	}
}

func (l *lazyIPVS) GetServices(ctx context.Context) ([]director.Service, error) {
	if c := l.client(); c != nil {
		return c.GetServices(ctx)
	}
	return nil, nil
}

func (l *lazyIPVS) GetDestinations(ctx context.Context, svc director.ServiceKey) ([]director.Destination, error) {
	if c := l.client(); c != nil {
		return c.GetDestinations(ctx, svc)
	}
	return nil, nil
}

func (l *lazyIPVS) edit(fn func(director.IPVS) error) error {
	if c := l.client(); c != nil {
		return fn(c)
	}
	return errIPVSNotOpen
}

func (l *lazyIPVS) NewService(ctx context.Context, svc director.Service) error {
	return l.edit(func(c director.IPVS) error { return c.NewService(ctx, svc) })
}

func (l *lazyIPVS) UpdateService(ctx context.Context, svc director.Service) error {
	return l.edit(func(c director.IPVS) error { return c.UpdateService(ctx, svc) })
}

func (l *lazyIPVS) DelService(ctx context.Context, svc director.ServiceKey) error {
	return l.edit(func(c director.IPVS) error { return c.DelService(ctx, svc) })
}

func (l *lazyIPVS) NewDestination(ctx context.Context, svc director.ServiceKey, dst director.Destination) error {
	return l.edit(func(c director.IPVS) error { return c.NewDestination(ctx, svc, dst) })
}

func (l *lazyIPVS) UpdateDestination(ctx context.Context, svc director.ServiceKey, dst director.Destination) error {
	return l.edit(func(c director.IPVS) error { return c.UpdateDestination(ctx, svc, dst) })
}

func (l *lazyIPVS) DelDestination(ctx context.Context, svc director.ServiceKey, dst director.DestKey) error {
	return l.edit(func(c director.IPVS) error { return c.DelDestination(ctx, svc, dst) })
}
