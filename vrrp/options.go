package vrrp

import (
	"time"

	"log/slog"
	"os/exec"

	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/internal/clock"
	"github.com/lvsctl/lvsctl/internal/netroute"
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
	notices   func(Notice)
	start     func(*exec.Cmd) error
	vipResync time.Duration
	routes    netroute.Kernel
	procs     ProcLister
	vmacs     VMACs
	conf      IfaceSysctls
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

// WithNotices calls fn (from the node's goroutine; it must not block) with
// every line keepalived 2.2.7 would write to its notify FIFOs
// (vrrp/vrrp_notify.c notify_fifo), at the moment it would write it: an
// instance's or sync group's new state where its notify scripts run, an
// instance's new effective priority (InstanceConfig.NotifyPriorityChanges)
// and, after a reload, the states that did not change
// (Config.StatesOnReload).
func WithNotices(fn func(Notice)) Option { return func(o *options) { o.notices = fn } }

// withStarter replaces how scripts are started (tests).
func withStarter(s func(*exec.Cmd) error) Option { return func(o *options) { o.start = s } }

// WithVMACs replaces the creation of VMAC interfaces (use_vmac).
func WithVMACs(v VMACs) Option { return func(o *options) { o.vmacs = v } }

// WithIfaceSysctls replaces the interface sysctls (promote_secondaries;
// default: /proc/sys in the node's namespace).
func WithIfaceSysctls(c IfaceSysctls) Option { return func(o *options) { o.conf = c } }

// WithProcLister replaces the /proc reader of vrrp_track_process
// (default ListProcs).
func WithProcLister(l ProcLister) Option { return func(o *options) { o.procs = l } }

// WithVIPResync sets how often the node checks that the interfaces carry
// exactly the virtual addresses its instances hold (default
// DefaultVIPResync, 5s): it removes VIPs of instances that are not master,
// whoever added them, and re-adds (with gratuitous ARP) VIPs a master lost.
// The same check runs at start and on every transition to BACKUP or FAULT;
// d < 0 turns only the periodic check off.
func WithVIPResync(d time.Duration) Option { return func(o *options) { o.vipResync = d } }
