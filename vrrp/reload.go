package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// ErrNotRunning is returned by Reload once Run has returned (or the node
// was closed without running).
var ErrNotRunning = errors.New("vrrp: node is not running")

type reloadRequest struct {
	cfg  Config
	done chan error
}

// Reload makes the running node run cfg, diffing it against the running
// configuration (see planReload): an unchanged instance keeps its state,
// timers and addresses; a changed one is reconfigured in place without
// leaving its state; an added one starts as at startup; a removed one
// hands over as on shutdown (priority-0 advert, addresses kept until the
// successor is heard). It is safe to call while Run runs: the configuration
// is applied by Run's goroutine, and Reload returns once it was applied or
// refused. An invalid configuration (or one naming an unknown interface)
// returns an error and changes nothing. Before Run has started, Reload
// waits for it (bounded by ctx).
func (n *Node) Reload(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	req := reloadRequest{cfg: cfg, done: make(chan error, 1)}
	select {
	case n.reloads <- req:
	case <-n.exited:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	// Run answers every request it took, synchronously.
	return <-req.done
}

// reloadPlan is what a reload changes, by name. An instance whose
// interface, VRID or version changed is a different virtual router: it is
// in Removed and in Added.
type reloadPlan struct {
	Unchanged, Changed, Added, Removed []string

	// Scripts that changed in any way are restarted (their rise/fall state
	// starts over); kept ones keep running.
	ScriptsKept, ScriptsRestarted, ScriptsAdded, ScriptsRemoved []string

	// A changed group (other members or notify scripts) is rebuilt; a kept
	// one keeps its group state, so no group notify runs for it.
	GroupsKept, GroupsChanged, GroupsAdded, GroupsRemoved []string
}

// Empty reports whether the reload changes nothing.
func (p reloadPlan) Empty() bool {
	return len(p.Changed)+len(p.Added)+len(p.Removed)+len(p.ScriptsRestarted)+len(p.ScriptsAdded)+
		len(p.ScriptsRemoved)+len(p.GroupsChanged)+len(p.GroupsAdded)+len(p.GroupsRemoved) == 0
}

// verdict is what a reload does with one named item.
type verdict int

const (
	kept verdict = iota
	changed
	added
	replaced // a different item under the same name: removed, then added
)

// diffByName compares two lists of named items: judge says what happens
// to an item present in both. It returns the names per verdict (in the
// order of cur) and the names only old has.
func diffByName[T any](old, cur []T, name func(T) string, judge func(o, c T) verdict) (by map[verdict][]string, removed []string) {
	prev := make(map[string]T, len(old))
	for _, o := range old {
		prev[name(o)] = o
	}
	by = map[verdict][]string{}
	seen := make(map[string]bool, len(cur))
	for _, c := range cur {
		n := name(c)
		seen[n] = true
		v := added
		if o, ok := prev[n]; ok {
			v = judge(o, c)
		}
		by[v] = append(by[v], n)
	}
	for _, o := range old {
		if !seen[name(o)] {
			removed = append(removed, name(o))
		}
	}
	return by, removed
}

// planReload diffs two valid configurations. It is pure: the runtime
// carries it out.
func planReload(old, cur Config) reloadPlan {
	var p reloadPlan
	// Node-wide values every instance uses.
	globalChanged := old.McastGroup4 != cur.McastGroup4 || old.McastGroup6 != cur.McastGroup6 || old.ReleaseGrace != cur.ReleaseGrace
	insts, gone := diffByName(old.Instances, cur.Instances, func(in InstanceConfig) string { return in.Name },
		func(o, in InstanceConfig) verdict {
			switch {
			case o.Interface != in.Interface || o.VRID != in.VRID || o.Version != in.Version || o.IPv6() != in.IPv6() ||
				!reflect.DeepEqual(o.VMAC, in.VMAC):
				return replaced
			case globalChanged || !reflect.DeepEqual(o, in):
				return changed
			}
			return kept
		})
	// A replaced instance is removed and added; Added keeps cur's order.
	for _, in := range cur.Instances {
		if slices.Contains(insts[added], in.Name) || slices.Contains(insts[replaced], in.Name) {
			p.Added = append(p.Added, in.Name)
		}
	}
	p.Unchanged, p.Changed = insts[kept], insts[changed]
	p.Removed = append(insts[replaced], gone...)

	scripts, gone := diffByName(old.Scripts, cur.Scripts, func(s ScriptConfig) string { return s.Name },
		func(o, s ScriptConfig) verdict {
			if o != s {
				return changed
			}
			return kept
		})
	p.ScriptsKept, p.ScriptsRestarted, p.ScriptsAdded, p.ScriptsRemoved = scripts[kept], scripts[changed], scripts[added], gone

	groups, gone := diffByName(old.SyncGroups, cur.SyncGroups, func(g SyncGroupConfig) string { return g.Name },
		func(o, g SyncGroupConfig) verdict {
			// A member that is a different router now (removed + added)
			// makes the group a new one too: its state says nothing of
			// the new member.
			if !reflect.DeepEqual(o, g) ||
				slices.ContainsFunc(g.Instances, func(m string) bool { return slices.Contains(p.Removed, m) }) {
				return changed
			}
			return kept
		})
	p.GroupsKept, p.GroupsChanged, p.GroupsAdded, p.GroupsRemoved = groups[kept], groups[changed], groups[added], gone
	return p
}

// built is a configuration turned into run-time objects, not yet running.
type built struct {
	cfg          Config
	scripts      []*trackScript
	scriptByName map[string]*trackScript
	insts        []*instance
	byName       map[string]*instance
	groups       []*syncGroup
}

// build prepares cfg's scripts, instances and groups; scripts named in
// reuse are taken over as they are (still running). It changes nothing, so
// a failure leaves the node as it was.
func (n *Node) build(cfg Config, reuse map[string]*trackScript) (*built, error) {
	b := &built{cfg: cfg, scriptByName: map[string]*trackScript{}, byName: map[string]*instance{}}
	for _, sc := range cfg.Scripts {
		ts := reuse[sc.Name]
		if ts == nil {
			var err error
			if ts, err = newTrackScript(sc); err != nil {
				return nil, fmt.Errorf("%w: vrrp_script %s: %w", ErrConfig, sc.Name, err)
			}
		}
		b.scriptByName[sc.Name] = ts
		b.scripts = append(b.scripts, ts)
	}
	for _, ic := range cfg.Instances {
		in, err := n.newInstance(ic, b.scriptByName, &cfg)
		if err != nil {
			return nil, err
		}
		b.insts = append(b.insts, in)
		b.byName[ic.Name] = in
	}
	for _, gc := range cfg.SyncGroups {
		g := &syncGroup{cfg: gc, state: fsm.Init}
		var err error
		if g.notify, err = parseNotify(gc.Notify); err != nil {
			return nil, fmt.Errorf("%w: vrrp_sync_group %s: %w", ErrConfig, gc.Name, err)
		}
		for _, name := range gc.Instances {
			g.members = append(g.members, b.byName[name])
		}
		b.groups = append(b.groups, g)
	}
	return b, nil
}

// install makes b the node's configuration (at New: nothing runs yet).
func (n *Node) install(b *built) {
	n.cfg = b.cfg
	n.scripts, n.scriptByName = b.scripts, b.scriptByName
	n.insts, n.byName, n.groups = b.insts, b.byName, b.groups
	for _, g := range n.groups {
		for _, m := range g.members {
			m.group = g
		}
	}
	for _, ts := range n.scripts {
		n.checkScript(ts)
	}
}

// checkScript records why a new track script cannot run; it counts as
// failing then.
func (n *Node) checkScript(ts *trackScript) {
	if err := ts.cmd.Check(); err != nil {
		ts.problem = fmt.Sprintf("vrrp_script %s: %v (counts as failing)", ts.cfg.Name, err)
		n.log.Error("track script cannot run; it counts as failing", "script", ts.cfg.Name, "err", err)
	}
}

// reload carries out a reload on Run's goroutine.
func (n *Node) reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	plan := planReload(n.cfg, cfg)
	reuse := map[string]*trackScript{}
	for _, name := range plan.ScriptsKept {
		reuse[name] = n.scriptByName[name]
	}
	b, err := n.build(cfg, reuse)
	if err != nil {
		return err
	}
	tk, err := prepareTrackers(&cfg, n.tk.gen+1)
	if err != nil {
		return err
	}
	// The VMACs of added instances are created before anything else
	// changes; vmacUp removes those it made if one fails.
	var fresh []*instance
	for _, in := range b.insts {
		if old := n.byName[in.cfg.Name]; old == nil || old.removed || slices.Contains(plan.Removed, in.cfg.Name) {
			fresh = append(fresh, in)
		}
	}
	if err := n.vmacUp(fresh); err != nil {
		return err
	}
	// Nothing below can fail: from here on the new configuration runs.
	if plan.Empty() {
		n.log.Info("VRRP reload: nothing changed")
	} else {
		n.log.Info("VRRP reload", "unchanged", plan.Unchanged, "changed", plan.Changed, "added", plan.Added,
			"removed", plan.Removed, "scripts_restarted", plan.ScriptsRestarted, "scripts_added", plan.ScriptsAdded,
			"scripts_removed", plan.ScriptsRemoved, "groups_changed", plan.GroupsChanged,
			"groups_added", plan.GroupsAdded, "groups_removed", plan.GroupsRemoved)
	}
	now := n.clock.Now()
	oldGroups := map[string]*syncGroup{}
	for _, g := range n.groups {
		oldGroups[g.cfg.Name] = g
	}
	// The states before, for fifo_write_vrrp_states_on_reload.
	before := map[string]fsm.State{}
	for _, in := range n.insts {
		if !in.removed {
			before[in.cfg.Name] = in.m.State()
		}
	}

	// Removed instances leave as on shutdown: a master sends priority 0 and
	// keeps its addresses until the successor is heard.
	var leaving []*instance
	for _, name := range plan.Removed {
		old := n.byName[name]
		old.removed = true
		old.group = nil
		leaving = append(leaving, old)
	}
	// Scripts that changed or went away stop; their late results are
	// ignored (scriptChanged checks the sender).
	for _, name := range append(slices.Clone(plan.ScriptsRestarted), plan.ScriptsRemoved...) {
		if ts := n.scriptByName[name]; ts.stop != nil {
			ts.stop()
		}
	}

	// Kept instances: the new object takes over the running state machine,
	// counters and tracking state.
	changed := map[string]bool{}
	for _, name := range plan.Changed {
		changed[name] = true
	}
	var added []*instance
	for _, in := range b.insts {
		old := n.byName[in.cfg.Name]
		if old == nil || old.removed {
			added = append(added, in)
			continue
		}
		n.takeOver(old, in)
		if changed[in.cfg.Name] {
			n.reconfigure(now, old, in, &cfg)
		}
	}

	// Groups: a kept group keeps its state (no notify for it).
	for _, g := range b.groups {
		if og := oldGroups[g.cfg.Name]; og != nil && slices.Contains(plan.GroupsKept, g.cfg.Name) {
			g.state = og.state
		}
	}

	n.cfg = cfg
	n.notifier.timeout = cfg.NotifyTimeout
	n.scripts, n.scriptByName = b.scripts, b.scriptByName
	n.byName, n.groups = b.byName, b.groups
	var insts []*instance
	for _, in := range n.insts {
		if in.removed {
			insts = append(insts, in) // still handing over
		}
	}
	n.insts = append(insts, b.insts...)
	n.replaceTrackers(tk)
	for _, g := range n.groups {
		for _, m := range g.members {
			m.group = g
		}
	}
	for _, in := range b.insts {
		if err := n.join(in); err != nil {
			// The socket refused the group: adverts may not arrive, so the
			// instance will take over. Nothing to undo; say it loudly.
			n.log.Error("VRRP reload: cannot receive multicast adverts", "instance", in.cfg.Name, "err", err)
		}
	}
	for _, name := range append(slices.Clone(plan.ScriptsRestarted), plan.ScriptsAdded...) {
		ts := n.scriptByName[name]
		n.checkScript(ts)
		n.startScript(ts)
	}
	for _, in := range leaving {
		n.apply(in, in.m.Step(now, fsm.Shutdown{}))
	}
	n.startInstances(added, 0)
	n.syncPromote(false)
	n.retrackQuiet(true)
	if cfg.StatesOnReload {
		n.statesOnReload(plan, before)
	}
	n.pruneRemoved()
	n.updateSnapshot()
	return nil
}

