package vrrp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
	"github.com/lvsctl/lvsctl/vrrp/packet"
)

// apply performs the actions of one step, in order.
func (n *Node) apply(in *instance, acts []fsm.Action) {
	for _, a := range acts {
		switch a.Kind {
		case fsm.SendAdvert:
			n.sendAdvert(in, a.Priority)
		case fsm.AddVIPs:
			for _, v := range in.allVIPs {
				n.addVIP(in, v)
			}
			n.addRoutes(in)
		case fsm.RemoveVIPs:
			n.delRoutes(in)
			for _, v := range in.allVIPs {
				n.delVIP(in, v)
			}
		case fsm.SendGARP:
			for range a.Count {
				for _, v := range in.allVIPs {
					n.announce(in, v, 1)
				}
			}
		case fsm.Transition:
			n.transitioned(in, a)
		}
	}
	// After the step's own RemoveVIPs: whatever is left was put there by
	// someone else (or the removal failed).
	if leftMaster(acts) && !in.m.HoldsVIPs() {
		n.syncVIPs(in)
	}
}

// instance is one vrrp_instance at run time.
type instance struct {
	cfg         InstanceConfig
	m           *fsm.Machine
	pol         rxPolicy
	ifindex     int
	src         netip.Addr
	dsts        []netip.Addr
	advertAddrs []netip.Addr
	allVIPs     []boundVIP
	group       *syncGroup
	notify      notifySet
	scripts     []trackedScript
	linkUp      map[string]bool
	ifWeights   map[string]int
	scriptOK    map[string]bool
	tr          trackState
	problems    []string
	// removed: a reload dropped the instance; it hands over and is
	// forgotten once stopped.
	removed bool
	// routes holds the virtual routes and rules this instance added (nil
	// until it first becomes master; routes.go).
	routes *netroute.Owner
	// vmacIndex is the ifindex of the VMAC interface while it is up (0:
	// none; vmac.go).
	vmacIndex int

	count          Counters
	lastTransition time.Time
	loggedDrop     map[DropReason]bool
	loggedWarn     map[Warning]bool
	loggedSend     bool
	loggedGARP     bool
}

type boundVIP struct {
	VIP
	ifindex int
	// onVMAC: the address goes on the instance's VMAC interface (its
	// ifindex is set when the VMAC is up).
	onVMAC bool
}

type trackedScript struct {
	script  *trackScript
	weight  int
	reverse bool
}

