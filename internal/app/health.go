package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/eventlog"
)

// Health is the health-check scheduler (healthcheck.Scheduler), keyed by
// the real server's identity.
type Health interface {
	Run(ctx context.Context) error
	Set(ctx context.Context, servers []healthcheck.Server[director.RealRef]) error
	Events() <-chan healthcheck.Event[director.RealRef]
	Status(ctx context.Context) ([]healthcheck.Status[director.RealRef], error)
}

// consumeHealth hands every health transition to the director. The event
// carries the real server's identity, so no lookup stands in between: a
// server a reload removed is simply unknown to the director.
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
			msg := ev.Reason
			if ev.FirstDown {
				msg = "first check failed (notify_down runs): " + msg
			}
			dm.record(eventlog.Event{Kind: eventlog.KindHealth, Subject: ev.Key.Service.String() + " " + ev.Key.Real.String(),
				From: ev.Old.String(), To: ev.New.String(), Message: msg, Time: ev.Time})
			dm.alertHealth(ev)
			dir := dm.Director()
			if dir == nil {
				continue
			}
			he := director.HealthEvent{Ref: ev.Key, Up: ev.New == healthcheck.Up, Result: ev.Reason,
				HasWeight: ev.HasWeight, Weight: ev.Weight, Latency: ev.Latency, FirstDown: ev.FirstDown}
			err := dir.HandleHealth(ctx, he)
			// The quorum may have moved: the announcements follow at once.
			dm.pokeBGP()
			switch {
			case errors.Is(err, director.ErrNotFound):
				dm.log.Info("health event for a server no longer configured, ignored",
					"vs", ev.Key.Service.String(), "rs", ev.Key.Real.String())
			case err != nil:
				dm.log.Error("applying health change", "vs", ev.Key.Service.String(), "rs", ev.Key.Real.String(), "err", err)
			}
		}
	}
}

// validateChecks refuses what healthcheck.Scheduler.Set would refuse
// (duplicates, invalid checkers, a FILE_CHECK whose directory is missing),
// so a reload can check everything before it changes anything.
func validateChecks(servers []healthcheck.Server[director.RealRef]) error {
	if err := healthcheck.Validate(servers); err != nil {
		return fmt.Errorf("health checks: %w", err)
	}
	return nil
}
