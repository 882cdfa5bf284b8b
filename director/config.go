package director

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/lvsctl/lvsctl/internal/script"
)

// Script is a notify or quorum script as configured: its command line and
// who runs it (script.As: the user after the quoted command, else
// script_user; enable_script_security). The zero value is "no script".
type Script struct {
	Line string
	As   script.As
}

// IsZero reports whether no script was configured.
func (s Script) IsZero() bool { return s.Line == "" }

// Config is the director's part of a keepalived.conf: the virtual servers.
type Config struct {
	Services []VirtualService
	// InitNotifies runs notify_up for every real server that starts alive
	// (at Start, and the new ones of a reload): keepalived's
	// rs_init_notifies (check/ipwrapper.c, init_service_rs). Without it a
	// real server's first state runs nothing, as keepalived's default.
	InitNotifies bool
}

// VirtualService is one configured virtual_server block.
type VirtualService struct {
	// Service holds the kernel attributes, every default applied by the
	// configuration loader (scheduler, netmask, persistence flag/timeout).
	Service Service
	// Pos is where the block starts in the config ("file:line"), for logs.
	Pos         string
	RealServers []RealServer
	// Sorry is the sorry_server, or nil.
	Sorry *RealServer
	// SorryInhibit keeps the sorry server in the table with weight 0 while
	// it is not needed (sorry_server_inhibit).
	SorryInhibit bool
	// Quorum is the minimum sum of weights of live real servers (≥ 1).
	Quorum int
	// Hysteresis delays quorum changes: it is gained at Quorum+Hysteresis
	// and lost below Quorum-Hysteresis.
	Hysteresis int
	// QuorumUp and QuorumDown run on quorum changes (and at start:
	// Director.Start).
	QuorumUp, QuorumDown Script
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
	// NotifyUp and NotifyDown run on health changes.
	NotifyUp, NotifyDown Script
	// Alpha starts this server down until its checks pass (as the
	// service's Alpha does for all).
	Alpha bool
	// Checked is true when the server has health checkers; without any it
	// is always alive (and Alpha does not apply).
	Checked bool
	// Pos is where the block starts in the config, for logs.
	Pos string
}

// RealRef is the identity of one real server of one virtual service, the
// same value from the configuration through the health checks to status
// and metrics.
type RealRef struct {
	Service ServiceKey `json:"service"`
	Real    DestKey    `json:"real"`
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

// Validate asserts the invariants the director relies on. The
// configuration loader (internal/config) applies every default and reports
// user errors with their positions; an error here is a programmer's mistake
// (or a hand-built Config), reported with the block's position.
func (c *Config) Validate() error {
	var errs []error
	seen := make(map[ServiceKey]string, len(c.Services))
	for i := range c.Services {
		vs := &c.Services[i]
		if err := vs.validate(); err != nil {
			errs = append(errs, err)
		}
		if prev, ok := seen[vs.Service.Key]; ok {
			errs = append(errs, fmt.Errorf("%s: virtual server %s already defined at %s", vs.Pos, vs.Service.Key, prev))
			continue
		}
		seen[vs.Service.Key] = vs.Pos
	}
	return errors.Join(errs...)
}

func (vs *VirtualService) validate() error {
	s := &vs.Service
	k := s.Key
	where := vs.Pos
	if where == "" {
		where = k.String()
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, a...))
	}
	switch {
	case k.Family != IPv4 && k.Family != IPv6:
		return bad("virtual server family %s", k.Family)
	case k.FWMark == 0 && (!k.Addr.IsValid() || k.Addr.Is4In6() || FamilyOf(k.Addr) != k.Family):
		return bad("virtual server needs an address of its family (got %s)", k.Addr)
	case k.FWMark == 0 && k.Protocol != TCP && k.Protocol != UDP && k.Protocol != SCTP:
		return bad("unsupported protocol %s", k.Protocol)
	case k.FWMark != 0 && (k.Addr.IsValid() || k.Port != 0 || k.Protocol != 0):
		return bad("a fwmark service has no address, port or protocol")
	case !ValidScheduler(s.Scheduler):
		return bad("unknown scheduler %q", s.Scheduler)
	case s.Flags&FlagHashed != 0:
		return bad("the HASHED flag is the kernel's, never desired")
	case (s.Flags&FlagPersistent != 0) != (s.Timeout > 0):
		return bad("persistence flag and timeout disagree (flags %#x, timeout %d)", s.Flags, s.Timeout)
	case k.Family == IPv6 && (s.Netmask < 1 || s.Netmask > 128):
		return bad("IPv6 persistence granularity must be a prefix length 1..128, not %d", s.Netmask)
	case k.Family == IPv4 && s.Netmask == 0:
		return bad("no IPv4 persistence netmask")
	case vs.Quorum < 1:
		return bad("quorum %d is below 1", vs.Quorum)
	case vs.Hysteresis < 0:
		return bad("hysteresis must not be negative")
	}
	var errs []error
	dests := make(map[DestKey]string, len(vs.RealServers)+1)
	check := func(r *RealServer, what string) {
		rw := r.Pos
		if rw == "" {
			rw = where
		}
		switch {
		case !r.Addr.IsValid() || r.Addr.Is4In6():
			errs = append(errs, fmt.Errorf("%s: %s needs an address (got %s)", rw, what, r.Addr))
			return
		case k.FWMark == 0 && FamilyOf(r.Addr) != k.Family && r.Forward != Tunnel:
			errs = append(errs, fmt.Errorf("%s: %s %s is not in the family of %s", rw, what, r.Addr, k))
			return
		case r.Weight < 0 || r.Weight > weightMax:
			errs = append(errs, fmt.Errorf("%s: %s weight %d out of range 0..%d", rw, what, r.Weight, weightMax))
			return
		case r.Forward != Masq && r.Forward != Tunnel && r.Forward != DirectRoute:
			errs = append(errs, fmt.Errorf("%s: %s has unknown forwarding method %d", rw, what, r.Forward))
		}
		dk := r.Destination(k, 0).Key()
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
