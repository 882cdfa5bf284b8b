// Package netroutetest is a recording fake of netroute.Kernel: it keeps
// the entries it was given, records every call in order and fails the
// calls a test asks it to fail.
package netroutetest

import (
	"fmt"
	"slices"
	"sync"

	"github.com/lvsctl/lvsctl/internal/netroute"
)

// Op is one recorded call.
type Op struct {
	// Verb is "add" or "del"; exactly one of Addr, Route, Rule is set
	// (the others are zero), Kind says which.
	Verb  string
	Kind  string
	Addr  netroute.Addr
	Route netroute.Route
	Rule  netroute.Rule
}

func (o Op) String() string {
	switch o.Kind {
	case "addr":
		return o.Verb + " addr " + o.Addr.String()
	case "route":
		return o.Verb + " route " + o.Route.String()
	}
	return o.Verb + " rule " + o.Rule.String()
}

// Kernel is the fake. The zero value is ready; it is safe for concurrent use.
type Kernel struct {
	mu     sync.Mutex
	ops    []Op
	addrs  []netroute.Addr
	routes []netroute.Route
	rules  []netroute.Rule
	// fail holds the calls to fail (compared with Op equality).
	fail map[Op]error
}

// Fail makes the call op fail with err (nil: succeed again).
func (k *Kernel) Fail(op Op, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail == nil {
		k.fail = map[Op]error{}
	}
	if err == nil {
		delete(k.fail, op)
		return
	}
	k.fail[op] = err
}

// Ops returns the calls so far (failed ones included) and forgets them.
func (k *Kernel) Ops() []Op {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.ops
	k.ops = nil
	return out
}

// State is what the fake kernel holds.
func (k *Kernel) State() netroute.Set {
	k.mu.Lock()
	defer k.mu.Unlock()
	return netroute.Set{Addrs: slices.Clone(k.addrs), Routes: slices.Clone(k.routes), Rules: slices.Clone(k.rules)}
}

func (k *Kernel) call(op Op) error {
	k.ops = append(k.ops, op)
	if err := k.fail[op]; err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	return nil
}

func add[T comparable](l *[]T, v T) {
	if !slices.Contains(*l, v) {
		*l = append(*l, v)
	}
}

func del[T comparable](l *[]T, v T) {
	*l = slices.DeleteFunc(*l, func(x T) bool { return x == v })
}

// AddAddr implements netroute.Kernel.
func (k *Kernel) AddAddr(a netroute.Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call(Op{Verb: "add", Kind: "addr", Addr: a}); err != nil {
		return err
	}
	add(&k.addrs, a)
	return nil
}

// DelAddr implements netroute.Kernel.
func (k *Kernel) DelAddr(a netroute.Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call(Op{Verb: "del", Kind: "addr", Addr: a}); err != nil {
		return err
	}
	del(&k.addrs, a)
	return nil
}

// AddRoute implements netroute.Kernel.
func (k *Kernel) AddRoute(r netroute.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call(Op{Verb: "add", Kind: "route", Route: r}); err != nil {
		return err
	}
	add(&k.routes, r)
	return nil
}

// DelRoute implements netroute.Kernel.
func (k *Kernel) DelRoute(r netroute.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call(Op{Verb: "del", Kind: "route", Route: r}); err != nil {
		return err
	}
	del(&k.routes, r)
	return nil
}

// AddRule implements netroute.Kernel.
func (k *Kernel) AddRule(r netroute.Rule) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call(Op{Verb: "add", Kind: "rule", Rule: r}); err != nil {
		return err
	}
	add(&k.rules, r)
	return nil
}

// DelRule implements netroute.Kernel.
func (k *Kernel) DelRule(r netroute.Rule) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call(Op{Verb: "del", Kind: "rule", Rule: r}); err != nil {
		return err
	}
	del(&k.rules, r)
	return nil
}

var _ netroute.Kernel = (*Kernel)(nil)
