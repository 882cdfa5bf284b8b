package vrrp

import (
	"context"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// watchLinks forwards link changes to the event loop. A subscription can
// end on its own (netlink closes it on a receive error such as ENOBUFS in a
// burst of events); then it subscribes again with a capped backoff and has
// the event loop look every tracked interface up, since changes in the gap
// were not reported. Without this, a later link-down would never cause FAULT.
func (n *Node) watchLinks(ctx context.Context, ch <-chan LinkUpdate, events chan<- nodeEvent) {
	send := func(ev nodeEvent) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	backoff := linkResubscribeMin
	for {
		delivered := false
		for u := range ch {
			delivered = true
			if !send(nodeEvent{link: &u}) {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		// A subscription that delivered something was healthy for a while:
		// start the backoff over; one that died at once backs off further.
		if delivered {
			backoff = linkResubscribeMin
		}
		for {
			n.log.Warn("link monitor ended; subscribing again", "retry_in", backoff)
			if !n.sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, linkResubscribeMax)
			var err error
			if ch, err = n.links.Subscribe(ctx); err == nil {
				break
			}
			n.log.Error("link monitor", "err", err)
		}
		n.log.Info("link monitor subscribed again; re-reading tracked interfaces")
		if !send(nodeEvent{resync: true}) {
			return
		}
	}
}

// resyncLinks looks up every tracked interface and applies its current state.
func (n *Node) resyncLinks() {
	seen := map[string]bool{}
	for _, in := range n.insts {
		for name := range in.linkUp {
			if seen[name] {
				continue
			}
			seen[name] = true
			info, err := n.links.Lookup(name)
			if err != nil {
				n.log.Warn("tracked interface lookup failed; counting it as down", "interface", name, "err", err)
			}
			n.linkChanged(LinkUpdate{Name: name, Index: info.Index, Up: err == nil && info.Up})
		}
	}
}

func (n *Node) combinedFault(in *instance) bool {
	if in.ownFault() {
		return true
	}
	if in.group != nil {
		for _, m := range in.group.members {
			if m.ownFault() {
				return true
			}
		}
	}
	return false
}

// retrack recomputes priority and fault of every instance (and its group),
// after tracking changed. A new effective priority is reported
// (notify_priority_changes) as keepalived 2.2.7 does when tracking moves it
// (vrrp_track.c vrrp_set_effective_priority).
func (n *Node) retrack() { n.retrackQuiet(false) }

// retrackQuiet is retrack; quiet reports no priority change: a reload's
// new priorities are configuration, and keepalived, which starts its
// instances again on reload, reports none either.
func (n *Node) retrackQuiet(quiet bool) {
	now := n.clock.Now()
	for _, in := range n.insts {
		before := in.m.EffectivePriority()
		n.apply(in, in.m.Step(now, fsm.SetPriority{Priority: in.effectivePriority()}))
		after, st := in.m.EffectivePriority(), in.m.State()
		if quiet || after == before || !in.cfg.NotifyPriorityChanges || in.removed || st == fsm.Init || st == fsm.Stopped {
			continue
		}
		ev := NoticeBackupPriority
		if st == fsm.Master {
			ev = NoticeMasterPriority
		}
		n.notice(Notice{Name: in.cfg.Name, Event: ev, Priority: after})
	}
	for _, in := range n.insts {
		n.apply(in, in.m.Step(now, fsm.SetFault{Fault: n.combinedFault(in)}))
	}
	n.pullGroups()
}

func (n *Node) refreshTracking(in *instance) {
	for name := range in.linkUp {
		info, err := n.links.Lookup(name)
		in.linkUp[name] = err == nil && info.Up
	}
	n.refreshTrackState(in)
}

func (n *Node) linkChanged(u LinkUpdate) {
	changed := false
	for _, in := range n.insts {
		if up, ok := in.linkUp[u.Name]; ok && up != u.Up {
			in.linkUp[u.Name] = u.Up
			changed = true
			n.log.Info("tracked interface changed", "instance", in.cfg.Name, "interface", u.Name, "up", u.Up)
		}
	}
	if changed {
		n.retrack()
	}
}

func (n *Node) scriptChanged(r scriptResult) {
	if n.scriptByName[r.name] != r.src {
		return // a late result of a script a reload replaced or removed
	}
	changed := false
	for _, in := range n.insts {
		if ok, tracked := in.scriptOK[r.name]; tracked && ok != r.ok {
			in.scriptOK[r.name] = r.ok
			changed = true
			n.log.Info("track script changed", "instance", in.cfg.Name, "script", r.name, "ok", r.ok)
		}
	}
	if changed {
		n.retrack()
	}
}

// ownFault: the primary interface or a weight-0 tracked interface is down,
// a weight-0 script fails, or a tracked file or process says FAULT.
func (in *instance) ownFault() bool {
	if in.tr.fault() {
		return true
	}
	for name, up := range in.linkUp {
		if !up && in.ifWeights[name] == 0 {
			return true
		}
	}
	for _, ts := range in.scripts {
		if ts.weight == 0 && !in.scriptOK[ts.script.cfg.Name] {
			return true
		}
	}
	return false
}

// effectivePriority applies tracking weights as keepalived does: a
// positive weight is added while the object is up/OK, a negative one while
// it is down/failing ("reverse" swaps the two).
func (in *instance) effectivePriority() uint8 {
	if in.cfg.Priority == fsm.PriorityOwner {
		return fsm.PriorityOwner
	}
	p := int(in.cfg.Priority)
	for name, up := range in.linkUp {
		if w := in.ifWeights[name]; (w > 0 && up) || (w < 0 && !up) {
			p += w
		}
	}
	for _, ts := range in.scripts {
		ok := in.scriptOK[ts.script.cfg.Name]
		if ts.reverse {
			ok = !ok
		}
		if (ts.weight > 0 && ok) || (ts.weight < 0 && !ok) {
			p += ts.weight
		}
	}
	p += in.tr.delta()
	return uint8(max(1, min(254, p)))
}
