package config

import (
	"net"
	"strings"
	"time"

	"github.com/lvsctl/lvsctl/vrrp"
)

// VRRP runtime defaults that have no keepalived.conf keyword. They live here
// with every other default: the vrrp package fills in nothing.
const (
	// defaultVRRPReleaseGrace is how long a preempted or leaving master keeps
	// its addresses after hearing the new master (make-before-break), so
	// clients still sending to it are served until the new master's
	// gratuitous ARP has reached them.
	defaultVRRPReleaseGrace = 100 * time.Millisecond
	// defaultVRRPNotifyTimeout bounds every notify script.
	defaultVRRPNotifyTimeout = 10 * time.Second
)

// VRRP converts the VRRP part of the configuration (global multicast
// group, vrrp_script, vrrp_sync_group, vrrp_instance) into the vrrp
// package's types, fully defaulted: the loader validated it with file
// positions, and vrrp.Config.Validate only asserts invariants.
func (c *Config) VRRP() vrrp.Config {
	out := vrrp.Config{
		McastGroup4:   c.Global.VRRPMcastGroup4,
		McastGroup6:   c.Global.VRRPMcastGroup6,
		ReleaseGrace:  defaultVRRPReleaseGrace,
		NotifyTimeout: defaultVRRPNotifyTimeout,
		StartupDelay:  c.Global.VRRPStartupDelay,
		// Without a FIFO nobody hears the states.
		StatesOnReload: c.Global.FIFOWriteVRRPStatesOnReload && (c.Global.NotifyFIFO != nil || c.Global.VRRPNotifyFIFO != nil),
	}
	for _, s := range c.VRRPScripts {
		out.Scripts = append(out.Scripts, vrrp.ScriptConfig{
			Name:          s.Name,
			Command:       s.Script.Command,
			Interval:      s.Interval,
			Timeout:       s.Timeout,
			Weight:        s.Weight,
			WeightReverse: s.WeightReverse,
			Rise:          s.Rise,
			Fall:          s.Fall,
			InitFail:      s.InitFail,
			As:            s.Script.As,
		})
	}
	for _, g := range c.VRRPSyncGroups {
		sg := vrrp.SyncGroupConfig{Name: g.Name, Notify: vrrpNotify(g.NotifyMaster, g.NotifyBackup, g.NotifyFault, g.NotifyStop, g.Notify)}
		for _, m := range g.Group {
			sg.Instances = append(sg.Instances, m.Name)
		}
		out.SyncGroups = append(out.SyncGroups, sg)
	}
	for _, in := range c.VRRPInstances {
		ic := vrrp.InstanceConfig{
			Name:                 in.Name,
			Interface:            in.Interface,
			InitialState:         string(in.State),
			VRID:                 uint8(in.VirtualRouterID),
			Priority:             uint8(in.Priority),
			AdvertInt:            in.AdvertInt,
			Version:              uint8(in.Version),
			AuthType:             vrrp.AuthNone,
			Nopreempt:            in.NoPreempt,
			DownAdverts:          in.DownTimerAdverts,
			LowerPrioNoAdvert:    in.LowerPrioNoAdvert,
			HigherPrioSendAdvert: in.HigherPrioSendAdvert,
			PromoteSecondaries:   in.PromoteSecondaries,
			PreemptDelay:         in.PreemptDelay,
			DontTrackPrimary:     in.DontTrackPrimary,
			GARPRepeat:           in.GarpMasterRepeat,
			GARPDelay:            in.GarpMasterDelay,
			GARPRefresh:          in.GarpMasterRefresh,
			GARPRefreshRepeat:    in.GarpMasterRefreshRepeat,
			GARPLowerPrioRepeat:  in.GarpLowerPrioRepeat,
			GARPLowerPrioDelay:   in.GarpLowerPrioDelay,
			Notify:               vrrpNotify(in.NotifyMaster, in.NotifyBackup, in.NotifyFault, in.NotifyStop, in.Notify),
			// Without a FIFO nobody hears them (the node does the work
			// for nothing otherwise).
			NotifyPriorityChanges: in.NotifyPriorityChanges && (c.Global.NotifyFIFO != nil || c.Global.VRRPNotifyFIFO != nil),
		}
		if in.Auth != nil {
			ic.AuthType = strings.ToUpper(in.Auth.Type)
			ic.AuthPass = in.Auth.Pass
		}
		ic.SrcIP = in.MCastSrcIP
		if len(in.UnicastPeers) > 0 {
			ic.SrcIP = in.UnicastSrcIP
			ic.UnicastTTL = uint8(in.UnicastTTL)
		}
		for _, p := range in.UnicastPeers {
			ic.UnicastPeers = append(ic.UnicastPeers, p.Addr)
		}
		if in.UseVMAC != nil {
			ic.VMAC = &vrrp.VMACConfig{Name: in.UseVMAC.Name, MAC: net.HardwareAddr(in.UseVMAC.MAC), XmitBase: in.VMACXmitBase}
		}
		ic.VIPs = vrrpVIPs(in.VIPs)
		ic.ExcludedVIPs = vrrpVIPs(in.VIPsExcluded)
		ic.Routes = netrouteRoutes(in.VirtualRoutes)
		ic.Rules = netrouteRules(in.VirtualRules)
		for _, t := range in.TrackIfaces {
			ic.TrackInterfaces = append(ic.TrackInterfaces, vrrp.TrackInterface{Name: t.Name, Weight: t.Weight})
		}
		for _, t := range in.TrackScripts {
			ic.TrackScripts = append(ic.TrackScripts, vrrp.TrackScript{Name: t.Name, Weight: t.Weight, WeightSet: t.WeightSet, Reverse: t.Reverse})
		}
		out.Instances = append(out.Instances, ic)
	}
	// keepalived applies a sync group's track_script/track_interface to
	// every member.
	for _, g := range c.VRRPSyncGroups {
		for i := range out.Instances {
			if out.Instances[i].Name == "" || !member(g, out.Instances[i].Name) {
				continue
			}
			for _, t := range g.TrackIfaces {
				out.Instances[i].TrackInterfaces = append(out.Instances[i].TrackInterfaces, vrrp.TrackInterface{Name: t.Name, Weight: t.Weight})
			}
			for _, t := range g.TrackScripts {
				out.Instances[i].TrackScripts = append(out.Instances[i].TrackScripts, vrrp.TrackScript{Name: t.Name, Weight: t.Weight, WeightSet: t.WeightSet, Reverse: t.Reverse})
			}
		}
	}
	c.vrrpTracking(&out)
	return out
}

