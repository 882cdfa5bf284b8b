package app

import (
	"context"
	"fmt"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
	"github.com/lvsctl/lvsctl/vrrp"
)

// Status implements control.Daemon: the director's status with the
// checks' latest results merged in, and the VRRP instances.
func (dm *Daemon) Status(ctx context.Context) (control.Status, error) {
	st, err := dm.directorStatus(ctx)
	if err != nil {
		return control.Status{}, err
	}
	out := control.Status{Status: st, IPVS: dm.Director() != nil, Daemon: dm.ops.info()}
	for _, s := range dm.vrrpStatus() {
		out.VRRP = append(out.VRRP, control.VRRPInstanceOf(s))
	}
	for r, c := range dm.vrrpUnmatched() {
		if out.VRRPUnmatched == nil {
			out.VRRPUnmatched = map[string]uint64{}
		}
		out.VRRPUnmatched[string(r)] = c
	}
	if rt := dm.syncRuntime(); rt != nil {
		ss, err := rt.Status(ctx)
		if err != nil {
			// The status says what failed (LastError); the rest still shows.
			dm.log.Warn("reading the sync daemons", "err", err)
		}
		out.Sync = &ss
	}
	if rt := dm.bgpRuntime(); rt != nil {
		bs, err := rt.Status(ctx)
		if err != nil {
			dm.log.Warn("reading the BGP sessions", "err", err)
		}
		out.BGP = &bs
	}
	return out, nil
}

// vrrpUnmatched is the node's count of packets that reached no instance
// (nil without VRRP).
func (dm *Daemon) vrrpUnmatched() map[vrrp.DropReason]uint64 {
	if n := dm.vrrpNode(); n != nil {
		return n.Unmatched()
	}
	return nil
}

func (dm *Daemon) vrrpStatus() []vrrp.InstanceStatus {
	n := dm.vrrpNode()
	if n == nil {
		return nil
	}
	return n.Status()
}

// directorStatus is the director's status with the time of each real
// server's last completed check, joined by the real server's identity.
func (dm *Daemon) directorStatus(ctx context.Context) (director.Status, error) {
	dir := dm.Director()
	if dir == nil {
		return director.Status{Services: []director.ServiceStatus{}}, nil
	}
	st, err := dir.Status(ctx)
	if err != nil || dm.o.Health == nil {
		return st, err
	}
	hs, err := dm.o.Health.Status(ctx)
	if err != nil {
		return st, nil
	}
	idx := make(map[director.RealRef]*director.RealStatus)
	for i := range st.Services {
		s := &st.Services[i]
		for j := range s.Reals {
			idx[director.RealRef{Service: s.Service, Real: s.Reals[j].Real}] = &s.Reals[j]
		}
	}
	for _, h := range hs {
		r := idx[h.Key]
		if r == nil {
			continue
		}
		r.LastResult = h.Reason
		for _, c := range h.Checks {
			if c.LastRun.After(r.LastCheck) {
				r.LastCheck = c.LastRun
			}
		}
	}
	return st, nil
}

// Drain implements control.Daemon.
func (dm *Daemon) Drain(ctx context.Context, q director.RealQuery, on bool) error {
	dir := dm.Director()
	if dir == nil {
		return fmt.Errorf("virtual server %s: %w (the configuration has no virtual_server)", q.Service, director.ErrNotFound)
	}
	ref, err := dir.Resolve(q)
	if err != nil {
		return err
	}
	if err := dir.Drain(ctx, ref.Service, ref.Real, on); err != nil {
		return err
	}
	from, to := "enabled", "drained"
	if !on {
		from, to = to, from
	}
	dm.record(eventlog.Event{Kind: eventlog.KindDrain, Subject: ref.Service.String() + " " + ref.Real.String(),
		From: from, To: to, Message: "by the operator"})
	return nil
}
