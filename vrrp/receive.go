package vrrp

import (
	"fmt"
	"net/netip"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
	"github.com/lvsctl/lvsctl/vrrp/packet"
)

func (n *Node) receive(rx *Packet) {
	if len(rx.B) < 2 {
		n.dropUnmatched(DropMalformed, rx.Meta, fmt.Errorf("%d bytes, no VRID", len(rx.B)))
		return
	}
	in := n.lookup(rx.Meta.IfIndex, rx.B[1], rx.Meta.Src)
	if in == nil {
		n.dropUnmatched(DropUnknownVRID, rx.Meta, fmt.Errorf("VRID %d is not configured on interface %d", rx.B[1], rx.Meta.IfIndex))
		return
	}
	if rx.Meta.Src == in.src {
		in.count.drop(DropOwn)
		return
	}
	p, reason, warns, err := checkAdvert(&in.pol, rx.B, rx.Meta)
	if reason != "" {
		in.count.drop(reason)
		if !in.loggedDrop[reason] {
			in.loggedDrop[reason] = true
			n.log.Warn("dropping VRRP packet (logged once per reason)", "instance", in.cfg.Name, "from", rx.Meta.Src, "reason", string(reason), "err", err)
		}
		return
	}
	in.count.AdvertsReceived++
	for _, w := range warns {
		in.count.warn(w)
		if !in.loggedWarn[w] {
			in.loggedWarn[w] = true
			n.log.Warn("VRRP advert accepted with a mismatch (logged once)", "instance", in.cfg.Name, "from", rx.Meta.Src, "warning", string(w))
		}
	}
	n.apply(in, in.m.Step(n.clock.Now(), fsm.Advert{Src: rx.Meta.Src, Priority: p.Priority, AdvertInt: p.AdvertInt}))
}

// dropUnmatched counts a packet that reached no instance: too short to
// name a VRID, or for a VRID no instance runs (another cluster on the same
// segment, or a flood). Logged once per reason, like instance drops.
func (n *Node) dropUnmatched(reason DropReason, meta RecvMeta, err error) {
	n.mu.Lock()
	n.unmatched[reason]++
	n.mu.Unlock()
	if !n.loggedUnmatched[reason] {
		n.loggedUnmatched[reason] = true
		n.log.Warn("dropping VRRP packet for no instance (logged once per reason)", "from", meta.Src, "reason", string(reason), "err", err)
	}
}

// Unmatched returns the counts of received packets that reached no
// instance, by reason; safe to call from any goroutine.
func (n *Node) Unmatched() map[DropReason]uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[DropReason]uint64, len(n.unmatched))
	for k, v := range n.unmatched {
		out[k] = v
	}
	return out
}

// lookup finds the instance an advert is for: by interface and VRID, else
// by unicast peer. Running instances go before ones a reload removed, which
// still listen for their successor while they hand over.
func (n *Node) lookup(ifindex int, vrid uint8, src netip.Addr) *instance {
	for _, removed := range []bool{false, true} {
		var unicast *instance
		for _, in := range n.insts {
			// An IPv4 and an IPv6 instance may share a VRID on one
			// interface (RFC 5798 5.2.3: separate virtual routers).
			if in.removed != removed || in.cfg.VRID != vrid || in.pol.ipv6 != src.Is6() {
				continue
			}
			if in.ifindex == ifindex || (in.vmacIndex != 0 && in.vmacIndex == ifindex) {
				return in
			}
			for _, p := range in.cfg.UnicastPeers {
				if p == src {
					unicast = in
				}
			}
		}
		if unicast != nil {
			return unicast
		}
	}
	return nil
}

// sendTTL is the TTL (hop limit) of the instance's adverts: unicast_ttl
// for unicast peers (keepalived 2.2.7 vrrp.c, vrrp_build_ip4 and
// vrrp_send_pkt), 255 otherwise (RFC 5798 5.1.1.3).
func (in *instance) sendTTL() uint8 {
	if len(in.cfg.UnicastPeers) > 0 && in.cfg.UnicastTTL != 0 {
		return in.cfg.UnicastTTL
	}
	return 255
}

func (n *Node) sendAdvert(in *instance, prio uint8) {
	p := &packet.Packet{
		Version:   in.cfg.Version,
		VRID:      in.cfg.VRID,
		Priority:  prio,
		AdvertInt: in.cfg.AdvertInt,
		Addresses: in.advertAddrs,
	}
	if in.cfg.Version == 2 && in.cfg.AuthType == AuthPass {
		p.AuthType = packet.AuthSimple
		p.AuthData = packet.PaddedPassword(in.cfg.AuthPass)
	}
	for _, dst := range in.dsts {
		b, err := p.Marshal(in.src, dst)
		if err == nil {
			err = n.tr.Send(in.sendIndex(), in.src, dst, in.sendTTL(), b)
		}
		if err != nil {
			in.count.SendErrors++
			if !in.loggedSend {
				in.loggedSend = true
				n.log.Warn("cannot send VRRP advert (logged once)", "instance", in.cfg.Name, "to", dst, "err", err)
			}
			continue
		}
		in.count.AdvertsSent++
	}
}
