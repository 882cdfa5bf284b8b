// Package app is the composition root of `lvsctl director up`: it wires one
// desired state (internal/config) into the director (IPVS, only when the
// file has virtual servers), the health-check scheduler, the VRRP node, the
// control socket and the metrics listener, with one lifecycle (Run), one
// cleanup path and one reload (Reload) that every subsystem applies as a
// diff. It holds no domain logic: that lives in director, healthcheck and
// vrrp.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/syncd"
	"github.com/lvsctl/lvsctl/vrrp"
)

// VRRP is a set of VRRP instances (*vrrp.Node).
type VRRP interface {
	// Run runs the instances until ctx ends, then hands the addresses over.
	Run(ctx context.Context) error
	// Reload applies a new configuration to the running instances as a
	// diff; on error nothing changed.
	Reload(ctx context.Context, cfg vrrp.Config) error
	Status() []vrrp.InstanceStatus
	// Unmatched counts received packets that reached no instance, by reason.
	Unmatched() map[vrrp.DropReason]uint64
	// Close releases a node whose Run was never called.
	Close() error
}

// Options configure Run. Load is required, and IPVS or OpenIPVS.
type Options struct {
	// Load reads and validates the configuration; it is called at start
	// and on every reload. Its error should list every problem with its
	// position (errors.Join or a type with Unwrap() []error).
	Load func() (*config.Desired, error)
	// IPVS is an IPVS client that is already open (tests: the fake).
	IPVS director.IPVS
	// OpenIPVS opens the kernel's IPVS when IPVS is nil. It is called only
	// once a configuration has virtual servers, so a VRRP-only file never
	// needs IPVS. close is called when the daemon stops.
	OpenIPVS func() (client director.IPVS, close func() error, err error)
	// OpenSync opens the kernel's sync-daemon interface; it is called only
	// once a configuration has lvs_sync_daemon. close is called on stop.
	OpenSync func() (k syncd.Kernel, close func() error, err error)
	// NoVRRP ignores the configuration's vrrp_instance blocks.
	NoVRRP bool
	// NewVRRP creates the VRRP instances (default: vrrp.New with the
	// transitions recorded in the event log).
	NewVRRP func(cfg vrrp.Config, log *slog.Logger) (VRRP, error)
	// Health runs the checks; nil runs none (every server stays up).
	Health Health
	// WatchAddrs reports the host's addresses for ha_suspend (nil:
	// NetlinkAddrs); it runs only when a virtual server has ha_suspend.
	WatchAddrs AddrWatcher
	Logger     *slog.Logger
	// Resync is the drift-healing interval (0: never).
	Resync time.Duration
	// Retry is how soon failed edits are retried (default 2s).
	Retry time.Duration
	// KeepIPVS leaves the services in the kernel on stop.
	KeepIPVS bool
	// Socket is the control socket path ("": none).
	Socket string
	// MetricsListen is the Prometheus listen address ("": none); it also
	// serves the status page at /.
	MetricsListen string
	// StatusPagePublic serves the status page to any client, not only to
	// loopback ones.
	StatusPagePublic bool
	Scripts          director.Scripts
	// Reload delivers reload requests (SIGHUP).
	Reload <-chan struct{}
	// Collectors are extra metrics served with the director's and the
	// VRRP instances'.
	Collectors []prometheus.Collector
	// Ready is called once the table is programmed and the control
	// socket listens.
	Ready func(d *Daemon)
	// Notify tells a service manager the daemon's state, in sd_notify's
	// words: "READY=1" once IPVS is programmed and VRRP runs,
	// "RELOADING=1" then "READY=1" around every reload, "STOPPING=1" when
	// Run starts to stop, "WATCHDOG=1" from the main loop. nil: nobody.
	Notify func(state string)
	// NewBGPSpeaker creates the BGP speaker once a configuration has a bgp
	// block (default: GoBGP in this process).
	NewBGPSpeaker func(log *slog.Logger) bgp.Speaker
	// ProcSys is where the sysctls of the daemon's network namespace are
	// (default /proc/sys; tests point it at a directory of their own).
	ProcSys string
	// Routes adds and removes static_ipaddress, static_routes and
	// static_rules (default: netlink in the calling thread's namespace,
	// opened once a configuration has some; tests: netroutetest.Kernel).
	Routes netroute.Kernel
	// AlertDial opens the connection to the smtp_server (nil: the
	// host's network; tests dial inside a namespace).
	AlertDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Watchdog is how often the main loop sends "WATCHDOG=1" (0: never).
	// The pings come from the loop that also heals drift, so a wedged
	// kernel call stops them and the service manager restarts lvsctl.
	Watchdog time.Duration
}

