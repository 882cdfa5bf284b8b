package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/internal/clock"
	"github.com/lvsctl/lvsctl/internal/script"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
	"github.com/lvsctl/lvsctl/vrrp/packet"
)

// Option customises a Node (kernel-facing parts, clock, logger).
type Option func(*options)

type options struct {
	log       *slog.Logger
	clock     clock.Clock
	transport Transport
	addrs     AddrManager
	announcer Announcer
	links     Links
	handle    *netlink.Handle
	onChange  func(InstanceStatus)
	start     func(*exec.Cmd) error
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock (default: the system clock).
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithTransport replaces the IP protocol 112 socket.
func WithTransport(t Transport) Option { return func(o *options) { o.transport = t } }

// WithAddrManager replaces the netlink address manager.
func WithAddrManager(a AddrManager) Option { return func(o *options) { o.addrs = a } }

// WithAnnouncer replaces the gratuitous ARP sender.
func WithAnnouncer(a Announcer) Option { return func(o *options) { o.announcer = a } }

// WithLinks replaces the interface lookup and link monitor.
func WithLinks(l Links) Option { return func(o *options) { o.links = l } }

// WithNetlinkHandle makes the default address manager and link lookup use
// h (e.g. netlink.NewHandleAt(ns)) instead of a handle opened in the
// calling thread's namespace.
func WithNetlinkHandle(h *netlink.Handle) Option { return func(o *options) { o.handle = h } }

// WithTransitionHook calls fn (from the node's goroutine, once Status
// reflects the change; it must not block) after every state change of an
// instance.
func WithTransitionHook(fn func(InstanceStatus)) Option {
	return func(o *options) { o.onChange = fn }
}

// withStarter replaces how scripts are started (tests).
func withStarter(s func(*exec.Cmd) error) Option { return func(o *options) { o.start = s } }

// Node runs a set of VRRP instances.
type Node struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock
	tr    Transport
	addrs AddrManager
	arp   Announcer
	links Links
	// run runs notify and track scripts inside the node's namespace.
	run  script.Runner
	hook func(InstanceStatus)

	closers []func()

	insts   []*instance
	byName  map[string]*instance
	groups  []*syncGroup
	scripts []*trackScript

	notifier     *notifier
	pendingHooks []*instance

	mu       sync.Mutex
	snapshot []InstanceStatus
	ran      bool
}

