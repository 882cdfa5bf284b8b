package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/syncd"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// The IPVS connection-sync daemons (lvs_sync_daemon, docs/sync.md) follow
// one VRRP instance: the runtime is created when a configuration first asks
// for sync, learns every VRRP transition from the node's hook, is reloaded
// with the rest, and stops after VRRP handed the VIPs over but before the
// IPVS services are removed, so a leaving master keeps sending its
// connections until the end.

// syncRuntime is the running sync runtime, nil while no configuration
// asked for one.
func (dm *Daemon) syncRuntime() *syncd.Runtime {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	return dm.syncRT
}

// applySync brings the sync daemons to cfg (nil: not configured).
func (dm *Daemon) applySync(ctx context.Context, cfg *syncd.Config) error {
	rt := dm.syncRuntime()
	if rt != nil {
		return rt.Reload(ctx, cfg, dm.vrrpState(cfg))
	}
	if cfg == nil {
		return nil
	}
	if dm.o.OpenSync == nil {
		return fmt.Errorf("lvs_sync_daemon: this daemon cannot reach the kernel's sync daemons")
	}
	k, closer, err := dm.o.OpenSync()
	if err != nil {
		return fmt.Errorf("lvs_sync_daemon: %w", err)
	}
	rt = syncd.New(k, dm.log)
	dm.mu.Lock()
	dm.syncRT, dm.closeSync = rt, closer
	dm.mu.Unlock()
	// A failed start (an interface that is missing yet) is retried by the
	// runtime: it is logged, not fatal, as a VRRP interface going down is.
	if err := rt.Start(ctx, cfg, dm.vrrpState(cfg)); err != nil {
		dm.log.Error("starting the IPVS sync daemons, will retry", "err", err)
	}
	return nil
}

// vrrpState is the current state of the instance cfg follows: the last
// transition the node reported, else its status, else INIT (not started).
func (dm *Daemon) vrrpState(cfg *syncd.Config) fsm.State {
	if cfg == nil || cfg.Instance == "" {
		return fsm.Init
	}
	dm.ev.mu.Lock()
	st, ok := dm.ev.vrrpState[cfg.Instance]
	dm.ev.mu.Unlock()
	if ok {
		return st
	}
	for _, s := range dm.vrrpStatus() {
		if s.Name == cfg.Instance {
			return s.State
		}
	}
	return fsm.Init
}

// stopSync stops the daemons and restores the sysctls; it runs once VRRP
// has stopped.
func (dm *Daemon) stopSync() {
	dm.mu.Lock()
	rt, closer := dm.syncRT, dm.closeSync
	dm.syncRT, dm.closeSync = nil, nil
	dm.mu.Unlock()
	if rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.Stop(ctx); err != nil {
		dm.log.Error("stopping the IPVS sync daemons", "err", err)
	}
	if err := closer(); err != nil {
		dm.log.Warn("closing the sync-daemon sockets", "err", err)
	}
}

// syncCollector exports the sync runtime's metrics once there is one. It
// is an unchecked collector (Describe sends nothing) because the runtime
// may appear with a reload.
type syncCollector struct{ dm *Daemon }

func (c syncCollector) Describe(chan<- *prometheus.Desc) {}

func (c syncCollector) Collect(ch chan<- prometheus.Metric) {
	if rt := c.dm.syncRuntime(); rt != nil {
		syncd.NewMetrics(rt, 5*time.Second).Collect(ch)
	}
}
