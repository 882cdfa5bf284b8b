package vrrp

import (
	"net/netip"

	"github.com/lvsctl/lvsctl/vrrp/fsm"
	"github.com/lvsctl/lvsctl/vrrp/packet"
)

type rxEvent struct {
	b    []byte
	meta RecvMeta
}

func (n *Node) receive(rx *rxEvent) {
	if len(rx.b) < 2 {
		return
	}
	in := n.lookup(rx.meta.IfIndex, rx.b[1], rx.meta.Src)
	if in == nil {
		return
	}
	if rx.meta.Src == in.src {
		in.count.drop(DropOwn)
		return
	}
	p, reason, warns, err := checkAdvert(&in.pol, rx.b, rx.meta)
	if reason != "" {
		in.count.drop(reason)
		if !in.loggedDrop[reason] {
			in.loggedDrop[reason] = true
			n.log.Warn("dropping VRRP packet (logged once per reason)", "instance", in.cfg.Name, "from", rx.meta.Src, "reason", string(reason), "err", err)
		}
		return
	}
	in.count.AdvertsReceived++
	for _, w := range warns {
		in.count.warn(w)
		if !in.loggedWarn[w] {
			in.loggedWarn[w] = true
			n.log.Warn("VRRP advert accepted with a mismatch (logged once)", "instance", in.cfg.Name, "from", rx.meta.Src, "warning", string(w))
		}
	}
	n.apply(in, in.m.Step(n.clock.Now(), fsm.Advert{Src: rx.meta.Src, Priority: p.Priority, AdvertInt: p.AdvertInt}))
}

// lookup finds the instance an advert is for: by interface and VRID, else
// by unicast peer. Running instances go before ones a reload removed, which
// still listen for their successor while they hand over.
func (n *Node) lookup(ifindex int, vrid uint8, src netip.Addr) *instance {
	for _, removed := range []bool{false, true} {
		var unicast *instance
		for _, in := range n.insts {
			if in.removed != removed || in.cfg.VRID != vrid {
				continue
			}
			if in.ifindex == ifindex {
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
			err = n.tr.Send(in.ifindex, in.src, dst, b)
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
