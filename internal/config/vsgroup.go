package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// virtual_server_group NAME { ADDR[-END] [PORT] ... fwmark N ... } and
// "virtual_server group NAME { ... }", as keepalived 2.2.7 reads them
// (keepalived/check/check_parser.c, vsg_handler and vs_handler;
// check_data.c for the checks). lvsctl expands a group into one virtual
// server per address (a range is one address per value) and per fwmark,
// each with the whole body: IPVS has no groups either, keepalived adds
// one kernel service per member the same way.

// maxGroupRange bounds one range entry: a range is one IPVS service per
// address, and a typo ("10.0.0.1-255" on an IPv6 group) must not make
// 65536 of them.
const maxGroupRange = 256

// vsGroup is a decoded virtual_server_group.
type vsGroup struct {
	pos     Position
	members []vsHeader
	used    bool // by a virtual_server, else a warning
}

// vsGroups decodes the virtual_server_group blocks by name.
func (d *decoder) vsGroups(nodes []*node) map[string]*vsGroup {
	out := map[string]*vsGroup{}
	for _, n := range nodes {
		name := n.args[0].text
		if first, dup := out[name]; dup {
			d.diag.errorf(n.pos(), "virtual_server_group %s defined twice (first at %s)", name, first.pos)
			continue
		}
		g := &vsGroup{pos: n.pos()}
		out[name] = g
		for _, c := range n.children {
			if d.special(c) {
				continue
			}
			if c.block {
				d.diag.errorf(c.pos(), "unexpected block in virtual_server_group %s", name)
				continue
			}
			g.members = append(g.members, d.groupEntry(c, name)...)
		}
		if len(g.members) == 0 {
			d.diag.warnf(n.pos(), "virtual_server_group %s has no members", name)
		}
	}
	return out
}

// groupEntry reads "ADDR[-END] [PORT]" or "fwmark N".
func (d *decoder) groupEntry(c *node, group string) []vsHeader {
	if c.key.text == "fwmark" {
		if len(c.args) != 1 {
			d.diag.errorf(c.pos(), "virtual_server_group %s: expected fwmark N", group)
			return nil
		}
		v, ok := d.intRange(c.args[0], "fwmark", 1, 1<<32-1)
		if !ok {
			return nil
		}
		return []vsHeader{{fwmark: uint32(v), group: group}}
	}
	if len(c.args) > 1 {
		d.diag.errorf(c.args[1].pos(), "virtual_server_group %s: expected ADDR[-END] PORT, unexpected %q", group, c.args[1].text)
		return nil
	}
	var port uint16
	if len(c.args) == 1 {
		p, ok := d.port(c.args[0], "virtual_server_group")
		if !ok {
			return nil
		}
		port = p
	}
	addrs, ok := d.addrRange(c.key, group)
	if !ok {
		return nil
	}
	out := make([]vsHeader, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, vsHeader{addr: a, port: port, group: group})
	}
	return out
}

// addrRange reads ADDR or ADDR-END, where END replaces the last byte of
// an IPv4 address or the last 16-bit group of an IPv6 one (keepalived's
// inet_stor: decimal for IPv4, hexadecimal for IPv6).
func (d *decoder) addrRange(t token, group string) ([]netip.Addr, bool) {
	text, end, isRange := strings.Cut(t.text, "-")
	a, err := netip.ParseAddr(text)
	if err != nil || a.Zone() != "" {
		d.diag.errorf(t.pos(), "virtual_server_group %s: %q is not an IP address or range ADDR-END", group, t.text)
		return nil, false
	}
	a = a.Unmap()
	if !isRange {
		return []netip.Addr{a}, true
	}
	base, last := 10, uint64(255)
	if a.Is6() {
		base, last = 16, 0xffff
	}
	e, err := strconv.ParseUint(end, base, 32)
	b := a.AsSlice()
	var first uint64
	if a.Is4() {
		first = uint64(b[3])
	} else {
		first = uint64(b[14])<<8 | uint64(b[15])
	}
	if err != nil || e > last || e < first {
		d.diag.errorf(t.pos(), "virtual_server_group %s: range %q: the end must be a value of the last part of the address, from %d up", group, t.text, first)
		return nil, false
	}
	if e-first+1 > maxGroupRange {
		d.diag.errorf(t.pos(), "virtual_server_group %s: range %q has more than %d addresses", group, t.text, maxGroupRange)
		return nil, false
	}
	out := make([]netip.Addr, 0, e-first+1)
	for v := first; v <= e; v++ {
		if a.Is4() {
			b[3] = byte(v)
		} else {
			b[14], b[15] = byte(v>>8), byte(v)
		}
		x, _ := netip.AddrFromSlice(b)
		out = append(out, x)
	}
	return out, true
}

// virtualServers decodes the virtual_server blocks in file order,
// expanding "virtual_server group NAME".
func (d *decoder) virtualServers(nodes []*node, groups map[string]*vsGroup) []VirtualServer {
	out := make([]VirtualServer, 0, len(nodes))
	for _, n := range nodes {
		if len(n.args) == 0 || n.args[0].text != "group" || n.args[0].quoted {
			if vs, ok := d.virtualServer(n, d.vsHeaderOf(n)); ok {
				out = append(out, vs)
			}
			continue
		}
		if len(n.args) != 2 {
			d.diag.errorf(n.pos(), "virtual_server group takes one group name")
			d.virtualServer(n, vsHeader{bad: true})
			continue
		}
		name := n.args[1].text
		g, ok := groups[name]
		if !ok {
			d.diag.errorf(n.args[1].pos(), "virtual_server group %s: no virtual_server_group of that name (keepalived would skip this virtual server)", name)
			d.virtualServer(n, vsHeader{bad: true})
			continue
		}
		g.used = true
		d.groupVS = append(d.groupVS, groupVS{pos: n.pos(), name: name})
		if len(g.members) == 0 {
			d.virtualServer(n, vsHeader{bad: true})
			continue
		}
		for _, m := range g.members {
			if vs, ok := d.virtualServer(n, m); ok {
				out = append(out, vs)
			}
		}
	}
	for name, g := range groups {
		if !g.used {
			d.diag.warnf(g.pos, "virtual_server_group %s is not used by any virtual_server", name)
		}
	}
	return out
}
