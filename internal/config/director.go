package config

import (
	"time"

	"github.com/lvsctl/lvsctl/director"
)

// serviceKey is vs's identity in the kernel, as the director keys it.
func serviceKey(vs *VirtualServer) director.ServiceKey {
	key := director.ServiceKey{Port: vs.Port, FWMark: vs.FWMark}
	if vs.IsFWMark() {
		// The kernel keys fwmark services by family too: take the
		// real servers' (keepalived does the same).
		key.Family = director.IPv4
		if len(vs.RealServers) > 0 && vs.RealServers[0].Addr.Is6() && !vs.RealServers[0].Addr.Is4In6() {
			key.Family = director.IPv6
		}
		return key
	}
	key.Addr = vs.Addr.Unmap()
	key.Family = director.FamilyOf(key.Addr)
	key.Protocol = protocolNumber(vs.Protocol)
	return key
}

// realRef names rs of the service svc (serviceKey of its virtual server).
// Director builds the director's real server from it and HealthServers
// keys the checks with it, so a health event always names a real server
// the director has: this is the one place the identity is made.
func realRef(svc director.ServiceKey, rs *RealServer) director.RealRef {
	return director.RealRef{Service: svc, Real: director.DestKey{Addr: rs.Addr.Unmap(), Port: rs.Port}}
}

// Director converts the virtual servers into the director's configuration.
// Its services and real servers carry the keys of HealthServers' servers.
func (c *Config) Director() director.Config {
	out := director.Config{InitNotifies: c.Global.RSInitNotifies}
	out.Services = make([]director.VirtualService, 0, len(c.VirtualServers))
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		key := serviceKey(vs)
		svc := director.Service{Key: key, Scheduler: vs.Scheduler}
		if vs.PersistenceTimeout > 0 {
			svc.Flags |= director.FlagPersistent
			svc.Timeout = uint32((vs.PersistenceTimeout + time.Second - 1) / time.Second)
		}
		if vs.OPS {
			svc.Flags |= director.FlagOnePacket
		}
		svc.Flags |= vs.SchedulerFlags & (director.FlagSched1 | director.FlagSched2 | director.FlagSched3)
		svc.Netmask = director.DefaultNetmask(key.Family)
		if g := vs.PersistenceGranularity; g.IsValid() {
			if key.Family == director.IPv6 {
				svc.Netmask = uint32(g.Bits())
			} else {
				svc.Netmask = director.IPv4Netmask(g.Bits())
			}
		}
		dv := director.VirtualService{
			Service:    svc,
			Pos:        vs.Pos.String(),
			Quorum:     vs.Quorum,
			Hysteresis: vs.Hysteresis,
			QuorumUp:   directorScript(vs.QuorumUp),
			QuorumDown: directorScript(vs.QuorumDown),
			Alpha:      vs.Alpha,
			Omega:      vs.Omega,
		}
		if len(vs.RealServers) > 0 {
			dv.RealServers = make([]director.RealServer, 0, len(vs.RealServers))
		}
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			ref := realRef(key, rs)
			dv.RealServers = append(dv.RealServers, director.RealServer{
				Addr:             ref.Real.Addr,
				Port:             ref.Real.Port,
				Weight:           rs.Weight,
				Forward:          forwardOf(rs.Method),
				UpperThreshold:   rs.UThreshold,
				LowerThreshold:   rs.LThreshold,
				InhibitOnFailure: rs.InhibitOnFailure,
				Alpha:            rs.Alpha,
				NotifyUp:         directorScript(rs.NotifyUp),
				NotifyDown:       directorScript(rs.NotifyDown),
				Checked:          len(rs.Checkers) > 0,
				Pos:              rs.Pos.String(),
			})
		}
		if ss := vs.SorryServer; ss != nil {
			dv.Sorry = &director.RealServer{Addr: ss.Addr.Unmap(), Port: ss.Port, Weight: 1,
				Forward: forwardOf(ss.Method), Pos: ss.Pos.String()}
			dv.SorryInhibit = ss.Inhibit
		}
		out.Services = append(out.Services, dv)
	}
	return out
}

func protocolNumber(p Protocol) director.Protocol {
	switch p {
	case ProtoUDP:
		return director.UDP
	case ProtoSCTP:
		return director.SCTP
	}
	return director.TCP
}

func forwardOf(m Method) director.Forward {
	switch m {
	case MethodDR:
		return director.DirectRoute
	case MethodTUN:
		return director.Tunnel
	}
	return director.Masq
}

// directorScript is a notify or quorum script with the user it runs as.
func directorScript(s Script) director.Script {
	return director.Script{Line: s.Command, As: s.As}
}
