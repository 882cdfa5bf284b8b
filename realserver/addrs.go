package realserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Loopback is the interface VIPs are bound to.
const Loopback = "lo"

// Label marks the IPv4 VIPs lvsctl adds, so `ip addr show lo` tells who put
// them there. The kernel requires an IPv4 label to start with the interface
// name and to fit in 15 bytes; IPv6 addresses have no labels.
const Label = "lo:lvsctl"

// Addr is one address of a link.
type Addr struct {
	Link   string
	Prefix netip.Prefix
	// Label is the IPv4 label ("" for IPv6 and unlabelled addresses).
	Label string
}

// NetlinkAddrs implements Addrs with rtnetlink, in the network namespace of
// its handle.
type NetlinkAddrs struct {
	h *netlink.Handle
}

// NewNetlinkAddrs uses h, which stays owned by the caller.
func NewNetlinkAddrs(h *netlink.Handle) *NetlinkAddrs { return &NetlinkAddrs{h: h} }

// dumpRetries bounds retries of a dump the kernel interrupted because the
// table changed meanwhile.
const dumpRetries = 5

// List returns every address of every link.
func (n *NetlinkAddrs) List() ([]Addr, error) {
	var links []netlink.Link
	var addrs []netlink.Addr
	var err error
	for range dumpRetries {
		links, err = n.h.LinkList()
		if err == nil {
			addrs, err = n.h.AddrList(nil, netlink.FAMILY_ALL)
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	out := make([]Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, Addr{
			Link:   names[a.LinkIndex],
			Prefix: netip.PrefixFrom(ip.Unmap(), ones),
			Label:  a.Label,
		})
	}
	return out, nil
}

func (n *NetlinkAddrs) nlAddr(p netip.Prefix, label string) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
	if p.Addr().Is4() {
		a.Label = label
	} else {
		// A VIP must be usable at once; DAD would hold it "tentative".
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// AddLo binds p to lo (IPv4 with label). An address already there counts as
// done.
func (n *NetlinkAddrs) AddLo(p netip.Prefix, label string) error {
	lo, err := n.h.LinkByName(Loopback)
	if err != nil {
		return fmt.Errorf("find %s: %w", Loopback, err)
	}
	if err := n.h.AddrReplace(lo, n.nlAddr(p, label)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s to %s: %w", p, Loopback, err)
	}
	return nil
}

// DelLo removes p from lo. An address already gone counts as done.
func (n *NetlinkAddrs) DelLo(p netip.Prefix) error {
	lo, err := n.h.LinkByName(Loopback)
	if err != nil {
		return fmt.Errorf("find %s: %w", Loopback, err)
	}
	// No label: delete by address, whatever label it carries now.
	if err := n.h.AddrDel(lo, n.nlAddr(p, "")); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove %s from %s: %w", p, Loopback, err)
	}
	return nil
}
