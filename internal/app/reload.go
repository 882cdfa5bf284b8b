package app

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/eventlog"
)

// Reload implements control.Daemon: load the configuration again and apply
// it to every subsystem as a diff against the running one: IPVS (only the
// changed entries), the checks (unchanged checkers keep their state) and
// VRRP (unchanged instances keep state, timers and VIPs). A configuration
// with errors changes nothing anywhere; every error is logged and returned.
// The process, its PID, the control socket and the metrics listener stay.
func (dm *Daemon) Reload(ctx context.Context) []error {
	dm.reloadMu.Lock()
	defer dm.reloadMu.Unlock()
	dm.notify("RELOADING=1")
	// Failed or not, the old or the new configuration runs afterwards.
	defer dm.notify("READY=1")
	start := time.Now()
	d, err := dm.o.Load()
	if err == nil {
		err = dm.validate(d)
	}
	if err == nil {
		err = dm.apply(ctx, d)
	}
	if err != nil {
		errs := Unjoin(err)
		for _, e := range errs {
			dm.log.Error("reload failed, keeping the running configuration", "err", e)
		}
		dm.metrics.Reload("error")
		dm.ops.reloaded(false, time.Now())
		dm.record(eventlog.Event{Kind: eventlog.KindReload, To: "refused",
			Message: fmt.Sprintf("%d error(s), first: %v; the running configuration stays", len(errs), errs[0])})
		return errs
	}
	dm.desired = d
	dm.ops.loaded(d)
	dm.ops.reloaded(true, time.Now())
	dm.metrics.Reload("ok")
	took := time.Since(start)
	dm.record(eventlog.Event{Kind: eventlog.KindReload, To: "applied",
		Message: fmt.Sprintf("generation %d, hash %s, took %s", dm.ops.info().Generation, dm.ops.info().Hash,
			took.Round(time.Microsecond))})
	dm.log.Info("reload done", "took", took.String())
	debug.FreeOSMemory() // as after the start: reloads are rare, their garbage large
	return nil
}

// validate checks everything a reload could refuse before anything changes.
func (dm *Daemon) validate(d *config.Desired) error {
	errs := []error{d.Director.Validate(), d.Static.Validate()}
	if dm.o.Health != nil {
		errs = append(errs, validateChecks(d.Checks))
	}
	if !dm.o.NoVRRP && len(d.VRRP.Instances) > 0 {
		errs = append(errs, d.VRRP.Validate(), d.VRRP.CheckHost())
	}
	if d.Alerts.Mail != nil {
		errs = append(errs, d.Alerts.Mail.Validate())
	}
	errs = append(errs, d.FIFOs.Validate())
	return errors.Join(errs...)
}

// apply moves every subsystem to d. The director goes first and the checks
// after: a check of a new real server may report at once, the scheduler
// reports transitions only, so the director must know the server by then.
// VRRP goes last, so a VIP that moves here finds its services programmed.
func (dm *Daemon) apply(ctx context.Context, d *config.Desired) error {
	// The director's events of this reload (quorum mails of a service it
	// adds) are checked against the new plan too.
	dm.expectAlerts(&d.Alerts)
	defer dm.expectAlerts(nil)
	// The FIFOs first (nothing else has changed if one cannot be opened):
	// the lines of this reload go to the new ones, as keepalived opens
	// them before it applies the rest of a reload.
	if err := dm.applyFIFOs(d); err != nil {
		return err
	}
	if dir := dm.Director(); dir != nil {
		if _, err := dir.Reload(ctx, d.Director); err != nil {
			return err
		}
	} else if len(d.Director.Services) > 0 {
		// The running configuration had no virtual servers (IPVS closed).
		if err := dm.openDirector(d.Director); err != nil {
			return err
		}
		if err := dm.Director().Start(ctx); err != nil {
			return fmt.Errorf("program IPVS: %w", err)
		}
	}
	if dm.Director() != nil {
		if err := dm.applyTimeouts(ctx, dm.ipvs, d.Timeouts); err != nil {
			return err
		}
	}
	if dm.o.Health != nil {
		if err := dm.applyHASuspend(ctx, d.HASuspend); err != nil {
			return err
		}
		if err := dm.o.Health.Set(ctx, d.Checks); err != nil {
			// Validated above, so only a stopping scheduler gets here: put
			// the running director configuration back.
			if dir := dm.Director(); dir != nil {
				if _, rerr := dir.Reload(ctx, dm.desired.Director); rerr != nil {
					dm.log.Error("restoring the running configuration", "err", rerr)
				}
			}
			return fmt.Errorf("health checks: %w", err)
		}
	}
	// The static set before VRRP: a VIP or virtual route may need a
	// static route or address.
	if err := dm.applyStatic(d.Static); err != nil {
		return err
	}
	if err := dm.reloadVRRP(ctx, d); err != nil {
		return err
	}
	if err := dm.applySync(ctx, d.Sync); err != nil {
		return err
	}
	if err := dm.applyAlerts(d.Alerts); err != nil {
		return err
	}
	dm.setShutdownScript(d.Shutdown)
	return dm.applyBGP(ctx, d)
}

// reloadVRRP applies the VRRP part: a running node reconciles its
// instances; a configuration that gains its first instances starts one.
func (dm *Daemon) reloadVRRP(ctx context.Context, d *config.Desired) error {
	if dm.o.NoVRRP {
		return nil
	}
	if n := dm.vrrpNode(); n != nil {
		if err := n.Reload(ctx, d.VRRP); err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
		return nil
	}
	n, err := dm.newVRRP(d.VRRP)
	if err != nil || n == nil {
		return err
	}
	dm.runVRRP(n)
	return nil
}
