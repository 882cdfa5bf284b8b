package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/internal/clock"
	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/script"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// Node runs a set of VRRP instances.
type Node struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock
	tr    Transport
	addrs AddrManager
	arp   Announcer
	links Links
	// routes adds and removes the instances' virtual routes and rules
	// (nil when every other kernel part was injected and this one not).
	routes netroute.Kernel
	// vmacs creates the use_vmac interfaces (nil: none can be).
	vmacs VMACs
	// conf sets promote_secondaries (nil: it cannot be, logged);
	// promoted holds the interfaces lvsctl set it on, true where it
	// changed 0 to 1 (promote.go, Run's goroutine only).
	conf     IfaceSysctls
	promoted map[string]bool
	// run runs notify and track scripts inside the node's namespace.
	run  script.Runner
	hook func(InstanceStatus)
	// notices gets the lines of keepalived's notify FIFOs (WithNotices).
	notices func(Notice)

	closers []func()

	// insts holds the running instances and, until they have stopped,
	// instances a reload removed (flagged removed, absent from byName).
	insts        []*instance
	byName       map[string]*instance
	groups       []*syncGroup
	scripts      []*trackScript
	scriptByName map[string]*trackScript
	// tk follows track files and processes (tracking_files.go); procs
	// lists processes for it.
	tk    *nodeTrackers
	procs ProcLister

	notifier     *notifier
	pendingHooks []*instance

	// vipResync is the period of the VIP drift check (<= 0: off);
	// vipResyncAt is its next due time (Run's goroutine only).
	vipResync   time.Duration
	vipResyncAt time.Time

	// Set by Run for the goroutines it starts later (script loops of a
	// reload); used only on Run's goroutine.
	bg     context.Context
	wg     *sync.WaitGroup
	events chan nodeEvent
	joined map[joinKey]bool

	// reloads hands Reload's configurations to Run's goroutine; exited is
	// closed when Run has returned (or Close was called instead).
	reloads    chan reloadRequest
	exited     chan struct{}
	exitedOnce sync.Once

	// unmatched counts received packets that reached no instance, by
	// reason (Run's goroutine writes under mu; Unmatched reads). They have
	// no instance to be counted under, and a flood of them must still show.
	unmatched map[DropReason]uint64
	// loggedUnmatched: each reason is logged once (Run's goroutine only).
	loggedUnmatched map[DropReason]bool

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
	o := options{log: slog.Default(), clock: clock.System{}, vipResync: DefaultVIPResync, procs: ListProcs}
	for _, opt := range opts {
		opt(&o)
	}
	n := &Node{cfg: cfg, log: o.log, clock: o.clock, hook: o.onChange, notices: o.notices, byName: map[string]*instance{},
		reloads: make(chan reloadRequest), exited: make(chan struct{}), vipResync: o.vipResync,
		unmatched: map[DropReason]uint64{}, loggedUnmatched: map[DropReason]bool{}, procs: o.procs}
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
		if o.routes == nil {
			o.routes = netroute.NewNetlink(h)
		}
		if o.vmacs == nil {
			o.vmacs = &netlinkVMACs{h: h, ns: ns, conf: procConf{ns: ns}, log: o.log, parents: map[int]*parentSysctls{}}
		}
		if o.conf == nil {
			o.conf = procConf{ns: ns}
		}
		if o.addrs == nil {
			o.addrs = sys
		}
		if o.links == nil {
			o.links = sys
		}
		if o.announcer == nil {
			a := &arpAnnouncer{h: h, ns: ns, clients: map[int]*arpClient{}}
			nd := &ndpAnnouncer{h: h, ns: ns, router: map[int]bool{}}
			n.closers = append(n.closers, a.close, nd.close)
			o.announcer = familyAnnouncer{v4: a, v6: nd}
		}
	}
	if o.transport == nil {
		need6 := false
		for i := range cfg.Instances {
			need6 = need6 || cfg.Instances[i].IPv6()
		}
		t, err := openRawTransport(need6)
		if err != nil {
			return nil, err
		}
		o.transport = t
	}
	n.tr, n.addrs, n.arp, n.links, n.routes, n.vmacs = o.transport, o.addrs, o.announcer, o.links, o.routes, o.vmacs
	n.conf, n.promoted = o.conf, map[string]bool{}
	if n.conf == nil {
		for i := range cfg.Instances {
			if cfg.Instances[i].PromoteSecondaries {
				return nil, fmt.Errorf("vrrp_instance %s: promote_secondaries needs IfaceSysctls (WithIfaceSysctls) when the kernel parts are injected", cfg.Instances[i].Name)
			}
		}
	}
	if n.vmacs == nil {
		for i := range cfg.Instances {
			if cfg.Instances[i].VMAC != nil {
				return nil, fmt.Errorf("vrrp_instance %s: use_vmac needs VMACs (WithVMACs) when the kernel parts are injected", cfg.Instances[i].Name)
			}
		}
	}

	b, err := n.build(cfg, nil)
	if err != nil {
		return nil, err
	}
	if n.tk, err = prepareTrackers(&cfg, 1); err != nil {
		return nil, err
	}
	n.install(b)
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
		n.exitedOnce.Do(func() { close(n.exited) })
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
	rx     []Packet
	link   *LinkUpdate
	script *scriptResult
	// resync asks for every tracked interface to be looked up again, after
	// a gap in the link subscription in which changes may have been missed.
	resync bool
	track  *trackEvent
}

