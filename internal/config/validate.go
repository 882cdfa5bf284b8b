package config

import (
	"net/netip"
	"time"
)

// validate checks what needs the whole configuration: references between
// blocks, duplicates and cross-field rules. It appends to diag and never
// stops early, so every problem is reported at once.
// vridPos[i] is the position of instance i's virtual_router_id value.
func validate(cfg *Config, diag *diagnostics, ifaceExists func(string) bool, vridPos []Position) {
	validateVRRP(cfg, diag, ifaceExists, vridPos)
	validateVMACs(cfg, diag)
	validateTracking(cfg, diag)
	validateLVS(cfg, diag)
	validateSync(cfg, diag, ifaceExists)
	validateCheckerIfaces(cfg, diag, ifaceExists)
	validateBGP(cfg, diag)
}

func validateVRRP(cfg *Config, diag *diagnostics, ifaceExists func(string) bool, vridPos []Position) {
	scripts := map[string]Position{}
	for _, s := range cfg.VRRPScripts {
		if first, dup := scripts[s.Name]; dup {
			diag.errorf(s.Pos, "vrrp_script %s defined twice (first at %s)", s.Name, first)
			continue
		}
		scripts[s.Name] = s.Pos
	}
	checkTrack := func(ts []TrackScript) {
		for _, t := range ts {
			if _, ok := scripts[t.Name]; !ok {
				diag.errorf(t.Pos, "track_script %s: no vrrp_script of that name", t.Name)
			}
		}
	}

	instances := map[string]*VRRPInstance{}
	type vridKey struct {
		iface string
		v6    bool
		vrid  int
	}
	vrids := map[vridKey]*VRRPInstance{}
	vips := map[netip.Addr]*VRRPInstance{}
	warnedIface := map[string]bool{}
	checkIface := func(name string, pos Position) {
		if ifaceExists == nil || name == "" || warnedIface[name] {
			return
		}
		if !ifaceExists(name) {
			warnedIface[name] = true
			diag.warnf(pos, "interface %s does not exist on this host", name)
		}
	}
	for i := range cfg.VRRPInstances {
		in := &cfg.VRRPInstances[i]
		if first, dup := instances[in.Name]; dup {
			diag.errorf(in.Pos, "vrrp_instance %s defined twice (first at %s)", in.Name, first.Pos)
			continue
		}
		instances[in.Name] = in
		checkIface(in.Interface, in.Pos)
		checkTrack(in.TrackScripts)
		for _, t := range in.TrackIfaces {
			checkIface(t.Name, t.Pos)
		}

		// Address family: all VIPs (and unicast addresses) of one instance
		// must be of one family, since one advert carries them all.
		v6 := false
		if len(in.VIPs) > 0 {
			v6 = in.VIPs[0].Prefix.Addr().Is6()
			for _, v := range in.VIPs[1:] {
				if v.Prefix.Addr().Is6() != v6 {
					// keepalived 2.2.7 (vrrp_data.c, alloc_vrrp_vip) drops
					// an address whose family differs from the instance's.
					diag.errorf(v.Pos, "vrrp_instance %s mixes IPv4 and IPv6 addresses in virtual_ipaddress (first is %s): keepalived would drop %s; use one instance per family, or virtual_ipaddress_excluded", in.Name, in.VIPs[0].Prefix.Addr(), v.Prefix.Addr())
				}
			}
		} else {
			diag.warnf(in.Pos, "vrrp_instance %s has no virtual_ipaddress", in.Name)
		}
		if len(in.VIPs) > 255 {
			diag.errorf(in.VIPs[255].Pos, "vrrp_instance %s has more than 255 virtual_ipaddress entries: an advert carries at most 255; move the rest to virtual_ipaddress_excluded", in.Name)
		}
		if in.UnicastSrcIP.IsValid() && len(in.VIPs) > 0 && in.UnicastSrcIP.Is6() != v6 {
			diag.errorf(in.Pos, "vrrp_instance %s: unicast_src_ip %s is not of the family of its addresses", in.Name, in.UnicastSrcIP)
		}
		for _, p := range in.UnicastPeers {
			if len(in.VIPs) > 0 && p.Addr.Is6() != v6 {
				diag.errorf(p.Pos, "unicast_peer %s is not of the family of the addresses of vrrp_instance %s", p.Addr, in.Name)
			}
		}
		if len(in.UnicastPeers) > 0 && cfg.Global.VRRPStrict {
			diag.errorf(in.UnicastPeers[0].Pos, "unicast_peer is not allowed with vrrp_strict")
		}
		for _, v := range in.VIPs {
			if in.UseVMAC == nil || v.Dev != in.UseVMAC.Name {
				checkIface(v.Dev, v.Pos)
			}
			a := v.Prefix.Addr()
			if first, dup := vips[a]; dup {
				if first == in {
					diag.errorf(v.Pos, "address %s listed twice in vrrp_instance %s: keepalived would send it twice in adverts, and the kernel keeps the first one only (the options of this line are lost)", a, in.Name)
				} else {
					diag.errorf(v.Pos, "address %s is already a virtual address of vrrp_instance %s (%s)", a, first.Name, first.Pos)
				}
				continue
			}
			vips[a] = in
		}

		key := vridKey{iface: in.Interface, v6: v6, vrid: in.VirtualRouterID}
		if first, dup := vrids[key]; dup && in.VirtualRouterID != 0 {
			at := in.Pos
			if i < len(vridPos) && vridPos[i].IsValid() {
				at = vridPos[i]
			}
			diag.errorf(at, "virtual_router_id %d is already used on interface %s by vrrp_instance %s (%s)", in.VirtualRouterID, in.Interface, first.Name, first.Pos)
		} else {
			vrids[key] = in
		}

		if in.Priority == 255 && in.State != StateMaster {
			diag.errorf(in.Pos, "vrrp_instance %s: priority 255 means address owner, which must be state MASTER", in.Name)
		}
		if cfg.Global.VRRPStrict {
			if (in.State == StateMaster) != (in.Priority == 255) {
				diag.errorf(in.Pos, "vrrp_instance %s: with vrrp_strict, state MASTER must match priority 255 (address owner); keepalived would silently change the state", in.Name)
			}
			if in.Auth != nil {
				diag.errorf(in.Auth.Pos, "vrrp_instance %s: vrrp_strict does not allow authentication; keepalived would silently ignore it", in.Name)
			}
		}
		switch in.Version {
		case 2:
			if in.AdvertInt%time.Second != 0 || in.AdvertInt < time.Second {
				diag.errorf(in.Pos, "vrrp_instance %s: advert_int %s: VRRPv2 needs whole seconds 1..255 (use version 3 for sub-second adverts)", in.Name, fmtSeconds(in.AdvertInt))
			}
		case 3:
			if in.AdvertInt%(10*time.Millisecond) != 0 || in.AdvertInt > 4095*10*time.Millisecond {
				diag.errorf(in.Pos, "vrrp_instance %s: advert_int %s: VRRPv3 needs centiseconds 0.01..40.95", in.Name, fmtSeconds(in.AdvertInt))
			}
			if in.Auth != nil {
				diag.errorf(in.Auth.Pos, "vrrp_instance %s: VRRPv3 has no authentication; remove the authentication block", in.Name)
			}
		}
	}

	inGroup := map[string]string{}
	for gi := range cfg.VRRPSyncGroups {
		g := &cfg.VRRPSyncGroups[gi]
		checkTrack(g.TrackScripts)
		for _, m := range g.Group {
			in, ok := instances[m.Name]
			if !ok {
				diag.errorf(m.Pos, "vrrp_sync_group %s: no vrrp_instance %s", g.Name, m.Name)
				continue
			}
			if other, dup := inGroup[m.Name]; dup {
				diag.errorf(m.Pos, "vrrp_instance %s is already in vrrp_sync_group %s", m.Name, other)
				continue
			}
			inGroup[m.Name] = g.Name
			in.SyncGroup = g.Name
		}
		if len(g.Group) == 1 {
			diag.warnf(g.Pos, "vrrp_sync_group %s has a single member", g.Name)
		}
	}
}

