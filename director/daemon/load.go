package daemon

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/config"
)

// LoadFile reads a keepalived.conf and converts it for the daemon (the
// Options.Load of `lvsctl director up`). Every configuration error becomes
// one error carrying its FILE:LINE:COL, joined (see Unjoin); warnings are
// logged.
func LoadFile(path string, log *slog.Logger) (*Loaded, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, warns, err := config.Load(path)
	for _, w := range warns {
		log.Warn("configuration warning", "msg", w.String())
	}
	var list config.ErrorList
	if errors.As(err, &list) {
		errs := make([]error, len(list))
		for i, d := range list {
			errs[i] = errors.New(d.String())
		}
		return nil, errors.Join(errs...)
	}
	if err != nil {
		return nil, err
	}
	dc := cfg.Director()
	checks, err := config.HealthServers(cfg)
	if err != nil {
		return nil, err
	}
	return &Loaded{Director: dc, Checks: checks, VRRP: cfg.VRRP()}, nil
}

// Unjoin flattens joined errors (errors.Join or any Unwrap() []error), so
// each configuration problem is logged or printed alone.
func Unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// validateChecks refuses what healthcheck.Scheduler.Set would refuse, so a
// reload can check everything before it changes the table.
func validateChecks(servers []healthcheck.Server[director.RealRef]) error {
	seen := make(map[director.RealRef]bool, len(servers))
	var errs []error
	for _, s := range servers {
		if seen[s.Key] {
			errs = append(errs, fmt.Errorf("health checks: duplicate server id %s", s.Key))
		}
		seen[s.Key] = true
		for _, c := range s.Checks {
			if err := c.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("health checks of %s: %w", s.Key, err))
			}
		}
	}
	return errors.Join(errs...)
}
