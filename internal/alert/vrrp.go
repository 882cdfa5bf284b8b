package alert

import (
	"maps"
	"slices"
	"sync"
)

// VRRPPlan is which VRRP state changes are mailed: the instances and sync
// groups whose smtp_alert is on, FAULT left out with no_email_faults.
type VRRPPlan struct {
	RouterID  string
	NoFaults  bool
	Instances map[string]bool
	// Groups maps each mailed sync group to its instances.
	Groups map[string][]string
}

// VRRPMails decides which VRRP state changes become mails, as keepalived
// 2.2.7 does (vrrp/vrrp_notify.c vrrp_smtp_notifier and
// vrrp_sync_smtp_notifier): an instance on each change of its state, a
// sync group once all its instances share a state, and not again for the
// same state (last_email_state). The zero value mails nothing until
// SetPlan; it is safe for concurrent use.
type VRRPMails struct {
	mu   sync.Mutex
	plan VRRPPlan
	// last is each instance's last state; groupMailed the state last
	// mailed per sync group.
	last        map[string]VRRPState
	groupMailed map[string]VRRPState
}

// SetPlan replaces the plan (a reload); the states seen so far are kept.
func (v *VRRPMails) SetPlan(p VRRPPlan) {
	v.mu.Lock()
	v.plan = p
	v.mu.Unlock()
}

// Transition records that instance name is now in state, and returns the
// mails that this causes.
func (v *VRRPMails) Transition(name string, state VRRPState) []Message {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil {
		v.last, v.groupMailed = map[string]VRRPState{}, map[string]VRRPState{}
	}
	from, seen := v.last[name]
	v.last[name] = state
	if state == Fault && v.plan.NoFaults {
		return nil
	}
	var out []Message
	if (!seen || from != state) && v.plan.Instances[name] {
		if m, ok := VRRPInstance(v.plan.RouterID, name, state); ok {
			out = append(out, m)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(v.plan.Groups)) {
		members := v.plan.Groups[g]
		if !slices.Contains(members, name) || v.groupMailed[g] == state || !v.all(members, state) {
			continue
		}
		if m, ok := VRRPGroup(v.plan.RouterID, g, state); ok {
			v.groupMailed[g] = state
			out = append(out, m)
		}
	}
	return out
}

// all reports whether every one of names was last seen in state.
func (v *VRRPMails) all(names []string, state VRRPState) bool {
	for _, n := range names {
		if s, ok := v.last[n]; !ok || s != state {
			return false
		}
	}
	return true
}
