// Package vrrp runs VRRP virtual routers (RFC 3768 VRRPv2 and RFC 5798
// VRRPv3 over IPv4) the way keepalived's vrrp_instance blocks describe them:
// it sends and validates adverts on IP protocol 112, moves the virtual
// addresses with netlink, announces them with gratuitous ARP, tracks
// interfaces and scripts, keeps sync groups together and runs notify
// scripts. It interoperates with keepalived and adds make-before-break
// handover on shutdown and preemption.
//
// The election logic lives in vrrp/fsm (a pure step function) and the wire
// format in vrrp/packet; this package is the runtime around them.
package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// DefaultMcastGroup4 is the IPv4 group of VRRP adverts (RFC 5798).
const DefaultMcastGroup4 = "224.0.0.18"

// Config is the VRRP part of a keepalived.conf.
type Config struct {
	// McastGroup4 is vrrp_mcast_group4 (default 224.0.0.18).
	McastGroup4 netip.Addr
	Scripts     []ScriptConfig
	SyncGroups  []SyncGroupConfig
	Instances   []InstanceConfig
	// ReleaseGrace is how long a master that has seen a new master keeps
	// the addresses (make-before-break). Default 100ms; negative: none.
	ReleaseGrace time.Duration
	// NotifyTimeout bounds every notify script (default 10s).
	NotifyTimeout time.Duration
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
	Version      uint8 // 2 (default) or 3
	AuthType     string
	AuthPass     string
	VIPs         []VIP
	// ExcludedVIPs are added and removed with the VIPs but not advertised.
	ExcludedVIPs []VIP
	Nopreempt    bool
	PreemptDelay time.Duration
	// SrcIP is the advert source (mcast_src_ip / unicast_src_ip); invalid
	// means the first IPv4 address of Interface.
	SrcIP        netip.Addr
	UnicastPeers []netip.Addr
	// DontTrackPrimary keeps Interface going down from causing FAULT.
	DontTrackPrimary  bool
	TrackInterfaces   []TrackInterface
	TrackScripts      []TrackScript
	Notify            NotifyConfig
	GARPRepeat        int           // garp_master_repeat (5)
	GARPDelay         time.Duration // garp_master_delay (5s)
	GARPRefresh       time.Duration // garp_master_refresh (0: off)
	GARPRefreshRepeat int           // garp_master_refresh_repeat (1)
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
}

// ScriptConfig is one vrrp_script.
type ScriptConfig struct {
	Name     string
	Command  string
	Interval time.Duration // default 1s
	Timeout  time.Duration // default Interval
	// Weight is added to the priority while the script succeeds (>0) or
	// while it fails (<0); 0 means a failing script puts trackers in FAULT.
	Weight        int
	WeightReverse bool
	Rise, Fall    int // default 1
	InitFail      bool
}