// New prepares a node: it checks the configuration, resolves interfaces
// and opens the kernel-facing handles in the calling thread's network
// namespace (call it inside the namespace, e.g. from lab's Host.Do, or
// inject handles with the options). Nothing is changed on the host until Run.
func New(cfg Config, opts ...Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.Default(), clock: clock.System{}}
	for _, opt := range opts {
		opt(&o)
	}
	n := &Node{cfg: cfg, log: o.log, clock: o.clock, hook: o.onChange, byName: map[string]*instance{}}
	ok := false
	defer func() {
		if !ok {
			n.close()
		}
	}()
	var ns *nsHandle
	if o.transport == nil || o.announcer == nil || o.links == nil || o.addrs == nil || o.start == nil {
		var err error
		if ns, err = currentNS(); err != nil {
			return nil, err
		}
		n.closers = append(n.closers, ns.close)
	}
	if o.start == nil {
		o.start = func(c *exec.Cmd) error { return ns.do(c.Start) }
	}
	n.run = script.Runner{Start: o.start}
	if o.addrs == nil || o.links == nil || o.announcer == nil {
		h := o.handle
		if h == nil {
			var err error
			if h, err = netlink.NewHandleAt(ns.ns); err != nil {
				return nil, fmt.Errorf("netlink handle: %w", err)
			}
			n.closers = append(n.closers, h.Close)
		}
		sys := &netlinkSystem{h: h, ns: ns, log: o.log}
		if o.addrs == nil {
			o.addrs = sys
		}
		if o.links == nil {
			o.links = sys
		}
		if o.announcer == nil {
			a := &arpAnnouncer{h: h, ns: ns, clients: map[int]*arpClient{}}
			n.closers = append(n.closers, a.close)
			o.announcer = a
		}
	}
	if o.transport == nil {
		t, err := openRawTransport()
		if err != nil {
			return nil, err
		}
		o.transport = t
	}
	n.tr, n.addrs, n.arp, n.links = o.transport, o.addrs, o.announcer, o.links

	scripts := map[string]*trackScript{}
	for _, sc := range n.cfg.Scripts {
		ts, err := newTrackScript(sc)
		if err != nil {
			return nil, fmt.Errorf("%w: vrrp_script %s: %w", ErrConfig, sc.Name, err)
		}
		scripts[sc.Name] = ts
		n.scripts = append(n.scripts, ts)
	}
	for _, ic := range n.cfg.Instances {
		in, err := n.newInstance(ic, scripts)
		if err != nil {
			return nil, err
		}
		n.insts = append(n.insts, in)
		n.byName[in.cfg.Name] = in
	}
	for _, gc := range n.cfg.SyncGroups {
		g := &syncGroup{cfg: gc, state: fsm.Init}
		var err error
		if g.notify, err = parseNotify(gc.Notify); err != nil {
			return nil, fmt.Errorf("%w: vrrp_sync_group %s: %w", ErrConfig, gc.Name, err)
		}
		for _, name := range gc.Instances {
			in := n.byName[name]
			in.group = g
			g.members = append(g.members, in)
		}
		n.groups = append(n.groups, g)
	}
	for _, ts := range n.scripts {
		if err := ts.cmd.Check(); err != nil {
			ts.problem = fmt.Sprintf("vrrp_script %s: %v (counts as failing)", ts.cfg.Name, err)
			n.log.Error("track script cannot run; it counts as failing", "script", ts.cfg.Name, "err", err)
		}
	}
	n.updateSnapshot()
	ok = true
	return n, nil
}

// Close releases the sockets and handles of a node whose Run was never
// called (Run releases them itself when it returns). It changes nothing on
// the host.
func (n *Node) Close() error {
	n.mu.Lock()
	ran := n.ran
	n.ran = true
	n.mu.Unlock()
	if !ran {
		n.close()
	}
	return nil
}

func (n *Node) close() {
	if n.tr != nil {
		_ = n.tr.Close()
	}
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}

type nodeEvent struct {
	rx     *rxEvent
	link   *LinkUpdate
	script *scriptResult
	// resync asks for every tracked interface to be looked up again, after
	// a gap in the link subscription in which changes may have been missed.
	resync bool
}

// Retry delays for a failing socket and a lost link subscription.
const (
	receiveRetry       = 100 * time.Millisecond
	linkResubscribeMin = 250 * time.Millisecond
	linkResubscribeMax = 10 * time.Second
)

type rxEvent struct {
	b    []byte
	meta RecvMeta
}

