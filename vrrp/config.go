// Package vrrp runs VRRP virtual routers (RFC 3768 VRRPv2 and RFC 5798
// VRRPv3 over IPv4 and IPv6) the way keepalived's vrrp_instance blocks describe them:
// it sends and validates adverts on IP protocol 112, moves the virtual
// addresses with netlink, announces them with gratuitous ARP (IPv4) or
// unsolicited neighbour advertisements (IPv6), tracks
// interfaces and scripts, keeps sync groups together and runs notify
// scripts. It interoperates with keepalived and adds make-before-break
// handover on shutdown and preemption, live reloads that leave unchanged
// instances alone (Node.Reload), and the repair of VIPs found on an
// interface whose instance is not master (or missing on a master).
//
// The Config comes fully defaulted from the loader (internal/config); this
// package fills in nothing.
//
// The election logic lives in vrrp/fsm (a pure step function) and the wire
// format in vrrp/packet; this package is the runtime around them.
package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/script"
)

// Config is the VRRP part of a keepalived.conf, fully defaulted by the
// loader (internal/config): this package fills in nothing.
type Config struct {
	// McastGroup4 is vrrp_mcast_group4.
	McastGroup4 netip.Addr
	// McastGroup6 is vrrp_mcast_group6, the group of IPv6 instances.
	McastGroup6 netip.Addr
	Scripts     []ScriptConfig
	SyncGroups  []SyncGroupConfig
	Instances   []InstanceConfig
	// ReleaseGrace is how long a master that has seen a new master keeps
	// the addresses (make-before-break); 0: none.
	ReleaseGrace time.Duration
	// NotifyTimeout bounds every notify script.
	NotifyTimeout time.Duration
	// StartupDelay is vrrp_startup_delay: at the node's start, backups
	// wait this long before their master-down timer runs (fsm.Start).
	StartupDelay time.Duration
	// TrackFiles are the track_file (vrrp_track_file) blocks and
	// TrackProcesses the vrrp_track_process blocks (tracking_files.go).
	TrackFiles     []TrackFileConfig
	TrackProcesses []TrackProcessConfig
	// ProcessScan is the period of the /proc scan of TrackProcesses (must
	// be positive when there are any).
	ProcessScan time.Duration
	// StatesOnReload is fifo_write_vrrp_states_on_reload: after a reload,
	// the node reports (WithNotices) the state of every sync group and
	// instance the reload kept without a state change, as keepalived 2.2.7
	// writes them to its FIFOs (vrrp_scheduler.c vrrp_init_state), which
	// leaves out the instances that stay MASTER.
	StatesOnReload bool
}

// Auth types of InstanceConfig.AuthType.
const (
	AuthNone = "NONE"
	AuthPass = "PASS"
	AuthAH   = "AH"
)