func validateLVS(cfg *Config, diag *diagnostics) {
	type vsKey struct {
		addr   netip.Addr
		port   uint16
		proto  Protocol
		fwmark uint32
	}
	seen := make(map[vsKey]Position, len(cfg.VirtualServers))
	// Reused for every virtual server.
	rsSeen := map[netip.AddrPort]Position{}
	for vi := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[vi]
		name := "virtual_server " + vsName(vs)
		key := vsKey{vs.Addr, vs.Port, vs.Protocol, vs.FWMark}
		if first, dup := seen[key]; dup {
			diag.errorf(vs.Pos, "%s %s defined twice (first at %s)", name, vs.Protocol, first)
		} else {
			seen[key] = vs.Pos
		}
		if vs.OPS && vs.Protocol != ProtoUDP && !vs.IsFWMark() {
			diag.errorf(vs.Pos, "%s: ops (one-packet scheduling) needs protocol UDP; keepalived would silently turn it off", name)
		}
		if vs.HASuspend && vs.IsFWMark() {
			diag.errorf(vs.Pos, "%s: ha_suspend cannot be used with fwmark services; keepalived would silently clear it", name)
		}
		if len(vs.RealServers) == 0 {
			diag.warnf(vs.Pos, "%s has no real servers: only its sorry server (if any) will get traffic", name)
		}
		clear(rsSeen)
		for ri := range vs.RealServers {
			rs := &vs.RealServers[ri]
			ap := netip.AddrPortFrom(rs.Addr, rs.Port)
			if first, dup := rsSeen[ap]; dup {
				diag.errorf(rs.Pos, "real_server %s is already in %s (first at %s)", ap, name, first)
				continue
			}
			rsSeen[ap] = rs.Pos
			if !vs.IsFWMark() && rs.Addr.Is4() != vs.Addr.Is4() && rs.Method != MethodTUN {
				diag.errorf(rs.Pos, "real_server %s is not of the address family of %s", rs.Addr, name)
			}
			if rs.Method != MethodNAT && !vs.IsFWMark() && rs.Port != vs.Port {
				diag.errorf(rs.Pos, "real_server %s: with lb_kind %s the real server port must equal the virtual server port %d (the kernel cannot change ports without NAT); keepalived would silently use port %d", ap, rs.Method, vs.Port, vs.Port)
			}
			if rs.UThreshold != 0 && rs.LThreshold > rs.UThreshold {
				diag.errorf(rs.Pos, "real_server %s: lthreshold %d is above uthreshold %d", ap, rs.LThreshold, rs.UThreshold)
			}
		}
		if vs.Hysteresis >= vs.Quorum {
			diag.errorf(vs.Pos, "%s: hysteresis %d must be below quorum %d", name, vs.Hysteresis, vs.Quorum)
		}
		if s := vs.SorryServer; s != nil {
			if s.Method != MethodNAT && !vs.IsFWMark() && s.Port != 0 && s.Port != vs.Port {
				diag.errorf(s.Pos, "sorry_server %s: with lb_kind %s its port must equal the virtual server port %d", netip.AddrPortFrom(s.Addr, s.Port), s.Method, vs.Port)
			}
		}
	}
}
