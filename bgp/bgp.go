// Package bgp announces a director's VIPs to routers over BGP, so several
// directors can serve the same VIP active-active behind an ECMP route.
//
// It is export-only: every VIP is announced as a host route (/32, /128)
// with next-hop self, nothing learned from a peer is accepted, and the
// speaker listens on port 179 only when a neighbor is passive.
//
// The package follows the shape of vrrp/fsm and the health scheduler: Decide
// is a pure function from the VIPs' health and the lifecycle phase to the
// routes that should be on the wire, and Runtime is a thin layer that makes
// a Speaker (GoBGP in production, a recording fake in tests) match it.
// Announcements are health-gated (a VIP is announced while one of its
// services has quorum) and withdrawn make-before-break: on drain or stop
// the routes are first re-announced with the GRACEFUL_SHUTDOWN community
// (RFC 8326) and LOCAL_PREF 0, the director keeps forwarding for the drain
// time while the routers move their traffic, and only then are they
// withdrawn.
package bgp

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// CommunityGracefulShutdown is GRACEFUL_SHUTDOWN (RFC 8326, 65535:0):
// routers that honour it lower the route's preference at once.
const CommunityGracefulShutdown uint32 = 0xFFFF0000

// Config is the bgp block of a configuration, every default applied by the
// loader.
type Config struct {
	RouterID netip.Addr
	LocalAS  uint32
	// ListenPort is where the speaker accepts sessions; -1: it does not
	// listen (the loader sets 179 only when a neighbor is passive).
	ListenPort int32
	Neighbors  []Neighbor
	// ShutdownDrain is how long the routes stay announced with the
	// graceful-shutdown community before they are withdrawn on stop.
	ShutdownDrain time.Duration
	// WithdrawGrace is how long Stop still waits after the withdrawal
	// before it returns (and the caller removes IPVS): a router takes
	// about 0.1 s to update its FIB, and packets already on their way must
	// still find the service, else this director's own stack resets them.
	WithdrawGrace time.Duration
	// SloppyTCP sets net.ipv4.vs.sloppy_tcp=1 while VIPs are announced, so
	// a director takes over mid-flow connections another one started.
	SloppyTCP bool
}

// Neighbor is one BGP peer.
type Neighbor struct {
	Addr     netip.Addr
	RemoteAS uint32
	// HoldTime and Keepalive are whole seconds (BGP's granularity).
	HoldTime  time.Duration
	Keepalive time.Duration
	// ConnectRetry is how often an idle session is retried.
	ConnectRetry time.Duration
	// Password enables TCP MD5 (RFC 2385).
	Password string
	// Passive waits for the peer to connect.
	Passive bool
	// Multihop is the TTL for an eBGP peer that is not directly connected
	// (0: directly connected).
	Multihop uint8
	// TTLSecurity is GTSM's hop count (RFC 5082; 0: off).
	TTLSecurity uint8
	// Port is the peer's TCP port (179 unless a test moves it).
	Port uint16
	// LocalAddr is the source address of the session (unset: the kernel's
	// choice).
	LocalAddr netip.Addr
	// Pos is where the block starts in the configuration, for logs.
	Pos string
}

// Phase is the speaker's place in the director's lifecycle.
type Phase uint8

// Phases, in lifecycle order.
const (
	// PhaseRun announces every healthy VIP.
	PhaseRun Phase = iota
	// PhaseDrain announces the healthy VIPs with the graceful-shutdown
	// community, so routers prefer the other directors while this one
	// still forwards what reaches it.
	PhaseDrain
	// PhaseShutdown withdraws everything.
	PhaseShutdown
)

func (p Phase) String() string {
	switch p {
	case PhaseRun:
		return "run"
	case PhaseDrain:
		return "drain"
	case PhaseShutdown:
		return "shutdown"
	}
	return fmt.Sprintf("phase%d", uint8(p))
}

// VIP is one announced address and whether it can be served here.
type VIP struct {
	Prefix netip.Prefix
	// Healthy is true while at least one of the VIP's bgp_announce services
	// has quorum: a router cannot route by port, so a VIP is withdrawn only
	// when this director serves nothing on it.
	Healthy bool
}

// HostPrefix is addr's host route (/32 or /128).
func HostPrefix(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen())
}

// Reason says why a route is in its state.
type Reason string

// Reasons.
const (
	ReasonHealthy  Reason = "healthy"
	ReasonQuorum   Reason = "no-quorum"
	ReasonDrain    Reason = "drain"
	ReasonShutdown Reason = "shutdown"
)

// Route is one prefix as it should be on the wire.
type Route struct {
	Prefix    netip.Prefix
	Announced bool
	// GracefulShutdown announces with the GRACEFUL_SHUTDOWN community and
	// LOCAL_PREF 0.
	GracefulShutdown bool
	Reason           Reason
}

// Decide is the routes for vips in phase, sorted by prefix. It is pure: the
// runtime calls it on every change and applies the difference.
func Decide(vips []VIP, phase Phase) []Route {
	// A prefix listed twice (two services on one VIP) is healthy when any
	// of its entries is.
	healthy := make(map[netip.Prefix]bool, len(vips))
	for _, v := range vips {
		healthy[v.Prefix] = healthy[v.Prefix] || v.Healthy
	}
	out := make([]Route, 0, len(healthy))
	for p, ok := range healthy {
		r := Route{Prefix: p}
		switch {
		case phase == PhaseShutdown:
			r.Reason = ReasonShutdown
		case !ok:
			// Nothing to serve: no reason to keep traffic coming while
			// the routers converge.
			r.Reason = ReasonQuorum
		case phase == PhaseDrain:
			r.Announced, r.GracefulShutdown, r.Reason = true, true, ReasonDrain
		default:
			r.Announced, r.Reason = true, ReasonHealthy
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Route) int { return comparePrefix(a.Prefix, b.Prefix) })
	return out
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// Path is an announcement as a Speaker sends it.
type Path struct {
	Prefix      netip.Prefix
	Communities []uint32
	// LocalPref is sent to iBGP peers; 0 means "do not set" unless
	// GracefulShutdown.
	LocalPref uint32
	// GracefulShutdown means LocalPref 0 is meant (RFC 8326).
	GracefulShutdown bool
}

// PathOf is the announcement for r.
func PathOf(r Route) Path {
	p := Path{Prefix: r.Prefix}
	if r.GracefulShutdown {
		p.Communities = []uint32{CommunityGracefulShutdown}
		p.GracefulShutdown = true
	}
	return p
}