// InstanceConfig is one vrrp_instance.
type InstanceConfig struct {
	Name      string
	Interface string
	// InitialState is "MASTER" or "BACKUP"; like keepalived, a MASTER with
	// priority below 255 still starts as BACKUP and wins the election.
	InitialState string
	VRID         uint8
	Priority     uint8
	AdvertInt    time.Duration
	Version      uint8  // 2 or 3
	AuthType     string // AuthNone or AuthPass
	AuthPass     string
	VIPs         []VIP
	// ExcludedVIPs are added and removed with the VIPs but not advertised.
	ExcludedVIPs []VIP
	// Routes and Rules (virtual_routes, virtual_rules) are added after the
	// VIPs on becoming MASTER and removed before them on leaving (routes.go).
	Routes       []netroute.Route
	Rules        []netroute.Rule
	Nopreempt    bool
	PreemptDelay time.Duration
	// DownAdverts, LowerPrioNoAdvert and HigherPrioSendAdvert are the
	// advert tuning of fsm.Config (down_timer_adverts; 0: 3).
	DownAdverts          int
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	// UnicastTTL is the TTL (hop limit) of adverts to unicast peers
	// (unicast_ttl; 0: 255, as multicast adverts always have).
	UnicastTTL uint8
	// PromoteSecondaries sets the interface's promote_secondaries while
	// the instance runs (promote.go).
	PromoteSecondaries bool
	// SrcIP is the advert source (mcast_src_ip / unicast_src_ip); invalid
	// means the first IPv4 address of Interface.
	SrcIP        netip.Addr
	UnicastPeers []netip.Addr
	// VMAC is use_vmac (nil: none; vmac.go).
	VMAC *VMACConfig
	// DontTrackPrimary keeps Interface going down from causing FAULT.
	DontTrackPrimary  bool
	TrackInterfaces   []TrackInterface
	TrackScripts      []TrackScript
	Notify            NotifyConfig
	GARPRepeat        int           // garp_master_repeat
	GARPDelay         time.Duration // garp_master_delay (0: no second burst)
	GARPRefresh       time.Duration // garp_master_refresh (0: off)
	GARPRefreshRepeat int           // garp_master_refresh_repeat
	// GARPLowerPrioRepeat / GARPLowerPrioDelay: bursts when a lower
	// priority advert reaches this MASTER (garp_lower_prio_repeat/delay;
	// 0: none).
	GARPLowerPrioRepeat int
	GARPLowerPrioDelay  time.Duration

	// TrackFiles and TrackProcesses reference track_file and
	// vrrp_track_process blocks (a sync group's are copied to each member).
	TrackFiles     []TrackRef
	TrackProcesses []TrackRef

	// NotifyPriorityChanges reports every change of the effective priority
	// (WithNotices: MASTER_PRIORITY, BACKUP_PRIORITY), as keepalived's
	// notify_priority_changes (the instance's, else its sync group's, else
	// global vrrp_notify_priority_changes).
	NotifyPriorityChanges bool
}

// VIP is one virtual address.
type VIP struct {
	Prefix    netip.Prefix
	Broadcast netip.Addr
	Dev       string // default: the instance interface
	Scope     string // global (default), site, link, host, nowhere
	Label     string
}

// TrackInterface makes the instance FAULT (Weight 0) or changes its
// priority by Weight while the interface is down.
type TrackInterface struct {
	Name   string
	Weight int
}

// TrackScript references a vrrp_script; WeightSet overrides its weight.
type TrackScript struct {
	Name      string
	Weight    int
	WeightSet bool
	Reverse   bool
}

// NotifyConfig holds the command lines run on transitions.
type NotifyConfig struct {
	Master, Backup, Fault, Stop string
	// Any gets "INSTANCE"|"GROUP", the name, the state and the priority appended.
	Any string
	// As holds who runs each script (notify_* "CMD" USER [GROUP],
	// script_user) and whether enable_script_security applies.
	As NotifyAs
}

// NotifyAs is the script.As of each notify script of a NotifyConfig.
type NotifyAs struct {
	Master, Backup, Fault, Stop, Any script.As
}

// ScriptConfig is one vrrp_script.
type ScriptConfig struct {
	Name     string
	Command  string
	Interval time.Duration
	Timeout  time.Duration
	// Weight is added to the priority while the script succeeds (>0) or
	// while it fails (<0); 0 means a failing script puts trackers in FAULT.
	Weight        int
	WeightReverse bool
	Rise, Fall    int
	InitFail      bool
	// As is the vrrp_script's "user" (else script_user) and
	// enable_script_security.
	As script.As
}

