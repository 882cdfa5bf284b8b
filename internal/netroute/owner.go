package netroute

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// Kernel adds and removes single entries. Adding an entry that is already
// there and removing one that is gone succeed (the owner's bookkeeping is
// what must be exact, not the kernel's starting point).
type Kernel interface {
	AddAddr(Addr) error
	DelAddr(Addr) error
	AddRoute(Route) error
	DelRoute(Route) error
	AddRule(Rule) error
	DelRule(Rule) error
}

// Owner holds what one user (the static set, or one VRRP instance) added
// to the kernel, and only that. It is not safe for concurrent use: each
// user calls it from one goroutine.
type Owner struct {
	k   Kernel
	log *slog.Logger
	// held is what this owner added, in the order it was added.
	held Set
}

// NewOwner returns an owner that holds nothing yet. log may be nil.
func NewOwner(k Kernel, log *slog.Logger) *Owner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Owner{k: k, log: log}
}

// Held is what the owner added and has not removed (a copy).
func (o *Owner) Held() Set {
	return Set{Addrs: slices.Clone(o.held.Addrs), Routes: slices.Clone(o.held.Routes), Rules: slices.Clone(o.held.Rules)}
}

// Apply moves the kernel from what the owner holds to want, touching only
// the difference: entries in both are left alone. New entries are added
// before stale ones are removed (make before break), except a route whose
// kernel key (destination, tos, metric, table) a stale route has, which is
// removed first. If an addition fails, what this call added is removed
// again and what it removed is added back: the owner holds what it held
// before, and the error says which entry failed. A failed removal leaves
// the entry held (Clear or the next Apply tries again) and is reported.
func (o *Owner) Apply(want Set) error {
	addA, delA := diff(o.held.Addrs, want.Addrs)
	addR, delR := diff(o.held.Routes, want.Routes)
	addU, delU := diff(o.held.Rules, want.Rules)

	// Stale entries in the way of a new one go first.
	var firstA []Addr
	for _, a := range addA {
		for _, d := range delA {
			if d.Prefix == a.Prefix && d.Dev == a.Dev && !slices.Contains(firstA, d) {
				firstA = append(firstA, d)
			}
		}
	}
	var firstR []Route
	for _, r := range addR {
		for _, d := range delR {
			if d.key() == r.key() && !slices.Contains(firstR, d) {
				firstR = append(firstR, d)
			}
		}
	}
	var removed Set
	undoRemoved := func() error {
		var errs []error
		for _, r := range removed.Routes {
			if err := o.k.AddRoute(r); err != nil {
				errs = append(errs, fmt.Errorf("restore route %v: %w", r, err))
				drop(&o.held.Routes, r)
			}
		}
		for _, a := range removed.Addrs {
			if err := o.k.AddAddr(a); err != nil {
				errs = append(errs, fmt.Errorf("restore address %v: %w", a, err))
				drop(&o.held.Addrs, a)
			}
		}
		return errors.Join(errs...)
	}
	for _, r := range firstR {
		if err := o.k.DelRoute(r); err != nil {
			return errors.Join(fmt.Errorf("remove route %v (replaced): %w", r, err), undoRemoved())
		}
		removed.Routes = append(removed.Routes, r)
	}
	for _, a := range firstA {
		if err := o.k.DelAddr(a); err != nil {
			return errors.Join(fmt.Errorf("remove address %v (replaced): %w", a, err), undoRemoved())
		}
		removed.Addrs = append(removed.Addrs, a)
	}

	// Additions: addresses, routes, rules (vrrp_daemon.c, start_vrrp).
	var added Set
	rollback := func(cause error) error {
		errs := []error{cause}
		for i := len(added.Rules) - 1; i >= 0; i-- {
			if err := o.k.DelRule(added.Rules[i]); err != nil {
				errs = append(errs, fmt.Errorf("roll back rule %v: %w", added.Rules[i], err))
				o.held.Rules = append(o.held.Rules, added.Rules[i])
			}
		}
		for i := len(added.Routes) - 1; i >= 0; i-- {
			if err := o.k.DelRoute(added.Routes[i]); err != nil {
				errs = append(errs, fmt.Errorf("roll back route %v: %w", added.Routes[i], err))
				o.held.Routes = append(o.held.Routes, added.Routes[i])
			}
		}
		for i := len(added.Addrs) - 1; i >= 0; i-- {
			if err := o.k.DelAddr(added.Addrs[i]); err != nil {
				errs = append(errs, fmt.Errorf("roll back address %v: %w", added.Addrs[i], err))
				o.held.Addrs = append(o.held.Addrs, added.Addrs[i])
			}
		}
		errs = append(errs, undoRemoved())
		return errors.Join(errs...)
	}
	for _, a := range addA {
		if err := o.k.AddAddr(a); err != nil {
			return rollback(fmt.Errorf("add address %v: %w", a, err))
		}
		added.Addrs = append(added.Addrs, a)
	}
	for _, r := range addR {
		if err := o.k.AddRoute(r); err != nil {
			return rollback(fmt.Errorf("add route %v: %w", r, err))
		}
		added.Routes = append(added.Routes, r)
	}
	for _, r := range addU {
		if err := o.k.AddRule(r); err != nil {
			return rollback(fmt.Errorf("add rule %v: %w", r, err))
		}
		added.Rules = append(added.Rules, r)
	}
	for _, r := range removed.Routes {
		drop(&o.held.Routes, r)
	}
	for _, a := range removed.Addrs {
		drop(&o.held.Addrs, a)
	}
	o.held.Addrs = append(o.held.Addrs, added.Addrs...)
	o.held.Routes = append(o.held.Routes, added.Routes...)
	o.held.Rules = append(o.held.Rules, added.Rules...)
	for _, a := range added.Addrs {
		o.log.Info("address added", "addr", a.String())
	}
	for _, r := range added.Routes {
		o.log.Info("route added", "route", r.String())
	}
	for _, r := range added.Rules {
		o.log.Info("rule added", "rule", r.String())
	}

	// Stale entries: rules, routes, addresses.
	var errs []error
	for _, r := range delU {
		errs = append(errs, o.delRule(r))
	}
	for _, r := range delR {
		if !slices.Contains(removed.Routes, r) {
			errs = append(errs, o.delRoute(r))
		}
	}
	for _, a := range delA {
		if !slices.Contains(removed.Addrs, a) {
			errs = append(errs, o.delAddr(a))
		}
	}
	return errors.Join(errs...)
}