// Retry delays for a failing socket and a lost link subscription.
const (
	receiveRetry       = 100 * time.Millisecond
	linkResubscribeMin = 250 * time.Millisecond
	linkResubscribeMax = 10 * time.Second
)

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
	defer n.exitedOnce.Do(func() { close(n.exited) })
	defer n.close()

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	events := make(chan nodeEvent, 256)
	var wg sync.WaitGroup
	n.bg, n.wg, n.events, n.joined = bg, &wg, events, map[joinKey]bool{}

	// The VMACs exist before anything joins or sends on them; they go
	// once every instance has stopped (after the handover) or when Run
	// fails.
	if err := n.vmacUp(n.insts); err != nil {
		return err
	}
	defer func() {
		for _, in := range n.insts {
			n.vmacDown(in)
		}
	}()
	// promote_secondaries before the instances run, put back after.
	n.syncPromote(false)
	defer n.syncPromote(true)
	for _, in := range n.insts {
		if err := n.join(in); err != nil {
			return err
		}
	}
	linkCh, err := n.links.Subscribe(bg)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			pkts, err := n.tr.Receive()
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
			ev := nodeEvent{rx: pkts}
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
		n.startScript(ts)
	}
	n.startTrackers(n.tk, false)
	notifier := newNotifier(n.run, n.log, n.cfg.NotifyTimeout)
	wg.Add(1)
	go func() {
		defer wg.Done()
		notifier.loop()
	}()
	n.notifier = notifier

	if d := n.cfg.StartupDelay; d > 0 {
		n.log.Info("delaying VRRP startup: backups take over no earlier than the delay plus their master-down interval", "vrrp_startup_delay", d)
	}
	n.startInstances(n.insts, n.cfg.StartupDelay)
	// VIPs left from an earlier run (or added by hand) go before anyone
	// answers ARP for them twice.
	n.syncVIPs(nil)
	n.scheduleVIPResync(n.clock.Now())
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
				for i := range ev.rx {
					n.receive(&ev.rx[i])
				}
			case ev.link != nil:
				n.linkChanged(*ev.link)
			case ev.script != nil:
				n.scriptChanged(*ev.script)
			case ev.resync:
				n.resyncLinks()
			case ev.track != nil:
				n.trackChanged(*ev.track)
			}
		case req := <-n.reloads:
			if done == nil {
				req.done <- errors.New("vrrp: shutting down, reload refused")
				break
			}
			req.done <- n.reload(req.cfg)
		case <-timerC:
		}
		stopTimer()
		now := n.clock.Now()
		for _, in := range n.insts {
			if dl, ok := in.m.Deadline(); ok && !now.Before(dl) {
				n.apply(in, in.m.Step(now, fsm.Tick{}))
			}
		}
		if !n.vipResyncAt.IsZero() && !now.Before(n.vipResyncAt) {
			if done != nil {
				n.syncVIPs(nil)
			}
			n.scheduleVIPResync(now)
		}
		n.pruneRemoved()
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