// Run runs the instances until ctx ends, then hands over: masters send a
// priority-0 advert and keep their addresses until a new master is heard
// (or the master-down interval passes), every instance runs notify_stop,
// and Run returns once all addresses are removed. Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.ran {
		n.mu.Unlock()
		return errors.New("vrrp: Node.Run called twice or after Close")
	}
	n.ran = true
	n.mu.Unlock()
	defer n.close()

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	events := make(chan nodeEvent, 256)
	var wg sync.WaitGroup

	joined := map[int]bool{}
	for _, in := range n.insts {
		if len(in.cfg.UnicastPeers) == 0 && !joined[in.ifindex] {
			if err := n.tr.Join(in.ifindex, n.cfg.McastGroup4); err != nil {
				return err
			}
			joined[in.ifindex] = true
		}
	}
	linkCh, err := n.links.Subscribe(bg)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			k, meta, err := n.tr.Receive(buf)
			if err != nil {
				if bg.Err() != nil {
					return
				}
				n.log.Warn("VRRP receive failed", "err", err)
				if !n.sleep(bg, receiveRetry) {
					return
				}
				continue
			}
			ev := nodeEvent{rx: &rxEvent{b: append([]byte(nil), buf[:k]...), meta: meta}}
			select {
			case events <- ev:
			case <-bg.Done():
				return
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.watchLinks(bg, linkCh, events)
	}()
	for _, ts := range n.scripts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts.loop(bg, n.run, n.clock, n.log, func(r scriptResult) {
				select {
				case events <- nodeEvent{script: &r}:
				case <-bg.Done():
				}
			})
		}()
	}
	notifier := newNotifier(n.run, n.log, n.cfg.NotifyTimeout)
	wg.Add(1)
	go func() {
		defer wg.Done()
		notifier.loop()
	}()
	n.notifier = notifier

	// Initial tracking state before leaving INIT.
	for _, in := range n.insts {
		n.refreshTracking(in)
	}
	for _, in := range n.insts {
		n.apply(in, in.m.Step(n.clock.Now(), fsm.SetPriority{Priority: in.effectivePriority()}))
		n.apply(in, in.m.Step(n.clock.Now(), fsm.SetFault{Fault: n.combinedFault(in)}))
		n.apply(in, in.m.Step(n.clock.Now(), fsm.Start{}))
	}
	n.pullGroups()
	n.updateSnapshot()

	done := ctx.Done()
	for {
		if done == nil && n.allStopped() {
			break
		}
		var timerC <-chan time.Time
		stopTimer := func() bool { return false }
		if dl, ok := n.nextDeadline(); ok {
			t := n.clock.NewTimer(dl.Sub(n.clock.Now()))
			timerC, stopTimer = t.C(), t.Stop
		}
		select {
		case <-done:
			done = nil
			n.log.Info("VRRP shutting down")
			for _, in := range n.insts {
				n.apply(in, in.m.Step(n.clock.Now(), fsm.Shutdown{}))
			}
		case ev := <-events:
			switch {
			case ev.rx != nil:
				n.receive(ev.rx)
			case ev.link != nil:
				n.linkChanged(*ev.link)
			case ev.script != nil:
				n.scriptChanged(*ev.script)
			case ev.resync:
				n.resyncLinks()
			}
		case <-timerC:
		}
		stopTimer()
		now := n.clock.Now()
		for _, in := range n.insts {
			if dl, ok := in.m.Deadline(); ok && !now.Before(dl) {
				n.apply(in, in.m.Step(now, fsm.Tick{}))
			}
		}
		n.updateSnapshot()
	}
	stopBG()
	_ = n.tr.Close()
	notifier.close()
	wg.Wait()
	n.updateSnapshot()
	return nil
}