// Clear removes everything the owner holds: rules, then routes, then
// addresses, each list newest first (vrrp_daemon.c, stop_vrrp). What
// cannot be removed stays held and is reported.
func (o *Owner) Clear() error {
	var errs []error
	rules, routes, addrs := slices.Clone(o.held.Rules), slices.Clone(o.held.Routes), slices.Clone(o.held.Addrs)
	for i := len(rules) - 1; i >= 0; i-- {
		errs = append(errs, o.delRule(rules[i]))
	}
	for i := len(routes) - 1; i >= 0; i-- {
		errs = append(errs, o.delRoute(routes[i]))
	}
	for i := len(addrs) - 1; i >= 0; i-- {
		errs = append(errs, o.delAddr(addrs[i]))
	}
	return errors.Join(errs...)
}

func (o *Owner) delRule(r Rule) error {
	if err := o.k.DelRule(r); err != nil {
		return fmt.Errorf("remove rule %v: %w", r, err)
	}
	drop(&o.held.Rules, r)
	o.log.Info("rule removed", "rule", r.String())
	return nil
}

func (o *Owner) delRoute(r Route) error {
	if err := o.k.DelRoute(r); err != nil {
		return fmt.Errorf("remove route %v: %w", r, err)
	}
	drop(&o.held.Routes, r)
	o.log.Info("route removed", "route", r.String())
	return nil
}

func (o *Owner) delAddr(a Addr) error {
	if err := o.k.DelAddr(a); err != nil {
		return fmt.Errorf("remove address %v: %w", a, err)
	}
	drop(&o.held.Addrs, a)
	o.log.Info("address removed", "addr", a.String())
	return nil
}

// drop removes v from *list (a no-op when absent).
func drop[T comparable](list *[]T, v T) {
	*list = slices.DeleteFunc(*list, func(x T) bool { return x == v })
}

// diff returns the entries of want that have does not hold (in want's
// order, duplicates once) and those of have that want does not list.
func diff[T comparable](have, want []T) (add, del []T) {
	in := make(map[T]bool, len(want))
	for _, w := range want {
		if !in[w] && !slices.Contains(have, w) {
			add = append(add, w)
		}
		in[w] = true
	}
	for _, h := range have {
		if !in[h] {
			del = append(del, h)
		}
	}
	return add, del
}