// notify passes state to Options.Notify, if any.
func (dm *Daemon) notify(state string) {
	if dm.o.Notify != nil {
		dm.o.Notify(state)
	}
}

// Daemon is a running director daemon; it implements control.Daemon.
type Daemon struct {
	o       Options
	log     *slog.Logger
	metrics *director.Metrics

	// reloadMu serializes reloads (SIGHUP and the socket) and guards
	// desired, the configuration that runs.
	reloadMu sync.Mutex
	desired  *config.Desired

	// mu guards the parts a reload may create after the start: the
	// director (nil until a configuration has virtual servers) and the
	// VRRP node (nil until one has vrrp_instance blocks).
	mu        sync.Mutex
	dir       *director.Director
	ipvs      director.IPVS
	closeIPVS func() error
	vrrp      VRRP
	// vrrpRuns is set once the node's Run was started; until then a way
	// out of Run must Close it.
	vrrpRuns bool
	// syncRT runs the IPVS connection-sync daemons (nil: not configured).
	syncRT    *syncd.Runtime
	closeSync func() error
	// timeouts applies lvs_timeouts.
	timeouts timeoutState
	// ha suspends the checks of ha_suspend services (hasuspend.go).
	ha haSuspendState
	// bgp announces the VIPs (bgp.go).
	bgp bgpState
	// static holds the static addresses, routes and rules (static.go).
	static staticState
	// alerts mails transitions (alert.go).
	alerts alertState
	// shutdown is the shutdown_script in force (hostscripts.go).
	shutdown config.HostScript
	// fifos writes the notify FIFOs (fifo.go).
	fifos *notifyfifo.Hub

	// spawn starts a goroutine that lives until Run's context ends.
	spawn func(name string, fn func(context.Context) error)

	metricsAddr string
	ops         opsState
	ev          *events
}

// MetricsAddr is the address metrics are served on ("" when off).
func (dm *Daemon) MetricsAddr() string { return dm.metricsAddr }

// Director is the running director, nil while the configuration has no
// virtual servers (for tests and embedding).
func (dm *Daemon) Director() *director.Director {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return dm.dir
}

func (dm *Daemon) vrrpNode() VRRP {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return dm.vrrp
}

