package netroute

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink is the Kernel of a network namespace, through one netlink handle.
type Netlink struct {
	h *netlink.Handle
}

// NewNetlink uses h (netlink.NewHandle() for the calling thread's
// namespace, netlink.NewHandleAt(ns) for another); the caller closes h.
func NewNetlink(h *netlink.Handle) *Netlink { return &Netlink{h: h} }

var _ Kernel = (*Netlink)(nil)

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func family(v6 bool) int {
	if v6 {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

func (k *Netlink) linkIndex(name string) (int, error) {
	l, err := k.h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return l.Attrs().Index, nil
}

func (k *Netlink) route(r Route) (*netlink.Route, error) {
	nr := &netlink.Route{
		Family:   family(r.IPv6()),
		Dst:      ipnet(r.Dst),
		Table:    int(r.Table),
		Priority: int(r.Metric),
		Scope:    netlink.Scope(r.Scope),
		Protocol: netlink.RouteProtocol(r.Protocol),
		Tos:      int(r.TOS),
	}
	switch r.Type {
	case Unicast:
		nr.Type = unix.RTN_UNICAST
	case Blackhole:
		nr.Type = unix.RTN_BLACKHOLE
	case Unreachable:
		nr.Type = unix.RTN_UNREACHABLE
	case Prohibit:
		nr.Type = unix.RTN_PROHIBIT
	case Throw:
		nr.Type = unix.RTN_THROW
	default:
		return nil, fmt.Errorf("route %v: unknown type %d", r, r.Type)
	}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.OnLink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	if r.Dev != "" {
		i, err := k.linkIndex(r.Dev)
		if err != nil {
			return nil, err
		}
		nr.LinkIndex = i
	}
	for _, h := range r.NextHops.List() {
		nh := &netlink.NexthopInfo{Hops: int(h.Weight) - 1}
		if h.Via.IsValid() {
			nh.Gw = h.Via.AsSlice()
		}
		if h.Dev != "" {
			i, err := k.linkIndex(h.Dev)
			if err != nil {
				return nil, err
			}
			nh.LinkIndex = i
		}
		if h.OnLink {
			nh.Flags = int(netlink.FLAG_ONLINK)
		}
		nr.MultiPath = append(nr.MultiPath, nh)
	}
	return nr, nil
}

// AddRoute adds r without NLM_F_EXCL, as keepalived does ("ip route
// prepend"): an identical route already there is no error.
func (k *Netlink) AddRoute(r Route) error {
	nr, err := k.route(r)
	if err != nil {
		return err
	}
	if err := k.h.RouteAddEcmp(nr); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// DelRoute removes the route with r's attributes (its protocol included,
// so a route someone else added with another protocol is not touched).
func (k *Netlink) DelRoute(r Route) error {
	nr, err := k.route(r)
	if err != nil {
		var le netlink.LinkNotFoundError
		if errors.As(err, &le) {
			return nil // the interface and its routes are gone
		}
		return err
	}
	if err := k.h.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

func rule(r Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = family(r.IPv6)
	if r.From.IsValid() {
		nr.Src = ipnet(r.From)
	}
	if r.To.IsValid() {
		nr.Dst = ipnet(r.To)
	}
	nr.Invert = r.Invert
	nr.IifName, nr.OifName = r.IIF, r.OIF
	if r.MarkSet {
		nr.Mark = r.Mark
		if r.MaskSet {
			m := r.Mask
			nr.Mask = &m
		}
		// "fwmark 0" without a mask sends no FRA_FWMARK: the kernel gives
		// a zero mark a zero mask, which matches every packet either way.
	}
	nr.Tos = uint(r.TOS)
	nr.Priority = int(r.Priority)
	nr.Protocol = r.Protocol
	switch r.Action {
	case ActionTable:
		nr.Table = int(r.Table)
		nr.Type = uint8(ActionTable)
	case ActionGoto:
		nr.Goto = int(r.Goto)
	default:
		nr.Type = uint8(r.Action)
	}
	return nr
}

// AddRule adds r with NLM_F_EXCL, as keepalived does; a rule with every
// attribute equal already there is no error.
func (k *Netlink) AddRule(r Rule) error {
	if err := k.h.RuleAdd(rule(r)); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// DelRule removes the rule with r's attributes.
func (k *Netlink) DelRule(r Rule) error {
	if err := k.h.RuleDel(rule(r)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}

func (k *Netlink) addr(a Addr) (netlink.Link, *netlink.Addr, error) {
	l, err := k.h.LinkByName(a.Dev)
	if err != nil {
		return nil, nil, fmt.Errorf("interface %s: %w", a.Dev, err)
	}
	na := &netlink.Addr{IPNet: ipnet(a.Prefix), Label: a.Label, Scope: int(a.Scope)}
	if a.Broadcast.IsValid() {
		na.Broadcast = a.Broadcast.AsSlice()
	}
	return l, na, nil
}

// AddAddr adds a; an address already on the interface is no error.
func (k *Netlink) AddAddr(a Addr) error {
	l, na, err := k.addr(a)
	if err != nil {
		return err
	}
	if err := k.h.AddrAdd(l, na); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// DelAddr removes a; an address (or interface) already gone is no error.
func (k *Netlink) DelAddr(a Addr) error {
	l, na, err := k.addr(a)
	if err != nil {
		var le netlink.LinkNotFoundError
		if errors.As(err, &le) {
			return nil
		}
		return err
	}
	if err := k.h.AddrDel(l, na); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		return err
	}
	return nil
}