// newInstance prepares an instance of cfg in INIT. It only looks things up,
// so a reload can build every instance before it changes anything.
func (n *Node) newInstance(ic InstanceConfig, scripts map[string]*trackScript, cfg *Config) (*instance, error) {
	where := "vrrp_instance " + ic.Name
	info, err := n.links.Lookup(ic.Interface)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	in := &instance{
		cfg:        ic,
		ifindex:    info.Index,
		src:        ic.SrcIP,
		linkUp:     map[string]bool{},
		ifWeights:  map[string]int{},
		scriptOK:   map[string]bool{},
		loggedDrop: map[DropReason]bool{},
		loggedWarn: map[Warning]bool{},
		count:      Counters{Drops: map[DropReason]uint64{}, Warnings: map[Warning]uint64{}},
	}
	vipSet := map[netip.Addr]bool{}
	for _, v := range ic.VIPs {
		vipSet[v.Prefix.Addr()] = true
		in.advertAddrs = append(in.advertAddrs, v.Prefix.Addr())
	}
	v6 := ic.IPv6()
	if !in.src.IsValid() && v6 {
		// keepalived 2.2.7 sends IPv6 adverts from the interface's
		// link-local address (keepalived_netlink.c keeps only that one
		// as ifp->sin6_addr; vrrp.c uses it as the source), as RFC 5798
		// 5.1.2.1 asks.
		for _, a := range info.LinkLocal6 {
			if !vipSet[a] {
				in.src = a
				break
			}
		}
		if !in.src.IsValid() {
			return nil, fmt.Errorf("%s: interface %s has no usable IPv6 link-local address to send adverts from", where, ic.Interface)
		}
	}
	if !in.src.IsValid() {
		for _, p := range info.Addrs {
			if !vipSet[p.Addr()] {
				in.src = p.Addr()
				break
			}
		}
	}
	if !in.src.IsValid() {
		return nil, fmt.Errorf("%s: interface %s has no IPv4 address to send adverts from", where, ic.Interface)
	}
	for _, v := range append(append([]VIP(nil), ic.VIPs...), ic.ExcludedVIPs...) {
		// The loader sets the dev of the VMAC's addresses to its name.
		if ic.VMAC != nil && (v.Dev == "" || v.Dev == ic.VMAC.Name) {
			in.allVIPs = append(in.allVIPs, boundVIP{VIP: v, onVMAC: true})
			continue
		}
		idx := in.ifindex
		if v.Dev != "" && v.Dev != ic.Interface {
			di, err := n.links.Lookup(v.Dev)
			if err != nil {
				return nil, fmt.Errorf("%s: virtual address %s: %w", where, v.Prefix, err)
			}
			idx = di.Index
		}
		in.allVIPs = append(in.allVIPs, boundVIP{VIP: v, ifindex: idx})
	}
	in.dsts = ic.UnicastPeers
	if len(in.dsts) == 0 {
		in.dsts = []netip.Addr{cfg.McastGroup4}
		if v6 {
			in.dsts = []netip.Addr{cfg.McastGroup6}
		}
	}
	in.pol = rxPolicy{version: ic.Version, ipv6: v6, advertInt: ic.AdvertInt, unicast: len(ic.UnicastPeers) > 0, vips: in.advertAddrs}
	if ic.AuthType == AuthPass {
		in.pol.authType = packet.AuthSimple
		in.pol.authData = packet.PaddedPassword(ic.AuthPass)
	}
	if !ic.DontTrackPrimary {
		in.linkUp[ic.Interface] = info.Up
		in.ifWeights[ic.Interface] = 0
	}
	for _, ti := range ic.TrackInterfaces {
		in.linkUp[ti.Name] = false
		in.ifWeights[ti.Name] = ti.Weight
	}
	for _, tr := range ic.TrackScripts {
		s := scripts[tr.Name]
		w := s.cfg.Weight
		if tr.WeightSet {
			w = tr.Weight
		}
		in.scripts = append(in.scripts, trackedScript{script: s, weight: w, reverse: tr.Reverse != s.cfg.WeightReverse})
		in.scriptOK[tr.Name] = !s.cfg.InitFail
	}
	in.tr = newTrackState(ic)
	if in.notify, err = parseNotify(ic.Notify); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
	}
	in.problems = append(in.problems, in.notify.problems...)
	for _, p := range in.notify.problems {
		n.log.Error("notify script cannot run; VRRP continues without it", "instance", ic.Name, "problem", p)
	}
	in.m = fsm.New(in.fsmConfig(cfg))
	return in, nil
}

// fsmConfig is the state machine's view of the instance.
func (in *instance) fsmConfig(cfg *Config) fsm.Config {
	ic := &in.cfg
	return fsm.Config{
		Version:              ic.Version,
		Priority:             ic.Priority,
		AdvertInt:            ic.AdvertInt,
		Nopreempt:            ic.Nopreempt,
		PreemptDelay:         ic.PreemptDelay,
		LocalAddr:            in.src,
		GARPRepeat:           ic.GARPRepeat,
		GARPDelay:            ic.GARPDelay,
		GARPRefresh:          ic.GARPRefresh,
		GARPRefreshRepeat:    ic.GARPRefreshRepeat,
		GARPLowerPrioRepeat:  ic.GARPLowerPrioRepeat,
		GARPLowerPrioDelay:   ic.GARPLowerPrioDelay,
		ReleaseGrace:         cfg.ReleaseGrace,
		DownAdverts:          ic.DownAdverts,
		LowerPrioNoAdvert:    ic.LowerPrioNoAdvert,
		HigherPrioSendAdvert: ic.HigherPrioSendAdvert,
	}
}
