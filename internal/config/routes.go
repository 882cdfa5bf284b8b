package config

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsctl/lvsctl/internal/netroute"
)

// Routes, policy rules and static addresses: the top-level static_ipaddress,
// static_routes and static_rules, and a vrrp_instance's virtual_routes and
// virtual_rules. The grammar and defaults follow keepalived v2.2.7's
// alloc_route (keepalived/vrrp/vrrp_iproute.c), alloc_rule
// (keepalived/vrrp/vrrp_iprule.c) and alloc_ipaddress
// (keepalived/vrrp/vrrp_ipaddress.c); what lvsctl does not implement is
// refused at the word that asks for it.

// Route is one static_routes or virtual_routes line, fully defaulted.
type Route struct {
	Pos   Position       `json:"pos"`
	Route netroute.Route `json:"route"`
}

// Rule is one static_rules or virtual_rules line, fully defaulted.
type Rule struct {
	Pos  Position      `json:"pos"`
	Rule netroute.Rule `json:"rule"`
}

// ruleStartPriority is where keepalived starts numbering rules that give
// no preference, counting down per family (vrrp_iprule.c,
// RULE_START_PRIORITY).
const ruleStartPriority = 16384

// unsupportedRouteWords are alloc_route's words lvsctl refuses, with what
// they are.
var unsupportedRouteWords = map[string]string{
	"from": "source-specific IPv6 routes", "as": "MPLS", "encap": "lightweight tunnel encapsulation",
	"expires": "route expiry", "mtu": "route metrics", "hoplimit": "route metrics", "advmss": "route metrics",
	"rtt": "route metrics", "rttvar": "route metrics", "reordering": "route metrics", "window": "route metrics",
	"cwnd": "route metrics", "ssthresh": "route metrics", "realms": "routing realms", "rto_min": "route metrics",
	"initcwnd": "route metrics", "initrwnd": "route metrics", "features": "route metrics", "quickack": "route metrics",
	"congctl": "route metrics", "pref": "IPv6 router preference", "ttl-propagate": "MPLS",
	"fastopen_no_cookie": "route metrics", "add": "exclusive adds (lvsctl adds as \"prepend\", keepalived's default)",
	"append":      "appended routes (lvsctl adds as \"prepend\", keepalived's default)",
	"track_group": "track groups", "vrf": "VRF",
}

// unsupportedRuleWords are alloc_rule's words lvsctl refuses.
var unsupportedRuleWords = map[string]string{
	"realms": "routing realms", "suppress_prefixlength": "suppressors", "sup_pl": "suppressors",
	"suppress_ifgroup": "suppressors", "sup_group": "suppressors", "tunnel-id": "tunnel ids",
	"uidrange": "uid ranges", "l3mdev": "VRF", "ipproto": "protocol matches", "sport": "port matches",
	"dport": "port matches", "track_group": "track groups",
}

// lines returns the entry lines of a list block (static_routes { ... }).
func (d *decoder) lines(n *node) []*node {
	if !d.shape(n, true, 0, 0) {
		return nil
	}
	var out []*node
	for _, c := range n.children {
		if d.special(c) {
			continue
		}
		if c.block {
			d.diag.errorf(c.pos(), "unexpected block in %s", n.key.text)
			continue
		}
		out = append(out, c)
	}
	return out
}

// defaultInterface is where keepalived puts a static address without
// dev when global_defs has no default_interface (vrrp_ipaddress.h,
// DFLT_INT).
const defaultInterface = "eth0"

// staticAddrs reads static_ipaddress: virtual_ipaddress lines; one without
// dev goes on default_interface, else eth0, as keepalived 2.2.7 does
// (vrrp_ipaddress.c, get_default_if: resolved while the file is read, so
// a default_interface further down is not used).
func (d *decoder) staticAddrs(n *node) []VIP {
	var out []VIP
	for _, v := range d.vips(n) {
		if v.Dev == "" {
			v.Dev = d.defaultIface
			if v.Dev == "" {
				v.Dev = defaultInterface
				if d.defaultIfaceUsed == nil {
					u := v
					d.defaultIfaceUsed = &u
				}
			}
			d.diag.warnf(v.Pos, "static_ipaddress: %s has no dev: on %s, keepalived's default interface (default_interface in global_defs)", v.Prefix, v.Dev)
		}
		out = append(out, v)
	}
	return out
}

