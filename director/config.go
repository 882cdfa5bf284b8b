package director

import (
	"errors"
	"fmt"
	"net/netip"
)

// Config is the director's part of a keepalived.conf: the virtual servers.
type Config struct {
	Services []VirtualService
}

// VirtualService is one configured virtual_server block.
type VirtualService struct {
	// Service holds the kernel attributes. Normalize fills defaults
	// (netmask, persistence flag).
	Service Service
	// Pos is where the block starts in the config ("file:line"), for logs.
	Pos         string
	RealServers []RealServer
	// Sorry is the sorry_server, or nil.
	Sorry *RealServer
	// SorryInhibit keeps the sorry server in the table with weight 0 while
	// it is not needed (sorry_server_inhibit).
	SorryInhibit bool
	// Quorum is the minimum sum of weights of live real servers (default 1).
	Quorum int
	// Hysteresis delays quorum changes: it is gained at Quorum+Hysteresis
	// and lost below Quorum-Hysteresis.
	Hysteresis int
	// QuorumUp and QuorumDown are shell commands run on quorum changes.
	QuorumUp, QuorumDown string
	// Alpha starts every real server down until its checks pass.
	Alpha bool
	// Omega runs the down notifications when the director stops.
	Omega bool
}

// RealServer is one real_server (or sorry_server) of a virtual service.
type RealServer struct {
	Addr netip.Addr
	// Port is the configured port (checks use it); the IPVS destination
	// port equals the service port unless the forwarding method is NAT.
	Port           uint16
	Weight         int
	Forward        Forward
	UpperThreshold uint32
	LowerThreshold uint32
	// InhibitOnFailure sets weight 0 instead of removing a failed server.
	InhibitOnFailure bool
	// NotifyUp and NotifyDown are shell commands run on health changes.
	NotifyUp, NotifyDown string
	// Alpha starts this server down until its checks pass (as the
	// service's Alpha does for all).
	Alpha bool
	// Checkers is the number of health checkers of the server: it is
	// alive when none of them failed. With none it is always alive.
	Checkers int
	// Pos is where the block starts in the config, for logs.
	Pos string
}

// RealRef names one real server of one virtual service. It is the key of
// the real server's health checks too, so their events need no lookup.
type RealRef struct {
	Service ServiceKey
	Real    DestKey
}

// String formats the reference for logs ("TCP 10.16.8.100:80 -> 10.16.8.8:80").
func (r RealRef) String() string { return r.Service.String() + " -> " + r.Real.String() }

// Key is the real server's identity as configured (address and the port
// its checks use).
func (r RealServer) Key() DestKey { return DestKey{Addr: r.Addr, Port: r.Port} }

// weightMax is the largest weight IPVS accepts (keepalived's IPVS_WEIGHT_MAX).
const weightMax = 65535

// Destination is the IPVS destination the real server becomes in svc with
// the given weight: DR and TUN destinations take the service's port, as
// ipvsadm does.
func (r RealServer) Destination(svc ServiceKey, weight int) Destination {
	port := r.Port
	if r.Forward != Masq {
		port = svc.Port
	}
	return Destination{Addr: r.Addr, Port: port, Weight: clampWeight(weight), Forward: r.Forward,
		UpperThreshold: r.UpperThreshold, LowerThreshold: r.LowerThreshold}
}

func clampWeight(w int) int {
	if w < 0 {
		return 0
	}
	if w > weightMax {
		return weightMax
	}
	return w
}

// Normalize fills defaults and checks the configuration; every problem is
// reported (joined), with the block's position.
func (c *Config) Normalize() error {
	var errs []error
	seen := map[ServiceKey]string{}
	for i := range c.Services {
		vs := &c.Services[i]
		if err := vs.normalize(); err != nil {
			errs = append(errs, err)
		}
		if !vs.Service.Key.Addr.IsValid() && vs.Service.Key.FWMark == 0 {
			continue
		}
		if prev, ok := seen[vs.Service.Key]; ok {
			errs = append(errs, fmt.Errorf("%s: virtual server %s already defined at %s", vs.Pos, vs.Service.Key, prev))
			continue
		}
		seen[vs.Service.Key] = vs.Pos
	}
	return errors.Join(errs...)
}

