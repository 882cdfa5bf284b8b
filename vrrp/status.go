package vrrp

import (
	"net/netip"
	"sort"
	"time"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// Status returns a snapshot of every instance, safe to call from any goroutine.
func (n *Node) Status() []InstanceStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]InstanceStatus, len(n.snapshot))
	for i, s := range n.snapshot {
		out[i] = s.clone()
	}
	return out
}

func (n *Node) updateSnapshot() {
	snap := make([]InstanceStatus, len(n.insts))
	for i, in := range n.insts {
		snap[i] = n.status(in)
	}
	n.mu.Lock()
	n.snapshot = snap
	n.mu.Unlock()
	// Hooks run after the snapshot is current, so they may call Status.
	pending := n.pendingHooks
	n.pendingHooks = nil
	for _, in := range pending {
		n.hook(n.status(in))
	}
}

func (n *Node) status(in *instance) InstanceStatus {
	s := InstanceStatus{
		Name:              in.cfg.Name,
		Interface:         in.cfg.Interface,
		VRID:              in.cfg.VRID,
		Version:           in.cfg.Version,
		State:             in.m.State(),
		Leaving:           in.m.Leaving(),
		HoldsVIPs:         in.m.HoldsVIPs(),
		BasePriority:      in.cfg.Priority,
		EffectivePriority: in.m.EffectivePriority(),
		MasterAddr:        in.m.MasterAddr(),
		SourceAddr:        in.src,
		AdvertInt:         in.cfg.AdvertInt,
		MasterAdvertInt:   in.m.MasterAdvertInt(),
		LastTransition:    in.lastTransition,
		Counters:          in.count.clone(),
	}
	if in.group != nil {
		s.SyncGroup = in.group.cfg.Name
	}
	for _, v := range in.cfg.VIPs {
		s.VIPs = append(s.VIPs, v.Prefix)
	}
	for name, up := range in.linkUp {
		if !up {
			s.Faults = append(s.Faults, "interface "+name+" down")
		}
	}
	for name, ok := range in.scriptOK {
		if !ok {
			s.Faults = append(s.Faults, "script "+name+" failing")
		}
	}
	s.Faults = append(s.Faults, in.tr.faults()...)
	sort.Strings(s.Faults)
	s.Problems = append(s.Problems, in.problems...)
	for _, ts := range in.scripts {
		if ts.script.problem != "" {
			s.Problems = append(s.Problems, ts.script.problem)
		}
	}
	if in.group != nil {
		s.Problems = append(s.Problems, in.group.notify.problems...)
	}
	return s
}

// Counters are per-instance statistics.
type Counters struct {
	AdvertsSent     uint64
	AdvertsReceived uint64
	Transitions     uint64
	SendErrors      uint64
	GARPsSent       uint64
	GARPErrors      uint64
	VIPErrors       uint64
	// VIPRepairs counts addresses found wrong and repaired: a VIP on the
	// interface while not master (removed), or missing while master (added).
	VIPRepairs uint64
	Drops      map[DropReason]uint64
	Warnings   map[Warning]uint64
}

func (c *Counters) drop(r DropReason) { c.Drops[r]++ }

func (c *Counters) warn(w Warning) { c.Warnings[w]++ }

func (c Counters) clone() Counters {
	out := c
	out.Drops = make(map[DropReason]uint64, len(c.Drops))
	for k, v := range c.Drops {
		out.Drops[k] = v
	}
	out.Warnings = make(map[Warning]uint64, len(c.Warnings))
	for k, v := range c.Warnings {
		out.Warnings[k] = v
	}
	return out
}

// InstanceStatus is the state of one instance for `director status`.
type InstanceStatus struct {
	Name              string
	Interface         string
	VRID              uint8
	Version           uint8
	SyncGroup         string
	State             fsm.State
	Leaving           bool // a shutdown handover is in progress
	HoldsVIPs         bool
	BasePriority      uint8
	EffectivePriority uint8
	MasterAddr        netip.Addr
	SourceAddr        netip.Addr
	AdvertInt         time.Duration
	MasterAdvertInt   time.Duration
	VIPs              []netip.Prefix
	LastTransition    time.Time
	// Faults lists what is down or failing now.
	Faults []string
	// Problems are configuration problems found at start (missing scripts).
	Problems []string
	Counters Counters
}

func (s InstanceStatus) clone() InstanceStatus {
	out := s
	out.VIPs = append([]netip.Prefix(nil), s.VIPs...)
	out.Faults = append([]string(nil), s.Faults...)
	out.Problems = append([]string(nil), s.Problems...)
	out.Counters = s.Counters.clone()
	return out
}