// routeLine is a cursor over one line's words.
type routeLine struct {
	d    *decoder
	what string
	toks []token
	i    int
	ok   bool
}

// next returns the value after the word at i.
func (l *routeLine) next() (token, bool) {
	if l.i+1 >= len(l.toks) {
		l.d.diag.errorf(l.toks[l.i].pos(), "%s: %q needs a value", l.what, l.toks[l.i].text)
		l.ok = false
		return token{}, false
	}
	l.i++
	return l.toks[l.i], true
}

func (l *routeLine) fail(t token, format string, args ...any) {
	l.d.diag.errorf(t.pos(), "%s: "+format, append([]any{l.what}, args...)...)
	l.ok = false
}

// family records the family of an address; false (reported) when the
// line already has the other one.
func (l *routeLine) family(t token, v6 bool, fam *int) bool {
	f := 4
	if v6 {
		f = 6
	}
	if *fam != 0 && *fam != f {
		l.fail(t, "%q mixes IPv4 and IPv6 in one line", t.text)
		return false
	}
	*fam = f
	return true
}

// prefix reads ADDR[/LEN] (a bare address is a host route).
func (l *routeLine) prefix(t token) (netip.Prefix, bool) {
	var p netip.Prefix
	var err error
	if strings.Contains(t.text, "/") {
		p, err = netip.ParsePrefix(t.text)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(t.text); err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil || p.Addr().Zone() != "" {
		return netip.Prefix{}, false
	}
	a := p.Addr().Unmap()
	return netip.PrefixFrom(a, p.Bits()).Masked(), true
}

func (l *routeLine) address(t token) (netip.Addr, bool) {
	a, err := netip.ParseAddr(t.text)
	if err != nil || a.Zone() != "" {
		l.fail(t, "%q is not an IP address", t.text)
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (l *routeLine) uint(t token, max uint64) (uint64, bool) {
	v, err := strconv.ParseUint(t.text, 0, 64)
	if err != nil || v > max {
		l.fail(t, "%q after %s is not a number 0..%d", t.text, l.toks[l.i-1].text, max)
		return 0, false
	}
	return v, true
}

func (l *routeLine) table(t token) (uint32, bool) {
	switch t.text {
	case "main":
		return netroute.TableMain, true
	case "local":
		return netroute.TableLocal, true
	case "default":
		return netroute.TableDefault, true
	}
	v, err := strconv.ParseUint(t.text, 0, 32)
	if err != nil {
		l.fail(t, "table %q: give a number (or main, local, default): lvsctl does not read /etc/iproute2/rt_tables", t.text)
		return 0, false
	}
	if v == 0 {
		l.fail(t, "table 0 is not a routing table")
		return 0, false
	}
	return uint32(v), true
}

var routeProtos = map[string]uint8{"redirect": 1, "kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16, "keepalived": 18}

func (l *routeLine) proto(t token) (uint8, bool) {
	if p, ok := routeProtos[t.text]; ok {
		return p, true
	}
	v, ok := l.uint(t, 255)
	return uint8(v), ok
}

var routeTypes = map[string]netroute.RouteType{"unicast": netroute.Unicast, "blackhole": netroute.Blackhole,
	"unreachable": netroute.Unreachable, "prohibit": netroute.Prohibit, "throw": netroute.Throw}

// routes reads static_routes / virtual_routes lines:
//
//	[to] [TYPE] DST [via [inet|inet6] ADDR [or ADDR]] [dev IFACE] [src ADDR]
//	[metric N] [table T] [scope S] [protocol P] [tos N] [onlink] [no_track]
//	[inet|inet6] [nexthop [via [inet|inet6] ADDR] [dev IFACE] [weight W] [onlink] ...]
//
// TYPE is unicast, blackhole, unreachable, prohibit or throw; DST is
// ADDR[/LEN] or default. Defaults as keepalived's: table main, scope
// global, protocol keepalived (18).
func (d *decoder) routes(n *node) []Route {
	var out []Route
	for _, c := range d.lines(n) {
		if r, ok := d.route(n.key.text, c); ok {
			out = append(out, r)
		}
	}
	return out
}

func (d *decoder) route(what string, c *node) (Route, bool) {
	l := &routeLine{d: d, what: what, toks: append([]token{c.key}, c.args...), ok: true}
	r := netroute.Route{Table: netroute.TableMain, Scope: netroute.ScopeUniverse}
	fam := 0
	var dstTok token
	haveDst, isDefault, noTrack, protoSet := false, false, false, false
	var protoTok, orTok, viaTok token
	var hops []netroute.NextHop
	for ; l.ok && l.i < len(l.toks); l.i++ {
		t := l.toks[l.i]
		switch w := t.text; {
		case w == "inet" || w == "inet6":
			l.family(t, w == "inet6", &fam)
		case w == "src":
			if v, ok := l.next(); ok {
				if a, ok := l.address(v); ok && l.family(v, a.Is6(), &fam) {
					r.Src = a
				}
			}
		case w == "via" || w == "gw":
			if w == "gw" {
				d.diag.warnf(t.pos(), "%s: \"gw\" is deprecated (keepalived says so too): write \"via\"", what)
			}
			v, ok := l.next()
			if ok && (v.text == "inet" || v.text == "inet6") {
				l.family(v, v.text == "inet6", &fam)
				v, ok = l.next()
			}
			if ok && orTok.text != "" {
				l.fail(t, "\"via\" after \"or\": keepalived would send both a gateway and the two paths; write \"via A or B\"")
			} else if ok {
				if a, ok := l.address(v); ok && l.family(v, a.Is6(), &fam) {
					r.Via, viaTok = a, t
				}
			}
		case w == "or":
			// keepalived 2.2.7 (vrrp_iproute.c, alloc_route): deprecated;
			// the via address becomes the first next hop, the "or"
			// address the second.
			v, ok := l.next()
			switch {
			case !ok:
			case orTok.text != "":
				l.fail(t, "a second \"or\": keepalived would ignore it; write the paths as nexthop entries")
			case !r.Via.IsValid():
				l.fail(t, "\"or\" needs \"via ADDR\" before it (keepalived would send a path without a gateway)")
			default:
				if a, ok := l.address(v); ok && l.family(v, a.Is6(), &fam) {
					d.diag.warnf(t.pos(), "%s: \"or\" is deprecated (keepalived says so too): write \"nexthop via %s nexthop via %s\"", what, r.Via, a)
					hops = append(hops, netroute.NextHop{Via: r.Via, Weight: 1}, netroute.NextHop{Via: a, Weight: 1})
					r.Via, orTok = netip.Addr{}, t
				}
			}
		case w == "nexthop":
			switch {
			case orTok.text != "":
				l.fail(t, "\"nexthop\" with \"or\": keepalived refuses the pair and drops the route; use nexthop entries only")
			case viaTok.text != "" || r.Dev != "" || r.OnLink:
				l.fail(t, "\"nexthop\" after the route's own via, dev or onlink: give them in each nexthop (the kernel refuses them unless they match the first path)")
			default:
				hops = l.nextHops(&fam)
			}
		case w == "dev" || w == "oif":
			if v, ok := l.next(); ok {
				r.Dev = v.text
			}
		case w == "metric" || w == "priority" || w == "preference":
			if v, ok := l.next(); ok {
				if x, ok := l.uint(v, 1<<32-1); ok {
					r.Metric = uint32(x)
				}
			}
		case w == "table":
			if v, ok := l.next(); ok {
				if x, ok := l.table(v); ok {
					r.Table = x
				}
			}
		case w == "protocol":
			if v, ok := l.next(); ok {
				if x, ok := l.proto(v); ok {
					r.Protocol, protoSet, protoTok = x, true, v
				}
			}
		case w == "scope":
			if v, ok := l.next(); ok {
				if s, ok := netroute.ParseScope(v.text); ok {
					r.Scope = s
				} else if x, ok := l.uint(v, 255); ok {
					r.Scope = netroute.Scope(x)
				}
			}
		case w == "tos" || w == "dsfield":
			if v, ok := l.next(); ok {
				if x, ok := l.uint(v, 255); ok {
					r.TOS = uint8(x)
				}
			}
		case w == "onlink":
			r.OnLink = true
		case w == "no_track":
			noTrack = true
		case w == "prepend":
			// keepalived's default (and lvsctl's): nothing to do.
		case unsupportedRouteWords[w] != "":
			l.fail(t, "%q (%s) is a keepalived feature lvsctl does not support", w, unsupportedRouteWords[w])
		default:
			if w == "to" {
				if _, ok := l.next(); !ok {
					break
				}
				t = l.toks[l.i]
			}
			if typ, ok := routeTypes[t.text]; ok {
				r.Type = typ
				if _, ok := l.next(); !ok {
					break
				}
				t = l.toks[l.i]
			} else if isRTNType(t.text) {
				l.fail(t, "route type %q is a keepalived feature lvsctl does not support (unicast, blackhole, unreachable, prohibit and throw are)", t.text)
				break
			}
			p, ok := l.prefix(t)
			if !ok && t.text != "default" {
				l.fail(t, "%q is not a destination (ADDR[/LEN] or default) nor a route option keepalived knows", t.text)
				break
			}
			if haveDst {
				l.fail(t, "%q: a route has one destination (already %s)", t.text, dstTok.text)
				break
			}
			if t.text == "default" {
				haveDst, isDefault, dstTok = true, true, t
				break
			}
			if l.family(t, p.Addr().Is6(), &fam) {
				r.Dst, haveDst, dstTok = p, true, t
			}
		}
	}
	if !l.ok {
		return Route{}, false
	}
	if !haveDst {
		d.diag.errorf(c.pos(), "%s: the route has no destination", what)
		return Route{}, false
	}
	if isDefault {
		if fam == 6 {
			r.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		} else {
			r.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
	}
	if r.Type != netroute.Unicast && (r.Via.IsValid() || r.Dev != "" || len(hops) > 0) {
		d.diag.errorf(c.pos(), "%s: a %s route takes no via, dev or next hops", what, r.Type)
		return Route{}, false
	}
	if orTok.text != "" {
		// The "or" form's dev and onlink hold for both paths.
		for i := range hops {
			hops[i].Dev, hops[i].OnLink = r.Dev, r.OnLink
		}
		r.Dev, r.OnLink = "", false
	}
	if len(hops) > 0 {
		h, err := netroute.MakeNextHops(hops)
		if err != nil {
			d.diag.errorf(c.pos(), "%s: %v", what, err)
			return Route{}, false
		}
		r.NextHops = h
	}
	if r.Type == netroute.Unicast && !r.Via.IsValid() && r.Dev == "" && len(hops) == 0 {
		d.diag.errorf(c.pos(), "%s: route %s needs via or dev (or a type: blackhole, unreachable, prohibit, throw)", what, r.Dst)
		return Route{}, false
	}
	// keepalived marks every route it adds with protocol keepalived; one
	// it tracks (no no_track) keeps it even when another is given.
	switch {
	case !protoSet:
		r.Protocol = netroute.ProtoKeepalived
	case !noTrack && r.Protocol != netroute.ProtoKeepalived:
		d.diag.warnf(protoTok.pos(), "%s: keepalived resets the protocol of a tracked route to keepalived (18), and so does lvsctl: add no_track to keep %s", what, protoTok.text)
		r.Protocol = netroute.ProtoKeepalived
	}
	return Route{Pos: c.pos(), Route: r}, true
}

// nextHops reads the rest of a line from the word "nexthop" on, as
// keepalived 2.2.7's parse_nexthops: each "nexthop" starts a path of
// [via [inet|inet6] ADDR] [dev IFACE] [weight 1..256] [onlink].
func (l *routeLine) nextHops(fam *int) []netroute.NextHop {
	var hops []netroute.NextHop
	var start token
	for ; l.ok && l.i < len(l.toks); l.i++ {
		t := l.toks[l.i]
		if t.text == "nexthop" {
			if len(hops) > 0 && !l.hopOK(start, hops[len(hops)-1]) {
				return nil
			}
			hops, start = append(hops, netroute.NextHop{Weight: 1}), t
			continue
		}
		h := &hops[len(hops)-1]
		switch t.text {
		case "via":
			v, ok := l.next()
			if ok && (v.text == "inet" || v.text == "inet6") {
				l.family(v, v.text == "inet6", fam)
				v, ok = l.next()
			}
			if ok {
				if a, ok := l.address(v); ok && l.family(v, a.Is6(), fam) {
					h.Via = a
				}
			}
		case "dev":
			if v, ok := l.next(); ok {
				h.Dev = v.text
			}
		case "weight":
			if v, ok := l.next(); ok {
				if x, ok := l.uint(v, 256); ok {
					if x == 0 {
						l.fail(v, "weight 0: a path's weight is 1..256 (keepalived refuses 0 too)")
					}
					h.Weight = uint16(x)
				}
			}
		case "onlink":
			h.OnLink = true
		case "encap", "realms", "as":
			l.fail(t, "nexthop %q (%s) is a keepalived feature lvsctl does not support", t.text, unsupportedRouteWords[t.text])
		default:
			l.fail(t, "%q after nexthop: a path takes via, dev, weight and onlink (keepalived would drop the route as trailing nonsense)", t.text)
		}
	}
	if l.ok && len(hops) > 0 && !l.hopOK(start, hops[len(hops)-1]) {
		return nil
	}
	return hops
}

// hopOK reports (and refuses) a path without a way out.
func (l *routeLine) hopOK(at token, h netroute.NextHop) bool {
	if !h.Via.IsValid() && h.Dev == "" {
		l.fail(at, "nexthop needs via or dev")
		return false
	}
	return true
}

// isRTNType reports the route types of iproute2's rt_names that lvsctl
// does not add.
func isRTNType(w string) bool {
	switch w {
	case "local", "broadcast", "anycast", "multicast", "nat", "xresolve":
		return true
	}
	return false
}

var ruleActions = map[string]netroute.RuleAction{"blackhole": netroute.ActionBlackhole,
	"unreachable": netroute.ActionUnreachable, "prohibit": netroute.ActionProhibit, "nop": netroute.ActionNop}

// rules reads static_rules / virtual_rules lines:
//
//	[not] [from P] [to P] [iif|dev IFACE] [oif IFACE] [fwmark N[/M]] [tos N]
//	[preference|priority|order N] [protocol N] [no_track] [inet|inet6]
//	(table|lookup T | goto N | nop | blackhole | unreachable | prohibit | type ACTION)
//
// A rule without a preference gets keepalived's: 16384 and down, per
// family, in file order (with a warning, as keepalived gives).
func (d *decoder) rules(n *node, next *rulePriorities) []Rule {
	var out []Rule
	for _, c := range d.lines(n) {
		if r, ok := d.rule(n.key.text, c, next); ok {
			out = append(out, r)
		}
	}
	return out
}

// rulePriorities are the next default preferences (keepalived's
// next_rule_priority_ipv4/ipv6), shared by every rule of a file.
type rulePriorities struct{ v4, v6 uint32 }

func newRulePriorities() *rulePriorities {
	return &rulePriorities{v4: ruleStartPriority, v6: ruleStartPriority}
}

func (d *decoder) rule(what string, c *node, next *rulePriorities) (Rule, bool) {
	l := &routeLine{d: d, what: what, toks: append([]token{c.key}, c.args...), ok: true}
	r := netroute.Rule{}
	fam := 0
	prioSet, noTrack, protoSet := false, false, false
	var protoTok, actionTok token
	setAction := func(t token, a netroute.RuleAction) {
		if r.Action != 0 {
			l.fail(t, "%q: a rule has one action (already %s)", t.text, actionTok.text)
			return
		}
		r.Action, actionTok = a, t
	}
	for ; l.ok && l.i < len(l.toks); l.i++ {
		t := l.toks[l.i]
		switch w := t.text; {
		case w == "inet" || w == "inet6":
			l.family(t, w == "inet6", &fam)
		case w == "from" || w == "to":
			v, ok := l.next()
			if !ok {
				break
			}
			if v.text == "all" {
				break
			}
			p, ok := l.prefix(v)
			if !ok {
				l.fail(v, "%q after %s is not ADDR[/LEN] or all", v.text, w)
				break
			}
			if l.family(v, p.Addr().Is6(), &fam) {
				if w == "from" {
					r.From = p
				} else {
					r.To = p
				}
			}
		case w == "table" || w == "lookup":
			if v, ok := l.next(); ok {
				if x, ok := l.table(v); ok {
					setAction(t, netroute.ActionTable)
					r.Table = x
				}
			}
		case w == "goto":
			if v, ok := l.next(); ok {
				if x, ok := l.uint(v, 1<<32-1); ok {
					setAction(t, netroute.ActionGoto)
					r.Goto = uint32(x)
				}
			}
		case w == "type":
			v, ok := l.next()
			if !ok {
				break
			}
			if a, ok := ruleActions[v.text]; ok {
				setAction(v, a)
			} else {
				l.fail(v, "rule type %q is not blackhole, unreachable, prohibit or nop", v.text)
			}
		case ruleActions[w] != 0:
			setAction(t, ruleActions[w])
		case w == "not":
			r.Invert = true
		case w == "preference" || w == "order" || w == "priority":
			if v, ok := l.next(); ok {
				if x, ok := l.uint(v, 1<<32-1); ok {
					r.Priority, prioSet = uint32(x), true
				}
			}
		case w == "tos" || w == "dsfield":
			if v, ok := l.next(); ok {
				if x, ok := l.uint(v, 255); ok {
					r.TOS = uint8(x)
				}
			}
		case w == "fwmark":
			v, ok := l.next()
			if !ok {
				break
			}
			mark, mask, hasMask := strings.Cut(v.text, "/")
			m, err := strconv.ParseUint(mark, 0, 32)
			var k uint64
			if err == nil && hasMask {
				k, err = strconv.ParseUint(mask, 0, 32)
			}
			if err != nil {
				l.fail(v, "fwmark %q is not N or N/MASK (numbers up to 2^32-1)", v.text)
				break
			}
			r.Mark, r.MarkSet, r.Mask, r.MaskSet = uint32(m), true, uint32(k), hasMask
		case w == "dev" || w == "iif":
			if v, ok := l.next(); ok {
				r.IIF = v.text
			}
		case w == "oif":
			if v, ok := l.next(); ok {
				r.OIF = v.text
			}
		case w == "protocol":
			if v, ok := l.next(); ok {
				if x, ok := l.uint(v, 255); ok {
					r.Protocol, protoSet, protoTok = uint8(x), true, v
				}
			}
		case w == "no_track":
			noTrack = true
		case unsupportedRuleWords[w] != "":
			l.fail(t, "%q (%s) is a keepalived feature lvsctl does not support", w, unsupportedRuleWords[w])
		default:
			l.fail(t, "%q is not a rule option keepalived knows", w)
		}
	}
	if !l.ok {
		return Rule{}, false
	}
	if r.Action == 0 {
		d.diag.errorf(c.pos(), "%s: the rule has no action (table/lookup, goto, nop, blackhole, unreachable or prohibit); keepalived would ignore the line", what)
		return Rule{}, false
	}
	r.IPv6 = fam == 6
	if r.Action == netroute.ActionGoto && (!prioSet || r.Priority >= r.Goto) {
		d.diag.errorf(actionTok.pos(), "%s: goto %d needs a preference below it (keepalived refuses the rule)", what, r.Goto)
		return Rule{}, false
	}
	if !prioSet {
		p := &next.v4
		if r.IPv6 {
			p = &next.v6
		}
		r.Priority = *p
		*p--
		d.diag.warnf(c.pos(), "%s: the rule has no preference: keepalived gives it %d, and so does lvsctl; this is probably not what you want: add \"preference N\"", what, r.Priority)
	}
	if !noTrack {
		if protoSet && r.Protocol != netroute.ProtoKeepalived {
			d.diag.warnf(protoTok.pos(), "%s: keepalived resets the protocol of a tracked rule to keepalived (18), and so does lvsctl: add no_track to keep %s", what, protoTok.text)
		}
		r.Protocol = netroute.ProtoKeepalived
	}
	return Rule{Pos: c.pos(), Rule: r}, true
}

// StaticSet is the static_ipaddress, static_routes and static_rules of the
// file, as netroute takes them.
func (c *Config) StaticSet() netroute.Set {
	return netroute.Set{Addrs: netrouteAddrs(c.StaticAddrs), Routes: netrouteRoutes(c.StaticRoutes), Rules: netrouteRules(c.StaticRules)}
}

func netrouteAddrs(in []VIP) []netroute.Addr {
	var out []netroute.Addr
	for _, v := range in {
		out = append(out, netroute.Addr{Prefix: v.Prefix, Dev: v.Dev, Broadcast: v.Broadcast, Scope: staticScope(v.Scope), Label: v.Label})
	}
	return out
}

func netrouteRoutes(in []Route) []netroute.Route {
	var out []netroute.Route
	for _, r := range in {
		out = append(out, r.Route)
	}
	return out
}

func netrouteRules(in []Rule) []netroute.Rule {
	var out []netroute.Rule
	for _, r := range in {
		out = append(out, r.Rule)
	}
	return out
}

// routeWords spells r in the static_routes grammar (WriteText).
func routeWords(r netroute.Route) []string {
	var w []string
	if r.Type != netroute.Unicast {
		w = append(w, r.Type.String())
	}
	w = append(w, r.Dst.String())
	if r.Via.IsValid() {
		w = append(w, "via", r.Via.String())
	}
	if r.Dev != "" {
		w = append(w, "dev", quote(r.Dev))
	}
	if r.Src.IsValid() {
		w = append(w, "src", r.Src.String())
	}
	w = append(w, "metric", strconv.FormatUint(uint64(r.Metric), 10), "table", strconv.FormatUint(uint64(r.Table), 10),
		"scope", strconv.Itoa(int(r.Scope)), "tos", strconv.Itoa(int(r.TOS)))
	if r.OnLink {
		w = append(w, "onlink")
	}
	if r.Protocol != netroute.ProtoKeepalived {
		w = append(w, "protocol", strconv.Itoa(int(r.Protocol)), "no_track")
	}
	for _, h := range r.NextHops.List() {
		w = append(w, "nexthop")
		if h.Via.IsValid() {
			w = append(w, "via", h.Via.String())
		}
		if h.Dev != "" {
			w = append(w, "dev", quote(h.Dev))
		}
		w = append(w, "weight", strconv.Itoa(int(h.Weight)))
		if h.OnLink {
			w = append(w, "onlink")
		}
	}
	return w
}

// ruleWords spells r in the static_rules grammar (WriteText).
func ruleWords(r netroute.Rule) []string {
	var w []string
	if r.IPv6 {
		w = append(w, "inet6")
	}
	if r.Invert {
		w = append(w, "not")
	}
	if r.From.IsValid() {
		w = append(w, "from", r.From.String())
	}
	if r.To.IsValid() {
		w = append(w, "to", r.To.String())
	}
	if r.IIF != "" {
		w = append(w, "iif", quote(r.IIF))
	}
	if r.OIF != "" {
		w = append(w, "oif", quote(r.OIF))
	}
	if r.MarkSet {
		m := strconv.FormatUint(uint64(r.Mark), 10)
		if r.MaskSet {
			m += "/" + strconv.FormatUint(uint64(r.Mask), 10)
		}
		w = append(w, "fwmark", m)
	}
	w = append(w, "tos", strconv.Itoa(int(r.TOS)), "preference", strconv.FormatUint(uint64(r.Priority), 10))
	if r.Protocol != netroute.ProtoKeepalived {
		w = append(w, "no_track")
		if r.Protocol != 0 {
			w = append(w, "protocol", strconv.Itoa(int(r.Protocol)))
		}
	}
	switch r.Action {
	case netroute.ActionTable:
		w = append(w, "table", strconv.FormatUint(uint64(r.Table), 10))
	case netroute.ActionGoto:
		w = append(w, "goto", strconv.FormatUint(uint64(r.Goto), 10))
	default:
		w = append(w, r.Action.String())
	}
	return w
}

func (p *printer) routes(name string, rs []Route) {
	if len(rs) == 0 {
		return
	}
	p.open(name)
	for _, r := range rs {
		p.line(routeWords(r.Route)...)
	}
	p.close()
}

func (p *printer) rules(name string, rs []Rule) {
	if len(rs) == 0 {
		return
	}
	p.open(name)
	for _, r := range rs {
		p.line(ruleWords(r.Rule)...)
	}
	p.close()
}

// staticScope is a static address's scope ("": global).
func staticScope(name string) netroute.Scope {
	s, _ := netroute.ParseScope(name)
	return s
}
