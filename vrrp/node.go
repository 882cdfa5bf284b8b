package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/internal/clock"
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
