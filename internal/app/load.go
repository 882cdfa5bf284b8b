package app

import (
	"errors"
	"log/slog"

	"github.com/lvsctl/lvsctl/internal/config"
)

// LoadFile reads a keepalived.conf into the desired state (the
// Options.Load of `lvsctl director up`). Every configuration error becomes
// one error carrying its FILE:LINE:COL, joined (see Unjoin); warnings are
// logged.
func LoadFile(path string, log *slog.Logger) (*config.Desired, error) {
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
	return cfg.Desired()
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