func (n *Node) allStopped() bool {
	for _, in := range n.insts {
		if in.m.State() != fsm.Stopped {
			return false
		}
	}
	return true
}

func (n *Node) nextDeadline() (time.Time, bool) {
	best := n.vipResyncAt
	for _, in := range n.insts {
		if dl, ok := in.m.Deadline(); ok && (best.IsZero() || dl.Before(best)) {
			best = dl
		}
	}
	return best, !best.IsZero()
}

type joinKey struct {
	ifindex int
	group   netip.Addr
}

// join subscribes the socket to the multicast group on the instance's
// interface (once per interface and group; a reload may change the group).
func (n *Node) join(in *instance) error {
	group := n.cfg.McastGroup4
	if in.cfg.IPv6() {
		group = n.cfg.McastGroup6
	}
	if len(in.cfg.UnicastPeers) > 0 {
		return nil
	}
	// With a VMAC the adverts of a peer arrive on the VMAC (they come
	// from the shared virtual MAC) or, with its vmac_xmit_base, on the
	// base interface: the group is joined on both.
	for _, ifindex := range []int{in.ifindex, in.vmacIndex} {
		k := joinKey{ifindex, group}
		if ifindex == 0 || n.joined[k] {
			continue
		}
		if err := n.tr.Join(ifindex, group); err != nil {
			return fmt.Errorf("vrrp_instance %s: join %s: %w", in.cfg.Name, group, err)
		}
		n.joined[k] = true
	}
	return nil
}

// startInstances leaves INIT: tracking is read first so that an instance
// whose interface is down starts in FAULT rather than flapping through
// BACKUP. delay is vrrp_startup_delay (at the node's start only, as
// keepalived: not for instances a reload adds).
func (n *Node) startInstances(insts []*instance, delay time.Duration) {
	for _, in := range insts {
		n.refreshTracking(in)
	}
	for _, in := range insts {
		n.apply(in, in.m.Step(n.clock.Now(), fsm.SetPriority{Priority: in.effectivePriority()}))
		n.apply(in, in.m.Step(n.clock.Now(), fsm.SetFault{Fault: n.combinedFault(in)}))
		n.apply(in, in.m.Step(n.clock.Now(), fsm.Start{Delay: delay}))
	}
	n.pullGroups()
}

// startScript runs a track script's loop until the node stops or a reload
// stops the script.
func (n *Node) startScript(ts *trackScript) {
	ctx, cancel := context.WithCancel(n.bg)
	ts.stop = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ts.loop(ctx, n.run, n.clock, n.log, func(r scriptResult) {
			select {
			case n.events <- nodeEvent{script: &r}:
			case <-ctx.Done():
			}
		})
	}()
}

// pruneRemoved forgets instances a reload removed once their handover has
// ended (notify_stop has been queued by then).
func (n *Node) pruneRemoved() {
	keep := n.insts[:0]
	for _, in := range n.insts {
		if !in.removed || in.m.State() != fsm.Stopped {
			keep = append(keep, in)
			continue
		}
		n.vmacDown(in)
	}
	clear(n.insts[len(keep):])
	n.insts = keep
}

func (n *Node) scheduleVIPResync(now time.Time) {
	n.vipResyncAt = time.Time{}
	if n.vipResync > 0 {
		n.vipResyncAt = now.Add(n.vipResync)
	}
}