// SyncGroupConfig is a vrrp_sync_group: its members change state together.
type SyncGroupConfig struct {
	Name      string
	Instances []string
	Notify    NotifyConfig
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid VRRP configuration")

// Validate checks the invariants the runtime relies on. The Config must
// arrive fully defaulted and validated by the loader (internal/config, which
// reports user mistakes with their file positions); an error here is a
// programming mistake of the caller (a zero interval, a dangling
// reference) or a feature this runtime lacks, never a default to fill.
func (c *Config) Validate() error {
	if !c.McastGroup4.Is4() || !c.McastGroup4.IsMulticast() {
		return fmt.Errorf("%w: vrrp_mcast_group4 %s is not an IPv4 multicast address", ErrConfig, c.McastGroup4)
	}
	if c.ReleaseGrace < 0 {
		return fmt.Errorf("%w: negative release grace %v", ErrConfig, c.ReleaseGrace)
	}
	if c.NotifyTimeout <= 0 {
		return fmt.Errorf("%w: notify timeout %v must be positive", ErrConfig, c.NotifyTimeout)
	}
	if err := c.validateTrackers(); err != nil {
		return err
	}
	scripts := map[string]bool{}
	for _, s := range c.Scripts {
		where := "vrrp_script " + s.Name
		switch {
		case s.Name == "" || s.Command == "":
			return fmt.Errorf("%w: vrrp_script needs a name and a script", ErrConfig)
		case scripts[s.Name]:
			return fmt.Errorf("%w: %s defined twice", ErrConfig, where)
		case s.Interval <= 0 || s.Timeout <= 0:
			return fmt.Errorf("%w: %s: interval %v and timeout %v must be positive", ErrConfig, where, s.Interval, s.Timeout)
		case s.Rise < 1 || s.Fall < 1:
			return fmt.Errorf("%w: %s: rise %d and fall %d must be at least 1", ErrConfig, where, s.Rise, s.Fall)
		}
		scripts[s.Name] = true
	}
	names := map[string]bool{}
	for _, in := range c.Instances {
		if err := in.validate(scripts); err != nil {
			return err
		}
		if in.IPv6() && len(in.UnicastPeers) == 0 && (!c.McastGroup6.Is6() || !c.McastGroup6.IsMulticast()) {
			return fmt.Errorf("%w: vrrp_instance %s: vrrp_mcast_group6 %s is not an IPv6 multicast address", ErrConfig, in.Name, c.McastGroup6)
		}
		if names[in.Name] {
			return fmt.Errorf("%w: vrrp_instance %s defined twice", ErrConfig, in.Name)
		}
		names[in.Name] = true
	}
	member := map[string]string{}
	for _, g := range c.SyncGroups {
		if len(g.Instances) == 0 {
			return fmt.Errorf("%w: vrrp_sync_group %s has no members", ErrConfig, g.Name)
		}
		for _, n := range g.Instances {
			if !names[n] {
				return fmt.Errorf("%w: vrrp_sync_group %s: unknown instance %q", ErrConfig, g.Name, n)
			}
			if other, ok := member[n]; ok {
				return fmt.Errorf("%w: instance %s is in sync groups %s and %s", ErrConfig, n, other, g.Name)
			}
			member[n] = g.Name
		}
	}
	return nil
}

func (in *InstanceConfig) validate(scripts map[string]bool) error {
	where := "vrrp_instance " + in.Name
	switch {
	case in.Name == "":
		return fmt.Errorf("%w: vrrp_instance without a name", ErrConfig)
	case in.Interface == "":
		return fmt.Errorf("%w: %s: no interface", ErrConfig, where)
	case in.VRID == 0:
		return fmt.Errorf("%w: %s: virtual_router_id 0", ErrConfig, where)
	case in.Priority == 0:
		return fmt.Errorf("%w: %s: priority 0", ErrConfig, where)
	case in.Version != 2 && in.Version != 3:
		return fmt.Errorf("%w: %s: version %d (2 or 3)", ErrConfig, where, in.Version)
	case in.AdvertInt <= 0:
		return fmt.Errorf("%w: %s: advert interval %v must be positive", ErrConfig, where, in.AdvertInt)
	case in.Version == 2 && (in.AdvertInt%time.Second != 0 || in.AdvertInt > 255*time.Second):
		return fmt.Errorf("%w: %s: VRRPv2 advert_int must be whole seconds 1..255, got %v", ErrConfig, where, in.AdvertInt)
	case in.Version == 3 && (in.AdvertInt%(10*time.Millisecond) != 0 || in.AdvertInt > 40950*time.Millisecond):
		return fmt.Errorf("%w: %s: VRRPv3 advert_int must be centiseconds up to 40.95s, got %v", ErrConfig, where, in.AdvertInt)
	case in.AuthType != AuthNone && in.AuthType != AuthPass:
		return fmt.Errorf("%w: %s: auth type %q (NONE or PASS)", ErrConfig, where, in.AuthType)
	case in.AuthType == AuthPass && in.Version == 3:
		return fmt.Errorf("%w: %s: VRRPv3 has no authentication", ErrConfig, where)
	case in.GARPRepeat < 1 || in.GARPRefreshRepeat < 1:
		return fmt.Errorf("%w: %s: garp repeats must be at least 1", ErrConfig, where)
	case in.GARPLowerPrioRepeat < 0:
		return fmt.Errorf("%w: %s: negative garp_lower_prio_repeat", ErrConfig, where)
	case in.GARPDelay < 0 || in.GARPRefresh < 0 || in.PreemptDelay < 0 || in.GARPLowerPrioDelay < 0:
		return fmt.Errorf("%w: %s: negative garp delay, garp refresh or preempt delay", ErrConfig, where)
	// Capabilities of this runtime rather than user mistakes: the loader
	// accepts what keepalived accepts.
	case len(in.VIPs) == 0:
		return fmt.Errorf("%w: %s: no virtual_ipaddress", ErrConfig, where)
	case len(in.VIPs) > 255:
		return fmt.Errorf("%w: %s: more than 255 virtual addresses", ErrConfig, where)
	}
	if in.InitialState != "" && in.InitialState != "MASTER" && in.InitialState != "BACKUP" {
		return fmt.Errorf("%w: %s: state %q (MASTER or BACKUP)", ErrConfig, where, in.InitialState)
	}
	v6 := in.IPv6()
	for i, v := range append(append([]VIP(nil), in.VIPs...), in.ExcludedVIPs...) {
		if !v.Prefix.IsValid() || v.Prefix.Addr().Is4In6() {
			return fmt.Errorf("%w: %s: invalid virtual address %s", ErrConfig, where, v.Prefix)
		}
		// One advert carries the addresses of one family; excluded
		// addresses are not advertised and may be of either.
		if i < len(in.VIPs) && v.Prefix.Addr().Is6() != v6 {
			return fmt.Errorf("%w: %s: virtual address %s is not of the family of %s", ErrConfig, where, v.Prefix, in.VIPs[0].Prefix)
		}
		if _, err := scopeValue(v.Scope); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
		}
	}
	if v6 && in.Version != 3 {
		return fmt.Errorf("%w: %s: IPv6 needs VRRP version 3", ErrConfig, where)
	}
	if in.VMAC != nil && (in.VMAC.Name == "" || len(in.VMAC.Name) > 15 || in.VMAC.Name == in.Interface) {
		return fmt.Errorf("%w: %s: VMAC interface name %q (1 to 15 bytes, not the instance's interface)", ErrConfig, where, in.VMAC.Name)
	}
	if in.SrcIP.IsValid() && in.SrcIP.Is6() != v6 {
		return fmt.Errorf("%w: %s: source address %s is not of the family of the virtual addresses", ErrConfig, where, in.SrcIP)
	}
	if err := (netroute.Set{Routes: in.Routes, Rules: in.Rules}).Validate(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
	}
	for _, p := range in.UnicastPeers {
		if !p.IsValid() || p.Is6() != v6 || p.Is4In6() {
			return fmt.Errorf("%w: %s: unicast_peer %s is not of the family of the virtual addresses", ErrConfig, where, p)
		}
	}
	for _, ts := range in.TrackScripts {
		if !scripts[ts.Name] {
			return fmt.Errorf("%w: %s: track_script %q is not a vrrp_script", ErrConfig, where, ts.Name)
		}
	}
	return nil
}

// IPv6 reports whether the instance advertises IPv6 addresses (VRRPv3
// over IPv6); its family is that of its first virtual address.
func (in *InstanceConfig) IPv6() bool {
	return len(in.VIPs) > 0 && in.VIPs[0].Prefix.Addr().Is6()
}

func scopeValue(s string) (int, error) {
	if s == "" {
		return int(netroute.ScopeUniverse), nil
	}
	if sc, ok := netroute.ParseScope(s); ok {
		return int(sc), nil
	}
	return 0, fmt.Errorf("unknown scope %q", s)
}
