package vrrp

import (
	"net/netip"
	"time"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// DefaultVIPResync is how often the node compares the interfaces with the
// addresses its instances hold (WithVIPResync).
const DefaultVIPResync = 5 * time.Second

// syncVIPs repairs address drift: a VIP of an instance that does not hold
// its addresses (BACKUP, FAULT, INIT, STOP) must not be on the interface,
// whoever put it there (a previous run, an admin, a script), or two hosts
// answer ARP for it; a VIP of an instance that holds them (MASTER, or a
// master handing over) must be there, and gets gratuitous ARP again when it
// was deleted behind the node's back. only limits the check to one
// instance (nil: all). An address some holding instance has is never
// removed, so a reload that moves a VIP between instances cannot cut it.
// Every repair is logged and counted (Counters.VIPRepairs).
func (n *Node) syncVIPs(only *instance) {
	held := map[netip.Addr]bool{}
	for _, in := range n.insts {
		if in.m.HoldsVIPs() {
			for _, v := range in.allVIPs {
				held[v.Prefix.Addr()] = true
			}
		}
	}
	listed := map[int][]netip.Prefix{}
	failed := map[int]bool{}
	list := func(ifindex int) ([]netip.Prefix, bool) {
		if l, ok := listed[ifindex]; ok || failed[ifindex] {
			return l, ok
		}
		l, err := n.addrs.Addrs(ifindex)
		if err != nil {
			failed[ifindex] = true
			n.log.Warn("cannot list addresses to check the virtual addresses", "ifindex", ifindex, "err", err)
			return nil, false
		}
		listed[ifindex] = l
		return l, true
	}
	for _, in := range n.insts {
		if only != nil && in != only {
			continue
		}
		holds := in.m.HoldsVIPs()
		for _, v := range in.allVIPs {
			addrs, ok := list(v.ifindex)
			if !ok {
				continue
			}
			var present []netip.Prefix
			for _, p := range addrs {
				if p.Addr() == v.Prefix.Addr() {
					present = append(present, p)
				}
			}
			switch {
			case holds && len(present) == 0:
				in.count.VIPRepairs++
				n.log.Warn("virtual address missing on the master; adding it again", "instance", in.cfg.Name, "vip", v.Prefix, "state", in.m.State().String())
				if n.addVIP(in, v) {
					n.announce(in, v, in.cfg.GARPRepeat)
				}
			case !holds && len(present) > 0 && !held[v.Prefix.Addr()]:
				for _, p := range present {
					in.count.VIPRepairs++
					n.log.Warn("virtual address on the interface of an instance that is not master; removing it", "instance", in.cfg.Name, "vip", p, "state", in.m.State().String())
					stale := v
					stale.Prefix = p
					n.delVIP(in, stale)
				}
			}
		}
	}
}

// leftMaster reports whether a step moved the instance to BACKUP or FAULT,
// after which no VIP of it may stay on the interface.
func leftMaster(acts []fsm.Action) bool {
	for _, a := range acts {
		if a.Kind == fsm.Transition && (a.To == fsm.Backup || a.To == fsm.Fault) {
			return true
		}
	}
	return false
}

// addVIP installs one virtual address; false (counted, logged) on failure.
func (n *Node) addVIP(in *instance, v boundVIP) bool {
	if err := n.addrs.AddAddr(v.ifindex, v.VIP); err != nil {
		in.count.VIPErrors++
		n.log.Error("cannot add virtual address", "instance", in.cfg.Name, "vip", v.Prefix, "err", err)
		return false
	}
	return true
}

// delVIP removes one virtual address; false (counted, logged) on failure.
func (n *Node) delVIP(in *instance, v boundVIP) bool {
	if err := n.addrs.DelAddr(v.ifindex, v.VIP); err != nil {
		in.count.VIPErrors++
		n.log.Error("cannot remove virtual address", "instance", in.cfg.Name, "vip", v.Prefix, "err", err)
		return false
	}
	return true
}

// announce sends count gratuitous ARPs for one address.
func (n *Node) announce(in *instance, v boundVIP, count int) {
	for range count {
		if err := n.arp.Announce(v.ifindex, v.Prefix.Addr()); err != nil {
			in.count.GARPErrors++
			if !in.loggedGARP {
				in.loggedGARP = true
				n.log.Warn("gratuitous ARP failed (logged once)", "instance", in.cfg.Name, "vip", v.Prefix, "err", err)
			}
			continue
		}
		in.count.GARPsSent++
	}
}
