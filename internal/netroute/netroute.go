// Package netroute installs the routes, policy rules and addresses that
// keepalived.conf asks for outside the virtual addresses: the top-level
// static_ipaddress, static_routes and static_rules, and the virtual_routes
// and virtual_rules of a vrrp_instance, which follow MASTER like its VIPs.
//
// A Route, a Rule and an Addr are comparable values: each one is its own
// identity, from the configuration to the kernel call that removes it. An
// Owner remembers exactly what it added and moves the kernel from one Set
// to the next as a diff; it never removes what it did not add. The kernel
// is a small interface (Kernel); Netlink implements it with
// vishvananda/netlink, and netroutetest records calls for tests.
//
// keepalived v2.2.7 semantics followed here (keepalived/vrrp/vrrp_iproute.c,
// vrrp_iprule.c, vrrp_ipaddress.c, vrrp_daemon.c, vrrp.c):
//   - routes are added without NLM_F_EXCL (iproute2's "ip route prepend")
//     and carry protocol "keepalived" (18) unless the line names another;
//   - rules are added with NLM_F_EXCL;
//   - addresses are added first, then routes, then rules; removal runs in
//     the reverse order (rules, routes, addresses).
package netroute

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kernel routing tables and protocols named in the configuration.
const (
	TableDefault uint32 = 253
	TableMain    uint32 = 254
	TableLocal   uint32 = 255
	// ProtoKeepalived is RTPROT_KEEPALIVED: keepalived marks its routes
	// with it, and so does lvsctl (ip route shows "proto keepalived").
	ProtoKeepalived uint8 = 18
)

// Scope is a route or address scope (the kernel's RT_SCOPE_* values).
type Scope uint8

// Scopes.
const (
	ScopeUniverse Scope = 0
	ScopeSite     Scope = 200
	ScopeLink     Scope = 253
	ScopeHost     Scope = 254
	ScopeNowhere  Scope = 255
)

// ParseScope reads a scope name as ip(8) and keepalived write it
// ("global" and "universe" are the same scope).
func ParseScope(name string) (Scope, bool) {
	switch name {
	case "global", "universe":
		return ScopeUniverse, true
	case "site":
		return ScopeSite, true
	case "link":
		return ScopeLink, true
	case "host":
		return ScopeHost, true
	case "nowhere":
		return ScopeNowhere, true
	}
	return 0, false
}

func (s Scope) String() string {
	switch s {
	case ScopeUniverse:
		return "global"
	case ScopeSite:
		return "site"
	case ScopeLink:
		return "link"
	case ScopeHost:
		return "host"
	case ScopeNowhere:
		return "nowhere"
	}
	return strconv.Itoa(int(s))
}

// RouteType is the kind of a route.
type RouteType uint8

// Route types.
const (
	Unicast RouteType = iota
	Blackhole
	Unreachable
	Prohibit
	Throw
)

