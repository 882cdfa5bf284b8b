package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VRRP virtual MAC (use_vmac), as keepalived 2.2.7 does it
// (vrrp/vrrp_vmac.c netlink_link_add_vmac and netlink_link_del_vmac,
// vrrp/vrrp_if_config.c set_interface_parameters_sysctl and
// reset_interface_parameters_sysctl): a macvlan in private mode on the
// instance's interface, with MAC 00:00:5e:00:01:VRID (00:00:5e:00:02:VRID
// for IPv6, or the configured one), created and brought up when the node
// starts the instance and deleted when it stops. An IPv6 VMAC carries the
// base interface's link-local address (set_link_local_address), so that
// the adverts leave by it from their usual source. The
// virtual addresses (those without a dev of their own) go on it, and
// gratuitous ARPs leave by it, so clients learn the virtual MAC, which
// moves with the master without any ARP change. Adverts leave by it too
// (source MAC the virtual MAC, source IP the base interface's address)
// unless XmitBase (vmac_xmit_base). Adverts are accepted on both the base
// interface and the VMAC: a multicast frame whose source MAC is that of a
// local private macvlan is handed to that macvlan by the kernel, so the
// master's adverts (sent from the shared virtual MAC) reach a backup on
// its VMAC interface (keepalived 2.2.7 vrrp_scheduler.c joins the group
// on the VMAC, vrrp->ifp, unless vmac_xmit_base).

// VMACConfig is the use_vmac of an instance (nil: none).
type VMACConfig struct {
	// Name is the macvlan's name (at most 15 bytes).
	Name string
	// MAC is the macvlan's MAC; nil: the RFC 5798 virtual router MAC.
	MAC net.HardwareAddr
	// XmitBase sends the adverts out of the instance's interface.
	XmitBase bool
}

// VMACSpec is one VMAC interface to create.
type VMACSpec struct {
	Name string
	// Parent is the base interface (the instance's interface).
	Parent     int
	ParentName string
	MAC        net.HardwareAddr
	// IPv6 marks the VMAC of an IPv6 instance: no IPv4 sysctls, and
	// LinkLocal (when valid: not with vmac_xmit_base) goes on it, /64 and
	// without DAD, to send the adverts from.
	IPv6      bool
	LinkLocal netip.Addr
}

// VMACs creates and deletes VMAC interfaces.
type VMACs interface {
	// Up creates the macvlan (or replaces one of that name with another
	// parent, MAC or mode; any other kind of interface of that name is an
	// error), sets its sysctls and those of the parent, brings it up and
	// returns its ifindex.
	Up(s VMACSpec) (int, error)
	// Down deletes the macvlan ifindex (if it still is s.Name) and
	// restores the parent's sysctls once its last VMAC is gone.
	Down(s VMACSpec, ifindex int) error
}

// vmacAddr is the RFC 5798 7.3 virtual router MAC: 00-00-5E-00-01-{VRID}
// for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
func vmacAddr(vrid uint8, ipv6 bool) net.HardwareAddr {
	if ipv6 {
		return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x02, vrid}
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, vrid}
}

func (in *instance) vmacSpec() VMACSpec {
	v6 := in.cfg.IPv6()
	s := VMACSpec{Name: in.cfg.VMAC.Name, Parent: in.ifindex, ParentName: in.cfg.Interface, MAC: in.vmacMAC(), IPv6: v6}
	if v6 && !in.cfg.VMAC.XmitBase {
		// keepalived 2.2.7 (vrrp_vmac.c set_link_local_address) puts the
		// base interface's link-local address on the VMAC: the adverts
		// leave by the VMAC from the address they would have had.
		s.LinkLocal = in.src
	}
	return s
}

// vmacMAC is the VMAC's MAC: the configured one, else the RFC 5798 one.
func (in *instance) vmacMAC() net.HardwareAddr {
	if in.cfg.VMAC.MAC != nil {
		return in.cfg.VMAC.MAC
	}
	return vmacAddr(in.cfg.VRID, in.cfg.IPv6())
}

// sendIndex is the interface adverts leave by.
func (in *instance) sendIndex() int {
	if in.vmacIndex != 0 && !in.cfg.VMAC.XmitBase {
		return in.vmacIndex
	}
	return in.ifindex
}