// Run runs the daemon until ctx ends, then stops cleanly: the VRRP
// instances hand their addresses over, the checks end, and the managed IPVS
// services are removed unless KeepIPVS. The services stay programmed until
// VRRP has let go of the VIPs, so a leaving master forwards until the end.
func Run(ctx context.Context, o Options) (err error) {
	if o.Load == nil || (o.IPVS == nil && o.OpenIPVS == nil) {
		return errors.New("app: Load and IPVS or OpenIPVS are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retry <= 0 {
		o.Retry = 2 * time.Second
	}
	dm := &Daemon{o: o, log: o.Logger, metrics: director.NewMetrics(), ev: newEvents(),
		fifos: notifyfifo.New(notifyfifo.Options{Logger: o.Logger})}
	if dm.o.NewVRRP == nil {
		dm.o.NewVRRP = dm.newVRRPWithEvents
	}
	if dm.o.NewBGPSpeaker == nil {
		dm.o.NewBGPSpeaker = defaultBGPSpeaker
	}
	if dm.o.ProcSys == "" {
		dm.o.ProcSys = "/proc/sys"
	}

	// The one cleanup path: every step that needs undoing pushes its undo,
	// and they run in reverse order whatever ends Run.
	var undo []func()
	defer func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}()
	// shutdown_script: the last thing, once everything else stopped.
	undo = append(undo, func() {
		RunHostScript(context.WithoutCancel(ctx), "shutdown", dm.shutdownScript(), o.Logger)
	})
	undo = append(undo, func() {
		dm.closeKernel()
		o.Logger.Info("director stopped", "cause", fmt.Sprint(err))
	})
	// The e-mail alerts stop after the director (its omega shutdown mails).
	undo = append(undo, dm.stopAlerts)
	// So do the notify FIFOs (its lines, and VRRP's STOP).
	undo = append(undo, dm.stopFIFOs)

	d, err := o.Load()
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	if err := d.Director.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	// startup_script: after the file is loaded, before anything starts.
	RunHostScript(ctx, "startup", d.Startup, o.Logger)
	if ctx.Err() != nil {
		return nil
	}
	dm.setShutdownScript(d.Shutdown)
	// The FIFOs open before anything writes to them: the director's start
	// writes the services' quorum (keepalived's start_check opens them
	// before init_services).
	if err := dm.applyFIFOs(d); err != nil {
		return err
	}
	if err := dm.openDirector(d.Director); err != nil {
		return err
	}
	if dm.vrrp, err = dm.newVRRP(d.VRRP); err != nil {
		return err
	}
	// Start phases at debug level: a start that never reaches "director
	// running" shows where it stopped.
	o.Logger.Debug("starting: configuration loaded, VRRP node created", "services", len(d.Director.Services))
	undo = append(undo, func() {
		dm.mu.Lock()
		n, ran := dm.vrrp, dm.vrrpRuns
		dm.mu.Unlock()
		if n != nil && !ran {
			if cerr := n.Close(); cerr != nil {
				o.Logger.Warn("closing VRRP", "err", cerr)
			}
		}
	})
	dm.desired = d
	dm.ops.loaded(d)
	if dir := dm.Director(); dir != nil {
		if err := dir.Start(ctx); err != nil {
			return fmt.Errorf("program IPVS: %w", err)
		}
		if err := dm.applyTimeouts(ctx, dm.ipvs, d.Timeouts); err != nil {
			return err
		}
		// The services are in the kernel from here on: any way out of Run
		// removes them (unless KeepIPVS) after everything else stopped.
		undo = append(undo, func() {
			if serr := dm.stopDirector(err); serr != nil && err == nil {
				err = serr
			}
		})
	}
	// The sync daemons start before VRRP (a backup must listen before the
	// peer's master sends) and stop after it, before the services go.
	if err := dm.applySync(ctx, d.Sync); err != nil {
		return err
	}
	undo = append(undo, dm.stopSync)
	// Static addresses, routes and rules go in before VRRP runs and out
	// after it stopped (keepalived's start_vrrp and stop_vrrp).
	undo = append(undo, dm.clearStatic)
	if err := dm.applyStatic(d.Static); err != nil {
		return err
	}
	o.Logger.Debug("starting: IPVS programmed, sync daemons and static routes applied")
	// Parsing and the cold start leave megabytes of garbage (a big file, one
	// netlink buffer per edit) that the runtime would keep resident for
	// minutes; the daemon then idles for days, so give it back now.
	debug.FreeOSMemory()

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	undo = append(undo, func() { cancel(); wg.Wait() })
	errc := make(chan error, 8)
	dm.spawn = func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(runCtx); err != nil && runCtx.Err() == nil {
				select {
				case errc <- fmt.Errorf("%s: %w", name, err):
				default:
				}
			}
		}()
	}

	// BGP announces only now that IPVS is programmed, and leaves
	// make-before-break before the services are removed (the undo runs
	// before stopDirector's).
	if err := dm.applyBGP(runCtx, d); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	undo = append(undo, dm.stopBGP)
	// Alerts start before the checks and VRRP, whose transitions they mail.
	if err := dm.applyAlerts(d.Alerts); err != nil {
		return fmt.Errorf("e-mail alerts: %w", err)
	}
	o.Logger.Debug("starting: BGP and e-mail alerts applied")
	if o.Health != nil {
		// The scheduler takes Set only while it runs.
		dm.spawn("health checks", o.Health.Run)
		dm.spawn("health events", dm.consumeHealth)
		if err := dm.applyHASuspend(runCtx, d.HASuspend); err != nil {
			return err
		}
		if err := o.Health.Set(runCtx, d.Checks); err != nil {
			return fmt.Errorf("health checks: %w", err)
		}
		o.Logger.Debug("starting: health checks set", "servers", len(d.Checks))
	}
	if o.Socket != "" {
		srv, err := control.Listen(o.Socket, dm, o.Logger)
		if err != nil {
			return err
		}
		dm.spawn("control socket", srv.Serve)
	}
	if o.MetricsListen != "" {
		if err := dm.serveMetrics(); err != nil {
			return err
		}
	}
	if n := dm.vrrpNode(); n != nil {
		dm.runVRRP(n)
	}
	if o.Ready != nil {
		o.Ready(dm)
	}
	dm.notify("READY=1")
	o.Logger.Info("director running", "services", len(d.Director.Services), "ipvs", dm.Director() != nil,
		"vrrp_instances", len(dm.vrrpStatus()), "resync", o.Resync.String())
	err = dm.loop(runCtx, errc)
	dm.notify("STOPPING=1")
	return err
}