func member(g VRRPSyncGroup, name string) bool {
	for _, m := range g.Group {
		if m.Name == name {
			return true
		}
	}
	return false
}

func vrrpNotify(master, backup, fault, stop, any Script) vrrp.NotifyConfig {
	return vrrp.NotifyConfig{
		Master: master.Command, Backup: backup.Command, Fault: fault.Command, Stop: stop.Command, Any: any.Command,
		As: vrrp.NotifyAs{Master: master.As, Backup: backup.As, Fault: fault.As, Stop: stop.As, Any: any.As},
	}
}

func vrrpVIPs(in []VIP) []vrrp.VIP {
	var out []vrrp.VIP
	for _, v := range in {
		out = append(out, vrrp.VIP{Prefix: v.Prefix, Broadcast: v.Broadcast, Dev: v.Dev, Scope: v.Scope, Label: v.Label})
	}
	return out
}

// IPv6 reports whether the instance is an IPv6 virtual router: its first
// virtual_ipaddress is IPv6 (keepalived 2.2.7 takes the instance's family
// from its first address, vrrp_data.c alloc_vrrp_vip, and refuses
// addresses of the other family; validation refuses them here).
func (in *VRRPInstance) IPv6() bool {
	return len(in.VIPs) > 0 && in.VIPs[0].Prefix.Addr().Is6()
}