// statesOnReload reports the states a reload did not change
// (fifo_write_vrrp_states_on_reload), as keepalived 2.2.7's
// vrrp_init_state does after its reload: every sync group the reload kept
// (a changed one starts over and notifies when it settles), then every
// kept instance still in the state it had, except MASTER (keepalived takes
// a reloaded master's own path there, which writes nothing).
func (n *Node) statesOnReload(plan reloadPlan, before map[string]fsm.State) {
	for _, g := range n.groups {
		if slices.Contains(plan.GroupsKept, g.cfg.Name) && notifiable(g.state) {
			n.notice(Notice{Group: true, Name: g.cfg.Name, Event: NoticeEvent(g.state)})
		}
	}
	for _, in := range n.insts {
		was, kept := before[in.cfg.Name]
		st := in.m.State()
		if in.removed || !kept || slices.Contains(plan.Added, in.cfg.Name) || st != was ||
			st == fsm.Master || !notifiable(st) {
			continue
		}
		n.notice(Notice{Name: in.cfg.Name, Event: NoticeEvent(st), Priority: in.m.EffectivePriority()})
	}
}

// takeOver moves the run-time state of a kept instance to its rebuilt
// object: the state machine (state, timers, addresses held), counters,
// the link state it knows and the results of scripts that kept running.
func (n *Node) takeOver(old, in *instance) {
	in.m = old.m
	in.count = old.count
	in.lastTransition = old.lastTransition
	in.loggedDrop, in.loggedWarn, in.loggedSend, in.loggedGARP = old.loggedDrop, old.loggedWarn, old.loggedSend, old.loggedGARP
	in.routes = old.routes
	in.bindVMAC(old.vmacIndex)
	for name := range in.linkUp {
		if up, ok := old.linkUp[name]; ok {
			in.linkUp[name] = up
			continue
		}
		info, err := n.links.Lookup(name)
		in.linkUp[name] = err == nil && info.Up
	}
	in.tr.takeOver(&old.tr)
	oldScripts := map[string]*trackScript{}
	for _, ts := range old.scripts {
		oldScripts[ts.script.cfg.Name] = ts.script
	}
	for _, ts := range in.scripts {
		name := ts.script.cfg.Name
		if oldScripts[name] == ts.script {
			in.scriptOK[name] = old.scriptOK[name]
		}
	}
	for i, p := range n.pendingHooks {
		if p == old {
			n.pendingHooks[i] = in
		}
	}
}