// openDirector creates the director for cfg when cfg has virtual servers
// and none runs yet, opening the kernel's IPVS first. The director is not
// started (Start programs the kernel).
func (dm *Daemon) openDirector(cfg director.Config) error {
	if len(cfg.Services) == 0 || dm.Director() != nil {
		return nil
	}
	client, closer := dm.o.IPVS, func() error { return nil }
	if client == nil {
		c, cl, err := dm.o.OpenIPVS()
		if err != nil {
			return fmt.Errorf("open IPVS: %w", err)
		}
		client, closer = c, cl
	}
	dir, err := director.New(cfg, director.Options{IPVS: client, Logger: dm.log, Scripts: dm.o.Scripts,
		KeepIPVS: dm.o.KeepIPVS, Observer: dm.metrics, Events: directorEvents{dm}})
	if err != nil {
		if cerr := closer(); cerr != nil {
			dm.log.Warn("closing IPVS", "err", cerr)
		}
		return fmt.Errorf("configuration: %w", err)
	}
	// Scrapes see what status shows, the checks' last runs included.
	dm.metrics.SetSource(dm.directorStatus)
	dm.mu.Lock()
	dm.dir, dm.closeIPVS, dm.ipvs = dir, closer, client
	dm.mu.Unlock()
	return nil
}

// newVRRP creates (without running) the node for cfg; nil when cfg has no
// instances or VRRP is switched off.
func (dm *Daemon) newVRRP(cfg vrrp.Config) (VRRP, error) {
	if len(cfg.Instances) == 0 {
		return nil, nil
	}
	if dm.o.NoVRRP {
		dm.log.Info("not running the vrrp_instance blocks (--no-vrrp)", "instances", len(cfg.Instances))
		return nil, nil
	}
	n, err := dm.o.NewVRRP(cfg, dm.log)
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	return n, nil
}

// runVRRP makes n the node and runs it until Run's context ends.
func (dm *Daemon) runVRRP(n VRRP) {
	dm.mu.Lock()
	dm.vrrp, dm.vrrpRuns = n, true
	dm.mu.Unlock()
	dm.spawn("vrrp", n.Run)
}

