package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
)

// The bgp block and virtual_server's bgp_announce are lvsctl extensions
// (keepalived has no BGP): docs/bgp.md. They are as strict as the rest.

// BGP is the top-level bgp block.
type BGP struct {
	Pos       Position      `json:"pos"`
	RouterID  netip.Addr    `json:"router_id"`
	LocalAS   uint32        `json:"local_as"`
	Neighbors []BGPNeighbor `json:"neighbors"`
	// ShutdownDrain is how long routes stay announced with the
	// graceful-shutdown community before the withdrawal on stop (5s).
	ShutdownDrain time.Duration `json:"shutdown_drain"`
	// SloppyTCP sets net.ipv4.vs.sloppy_tcp=1 (on).
	SloppyTCP bool `json:"sloppy_tcp"`
}

// BGPNeighbor is one neighbor block of bgp.
type BGPNeighbor struct {
	Pos      Position   `json:"pos"`
	Addr     netip.Addr `json:"addr"`
	RemoteAS uint32     `json:"remote_as"`
	// HoldTime (9s) and KeepaliveInterval (a third of it).
	HoldTime          time.Duration `json:"hold_time"`
	KeepaliveInterval time.Duration `json:"keepalive_interval"`
	// ConnectRetry (5s: GoBGP's own default is 120s, too slow to find a
	// router that restarted).
	ConnectRetry  time.Duration `json:"connect_retry"`
	Password      string        `json:"-"`
	Passive       bool          `json:"passive"`
	EBGPMultihop  int           `json:"ebgp_multihop"`
	TTLSecurity   int           `json:"ttl_security"`
	Port          uint16        `json:"port"`
	SourceAddress netip.Addr    `json:"source_address"`

	keepaliveSet bool
}

const (
	defaultBGPHold         = 9 * time.Second
	defaultBGPConnectRetry = 5 * time.Second
	defaultShutdownDrain   = 5 * time.Second
	// withdrawGrace is not a keyword: it covers the router's FIB update
	// after the withdrawal (measured ~0.13 s), with room for a slow router.
	withdrawGrace = time.Second
	asTrans       = 23456
)

// bgpBlock decodes `bgp { … }`.
func (d *decoder) bgpBlock(n *node, cfg *Config) {
	if cfg.BGP != nil {
		d.diag.errorf(n.pos(), "bgp given twice (first at %s)", cfg.BGP.Pos)
		return
	}
	if !d.shape(n, true, 0, 0) {
		return
	}
	b := &BGP{Pos: n.pos(), ShutdownDrain: defaultShutdownDrain, SloppyTCP: true, Neighbors: []BGPNeighbor{}}
	var ridSet, asSet bool
	d.walk(n, "bgp", "bgp", map[string]kw{
		"router_id": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				a, err := netip.ParseAddr(t.text)
				if err != nil || !a.Is4() || a.IsUnspecified() {
					d.diag.errorf(t.pos(), "bgp router_id: %q is not a non-zero IPv4 address (a BGP identifier is 32 bits, written as one)", t.text)
					return
				}
				b.RouterID, ridSet = a, true
			}
		}},
		"local_as": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				b.LocalAS, asSet = d.asNumber(t, "bgp local_as")
			}
		}},
		"shutdown_drain": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				if v, ok := d.duration(t, "bgp shutdown_drain", 0, 10*time.Minute); ok {
					b.ShutdownDrain = v
				}
			}
		}},
		"sloppy_tcp": {fn: func(n *node) { d.flag(n, &b.SloppyTCP) }},
		"neighbor": {multi: true, fn: func(n *node) {
			if nb, ok := d.bgpNeighbor(n); ok {
				b.Neighbors = append(b.Neighbors, nb)
			}
		}},
	})
	if !ridSet {
		d.diag.errorf(n.pos(), "bgp needs router_id (this director's IPv4 BGP identifier, unique among the directors)")
	}
	if !asSet {
		d.diag.errorf(n.pos(), "bgp needs local_as")
	}
	if len(b.Neighbors) == 0 {
		d.diag.errorf(n.pos(), "bgp has no neighbor: nothing would hear the announcements")
	}
	cfg.BGP = b
}

// asNumber reads a 4-octet AS number; 0 and AS_TRANS are not AS numbers.
func (d *decoder) asNumber(t token, what string) (uint32, bool) {
	v, ok := d.intRange(t, what, 1, 1<<32-2)
	if ok && v == asTrans {
		d.diag.errorf(t.pos(), "%s: 23456 is AS_TRANS (RFC 6793), not an AS number", what)
		return 0, false
	}
	return uint32(v), ok
}

