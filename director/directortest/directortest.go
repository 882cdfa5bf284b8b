// Package directortest helps tests that build a director.Config by hand:
// Complete fills in what the configuration loader (internal/config, the
// only place that applies defaults in production) would have filled, so
// such a Config passes director.Config.Validate.
package directortest

import (
	"net/netip"

	"github.com/lvsctl/lvsctl/director"
)

// Complete returns cfg with the loader's defaults applied: the family from
// the address, TCP, wlc, quorum 1, the default persistence netmask, the
// persistent flag with a timeout (360 s without one), unmapped addresses.
func Complete(cfg director.Config) director.Config {
	out := director.Config{Services: make([]director.VirtualService, len(cfg.Services))}
	for i, vs := range cfg.Services {
		s := &vs.Service
		k := &s.Key
		if k.FWMark == 0 {
			k.Addr = k.Addr.Unmap()
			if k.Addr.IsValid() {
				k.Family = director.FamilyOf(k.Addr)
			}
			if k.Protocol == 0 {
				k.Protocol = director.TCP
			}
		} else if k.Family == 0 {
			k.Family = director.IPv4
		}
		if s.Scheduler == "" {
			s.Scheduler = "wlc"
		}
		if s.Timeout > 0 {
			s.Flags |= director.FlagPersistent
		}
		if s.Flags&director.FlagPersistent != 0 && s.Timeout == 0 {
			s.Timeout = 360
		}
		if s.Netmask == 0 {
			s.Netmask = director.DefaultNetmask(k.Family)
		}
		if vs.Quorum == 0 {
			vs.Quorum = 1
		}
		vs.RealServers = append([]director.RealServer(nil), vs.RealServers...)
		for j := range vs.RealServers {
			vs.RealServers[j].Addr = unmap(vs.RealServers[j].Addr)
		}
		if vs.Sorry != nil {
			sorry := *vs.Sorry
			sorry.Addr = unmap(sorry.Addr)
			vs.Sorry = &sorry
		}
		out.Services[i] = vs
	}
	return out
}

func unmap(a netip.Addr) netip.Addr { return a.Unmap() }