func (dm *Daemon) loop(ctx context.Context, errc <-chan error) error {
	var resync <-chan time.Time
	var resyncTicker *time.Ticker
	if dm.o.Resync > 0 {
		resyncTicker = time.NewTicker(dm.o.Resync)
		defer resyncTicker.Stop()
		resync = resyncTicker.C
	}
	// Failed edits are retried with a fresh dump, backing off while they
	// keep failing so a broken kernel is not hammered with full dumps.
	delay := dm.o.Retry
	maxDelay := max(dm.o.Resync, dm.o.Retry)
	retry := time.NewTimer(delay)
	defer retry.Stop()
	var watchdog <-chan time.Time
	if dm.o.Watchdog > 0 {
		t := time.NewTicker(dm.o.Watchdog)
		defer t.Stop()
		watchdog = t.C
	}
	for {
		// A waiting reload goes first. Under load a resync (a dump of every
		// service) can take longer than its interval, so its ticker is
		// always ready, and a select among ready channels picks at random:
		// a SIGHUP then waited behind several resyncs in a row (the soak
		// saw a reload not done after 60 s with --resync 5s).
		select {
		case <-dm.o.Reload:
			dm.Reload(ctx)
			continue
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-watchdog:
			dm.notify("WATCHDOG=1")
		case err := <-errc:
			dm.log.Error("stopping after a component failed", "err", err)
			return err
		case <-dm.o.Reload:
			dm.Reload(ctx)
		case <-resync:
			dm.sync(ctx)
			// The next resync is an interval after this one ended, not
			// at once because this one outlasted the interval: back to
			// back dumps would leave health edits little of the lock.
			resyncTicker.Reset(dm.o.Resync)
		case <-retry.C:
			dir := dm.Director()
			if dir != nil && dir.Dirty() {
				dm.sync(ctx)
			}
			if dir != nil && dir.Dirty() {
				delay = min(2*delay, maxDelay)
			} else {
				delay = dm.o.Retry
			}
			retry.Reset(delay)
		}
	}
}

func (dm *Daemon) sync(ctx context.Context) {
	if rt := dm.syncRuntime(); rt != nil {
		rt.Resync()
	}
	dir := dm.Director()
	if dir == nil {
		return
	}
	n, err := dir.Sync(ctx)
	if err != nil {
		dm.log.Error("resync failed", "err", err)
		return
	}
	if n > 0 {
		dm.log.Warn("repaired IPVS drift", "entries", n)
		dm.record(eventlog.Event{Kind: eventlog.KindDrift, Subject: "ipvs",
			Message: fmt.Sprintf("repaired %d IPVS entries changed behind lvsctl's back", n)})
	}
}

// stopDirector removes (or keeps) the managed services; it runs after VRRP
// handed the VIPs over and the checks ended.
func (dm *Daemon) stopDirector(cause error) error {
	dir := dm.Director()
	if dir == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := dir.Stop(ctx)
	if err != nil {
		dm.log.Error("removing IPVS services", "err", err, "stopping_because", fmt.Sprint(cause))
	}
	// The omega scripts Stop started run before the process exits.
	if w, ok := dm.o.Scripts.(scriptWaiter); ok {
		wctx, wcancel := context.WithTimeout(context.Background(), ScriptStopWait)
		defer wcancel()
		if werr := w.Wait(wctx); werr != nil {
			dm.log.Warn("exiting with notify scripts still running", "err", werr)
		}
	}
	return err
}

// scriptWaiter is a director.Scripts that can wait for the scripts it
// started (ExecScripts).
type scriptWaiter interface {
	Wait(ctx context.Context) error
}

func (dm *Daemon) closeKernel() {
	dm.mu.Lock()
	closer := dm.closeIPVS
	dm.closeIPVS = nil
	dm.mu.Unlock()
	if closer != nil {
		if err := closer(); err != nil {
			dm.log.Warn("closing IPVS", "err", err)
		}
	}
}

var _ control.Daemon = (*Daemon)(nil)
