package director

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// IPVS is what the director needs from the kernel's IPVS table. It must be
// safe for concurrent use: edits are made under the director's lock, but
// Status dumps without it.
type IPVS interface {
	GetServices(ctx context.Context) ([]Service, error)
	GetDestinations(ctx context.Context, svc ServiceKey) ([]Destination, error)
	NewService(ctx context.Context, svc Service) error
	UpdateService(ctx context.Context, svc Service) error
	DelService(ctx context.Context, svc ServiceKey) error
	NewDestination(ctx context.Context, svc ServiceKey, dst Destination) error
	UpdateDestination(ctx context.Context, svc ServiceKey, dst Destination) error
	DelDestination(ctx context.Context, svc ServiceKey, dst DestKey) error
}

// OpKind is the kind of one IPVS edit.
type OpKind uint8

// Edit kinds, in the order a plan applies them within a service.
const (
	OpNewService OpKind = iota + 1
	OpUpdateService
	OpNewDest
	OpUpdateDest
	OpDelDest
	OpDelService
)

func (k OpKind) String() string {
	switch k {
	case OpNewService:
		return "add-service"
	case OpUpdateService:
		return "edit-service"
	case OpNewDest:
		return "add-dest"
	case OpUpdateDest:
		return "edit-dest"
	case OpDelDest:
		return "del-dest"
	case OpDelService:
		return "del-service"
	}
	return fmt.Sprintf("op%d", k)
}

// Op is one IPVS edit. Dest is unused for service operations.
type Op struct {
	Kind    OpKind
	Service Service
	Dest    Destination
}

func (o Op) String() string {
	switch o.Kind {
	case OpNewService, OpUpdateService:
		return fmt.Sprintf("%s %s sched=%s flags=%#x timeout=%d netmask=%s", o.Kind, o.Service.Key,
			o.Service.Scheduler, o.Service.Flags, o.Service.Timeout, NetmaskString(o.Service.Key.Family, o.Service.Netmask))
	case OpDelService:
		return fmt.Sprintf("%s %s", o.Kind, o.Service.Key)
	case OpDelDest:
		return fmt.Sprintf("%s %s -> %s", o.Kind, o.Service.Key, o.Dest.Key())
	}
	return fmt.Sprintf("%s %s -> %s weight=%d fwd=%s thresholds=%d/%d", o.Kind, o.Service.Key, o.Dest.Key(),
		o.Dest.Weight, o.Dest.Forward, o.Dest.LowerThreshold, o.Dest.UpperThreshold)
}

// Do applies the edit to ipvs.
func (o Op) Do(ctx context.Context, ipvs IPVS) error {
	switch o.Kind {
	case OpNewService:
		return ipvs.NewService(ctx, o.Service)
	case OpUpdateService:
		return ipvs.UpdateService(ctx, o.Service)
	case OpDelService:
		return ipvs.DelService(ctx, o.Service.Key)
	case OpNewDest:
		return ipvs.NewDestination(ctx, o.Service.Key, o.Dest)
	case OpUpdateDest:
		return ipvs.UpdateDestination(ctx, o.Service.Key, o.Dest)
	case OpDelDest:
		return ipvs.DelDestination(ctx, o.Service.Key, o.Dest.Key())
	}
	return fmt.Errorf("unknown op kind %d", o.Kind)
}

// TableService is one service of a table with its destinations.
type TableService struct {
	Service Service
	Dests   map[DestKey]Destination
}

// Table is a snapshot of (part of) the kernel's IPVS table, or a desired
// table.
type Table map[ServiceKey]*TableService

// Clone copies the table deeply.
func (t Table) Clone() Table {
	c := make(Table, len(t))
	for k, s := range t {
		c[k] = s.clone()
	}
	return c
}

func (s *TableService) clone() *TableService {
	c := &TableService{Service: s.Service, Dests: make(map[DestKey]Destination, len(s.Dests))}
	for k, d := range s.Dests {
		c.Dests[k] = d
	}
	return c
}

