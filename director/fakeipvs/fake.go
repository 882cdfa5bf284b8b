// Package fakeipvs is an in-memory, recording implementation of
// director.IPVS for tests: it behaves like the kernel table (errors for
// duplicates and missing entries, HASHED flag on read), records every edit,
// can fail chosen edits, and can be changed "behind the director's back".
package fakeipvs

import (
	"context"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
)

// IPVS is the fake table. The zero value is not usable; call New.
type IPVS struct {
	mu    sync.Mutex
	table director.Table
	ops   []director.Op
	// reads counts GetServices and GetDestinations calls.
	reads  int
	fail   func(director.Op) error
	inject func(director.Op, director.Table) Fault
}

// Fault is what an injected fault does to one edit.
type Fault struct {
	// Err fails the edit.
	Err error
	// Applied makes the kernel do the edit although Err is returned: the
	// reply was lost (ENOBUFS on a full netlink receive buffer), so the
	// caller cannot know whether it happened.
	Applied bool
}

// Inject calls fn before every edit, with the live table, under the fake's
// lock. fn may change the table (someone else's ipvsadm racing the
// director: a service deleted mid-apply) and decides the edit's fate
// (a zero Fault: the edit proceeds normally). nil removes the hook.
func (f *IPVS) Inject(fn func(op director.Op, t director.Table) Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = fn
}

// New returns an empty fake table.
func New() *IPVS { return &IPVS{table: director.Table{}} }

// FailWith makes every edit for which fn returns a non-nil error fail with
// that error (without changing the table; the attempt is still recorded).
// nil removes the hook.
func (f *IPVS) FailWith(fn func(director.Op) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

// Ops returns the edits recorded since the last Reset, in order.
func (f *IPVS) Ops() []director.Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]director.Op(nil), f.ops...)
}

// OpStrings is Ops formatted with Op.String, handy for exact comparisons.
func (f *IPVS) OpStrings() []string {
	ops := f.Ops()
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = o.String()
	}
	return s
}

// Reads is the number of GetServices/GetDestinations calls since Reset.
func (f *IPVS) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// Reset forgets the recorded edits and reads (the table stays).
func (f *IPVS) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = f.ops[:0]
	f.reads = 0
}

// Table returns a deep copy of the current table.
func (f *IPVS) Table() director.Table {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table.Clone()
}

// Mutate changes the table directly, without recording: what an operator
// running ipvsadm would do behind the director's back.
func (f *IPVS) Mutate(fn func(director.Table)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.table)
}

// SetConns sets the connection counters of a destination (for status tests).
func (f *IPVS) SetConns(svc director.ServiceKey, dst director.DestKey, active, inactive uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.table[svc]; s != nil {
		if d, ok := s.Dests[dst]; ok {
			d.ActiveConns, d.InactiveConns = active, inactive
			s.Dests[dst] = d
		}
	}
}

// GetServices implements director.IPVS.
func (f *IPVS) GetServices(ctx context.Context) ([]director.Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	out := make([]director.Service, 0, len(f.table))
	for _, s := range f.table {
		svc := s.Service
		svc.Flags |= director.FlagHashed
		out = append(out, svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.Compare(out[j].Key) < 0 })
	return out, nil
}

// GetDestinations implements director.IPVS.
func (f *IPVS) GetDestinations(ctx context.Context, svc director.ServiceKey) ([]director.Destination, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	s := f.table[svc]
	if s == nil {
		return nil, unix.ESRCH
	}
	out := make([]director.Destination, 0, len(s.Dests))
	for _, d := range s.Dests {
		out = append(out, d)
	}
	return out, nil
}

func (f *IPVS) edit(ctx context.Context, op director.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	var fault Fault
	if f.inject != nil {
		fault = f.inject(op, f.table)
		if fault.Err != nil && !fault.Applied {
			return fault.Err
		}
	}
	if f.fail != nil {
		if err := f.fail(op); err != nil {
			return err
		}
	}
	s := f.table[op.Service.Key]
	switch op.Kind {
	case director.OpNewService:
		if s != nil {
			return unix.EEXIST
		}
	case director.OpUpdateService, director.OpDelService:
		if s == nil {
			return unix.ESRCH
		}
	case director.OpNewDest:
		if s == nil {
			return unix.ESRCH
		}
		if _, ok := s.Dests[op.Dest.Key()]; ok {
			return unix.EEXIST
		}
	case director.OpUpdateDest, director.OpDelDest:
		if s == nil {
			return unix.ESRCH
		}
		if _, ok := s.Dests[op.Dest.Key()]; !ok {
			return unix.ENOENT
		}
	}
	op.Service.Flags &^= director.FlagHashed
	f.table.Apply(op)
	return fault.Err
}

// NewService implements director.IPVS.
func (f *IPVS) NewService(ctx context.Context, svc director.Service) error {
	return f.edit(ctx, director.Op{Kind: director.OpNewService, Service: svc})
}

// UpdateService implements director.IPVS.
func (f *IPVS) UpdateService(ctx context.Context, svc director.Service) error {
	return f.edit(ctx, director.Op{Kind: director.OpUpdateService, Service: svc})
}

// DelService implements director.IPVS.
func (f *IPVS) DelService(ctx context.Context, svc director.ServiceKey) error {
	return f.edit(ctx, director.Op{Kind: director.OpDelService, Service: director.Service{Key: svc}})
}

// NewDestination implements director.IPVS.
func (f *IPVS) NewDestination(ctx context.Context, svc director.ServiceKey, dst director.Destination) error {
	return f.edit(ctx, director.Op{Kind: director.OpNewDest, Service: director.Service{Key: svc}, Dest: dst})
}

// UpdateDestination implements director.IPVS.
func (f *IPVS) UpdateDestination(ctx context.Context, svc director.ServiceKey, dst director.Destination) error {
	return f.edit(ctx, director.Op{Kind: director.OpUpdateDest, Service: director.Service{Key: svc}, Dest: dst})
}

// DelDestination implements director.IPVS.
func (f *IPVS) DelDestination(ctx context.Context, svc director.ServiceKey, dst director.DestKey) error {
	return f.edit(ctx, director.Op{Kind: director.OpDelDest, Service: director.Service{Key: svc},
		Dest: director.Destination{Addr: dst.Addr, Port: dst.Port}})
}

var _ director.IPVS = (*IPVS)(nil)