// reconfigure applies a changed configuration to a kept instance: the
// state machine gets its new parameters, and a master that holds its
// addresses adds the new ones (with gratuitous ARP) and deletes the
// dropped ones. Addresses in both lists are not touched.
func (n *Node) reconfigure(now time.Time, old, in *instance, cfg *Config) {
	n.apply(in, in.m.Reconfigure(now, in.fsmConfig(cfg)))
	if !in.m.HoldsVIPs() {
		return
	}
	type key struct {
		ifindex int
		prefix  netip.Prefix
	}
	had := map[key]boundVIP{}
	for _, v := range old.allVIPs {
		had[key{v.ifindex, v.Prefix}] = v
	}
	keep := map[key]bool{}
	for _, v := range in.allVIPs {
		k := key{v.ifindex, v.Prefix}
		keep[k] = true
		if ov, ok := had[k]; ok && ov == v {
			continue
		}
		// New, or the same address with other attributes (AddAddr replaces).
		if !n.addVIP(in, v) {
			continue
		}
		n.log.Info("VRRP reload: virtual address added", "instance", in.cfg.Name, "vip", v.Prefix)
		n.announce(in, v, in.cfg.GARPRepeat)
	}
	for _, v := range old.allVIPs {
		if keep[key{v.ifindex, v.Prefix}] {
			continue
		}
		if !n.delVIP(in, v) {
			continue
		}
		n.log.Info("VRRP reload: virtual address removed", "instance", in.cfg.Name, "vip", v.Prefix)
	}
	// The routes and rules follow as a diff (keepalived's
	// clear_diff_vrrp_vroutes/vrules, then adding the new ones).
	n.addRoutes(in)
}
