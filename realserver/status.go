package realserver

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
)

// Status is the real-server view of the host.
type Status struct {
	// VIPs are the non-loopback addresses on lo, plus the VIPs asked about
	// and those in the state file, each with a verdict.
	VIPs []VIPStatus `json:"vips"`
	// Interfaces are the effective ARP settings of every interface but lo.
	Interfaces []IfaceARP `json:"interfaces"`
	// State is the state file's content, nil when there is none.
	State     *State `json:"state"`
	StatePath string `json:"state_file"`
}

// Ready reports whether there is at least one VIP and every VIP is ready.
func (s *Status) Ready() bool {
	if len(s.VIPs) == 0 {
		return false
	}
	for _, v := range s.VIPs {
		if !v.Ready {
			return false
		}
	}
	return true
}

// VIPStatus is the verdict on one VIP.
type VIPStatus struct {
	Addr  netip.Addr `json:"addr"`
	OnLo  bool       `json:"on_lo"`
	Label string     `json:"label,omitempty"`
	// AddedByLvsctl is true when the state file records it.
	AddedByLvsctl bool `json:"added_by_lvsctl"`
	Ready         bool `json:"ready"`
	// Reasons say why it is not ready (empty when it is).
	Reasons []string `json:"reasons"`
}

// IfaceARP is the effective ARP behaviour of one interface. The kernel uses
// the larger of the interface's value and the "all" value.
type IfaceARP struct {
	Name        string    `json:"name"`
	ARPIgnore   Effective `json:"arp_ignore"`
	ARPAnnounce Effective `json:"arp_announce"`
	Problems    []string  `json:"problems"`
}

// Effective is a sysctl on "all", on the interface, and the value in force.
type Effective struct {
	All       int `json:"all"`
	Iface     int `json:"iface"`
	Effective int `json:"effective"`
}

// StatusOptions name VIPs to judge even when they are not on lo.
type StatusOptions struct {
	VIPs []netip.Addr
}

// Status reads the host's addresses, ARP sysctls and state file. It
// changes nothing.
func (m *Manager) Status(ctx context.Context, opts StatusOptions) (*Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, existed, err := m.store.load()
	if err != nil {
		return nil, err
	}
	hostAddrs, err := m.addrs.List()
	if err != nil {
		return nil, err
	}
	out := &Status{StatePath: m.store.path()}
	if existed {
		out.State = &st
	}
	ifaces, err := m.sys.Interfaces()
	if err != nil {
		return nil, err
	}
	slices.Sort(ifaces)
	for _, name := range ifaces {
		if name == "all" || name == "default" || name == Loopback {
			continue
		}
		ia, err := m.ifaceARP(name)
		if err != nil {
			return nil, err
		}
		out.Interfaces = append(out.Interfaces, ia)
	}

	var vips []netip.Addr
	add := func(a netip.Addr) {
		if !slices.Contains(vips, a) {
			vips = append(vips, a)
		}
	}
	for _, a := range hostAddrs {
		if a.Link == Loopback && !a.Prefix.Addr().IsLoopback() {
			add(a.Prefix.Addr())
		}
	}
	for _, v := range st.VIPs {
		add(v.Prefix.Addr())
	}
	for _, v := range opts.VIPs {
		add(v)
	}
	for _, vip := range vips {
		out.VIPs = append(out.VIPs, verdict(vip, hostAddrs, &st, out.Interfaces))
	}
	return out, nil
}

func (m *Manager) ifaceARP(name string) (IfaceARP, error) {
	ia := IfaceARP{Name: name}
	var settings []Effective // in arpSettings order
	for _, s := range arpSettings() {
		var e Effective
		for _, target := range []struct {
			iface string
			dst   *int
		}{{"all", &e.All}, {name, &e.Iface}} {
			v, err := m.sys.Get(target.iface, s.name)
			if err != nil {
				return IfaceARP{}, fmt.Errorf("read net.ipv4.conf.%s.%s: %w", target.iface, s.name, err)
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return IfaceARP{}, fmt.Errorf("net.ipv4.conf.%s.%s=%q is not a number", target.iface, s.name, v)
			}
			*target.dst = n
		}
		e.Effective = max(e.All, e.Iface)
		if !s.acceptable(strconv.Itoa(e.Effective)) {
			ia.Problems = append(ia.Problems, fmt.Sprintf("%s: %s is %d (max of all=%d, %s=%d), %s",
				name, s.name, e.Effective, e.All, name, e.Iface, s.why))
		}
		settings = append(settings, e)
	}
	ia.ARPIgnore, ia.ARPAnnounce = settings[0], settings[1]
	return ia, nil
}

func verdict(vip netip.Addr, host []Addr, st *State, ifaces []IfaceARP) VIPStatus {
	v := VIPStatus{Addr: vip, AddedByLvsctl: st.hasVIP(vip), Reasons: []string{}}
	for _, a := range host {
		if a.Prefix.Addr() != vip {
			continue
		}
		if a.Link == Loopback {
			v.OnLo = true
			v.Label = a.Label
			if a.Prefix.Bits() != vip.BitLen() {
				v.Reasons = append(v.Reasons, fmt.Sprintf("bound as %s on lo, not /%d: the host also claims the rest of that network", a.Prefix, vip.BitLen()))
			}
			continue
		}
		v.Reasons = append(v.Reasons, fmt.Sprintf("also an address of %s: this host owns it there, as a director would", a.Link))
	}
	if !v.OnLo {
		v.Reasons = append(v.Reasons, "not bound on lo: the host drops packets for it")
	}
	if vip.Is4() {
		for _, ia := range ifaces {
			v.Reasons = append(v.Reasons, ia.Problems...)
		}
	}
	v.Ready = len(v.Reasons) == 0
	return v
}
