package vrrp

import (
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

func (n *Node) transitioned(in *instance, a fsm.Action) {
	in.count.Transitions++
	in.lastTransition = n.clock.Now()
	n.log.Info("VRRP state change", "instance", in.cfg.Name, "from", a.From.String(), "to", a.To.String(), "cause", a.Cause.String(), "priority", in.m.EffectivePriority(), "master", in.m.MasterAddr())
	in.notify.run(n.notifier, "INSTANCE", in.cfg.Name, a.To, in.m.EffectivePriority())
	if notifiable(a.To) {
		// keepalived writes the FIFO line after the notify scripts
		// (vrrp_notify.c send_instance_notifies).
		n.notice(Notice{Name: in.cfg.Name, Event: NoticeEvent(a.To), Priority: in.m.EffectivePriority()})
	}
	if n.hook != nil {
		n.pendingHooks = append(n.pendingHooks, in)
	}
	g := in.group
	if g == nil {
		return
	}
	// A member that wins an election takes the group along; one that is
	// demoted by a better master does too. Entering BACKUP at start or
	// after a fault says nothing about the peer and moves nobody.
	if a.Cause != fsm.CauseSyncGroup && (a.To == fsm.Master || (a.To == fsm.Backup && a.From == fsm.Master)) {
		n.forceGroup(g, in, a.To)
	}
	n.groupState(g)
}

// pullGroups brings BACKUP members of a group with a MASTER member to
// MASTER: members that were still in INIT or FAULT when the group moved
// were not forced then.
func (n *Node) pullGroups() {
	for _, g := range n.groups {
		for _, m := range g.members {
			if m.m.State() == fsm.Master && !m.m.Leaving() {
				n.forceGroup(g, m, fsm.Master)
				break
			}
		}
	}
}

func (n *Node) forceGroup(g *syncGroup, except *instance, to fsm.State) {
	for _, o := range g.members {
		if o != except {
			n.apply(o, o.m.Step(n.clock.Now(), fsm.Force{To: to}))
		}
	}
}

// groupState runs the group's notify scripts when the group as a whole
// changes state: FAULT if any member is, MASTER/BACKUP when all are, and
// STOP once all have stopped (keepalived 2.2.7 vrrp_notify.c
// notify_shutdown: every instance's STOP, then every group's).
func (n *Node) groupState(g *syncGroup) {
	st := g.members[0].m.State()
	for _, m := range g.members[1:] {
		s := m.m.State()
		if s == fsm.Fault || st == fsm.Fault {
			st = fsm.Fault
		} else if s != st {
			return
		}
	}
	if st == g.state || st == fsm.Init {
		return
	}
	g.state = st
	n.log.Info("VRRP sync group state change", "group", g.cfg.Name, "to", st.String())
	g.notify.run(n.notifier, "GROUP", g.cfg.Name, st, 0)
	n.notice(Notice{Group: true, Name: g.cfg.Name, Event: NoticeEvent(st)})
}

type syncGroup struct {
	cfg     SyncGroupConfig
	members []*instance
	notify  notifySet
	state   fsm.State
}