// duration reads seconds ("5", "0.5") or a Go duration ("5s", "500ms").
func (d *decoder) duration(t token, what string, lo, hi time.Duration) (time.Duration, bool) {
	if strings.IndexFunc(t.text, func(r rune) bool { return r >= 'a' && r <= 'z' }) < 0 {
		return d.seconds(t, what, lo, hi, false)
	}
	v, err := time.ParseDuration(t.text)
	if err != nil {
		d.diag.errorf(t.pos(), "%s: %q is not a duration (seconds, or 5s, 500ms)", what, t.text)
		return 0, false
	}
	if v < lo || v > hi {
		d.diag.errorf(t.pos(), "%s %s out of range %s..%s", what, v, lo, hi)
		return 0, false
	}
	return v, true
}

func (d *decoder) bgpNeighbor(n *node) (BGPNeighbor, bool) {
	if !d.shape(n, true, 1, 1) {
		return BGPNeighbor{}, false
	}
	nb := BGPNeighbor{Pos: n.pos(), HoldTime: defaultBGPHold, ConnectRetry: defaultBGPConnectRetry, Port: 179}
	a, ok := d.addr(n.args[0], "bgp neighbor")
	if ok && (a.IsUnspecified() || a.IsMulticast()) {
		d.diag.errorf(n.args[0].pos(), "bgp neighbor %s is not a unicast address", a)
		ok = false
	}
	nb.Addr = a
	var asSet bool
	var holdPos Position
	d.walk(n, "neighbor", "bgp neighbor "+n.args[0].text, map[string]kw{
		"remote_as": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				nb.RemoteAS, asSet = d.asNumber(t, "remote_as")
			}
		}},
		"hold_time": {fn: func(n *node) {
			holdPos = n.pos()
			if t, ok := d.value(n); ok {
				if v, ok := d.seconds(t, "hold_time", 0, 65535*time.Second, true); ok {
					if v > 0 && v < 3*time.Second {
						d.diag.errorf(t.pos(), "hold_time %s: BGP allows 0 (no keepalives) or 3 to 65535 seconds (RFC 4271)", t.text)
						return
					}
					nb.HoldTime = v
				}
			}
		}},
		"keepalive_interval": {fn: func(n *node) {
			nb.keepaliveSet = true
			d.durKw(n, time.Second, 21845*time.Second, true, &nb.KeepaliveInterval)
		}},
		"connect_retry": {fn: func(n *node) { d.durKw(n, time.Second, 3600*time.Second, true, &nb.ConnectRetry) }},
		"password":      {fn: func(n *node) { d.str(n, &nb.Password) }},
		"passive":       {fn: func(n *node) { d.flag(n, &nb.Passive) }},
		"ebgp_multihop": {fn: func(n *node) { d.intKw(n, 1, 255, &nb.EBGPMultihop) }},
		"ttl_security":  {fn: func(n *node) { d.intKw(n, 1, 254, &nb.TTLSecurity) }},
		"port": {fn: func(n *node) {
			if t, ok := d.value(n); ok {
				if p, ok := d.port(t, "neighbor"); ok && p > 0 {
					nb.Port = p
				} else if ok {
					d.diag.errorf(t.pos(), "neighbor port 0 is not a port")
				}
			}
		}},
		"source_address": {fn: func(n *node) { d.addrKw(n, &nb.SourceAddress) }},
	})
	if !asSet {
		d.diag.errorf(n.pos(), "bgp neighbor %s needs remote_as", n.args[0].text)
	}
	switch {
	case !nb.keepaliveSet:
		nb.KeepaliveInterval = nb.HoldTime / 3
	case nb.HoldTime == 0:
		d.diag.errorf(n.pos(), "bgp neighbor %s: keepalive_interval with hold_time 0 (no keepalives at all)", n.args[0].text)
	case nb.KeepaliveInterval >= nb.HoldTime:
		d.diag.errorf(holdPosOr(holdPos, n.pos()), "bgp neighbor %s: keepalive_interval %s must be shorter than hold_time %s (a third of it is usual)",
			n.args[0].text, fmtSeconds(nb.KeepaliveInterval), fmtSeconds(nb.HoldTime))
	}
	if nb.EBGPMultihop > 0 && nb.TTLSecurity > 0 {
		d.diag.errorf(n.pos(), "bgp neighbor %s: ebgp_multihop and ttl_security exclude each other", n.args[0].text)
	}
	if nb.SourceAddress.IsValid() && ok && nb.SourceAddress.Is4() != nb.Addr.Is4() {
		d.diag.errorf(n.pos(), "bgp neighbor %s: source_address %s is of another address family", n.args[0].text, nb.SourceAddress)
	}
	return nb, ok
}