// bindVMAC points the instance's VMAC-bound addresses at ifindex.
func (in *instance) bindVMAC(ifindex int) {
	in.vmacIndex = ifindex
	for i := range in.allVIPs {
		if in.allVIPs[i].onVMAC {
			in.allVIPs[i].ifindex = ifindex
		}
	}
}

// vmacUp creates the VMACs of insts that have none yet; on error it
// deletes those it created and changes nothing else.
func (n *Node) vmacUp(insts []*instance) error {
	var made []*instance
	for _, in := range insts {
		if in.cfg.VMAC == nil || in.vmacIndex != 0 {
			continue
		}
		idx, err := n.vmacs.Up(in.vmacSpec())
		if err != nil {
			for _, m := range made {
				n.vmacDown(m)
			}
			return fmt.Errorf("vrrp_instance %s: VMAC %s: %w", in.cfg.Name, in.cfg.VMAC.Name, err)
		}
		n.log.Info("VMAC interface up", "instance", in.cfg.Name, "vmac", in.cfg.VMAC.Name, "ifindex", idx, "mac", in.vmacMAC().String())
		in.bindVMAC(idx)
		made = append(made, in)
	}
	return nil
}

// vmacDown deletes the instance's VMAC (once it holds no address).
func (n *Node) vmacDown(in *instance) {
	if in.vmacIndex == 0 {
		return
	}
	if err := n.vmacs.Down(in.vmacSpec(), in.vmacIndex); err != nil {
		n.log.Error("cannot delete VMAC interface", "instance", in.cfg.Name, "vmac", in.cfg.VMAC.Name, "err", err)
	}
	in.bindVMAC(0)
}

// netlinkVMACs implements VMACs with netlink and /proc/sys, in the node's
// namespace.
type netlinkVMACs struct {
	h    *netlink.Handle
	ns   *nsHandle
	conf procConf
	log  *slog.Logger

	mu sync.Mutex
	// parents holds the saved sysctls of each base interface with VMACs.
	parents map[int]*parentSysctls
}

type parentSysctls struct {
	name                 string
	arpIgnore, arpFilter string
	users                int
}

