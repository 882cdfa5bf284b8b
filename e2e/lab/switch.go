package lab

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// Switch is an Ethernet bridge in a namespace of its own.
type Switch struct {
	lab    *Lab
	host   *Host // the namespace that holds the bridge
	bridge netlink.Link
	ports  int
}

// Link is one veth cable between a host and a switch.
type Link struct {
	sw     *Switch
	host   *Host
	ifname string // the host's end
	port   string // the switch's end
}

const bridgeName = "br0"

// Switch returns the switch called name, creating it the first time. Its
// multicast snooping is off, so multicast (VRRP adverts) floods like on a
// plain hub.
func (l *Lab) Switch(name string) *Switch {
	l.t.Helper()
	l.mu.Lock()
	sw, ok := l.switches[name]
	l.mu.Unlock()
	if ok {
		return sw
	}
	host := l.Host("sw-" + name)
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName}, MulticastSnooping: &off}
	if err := host.handle.LinkAdd(br); err != nil {
		l.t.Fatalf("lab: switch %s: add bridge: %v", name, err)
	}
	if err := host.linkUp(bridgeName); err != nil {
		l.t.Fatalf("lab: switch %s: %v", name, err)
	}
	link, err := host.handle.LinkByName(bridgeName)
	if err != nil {
		l.t.Fatalf("lab: switch %s: %v", name, err)
	}
	sw = &Switch{lab: l, host: host, bridge: link}
	l.mu.Lock()
	l.switches[name] = sw
	l.mu.Unlock()
	return sw
}

// Attach plugs host into the switch with a new veth whose host end is
// called ifname, gives it the addresses cidrs ("10.16.8.8/24") and brings
// both ends up.
func (s *Switch) Attach(h *Host, ifname string, cidrs ...string) *Link {
	s.lab.t.Helper()
	l, err := s.attach(h, ifname, cidrs)
	if err != nil {
		s.lab.t.Fatalf("lab: attach %s:%s to switch: %v", h.name, ifname, err)
	}
	return l
}

func (s *Switch) attach(h *Host, ifname string, cidrs []string) (*Link, error) {
	s.lab.mu.Lock()
	s.ports++
	port := fmt.Sprintf("p%d", s.ports)
	s.lab.mu.Unlock()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: port, MasterIndex: s.bridge.Attrs().Index},
		PeerName:      ifname,
		PeerNamespace: netlink.NsFd(int(h.ns)),
	}
	if err := s.host.handle.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("add veth %s<->%s: %w", port, ifname, err)
	}
	if err := s.host.linkUp(port); err != nil {
		return nil, err
	}
	for _, c := range cidrs {
		if err := h.addAddr(ifname, c); err != nil {
			return nil, err
		}
	}
	if err := h.linkUp(ifname); err != nil {
		return nil, err
	}
	return &Link{sw: s, host: h, ifname: ifname, port: port}, nil
}

// Cut pulls the cable out at the switch: the host's interface stays up (its
// addresses stay) but nothing reaches the switch, like a dead peer or a
// broken cable. Reconnect plugs it back in.
func (l *Link) Cut() { l.setPort(false) }

// Reconnect undoes Cut.
func (l *Link) Reconnect() { l.setPort(true) }

func (l *Link) setPort(up bool) {
	t := l.sw.lab.t
	t.Helper()
	link, err := l.sw.host.handle.LinkByName(l.port)
	if err != nil {
		t.Fatalf("lab: find switch port %s: %v", l.port, err)
	}
	set := l.sw.host.handle.LinkSetDown
	if up {
		set = l.sw.host.handle.LinkSetUp
	}
	if err := set(link); err != nil {
		t.Fatalf("lab: set switch port %s up=%v: %v", l.port, up, err)
	}
}

// Ifname is the name of the link's end inside the host.
func (l *Link) Ifname() string { return l.ifname }

// SwitchPortStats returns the counters of the switch's end of the link:
// what the switch sent to the host (TxPackets) and received from it
// (RxPackets). Tests use them to prove which way packets went.
func (l *Link) SwitchPortStats() netlink.LinkStatistics {
	t := l.sw.lab.t
	t.Helper()
	link, err := l.sw.host.handle.LinkByName(l.port)
	if err != nil {
		t.Fatalf("lab: find switch port %s: %v", l.port, err)
	}
	if link.Attrs().Statistics == nil {
		t.Fatalf("lab: switch port %s has no statistics", l.port)
	}
	return *link.Attrs().Statistics
}