func holdPosOr(p, def Position) Position {
	if p.Line > 0 {
		return p
	}
	return def
}

// validateBGP checks what needs the whole file: neighbors named twice,
// iBGP-only settings, and bgp_announce without a bgp block.
func validateBGP(cfg *Config, diag *diagnostics) {
	if b := cfg.BGP; b != nil {
		seen := map[netip.Addr]Position{}
		for _, n := range b.Neighbors {
			if first, dup := seen[n.Addr]; dup {
				diag.errorf(n.Pos, "bgp neighbor %s defined twice (first at %s)", n.Addr, first)
				continue
			}
			seen[n.Addr] = n.Pos
			if n.EBGPMultihop > 0 && n.RemoteAS == b.LocalAS {
				diag.errorf(n.Pos, "bgp neighbor %s: ebgp_multihop on an iBGP session (remote_as = local_as)", n.Addr)
			}
		}
	}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		if !vs.BGPAnnounce.IsValid() {
			continue
		}
		switch {
		case cfg.BGP == nil:
			diag.errorf(vs.BGPAnnounce, "bgp_announce needs a top-level bgp { } block (router_id, local_as, neighbor)")
		case vs.IsFWMark():
			diag.errorf(vs.BGPAnnounce, "bgp_announce: virtual_server %s has no address to announce (a fwmark service); announce the VIP with an address:port service", vsName(vs))
		}
	}
}

// BGPConfig is the bgp block for the bgp package (nil: none).
func (c *Config) BGPConfig() *bgp.Config {
	b := c.BGP
	if b == nil {
		return nil
	}
	out := &bgp.Config{RouterID: b.RouterID, LocalAS: b.LocalAS, ListenPort: -1, ShutdownDrain: b.ShutdownDrain,
		WithdrawGrace: withdrawGrace, SloppyTCP: b.SloppyTCP}
	for _, n := range b.Neighbors {
		if n.Passive {
			// Only a passive neighbor needs lvsctl to accept sessions.
			out.ListenPort = 179
		}
		out.Neighbors = append(out.Neighbors, bgp.Neighbor{Addr: n.Addr, RemoteAS: n.RemoteAS, HoldTime: n.HoldTime,
			Keepalive: n.KeepaliveInterval, ConnectRetry: n.ConnectRetry, Password: n.Password, Passive: n.Passive,
			Multihop: uint8(n.EBGPMultihop), TTLSecurity: uint8(n.TTLSecurity), Port: n.Port, LocalAddr: n.SourceAddress,
			Pos: n.Pos.String()})
	}
	return out
}

// BGPAnnounced is the services whose VIPs are announced (bgp_announce).
func (c *Config) BGPAnnounced() []director.ServiceKey {
	var out []director.ServiceKey
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if vs.BGPAnnounce.IsValid() && !vs.IsFWMark() {
			out = append(out, serviceKey(vs))
		}
	}
	return out
}

// bgp writes the bgp block with every value spelt out.
func (p *printer) bgp(b *BGP) {
	p.open("bgp")
	p.addr("router_id", b.RouterID)
	p.line("local_as", strconv.FormatUint(uint64(b.LocalAS), 10))
	p.line("shutdown_drain", secs(b.ShutdownDrain))
	p.line("sloppy_tcp", onOff(b.SloppyTCP))
	for _, n := range b.Neighbors {
		p.open("neighbor", n.Addr.String())
		p.line("remote_as", strconv.FormatUint(uint64(n.RemoteAS), 10))
		p.line("hold_time", secs(n.HoldTime))
		if n.HoldTime > 0 {
			p.line("keepalive_interval", secs(n.KeepaliveInterval))
		}
		p.line("connect_retry", secs(n.ConnectRetry))
		p.opt("password", n.Password)
		p.flag("passive", n.Passive)
		if n.EBGPMultihop > 0 {
			p.line("ebgp_multihop", itoa(n.EBGPMultihop))
		}
		if n.TTLSecurity > 0 {
			p.line("ttl_security", itoa(n.TTLSecurity))
		}
		p.line("port", itoa(int(n.Port)))
		p.addr("source_address", n.SourceAddress)
		p.close()
	}
	p.close()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
