package config

import (
	"net/netip"
	"time"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/internal/script"
	"github.com/lvsctl/lvsctl/syncd"
	"github.com/lvsctl/lvsctl/vrrp"
)

// Desired is everything one load of a keepalived.conf asks for, in the
// form each subsystem takes it, every default applied: the director's
// virtual servers, one health-check server per real server keyed by the
// real server's identity, and the VRRP part. Domain packages never default
// or re-validate what is here.
type Desired struct {
	Director director.Config
	Checks   []healthcheck.Server[director.RealRef]
	VRRP     vrrp.Config
	// Sync is lvs_sync_daemon (nil: none).
	Sync *syncd.Config
	// Timeouts is lvs_timeouts (nil: the kernel's are left alone).
	Timeouts *LVSTimeouts
	// BGP is the bgp block (nil: none) and BGPAnnounce the services whose
	// VIPs it announces while they have quorum.
	BGP         *bgp.Config
	BGPAnnounce []director.ServiceKey
	// HASuspend lists the virtual servers with ha_suspend: their real
	// servers' checks are suspended while the address is on no interface
	// of this host (internal/app applies it).
	HASuspend []HASuspend
	// Static is static_ipaddress, static_routes and static_rules: added at
	// start, diffed on reload, removed at stop (internal/app).
	Static netroute.Set
	// Startup and Shutdown are startup_script and shutdown_script (zero
	// Command: none).
	Startup, Shutdown HostScript
	// Alerts is what is mailed, and where (alerts.go). It stays out of
	// the JSON form, whose hash compares directors: its defaults are this
	// host's name.
	Alerts Alerts `json:"-"`
	// FIFOs are all the notify FIFOs of the file (notifyfifo.go); a
	// daemon writes those of the parts it runs (notifyfifo.Config.Only).
	FIFOs notifyfifo.Config
}

// HostScript is a script the daemon itself runs and waits for, bounded by
// Timeout: keepalived's startup_script and shutdown_script.
type HostScript struct {
	Command string
	As      script.As
	Timeout time.Duration
}

// HASuspend is one ha_suspend virtual server: its address and the
// identities of its real servers' checks.
type HASuspend struct {
	Addr    netip.Addr
	Servers []director.RealRef
}

// Desired converts a loaded configuration.
func (c *Config) Desired() (*Desired, error) {
	checks, err := HealthServers(c)
	if err != nil {
		return nil, err
	}
	return &Desired{Director: c.Director(), Checks: checks, VRRP: c.VRRP(), Sync: c.Sync(),
		Timeouts: c.Global.LVSTimeouts, HASuspend: haSuspend(c, checks),
		BGP: c.BGPConfig(), BGPAnnounce: c.BGPAnnounced(), Static: c.StaticSet(),
		Alerts: c.HostAlerts(), FIFOs: c.NotifyFIFOs(), Startup: c.StartupScript(), Shutdown: c.ShutdownScript()}, nil
}

// StartupScript is global_defs' startup_script (zero: none).
func (c *Config) StartupScript() HostScript {
	return hostScript(c.Global.StartupScript, c.Global.StartupScriptTimeout)
}

// ShutdownScript is global_defs' shutdown_script (zero: none).
func (c *Config) ShutdownScript() HostScript {
	return hostScript(c.Global.ShutdownScript, c.Global.ShutdownScriptTimeout)
}

func hostScript(s Script, timeout time.Duration) HostScript {
	if s.IsZero() {
		return HostScript{}
	}
	return HostScript{Command: s.Command, As: s.As, Timeout: timeout}
}

// HostAlerts is Alerts with this host's name and the user lvsctl runs as.
func (c *Config) HostAlerts() Alerts {
	host, user := hostUser()
	return c.Alerts(host, user)
}

// haSuspend groups the checked real servers of every ha_suspend virtual
// server under its address (fwmark services cannot have it: validate).
func haSuspend(c *Config, checks []healthcheck.Server[director.RealRef]) []HASuspend {
	var out []HASuspend
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if !vs.HASuspend || vs.IsFWMark() || !vs.Addr.IsValid() {
			continue
		}
		key := serviceKey(vs)
		h := HASuspend{Addr: vs.Addr}
		for _, s := range checks {
			if s.Key.Service == key && len(s.Checks) > 0 {
				h.Servers = append(h.Servers, s.Key)
			}
		}
		out = append(out, h)
	}
	return out
}