// Apply records the effect of a successful op in the table, so that it
// keeps mirroring the kernel without a new dump.
func (t Table) Apply(op Op) {
	k := op.Service.Key
	switch op.Kind {
	case OpNewService, OpUpdateService:
		s := t[k]
		if s == nil {
			s = &TableService{Dests: map[DestKey]Destination{}}
			t[k] = s
		}
		st := s.Service.Stats
		s.Service = op.Service
		s.Service.Stats = st
	case OpDelService:
		delete(t, k)
	case OpNewDest, OpUpdateDest:
		s := t[k]
		if s == nil {
			return
		}
		old := s.Dests[op.Dest.Key()]
		d := op.Dest
		d.ActiveConns, d.InactiveConns, d.Stats = old.ActiveConns, old.InactiveConns, old.Stats
		s.Dests[op.Dest.Key()] = d
	case OpDelDest:
		if s := t[k]; s != nil {
			delete(s.Dests, op.Dest.Key())
		}
	}
}

// Dump reads the services for which want returns true (all when want is
// nil) and their destinations: one GetServices and one GetDestinations per
// wanted service.
func Dump(ctx context.Context, ipvs IPVS, want func(ServiceKey) bool) (Table, error) {
	svcs, err := ipvs.GetServices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list IPVS services: %w", err)
	}
	t := make(Table, len(svcs))
	for _, s := range svcs {
		if want != nil && !want(s.Key) {
			continue
		}
		dsts, err := ipvs.GetDestinations(ctx, s.Key)
		if serviceGone(err) {
			// Deleted between the two calls (ipvsadm, another tool): it
			// is simply not in the table, which the next diff handles.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list destinations of %s: %w", s.Key, err)
		}
		ts := &TableService{Service: s, Dests: make(map[DestKey]Destination, len(dsts))}
		ts.Service.Flags &^= FlagHashed
		for _, d := range dsts {
			d.Forward &= fwdMask
			ts.Dests[d.Key()] = d
		}
		t[s.Key] = ts
	}
	return t, nil
}

// serviceGone reports whether err says the service no longer exists.
// moby/ipvs returns the kernel's netlink error as a syscall.Errno: ESRCH
// for a missing service, ENOENT for a missing destination. (The kernel's
// destination dump itself ends empty, without an error, for a service
// deleted meanwhile; the service then shows up without destinations and
// the next resync sees it gone.)
func serviceGone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT)
}

// ServiceEqual compares the attributes the director manages.
func ServiceEqual(a, b Service) bool {
	return a.Key == b.Key && a.Scheduler == b.Scheduler && a.Flags&^FlagHashed == b.Flags&^FlagHashed &&
		a.Timeout == b.Timeout && a.Netmask == b.Netmask
}

// DestEqual compares the attributes the director manages.
func DestEqual(a, b Destination) bool {
	return a.Addr == b.Addr && a.Port == b.Port && a.Weight == b.Weight && a.Forward&fwdMask == b.Forward&fwdMask &&
		a.UpperThreshold == b.UpperThreshold && a.LowerThreshold == b.LowerThreshold
}

// DiffService appends to ops the edits that turn have into want (have may
// be nil: the service does not exist). Within the service, additions and
// edits come before deletions so it never goes empty by accident.
func DiffService(ops []Op, want, have *TableService) []Op {
	if have == nil {
		ops = append(ops, Op{Kind: OpNewService, Service: want.Service})
		for _, d := range sortedDests(want.Dests) {
			ops = append(ops, Op{Kind: OpNewDest, Service: want.Service, Dest: d})
		}
		return ops
	}
	if !ServiceEqual(want.Service, have.Service) {
		ops = append(ops, Op{Kind: OpUpdateService, Service: want.Service})
	}
	start := len(ops)
	for k, d := range want.Dests {
		h, ok := have.Dests[k]
		switch {
		case !ok:
			ops = append(ops, Op{Kind: OpNewDest, Service: want.Service, Dest: d})
		case !DestEqual(d, h):
			ops = append(ops, Op{Kind: OpUpdateDest, Service: want.Service, Dest: d})
		}
	}
	for k, h := range have.Dests {
		if _, ok := want.Dests[k]; !ok {
			ops = append(ops, Op{Kind: OpDelDest, Service: want.Service, Dest: Destination{Addr: h.Addr, Port: h.Port}})
		}
	}
	sortOps(ops[start:])
	return ops
}