func (vs *VirtualService) normalize() error {
	s := &vs.Service
	where := vs.Pos
	if where == "" {
		where = s.Key.String()
	}
	k := &s.Key
	if k.FWMark == 0 {
		if !k.Addr.IsValid() {
			return fmt.Errorf("%s: virtual server needs an address or a fwmark", where)
		}
		k.Addr = k.Addr.Unmap()
		k.Family = FamilyOf(k.Addr)
		if k.Protocol == 0 {
			k.Protocol = TCP
		}
		if k.Protocol != TCP && k.Protocol != UDP && k.Protocol != SCTP {
			return fmt.Errorf("%s: unsupported protocol %s", where, k.Protocol)
		}
	} else {
		// The kernel keys fwmark services by mark and family only.
		k.Addr, k.Port, k.Protocol = netip.Addr{}, 0, 0
		if k.Family == 0 {
			k.Family = IPv4
		}
	}
	if s.Scheduler == "" {
		s.Scheduler = "wlc"
	}
	if !ValidScheduler(s.Scheduler) {
		return fmt.Errorf("%s: unknown scheduler %q", where, s.Scheduler)
	}
	s.Flags &^= FlagHashed
	if s.Timeout > 0 {
		s.Flags |= FlagPersistent
	}
	if s.Flags&FlagPersistent != 0 && s.Timeout == 0 {
		// keepalived's and ipvsadm's default persistence timeout.
		s.Timeout = 360
	}
	if s.Netmask == 0 {
		s.Netmask = DefaultNetmask(k.Family)
	}
	if k.Family == IPv6 && (s.Netmask < 1 || s.Netmask > 128) {
		return fmt.Errorf("%s: IPv6 persistence granularity must be a prefix length 1..128, not %d", where, s.Netmask)
	}
	if vs.Quorum <= 0 {
		vs.Quorum = 1
	}
	if vs.Hysteresis < 0 {
		return fmt.Errorf("%s: hysteresis must not be negative", where)
	}
	var errs []error
	dests := make(map[DestKey]string, len(vs.RealServers)+1)
	check := func(r *RealServer, what string) {
		rw := r.Pos
		if rw == "" {
			rw = where
		}
		if !r.Addr.IsValid() {
			errs = append(errs, fmt.Errorf("%s: %s needs an address", rw, what))
			return
		}
		r.Addr = r.Addr.Unmap()
		if k.FWMark == 0 && FamilyOf(r.Addr) != k.Family && r.Forward != Tunnel {
			errs = append(errs, fmt.Errorf("%s: %s %s is not in the family of %s", rw, what, r.Addr, k))
			return
		}
		if r.Weight < 0 || r.Weight > weightMax {
			errs = append(errs, fmt.Errorf("%s: %s weight %d out of range 0..%d", rw, what, r.Weight, weightMax))
			return
		}
		if r.Forward != Masq && r.Forward != Tunnel && r.Forward != DirectRoute {
			errs = append(errs, fmt.Errorf("%s: %s has unknown forwarding method %d", rw, what, r.Forward))
		}
		dk := r.Destination(*k, 0).Key()
		if prev, ok := dests[dk]; ok && what == "real server" {
			errs = append(errs, fmt.Errorf("%s: real server %s duplicates the IPVS destination of %s", rw, r.Key(), prev))
			return
		}
		dests[dk] = rw
	}
	for i := range vs.RealServers {
		check(&vs.RealServers[i], "real server")
	}
	if vs.Sorry != nil {
		check(vs.Sorry, "sorry server")
	}
	return errors.Join(errs...)
}

// managedKeys is the set of services a config declares.
func (c *Config) managedKeys() map[ServiceKey]bool {
	m := make(map[ServiceKey]bool, len(c.Services))
	for _, vs := range c.Services {
		m[vs.Service.Key] = true
	}
	return m
}