// sleep waits d on the node's clock; false when ctx ended first.
func (n *Node) sleep(ctx context.Context, d time.Duration) bool {
	t := n.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

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

func (n *Node) allStopped() bool {
	for _, in := range n.insts {
		if in.m.State() != fsm.Stopped {
			return false
		}
	}
	return true
}

func (n *Node) nextDeadline() (time.Time, bool) {
	var best time.Time
	for _, in := range n.insts {
		if dl, ok := in.m.Deadline(); ok && (best.IsZero() || dl.Before(best)) {
			best = dl
		}
	}
	return best, !best.IsZero()
}

func (n *Node) receive(rx *rxEvent) {
	if len(rx.b) < 2 {
		return
	}
	in := n.lookup(rx.meta.IfIndex, rx.b[1], rx.meta.Src)
	if in == nil {
		return
	}
	if rx.meta.Src == in.src {
		in.count.drop(DropOwn)
		return
	}
	p, reason, warns, err := checkAdvert(&in.pol, rx.b, rx.meta)
	if reason != "" {
		in.count.drop(reason)
		if !in.loggedDrop[reason] {
			in.loggedDrop[reason] = true
			n.log.Warn("dropping VRRP packet (logged once per reason)", "instance", in.cfg.Name, "from", rx.meta.Src, "reason", string(reason), "err", err)
		}
		return
	}
	in.count.AdvertsReceived++
	for _, w := range warns {
		in.count.warn(w)
		if !in.loggedWarn[w] {
			in.loggedWarn[w] = true
			n.log.Warn("VRRP advert accepted with a mismatch (logged once)", "instance", in.cfg.Name, "from", rx.meta.Src, "warning", string(w))
		}
	}
	n.apply(in, in.m.Step(n.clock.Now(), fsm.Advert{Src: rx.meta.Src, Priority: p.Priority, AdvertInt: p.AdvertInt}))
}

func (n *Node) lookup(ifindex int, vrid uint8, src netip.Addr) *instance {
	var unicast *instance
	for _, in := range n.insts {
		if in.cfg.VRID != vrid {
			continue
		}
		if in.ifindex == ifindex {
			return in
		}
		for _, p := range in.cfg.UnicastPeers {
			if p == src {
				unicast = in
			}
		}
	}
	return unicast
}

// apply performs the actions of one step, in order.
func (n *Node) apply(in *instance, acts []fsm.Action) {
	for _, a := range acts {
		switch a.Kind {
		case fsm.SendAdvert:
			n.sendAdvert(in, a.Priority)
		case fsm.AddVIPs:
			for _, v := range in.allVIPs {
				if err := n.addrs.AddAddr(v.ifindex, v.VIP); err != nil {
					in.count.VIPErrors++
					n.log.Error("cannot add virtual address", "instance", in.cfg.Name, "vip", v.Prefix, "err", err)
				}
			}
		case fsm.RemoveVIPs:
			for _, v := range in.allVIPs {
				if err := n.addrs.DelAddr(v.ifindex, v.VIP); err != nil {
					in.count.VIPErrors++
					n.log.Error("cannot remove virtual address", "instance", in.cfg.Name, "vip", v.Prefix, "err", err)
				}
			}
		case fsm.SendGARP:
			for range a.Count {
				for _, v := range in.allVIPs {
					if err := n.arp.Announce(v.ifindex, v.Prefix.Addr()); err != nil {
						in.count.GARPErrors++
						if !in.loggedGARP {
							in.loggedGARP = true
							n.log.Warn("gratuitous ARP failed (logged once)", "instance", in.cfg.Name, "vip", v.Prefix, "err", err)
						}
					} else {
						in.count.GARPsSent++
					}
				}
			}
		case fsm.Transition:
			n.transitioned(in, a)
		}
	}
}

func (n *Node) sendAdvert(in *instance, prio uint8) {
	p := &packet.Packet{
		Version:   in.cfg.Version,
		VRID:      in.cfg.VRID,
		Priority:  prio,
		AdvertInt: in.cfg.AdvertInt,
		Addresses: in.advertAddrs,
	}
	if in.cfg.Version == 2 && in.cfg.AuthType == AuthPass {
		p.AuthType = packet.AuthSimple
		p.AuthData = packet.PaddedPassword(in.cfg.AuthPass)
	}
	for _, dst := range in.dsts {
		b, err := p.Marshal(in.src, dst)
		if err == nil {
			err = n.tr.Send(in.ifindex, in.src, dst, b)
		}
		if err != nil {
			in.count.SendErrors++
			if !in.loggedSend {
				in.loggedSend = true
				n.log.Warn("cannot send VRRP advert (logged once)", "instance", in.cfg.Name, "to", dst, "err", err)
			}
			continue
		}
		in.count.AdvertsSent++
	}
}

func (n *Node) transitioned(in *instance, a fsm.Action) {
	in.count.Transitions++
	in.lastTransition = n.clock.Now()
	n.log.Info("VRRP state change", "instance", in.cfg.Name, "from", a.From.String(), "to", a.To.String(), "cause", a.Cause.String(), "priority", in.m.EffectivePriority(), "master", in.m.MasterAddr())
	in.notify.run(n.notifier, "INSTANCE", in.cfg.Name, a.To, in.m.EffectivePriority())
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
// changes state: FAULT if any member is, MASTER/BACKUP when all are.
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
	// keepalived sends STOP to instances only.
	if st == g.state || st == fsm.Init || st == fsm.Stopped {
		return
	}
	g.state = st
	n.log.Info("VRRP sync group state change", "group", g.cfg.Name, "to", st.String())
	g.notify.run(n.notifier, "GROUP", g.cfg.Name, st, 0)
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

// retrack recomputes priority and fault of every instance (and its group).
func (n *Node) retrack() {
	now := n.clock.Now()
	for _, in := range n.insts {
		n.apply(in, in.m.Step(now, fsm.SetPriority{Priority: in.effectivePriority()}))
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

// instance is one vrrp_instance at run time.
type instance struct {
	cfg         InstanceConfig
	m           *fsm.Machine
	pol         rxPolicy
	ifindex     int
	src         netip.Addr
	dsts        []netip.Addr
	advertAddrs []netip.Addr
	allVIPs     []boundVIP
	group       *syncGroup
	notify      notifySet
	scripts     []trackedScript
	linkUp      map[string]bool
	ifWeights   map[string]int
	scriptOK    map[string]bool
	problems    []string

	count          Counters
	lastTransition time.Time
	loggedDrop     map[DropReason]bool
	loggedWarn     map[Warning]bool
	loggedSend     bool
	loggedGARP     bool
}

type boundVIP struct {
	VIP
	ifindex int
}

type trackedScript struct {
	script  *trackScript
	weight  int
	reverse bool
}

func (n *Node) newInstance(ic InstanceConfig, scripts map[string]*trackScript) (*instance, error) {
	where := "vrrp_instance " + ic.Name
	info, err := n.links.Lookup(ic.Interface)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	in := &instance{
		cfg:        ic,
		ifindex:    info.Index,
		src:        ic.SrcIP,
		linkUp:     map[string]bool{},
		ifWeights:  map[string]int{},
		scriptOK:   map[string]bool{},
		loggedDrop: map[DropReason]bool{},
		loggedWarn: map[Warning]bool{},
		count:      Counters{Drops: map[DropReason]uint64{}, Warnings: map[Warning]uint64{}},
	}
	vipSet := map[netip.Addr]bool{}
	for _, v := range ic.VIPs {
		vipSet[v.Prefix.Addr()] = true
		in.advertAddrs = append(in.advertAddrs, v.Prefix.Addr())
	}
	if !in.src.IsValid() {
		for _, p := range info.Addrs {
			if !vipSet[p.Addr()] {
				in.src = p.Addr()
				break
			}
		}
	}
	if !in.src.IsValid() {
		return nil, fmt.Errorf("%s: interface %s has no IPv4 address to send adverts from", where, ic.Interface)
	}
	for _, v := range append(append([]VIP(nil), ic.VIPs...), ic.ExcludedVIPs...) {
		idx := in.ifindex
		if v.Dev != "" && v.Dev != ic.Interface {
			di, err := n.links.Lookup(v.Dev)
			if err != nil {
				return nil, fmt.Errorf("%s: virtual address %s: %w", where, v.Prefix, err)
			}
			idx = di.Index
		}
		in.allVIPs = append(in.allVIPs, boundVIP{VIP: v, ifindex: idx})
	}
	in.dsts = ic.UnicastPeers
	if len(in.dsts) == 0 {
		in.dsts = []netip.Addr{n.cfg.McastGroup4}
	}
	in.pol = rxPolicy{version: ic.Version, advertInt: ic.AdvertInt, unicast: len(ic.UnicastPeers) > 0, vips: in.advertAddrs}
	if ic.AuthType == AuthPass {
		in.pol.authType = packet.AuthSimple
		in.pol.authData = packet.PaddedPassword(ic.AuthPass)
	}
	if !ic.DontTrackPrimary {
		in.linkUp[ic.Interface] = info.Up
		in.ifWeights[ic.Interface] = 0
	}
	for _, ti := range ic.TrackInterfaces {
		in.linkUp[ti.Name] = false
		in.ifWeights[ti.Name] = ti.Weight
	}
	for _, tr := range ic.TrackScripts {
		s := scripts[tr.Name]
		w := s.cfg.Weight
		if tr.WeightSet {
			w = tr.Weight
		}
		in.scripts = append(in.scripts, trackedScript{script: s, weight: w, reverse: tr.Reverse != s.cfg.WeightReverse})
		in.scriptOK[tr.Name] = !s.cfg.InitFail
	}
	if in.notify, err = parseNotify(ic.Notify); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
	}
	in.problems = append(in.problems, in.notify.problems...)
	for _, p := range in.notify.problems {
		n.log.Error("notify script cannot run; VRRP continues without it", "instance", ic.Name, "problem", p)
	}
	in.m = fsm.New(fsm.Config{
		Version:           ic.Version,
		Priority:          ic.Priority,
		AdvertInt:         ic.AdvertInt,
		Nopreempt:         ic.Nopreempt,
		PreemptDelay:      ic.PreemptDelay,
		LocalAddr:         in.src,
		GARPRepeat:        ic.GARPRepeat,
		GARPDelay:         ic.GARPDelay,
		GARPRefresh:       ic.GARPRefresh,
		GARPRefreshRepeat: ic.GARPRefreshRepeat,
		ReleaseGrace:      n.cfg.ReleaseGrace,
	})
	return in, nil
}

// ownFault: the primary interface or a weight-0 tracked interface is down,
// or a weight-0 script fails.
func (in *instance) ownFault() bool {
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
	return uint8(max(1, min(254, p)))
}

type syncGroup struct {
	cfg     SyncGroupConfig
	members []*instance
	notify  notifySet
	state   fsm.State
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
	Drops           map[DropReason]uint64
	Warnings        map[Warning]uint64
}

func (c *Counters) drop(r DropReason) { c.Drops[r]++ }
func (c *Counters) warn(w Warning)    { c.Warnings[w]++ }

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

// notifySet is the parsed notify scripts of an instance or group.
type notifySet struct {
	master, backup, fault, stop, any *script.Command
	problems                         []string
}

func parseNotify(c NotifyConfig) (notifySet, error) {
	var s notifySet
	for _, e := range []struct {
		kw   string
		text string
		dst  **script.Command
	}{
		{"notify_master", c.Master, &s.master},
		{"notify_backup", c.Backup, &s.backup},
		{"notify_fault", c.Fault, &s.fault},
		{"notify_stop", c.Stop, &s.stop},
		{"notify", c.Any, &s.any},
	} {
		if e.text == "" {
			continue
		}
		cmd, err := script.Parse(e.text)
		if err != nil {
			return s, fmt.Errorf("%s: %w", e.kw, err)
		}
		if err := cmd.Check(); err != nil {
			s.problems = append(s.problems, fmt.Sprintf("%s %q: %v", e.kw, e.text, err))
		}
		*e.dst = &cmd
	}
	return s, nil
}

func (s *notifySet) run(nt *notifier, kind, name string, to fsm.State, prio uint8) {
	if nt == nil {
		return
	}
	var specific *script.Command
	switch to {
	case fsm.Master:
		specific = s.master
	case fsm.Backup:
		specific = s.backup
	case fsm.Fault:
		specific = s.fault
	case fsm.Stopped:
		specific = s.stop
	default:
		return
	}
	if specific != nil {
		nt.enqueue(*specific, nil)
	}
	if s.any != nil {
		nt.enqueue(*s.any, []string{kind, name, to.String(), strconv.Itoa(int(prio))})
	}
}

// notifier runs notify scripts one after the other, in transition order.
type notifier struct {
	run     script.Runner
	log     *slog.Logger
	timeout time.Duration
	queue   chan notifyJob
}

type notifyJob struct {
	cmd   script.Command
	extra []string
}

func newNotifier(run script.Runner, log *slog.Logger, timeout time.Duration) *notifier {
	return &notifier{run: run, log: log, timeout: timeout, queue: make(chan notifyJob, 256)}
}

func (nt *notifier) enqueue(c script.Command, extra []string) {
	select {
	case nt.queue <- notifyJob{cmd: c, extra: extra}:
	default:
		nt.log.Error("notify queue full; script skipped", "script", c.Line)
	}
}

func (nt *notifier) loop() {
	for job := range nt.queue {
		if err := nt.run.Run(context.Background(), job.cmd, nt.timeout, job.extra...); err != nil {
			nt.log.Warn("notify script failed", "script", job.cmd.Line, "args", job.extra, "err", err)
		}
	}
}

func (nt *notifier) close() { close(nt.queue) }