// Diff returns the edits that turn the managed part of have into want:
// services in want are created or corrected, services in managed but not
// in want are deleted, everything else in have is left alone. Deletions of
// whole services come last.
func Diff(want, have Table, managed func(ServiceKey) bool) []Op {
	// Services missing from have cost a known number of edits: size for
	// them up front (a cold start is all of them), grow for the rest.
	n := 0
	for k, w := range want {
		if have[k] == nil {
			n += 1 + len(w.Dests)
		}
	}
	var ops []Op
	if n > 0 {
		ops = make([]Op, 0, n)
	}
	for _, k := range sortedKeys(want) {
		ops = DiffService(ops, want[k], have[k])
	}
	for _, k := range sortedKeys(have) {
		if _, ok := want[k]; ok || managed == nil || !managed(k) {
			continue
		}
		ops = append(ops, Op{Kind: OpDelService, Service: have[k].Service})
	}
	return ops
}

// OpError is one failed edit.
type OpError struct {
	Op  Op
	Err error
}

func (e *OpError) Error() string { return e.Op.String() + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

// ApplyResult says what Apply did.
type ApplyResult struct {
	Applied []Op
	Failed  []*OpError
	// Skipped ops were not tried: an earlier failure made them unsafe or
	// pointless. They are retried with the failed ones.
	Skipped []Op
}

// Err joins the failures, or is nil.
func (r ApplyResult) Err() error {
	errs := make([]error, len(r.Failed))
	for i, f := range r.Failed {
		errs[i] = f
	}
	return errors.Join(errs...)
}

// Apply performs ops in order, keeping shadow (the director's mirror of the
// kernel) up to date with every successful one. A failure does not stop the
// other services. Within a service whose creation failed nothing else is
// tried; within a service where an addition failed, a deletion that would
// leave it without any destination of positive weight is skipped, so a
// failed swap never empties a service.
func Apply(ctx context.Context, ipvs IPVS, ops []Op, shadow Table) ApplyResult {
	res := ApplyResult{Applied: make([]Op, 0, len(ops))}
	var brokenSvc, addFailed map[ServiceKey]bool
	for _, op := range ops {
		k := op.Service.Key
		if brokenSvc[k] {
			res.Skipped = append(res.Skipped, op)
			continue
		}
		if op.Kind == OpDelDest && addFailed[k] && wouldEmpty(shadow[k], op.Dest.Key()) {
			res.Skipped = append(res.Skipped, op)
			continue
		}
		if err := ctx.Err(); err != nil {
			res.Failed = append(res.Failed, &OpError{Op: op, Err: err})
			continue
		}
		if err := op.Do(ctx, ipvs); err != nil {
			res.Failed = append(res.Failed, &OpError{Op: op, Err: err})
			switch op.Kind {
			case OpNewService:
				if brokenSvc == nil {
					brokenSvc = map[ServiceKey]bool{}
				}
				brokenSvc[k] = true
			case OpNewDest, OpUpdateDest:
				if addFailed == nil {
					addFailed = map[ServiceKey]bool{}
				}
				addFailed[k] = true
			}
			continue
		}
		if shadow != nil {
			shadow.Apply(op)
		}
		res.Applied = append(res.Applied, op)
	}
	return res
}

func wouldEmpty(s *TableService, del DestKey) bool {
	if s == nil {
		return false
	}
	for k, d := range s.Dests {
		if k != del && d.Weight > 0 {
			return false
		}
	}
	return true
}

func sortedKeys(t Table) []ServiceKey {
	keys := make([]ServiceKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, ServiceKey.Compare)
	return keys
}

// Compare orders keys by family, fwmark, address, protocol and port.
func (k ServiceKey) Compare(o ServiceKey) int {
	switch {
	case k.Family != o.Family:
		return cmp.Compare(k.Family, o.Family)
	case k.FWMark != o.FWMark:
		return cmp.Compare(k.FWMark, o.FWMark)
	}
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	if k.Protocol != o.Protocol {
		return cmp.Compare(k.Protocol, o.Protocol)
	}
	return cmp.Compare(k.Port, o.Port)
}

func destKeyCompare(a, b DestKey) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

func sortedDests(m map[DestKey]Destination) []Destination {
	ds := make([]Destination, 0, len(m))
	for _, d := range m {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b Destination) int { return destKeyCompare(a.Key(), b.Key()) })
	return ds
}

// sortOps orders one service's destination edits: kind first (additions,
// edits, deletions), then address, so plans are deterministic.
func sortOps(ops []Op) {
	slices.SortFunc(ops, func(a, b Op) int {
		if a.Kind != b.Kind {
			return cmp.Compare(a.Kind, b.Kind)
		}
		return destKeyCompare(a.Dest.Key(), b.Dest.Key())
	})
}