// SyncGroupConfig is a vrrp_sync_group: its members change state together.
type SyncGroupConfig struct {
	Name      string
	Instances []string
	Notify    NotifyConfig
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid VRRP configuration")

func (c *Config) withDefaults() Config {
	out := *c
	if !out.McastGroup4.IsValid() {
		out.McastGroup4 = netip.MustParseAddr(DefaultMcastGroup4)
	}
	if out.ReleaseGrace == 0 {
		out.ReleaseGrace = 100 * time.Millisecond
	}
	if out.ReleaseGrace < 0 {
		out.ReleaseGrace = 0
	}
	if out.NotifyTimeout <= 0 {
		out.NotifyTimeout = 10 * time.Second
	}
	out.Instances = make([]InstanceConfig, len(c.Instances))
	for i, in := range c.Instances {
		if in.Version == 0 {
			in.Version = 2
		}
		if in.AdvertInt == 0 {
			in.AdvertInt = time.Second
		}
		if in.Priority == 0 {
			in.Priority = 100
		}
		if in.GARPRepeat == 0 {
			in.GARPRepeat = 5
		}
		if in.GARPDelay == 0 {
			in.GARPDelay = 5 * time.Second
		}
		if in.GARPRefreshRepeat == 0 {
			in.GARPRefreshRepeat = 1
		}
		if in.AuthType == "" {
			in.AuthType = AuthNone
			if in.AuthPass != "" {
				in.AuthType = AuthPass
			}
		}
		out.Instances[i] = in
	}
	out.Scripts = make([]ScriptConfig, len(c.Scripts))
	for i, s := range c.Scripts {
		if s.Interval <= 0 {
			s.Interval = time.Second
		}
		if s.Timeout <= 0 {
			s.Timeout = s.Interval
		}
		if s.Rise <= 0 {
			s.Rise = 1
		}
		if s.Fall <= 0 {
			s.Fall = 1
		}
		out.Scripts[i] = s
	}
	return out
}

// Validate reports the first semantic error of the configuration.
func (c *Config) Validate() error {
	cfg := c.withDefaults()
	if !cfg.McastGroup4.Is4() || !cfg.McastGroup4.IsMulticast() {
		return fmt.Errorf("%w: vrrp_mcast_group4 %s is not an IPv4 multicast address", ErrConfig, cfg.McastGroup4)
	}
	scripts := map[string]bool{}
	for _, s := range cfg.Scripts {
		if s.Name == "" || s.Command == "" {
			return fmt.Errorf("%w: vrrp_script needs a name and a script", ErrConfig)
		}
		scripts[s.Name] = true
	}
	names := map[string]bool{}
	type key struct {
		ifname string
		vrid   uint8
	}
	vrids := map[key]string{}
	for _, in := range cfg.Instances {
		where := fmt.Sprintf("vrrp_instance %s", in.Name)
		switch {
		case in.Name == "":
			return fmt.Errorf("%w: vrrp_instance without a name", ErrConfig)
		case names[in.Name]:
			return fmt.Errorf("%w: %s defined twice", ErrConfig, where)
		case in.Interface == "":
			return fmt.Errorf("%w: %s: no interface", ErrConfig, where)
		case in.VRID == 0:
			return fmt.Errorf("%w: %s: virtual_router_id must be 1..255", ErrConfig, where)
		case in.Version != 2 && in.Version != 3:
			return fmt.Errorf("%w: %s: version %d (2 or 3)", ErrConfig, where, in.Version)
		case in.Version == 2 && (in.AdvertInt%time.Second != 0 || in.AdvertInt > 255*time.Second):
			return fmt.Errorf("%w: %s: VRRPv2 advert_int must be whole seconds 1..255, got %v", ErrConfig, where, in.AdvertInt)
		case in.Version == 3 && (in.AdvertInt%(10*time.Millisecond) != 0 || in.AdvertInt > 40950*time.Millisecond):
			return fmt.Errorf("%w: %s: VRRPv3 advert_int must be centiseconds up to 40.95s, got %v", ErrConfig, where, in.AdvertInt)
		case in.AuthType == AuthAH:
			return fmt.Errorf("%w: %s: auth_type AH is not supported (use PASS or none)", ErrConfig, where)
		case in.AuthType != AuthNone && in.AuthType != AuthPass:
			return fmt.Errorf("%w: %s: unknown auth_type %q", ErrConfig, where, in.AuthType)
		case in.AuthType == AuthPass && in.Version == 3:
			return fmt.Errorf("%w: %s: VRRPv3 has no authentication", ErrConfig, where)
		case len(in.VIPs) == 0:
			return fmt.Errorf("%w: %s: no virtual_ipaddress", ErrConfig, where)
		case len(in.VIPs) > 255:
			return fmt.Errorf("%w: %s: more than 255 virtual addresses", ErrConfig, where)
		}
		if in.InitialState != "" && in.InitialState != "MASTER" && in.InitialState != "BACKUP" {
			return fmt.Errorf("%w: %s: state %q (MASTER or BACKUP)", ErrConfig, where, in.InitialState)
		}
		for _, v := range append(append([]VIP(nil), in.VIPs...), in.ExcludedVIPs...) {
			if !v.Prefix.IsValid() || !v.Prefix.Addr().Is4() {
				return fmt.Errorf("%w: %s: virtual address %s: only IPv4 is supported", ErrConfig, where, v.Prefix)
			}
			if _, err := scopeValue(v.Scope); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
			}
		}
		for _, p := range in.UnicastPeers {
			if !p.Is4() {
				return fmt.Errorf("%w: %s: unicast_peer %s is not IPv4", ErrConfig, where, p)
			}
		}
		for _, ts := range in.TrackScripts {
			if !scripts[ts.Name] {
				return fmt.Errorf("%w: %s: track_script %q is not a vrrp_script", ErrConfig, where, ts.Name)
			}
		}
		k := key{in.Interface, in.VRID}
		if other, dup := vrids[k]; dup && len(in.UnicastPeers) == 0 {
			return fmt.Errorf("%w: %s: virtual_router_id %d on %s is already used by %s", ErrConfig, where, in.VRID, in.Interface, other)
		}
		vrids[k] = in.Name
		names[in.Name] = true
	}
	member := map[string]string{}
	for _, g := range cfg.SyncGroups {
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

func scopeValue(s string) (int, error) {
	switch s {
	case "", "global", "universe":
		return 0, nil
	case "site":
		return 200, nil
	case "link":
		return 253, nil
	case "host":
		return 254, nil
	case "nowhere":
		return 255, nil
	}
	return 0, fmt.Errorf("unknown scope %q", s)
}
