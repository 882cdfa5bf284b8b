package vrrp

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