func (v *netlinkVMACs) setSysctls(ifname string, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := v.conf.Set(ifname, kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func (v *netlinkVMACs) getSysctl(ifname, key string) (string, error) {
	return v.conf.Get(ifname, key)
}

func (v *netlinkVMACs) Up(s VMACSpec) (int, error) {
	if l, err := v.h.LinkByName(s.Name); err == nil {
		mv, ok := l.(*netlink.Macvlan)
		if !ok {
			return 0, fmt.Errorf("interface %s exists and is a %s, not a macvlan", s.Name, l.Type())
		}
		a := mv.Attrs()
		if a.ParentIndex == s.Parent && mv.Mode == netlink.MACVLAN_MODE_PRIVATE && a.HardwareAddr.String() == s.MAC.String() {
			return v.configure(mv, s)
		}
		// keepalived updates a wrong MAC or mode in place and removes one
		// on another parent; lvsctl replaces it in both cases.
		v.log.Info("replacing VMAC interface with the wrong parent, MAC or mode", "vmac", s.Name, "parent", a.ParentIndex, "mac", a.HardwareAddr.String(), "mode", mv.Mode)
		if err := v.h.LinkDel(l); err != nil {
			return 0, fmt.Errorf("remove the old %s: %w", s.Name, err)
		}
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		return 0, fmt.Errorf("look up %s: %w", s.Name, err)
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: s.Name, ParentIndex: s.Parent, HardwareAddr: s.MAC},
		Mode:      netlink.MACVLAN_MODE_PRIVATE,
	}
	if err := v.h.LinkAdd(mv); err != nil {
		return 0, fmt.Errorf("create macvlan %s on %s: %w", s.Name, s.ParentName, err)
	}
	l, err := v.h.LinkByName(s.Name)
	if err != nil {
		return 0, fmt.Errorf("look up the new %s: %w", s.Name, err)
	}
	idx, err := v.configure(l, s)
	if err != nil {
		_ = v.h.LinkDel(l)
		return 0, err
	}
	return idx, nil
}

// configure sets the sysctls of the VMAC and its parent and brings it up.
func (v *netlinkVMACs) configure(l netlink.Link, s VMACSpec) (int, error) {
	// No IPv6 link-local address from the virtual MAC (RFC 5798 7.4;
	// keepalived sets IN6_ADDR_GEN_MODE_NONE). Failing only costs an
	// extra address, as for keepalived, which logs it.
	if err := v.h.LinkSetIP6AddrGenMode(l, 1); err != nil {
		v.log.Warn("cannot turn IPv6 address generation off on the VMAC", "vmac", s.Name, "err", err)
	}
	if s.IPv6 {
		return v.configure6(l, s)
	}
	// arp_ignore: no ARP replies on the VMAC for the parent's addresses;
	// accept_local and rp_filter 0: adverts from the shared virtual MAC
	// arrive here, from an address the VMAC has no route to.
	if err := v.setSysctls(s.Name, "arp_ignore", "1", "accept_local", "1", "rp_filter", "0", "promote_secondaries", "1"); err != nil {
		return 0, err
	}
	if err := v.holdParent(s); err != nil {
		return 0, err
	}
	if err := v.h.LinkSetUp(l); err != nil {
		v.releaseParent(s)
		return 0, fmt.Errorf("bring %s up: %w", s.Name, err)
	}
	return l.Attrs().Index, nil
}

// configure6 brings an IPv6 instance's VMAC up and adds the link-local
// address. keepalived 2.2.7 sets no sysctls for an IPv6 VMAC
// (vrrp_vmac.c: set_interface_parameters is for AF_INET only): neighbour
// discovery answers for an address only on the interface that has it.
func (v *netlinkVMACs) configure6(l netlink.Link, s VMACSpec) (int, error) {
	if err := v.h.LinkSetUp(l); err != nil {
		return 0, fmt.Errorf("bring %s up: %w", s.Name, err)
	}
	if s.LinkLocal.IsValid() {
		// No DAD, as for every IPv6 address keepalived adds
		// (vrrp_ipaddress.c): the address is usable at once, and it is
		// the base interface's own, on the same link.
		a := &netlink.Addr{IPNet: &net.IPNet{IP: s.LinkLocal.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
		if err := v.h.AddrReplace(l, a); err != nil {
			return 0, fmt.Errorf("add %s to %s: %w", s.LinkLocal, s.Name, err)
		}
	}
	return l.Attrs().Index, nil
}

// holdParent sets arp_ignore=1 and arp_filter=1 on the parent (so it does
// not answer ARP for the VIPs on its VMACs with its own MAC), saving the
// values the first VMAC found.
func (v *netlinkVMACs) holdParent(s VMACSpec) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if p, ok := v.parents[s.Parent]; ok {
		p.users++
		return nil
	}
	ign, err := v.getSysctl(s.ParentName, "arp_ignore")
	if err != nil {
		return err
	}
	filt, err := v.getSysctl(s.ParentName, "arp_filter")
	if err != nil {
		return err
	}
	if err := v.setSysctls(s.ParentName, "arp_ignore", "1", "arp_filter", "1"); err != nil {
		_ = v.setSysctls(s.ParentName, "arp_ignore", ign, "arp_filter", filt)
		return err
	}
	v.parents[s.Parent] = &parentSysctls{name: s.ParentName, arpIgnore: ign, arpFilter: filt, users: 1}
	return nil
}

func (v *netlinkVMACs) releaseParent(s VMACSpec) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.parents[s.Parent]
	if !ok {
		return
	}
	if p.users--; p.users > 0 {
		return
	}
	delete(v.parents, s.Parent)
	if err := v.setSysctls(p.name, "arp_ignore", p.arpIgnore, "arp_filter", p.arpFilter); err != nil {
		v.log.Error("cannot restore the sysctls of the VMAC's parent", "interface", p.name, "err", err)
	}
}

func (v *netlinkVMACs) Down(s VMACSpec, ifindex int) error {
	if !s.IPv6 {
		defer v.releaseParent(s)
	}
	l, err := v.h.LinkByIndex(ifindex)
	if err != nil {
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil // gone already
		}
		return fmt.Errorf("look up %s: %w", s.Name, err)
	}
	if _, ok := l.(*netlink.Macvlan); !ok || l.Attrs().Name != s.Name {
		return nil // not ours any more
	}
	if err := v.h.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s: %w", s.Name, err)
	}
	return nil
}