func (t RouteType) String() string {
	switch t {
	case Unicast:
		return "unicast"
	case Blackhole:
		return "blackhole"
	case Unreachable:
		return "unreachable"
	case Prohibit:
		return "prohibit"
	case Throw:
		return "throw"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Route is one static_routes or virtual_routes line, fully defaulted by
// internal/config (Table, Protocol). It is comparable: the value is the
// route's identity.
type Route struct {
	Dst      netip.Prefix
	Type     RouteType
	Via      netip.Addr
	Dev      string
	Src      netip.Addr
	Metric   uint32
	Table    uint32
	Scope    Scope
	Protocol uint8
	TOS      uint8
	OnLink   bool
	// NextHops are the paths of a multipath route (keepalived's "nexthop"
	// and deprecated "or" forms); a multipath route has no Via or Dev of
	// its own.
	NextHops NextHops
}

// MaxNextHops is how many paths one multipath route may have in lvsctl
// (keepalived has no limit; the array keeps Route comparable).
const MaxNextHops = 16

// NextHop is one path of a multipath route.
type NextHop struct {
	Via netip.Addr
	Dev string
	// Weight is the path's share, 1..256 (ip-route's "weight"; the kernel
	// stores Weight-1 in rtnh_hops).
	Weight uint16
	OnLink bool
}

// NextHops holds a multipath route's paths in order; the entries after
// the last path are zero. Build it with MakeNextHops.
type NextHops [MaxNextHops]NextHop

// MakeNextHops packs hops (at most MaxNextHops).
func MakeNextHops(hops []NextHop) (NextHops, error) {
	var h NextHops
	if len(hops) > MaxNextHops {
		return h, fmt.Errorf("%d next hops: lvsctl programs at most %d in one route", len(hops), MaxNextHops)
	}
	copy(h[:], hops)
	return h, nil
}

// List returns the paths (nil for a single-path route).
func (h NextHops) List() []NextHop {
	n := 0
	for n < len(h) && h[n] != (NextHop{}) {
		n++
	}
	if n == 0 {
		return nil
	}
	return h[:n:n]
}

// MarshalJSON writes the paths only (the desired state's JSON and hash).
func (h NextHops) MarshalJSON() ([]byte, error) { return json.Marshal(h.List()) }

func (n NextHop) String() string {
	var b strings.Builder
	b.WriteString("nexthop")
	if n.Via.IsValid() {
		b.WriteString(" via " + n.Via.String())
	}
	if n.Dev != "" {
		b.WriteString(" dev " + n.Dev)
	}
	if n.Weight != 1 {
		b.WriteString(" weight " + strconv.Itoa(int(n.Weight)))
	}
	if n.OnLink {
		b.WriteString(" onlink")
	}
	return b.String()
}

// IPv6 reports the route's family.
func (r Route) IPv6() bool { return r.Dst.Addr().Is6() }

// key is what the kernel tells routes apart by (vrrp_iproute.c,
// route_exist: "the kernel's key to a route is (to, tos, preference,
// table)"): two routes with one key cannot both be added with one set of
// attributes replacing the other, so a changed route is removed first.
type routeKey struct {
	dst    netip.Prefix
	tos    uint8
	metric uint32
	table  uint32
}

func (r Route) key() routeKey { return routeKey{r.Dst, r.TOS, r.Metric, r.Table} }

// String is the route in ip-route words, for people and logs.
func (r Route) String() string {
	var b strings.Builder
	if r.Type != Unicast {
		b.WriteString(r.Type.String() + " ")
	}
	b.WriteString(r.Dst.String())
	if r.Via.IsValid() {
		b.WriteString(" via " + r.Via.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	if r.Table != TableMain {
		b.WriteString(" table " + strconv.FormatUint(uint64(r.Table), 10))
	}
	if r.Metric != 0 {
		b.WriteString(" metric " + strconv.FormatUint(uint64(r.Metric), 10))
	}
	if r.Scope != ScopeUniverse {
		b.WriteString(" scope " + r.Scope.String())
	}
	if r.TOS != 0 {
		b.WriteString(" tos " + strconv.Itoa(int(r.TOS)))
	}
	if r.Protocol != ProtoKeepalived {
		b.WriteString(" proto " + strconv.Itoa(int(r.Protocol)))
	}
	if r.OnLink {
		b.WriteString(" onlink")
	}
	for _, h := range r.NextHops.List() {
		b.WriteString(" " + h.String())
	}
	return b.String()
}

// RuleAction is what a matching rule does.
type RuleAction uint8

// Rule actions (the kernel's FR_ACT_* values).
const (
	ActionTable       RuleAction = 1
	ActionGoto        RuleAction = 2
	ActionNop         RuleAction = 3
	ActionBlackhole   RuleAction = 6
	ActionUnreachable RuleAction = 7
	ActionProhibit    RuleAction = 8
)

func (a RuleAction) String() string {
	switch a {
	case ActionTable:
		return "lookup"
	case ActionGoto:
		return "goto"
	case ActionNop:
		return "nop"
	case ActionBlackhole:
		return "blackhole"
	case ActionUnreachable:
		return "unreachable"
	case ActionProhibit:
		return "prohibit"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Rule is one static_rules or virtual_rules line, fully defaulted by
// internal/config (Priority, Protocol). It is comparable: the value is the
// rule's identity.
type Rule struct {
	IPv6     bool
	From, To netip.Prefix
	Invert   bool
	IIF, OIF string
	// Mark is matched when MarkSet; Mask too when MaskSet ("fwmark M/K").
	Mark, Mask       uint32
	MarkSet, MaskSet bool
	TOS              uint8
	Priority         uint32
	Action           RuleAction
	// Table is the table of ActionTable, Goto the target priority of
	// ActionGoto.
	Table, Goto uint32
	// Protocol 0 sends none (no_track).
	Protocol uint8
}

// String is the rule in ip-rule words, for people and logs.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(r.Priority), 10) + ":")
	if r.Invert {
		b.WriteString(" not")
	}
	if r.From.IsValid() {
		b.WriteString(" from " + r.From.String())
	} else {
		b.WriteString(" from all")
	}
	if r.To.IsValid() {
		b.WriteString(" to " + r.To.String())
	}
	if r.TOS != 0 {
		b.WriteString(" tos " + strconv.Itoa(int(r.TOS)))
	}
	if r.MarkSet {
		b.WriteString(" fwmark " + strconv.FormatUint(uint64(r.Mark), 10))
		if r.MaskSet {
			b.WriteString("/" + strconv.FormatUint(uint64(r.Mask), 10))
		}
	}
	if r.IIF != "" {
		b.WriteString(" iif " + r.IIF)
	}
	if r.OIF != "" {
		b.WriteString(" oif " + r.OIF)
	}
	switch r.Action {
	case ActionTable:
		b.WriteString(" lookup " + strconv.FormatUint(uint64(r.Table), 10))
	case ActionGoto:
		b.WriteString(" goto " + strconv.FormatUint(uint64(r.Goto), 10))
	default:
		b.WriteString(" " + r.Action.String())
	}
	if r.IPv6 {
		b.WriteString(" (inet6)")
	}
	return b.String()
}

// validateHops checks a multipath route: unicast, no single path of its
// own, every path with a way out, a weight and the route's family, and no
// path after a zero entry.
func (r Route) validateHops() error {
	hops := r.NextHops.List()
	if len(hops) == 0 {
		return nil
	}
	if r.Type != Unicast || r.Via.IsValid() || r.Dev != "" || r.OnLink {
		return fmt.Errorf("route %v: a multipath route is unicast and has no via, dev or onlink of its own", r)
	}
	for i, h := range r.NextHops {
		if i >= len(hops) {
			if h != (NextHop{}) {
				return fmt.Errorf("route %v: next hop %d follows an empty one", r, i+1)
			}
			continue
		}
		if !h.Via.IsValid() && h.Dev == "" {
			return fmt.Errorf("route %v: next hop %d has neither via nor dev", r, i+1)
		}
		if h.Via.IsValid() && h.Via.Is6() != r.IPv6() {
			return fmt.Errorf("route %v: next hop %d mixes IPv4 and IPv6", r, i+1)
		}
		if h.Weight < 1 || h.Weight > 256 {
			return fmt.Errorf("route %v: next hop %d: weight %d is not 1..256", r, i+1, h.Weight)
		}
	}
	return nil
}

// Addr is one static_ipaddress line (the virtual_ipaddress grammar).
type Addr struct {
	Prefix    netip.Prefix
	Dev       string
	Broadcast netip.Addr
	Scope     Scope
	Label     string
}

func (a Addr) String() string { return a.Prefix.String() + " dev " + a.Dev }

// Set is what one owner wants in the kernel.
type Set struct {
	Addrs  []Addr
	Routes []Route
	Rules  []Rule
}

// Empty reports whether s asks for nothing.
func (s Set) Empty() bool { return len(s.Addrs) == 0 && len(s.Routes) == 0 && len(s.Rules) == 0 }

// Validate asserts the invariants internal/config guarantees (a route has
// a destination, one family per route and rule, an address has a device).
func (s Set) Validate() error {
	for _, a := range s.Addrs {
		if !a.Prefix.IsValid() || a.Dev == "" {
			return fmt.Errorf("address %v: needs a prefix and a device", a)
		}
	}
	for _, r := range s.Routes {
		if !r.Dst.IsValid() {
			return fmt.Errorf("route %v: no destination", r)
		}
		for _, a := range []netip.Addr{r.Via, r.Src} {
			if a.IsValid() && a.Is6() != r.IPv6() {
				return fmt.Errorf("route %v: mixes IPv4 and IPv6", r)
			}
		}
		if r.Table == 0 {
			return fmt.Errorf("route %v: no table", r)
		}
		if err := r.validateHops(); err != nil {
			return err
		}
	}
	for _, r := range s.Rules {
		for _, p := range []netip.Prefix{r.From, r.To} {
			if p.IsValid() && p.Addr().Is6() != r.IPv6 {
				return fmt.Errorf("rule %v: mixes IPv4 and IPv6", r)
			}
		}
		switch r.Action {
		case ActionTable:
			if r.Table == 0 {
				return fmt.Errorf("rule %v: lookup without a table", r)
			}
		case ActionGoto, ActionNop, ActionBlackhole, ActionUnreachable, ActionProhibit:
		default:
			return fmt.Errorf("rule %v: no action", r)
		}
	}
	return nil
}
