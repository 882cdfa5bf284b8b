package director

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Status is the director's view of its services, for `director status`.
type Status struct {
	Services []ServiceStatus `json:"services"`
	// Dirty is true while failed edits wait for a retry.
	Dirty bool `json:"dirty"`
}

// ServiceStatus describes one managed virtual service.
type ServiceStatus struct {
	Key       string `json:"key"`
	Pos       string `json:"pos,omitempty"`
	Scheduler string `json:"scheduler"`
	Flags     string `json:"flags,omitempty"`
	Timeout   uint32 `json:"persistence_timeout,omitempty"`
	Netmask   string `json:"persistence_netmask,omitempty"`
	// InKernel is false when the service is missing from the kernel.
	InKernel    bool         `json:"in_kernel"`
	QuorumUp    bool         `json:"quorum_up"`
	LiveWeight  int          `json:"live_weight"`
	Quorum      int          `json:"quorum"`
	Hysteresis  int          `json:"hysteresis,omitempty"`
	SorryActive bool         `json:"sorry_active,omitempty"`
	Stats       Stats        `json:"stats"`
	Reals       []RealStatus `json:"real_servers"`
	Sorry       *RealStatus  `json:"sorry_server,omitempty"`

	key ServiceKey
}

// RealStatus describes one real server of a service.
type RealStatus struct {
	Addr string `json:"addr"`
	// Weight is the configured (or dynamic) weight; KernelWeight what the
	// kernel has, -1 when the destination is not in the table.
	Weight       int           `json:"weight"`
	KernelWeight int           `json:"kernel_weight"`
	Forward      string        `json:"forward"`
	Health       string        `json:"health"`
	Since        time.Time     `json:"since"`
	LastResult   string        `json:"last_result,omitempty"`
	LastCheck    time.Time     `json:"last_check,omitzero"`
	Latency      time.Duration `json:"latency_ns,omitempty"`
	Drained      bool          `json:"drained,omitempty"`
	Active       uint32        `json:"active_conns"`
	Inactive     uint32        `json:"inactive_conns"`
	Stats        Stats         `json:"stats"`

	// Service and Real identify the entry for metrics.
	svc  ServiceKey
	real DestKey
	up   bool
}

// Up reports whether the real server's checks pass.
func (r RealStatus) Up() bool { return r.up }

// ServiceKey is the key of the service this status describes.
func (s ServiceStatus) ServiceKey() ServiceKey { return s.key }

// Status reads the connection counters of the managed services from the
// kernel and merges them with what only the director knows.
//
// The dump runs without the director's lock: it is as slow as the table is
// big (and a lost netlink reply would block it), and every Prometheus
// scrape calls Status, so holding the lock would stall health transitions
// and drains. The IPVS client serializes its own calls; the merge below
// takes the lock and reads the state as it is then.
func (d *Director) Status(ctx context.Context) (Status, error) {
	d.mu.Lock()
	managed := make(map[ServiceKey]bool, len(d.byKey))
	for k := range d.byKey {
		managed[k] = true
	}
	d.mu.Unlock()
	actual, err := Dump(ctx, d.ipvs, func(k ServiceKey) bool { return managed[k] })
	if err != nil {
		return Status{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := Status{Dirty: d.dirty, Services: make([]ServiceStatus, 0, len(d.services))}
	for _, vs := range d.services {
		c := vs.cfg.Service
		ss := ServiceStatus{
			Key: c.Key.String(), Pos: vs.cfg.Pos, Scheduler: c.Scheduler, Flags: FlagsString(c.Scheduler, c.Flags),
			QuorumUp: vs.quorumUp, LiveWeight: vs.liveWeight(), Quorum: vs.cfg.Quorum, Hysteresis: vs.cfg.Hysteresis,
			SorryActive: vs.sorryActive(), key: c.Key,
		}
		if c.Flags&FlagPersistent != 0 {
			ss.Timeout = c.Timeout
			ss.Netmask = NetmaskString(c.Key.Family, c.Netmask)
		}
		kt := actual[c.Key]
		if kt != nil {
			ss.InKernel = true
			ss.Stats = kt.Service.Stats
		}
		for _, rs := range vs.rs {
			r := RealStatus{
				Addr: rs.cfg.Key().String(), Weight: rs.weight, KernelWeight: -1, Forward: rs.cfg.Forward.String(),
				Health: "down", Since: rs.since, LastResult: rs.result, LastCheck: rs.checked, Latency: rs.latency,
				Drained: d.drained[drainKey{c.Key, rs.cfg.Key()}], svc: c.Key, real: rs.cfg.Key(), up: rs.alive,
			}
			if rs.alive {
				r.Health = "up"
			}
			if kt != nil {
				if kd, ok := kt.Dests[rs.dkey(c.Key)]; ok {
					r.KernelWeight, r.Active, r.Inactive, r.Stats = kd.Weight, kd.ActiveConns, kd.InactiveConns, kd.Stats
				}
			}
			ss.Reals = append(ss.Reals, r)
		}
		if s := vs.cfg.Sorry; s != nil {
			r := RealStatus{Addr: s.Key().String(), Weight: s.Weight, KernelWeight: -1, Forward: s.Forward.String(),
				Health: "sorry-standby", svc: c.Key, real: s.Key(), up: true}
			if ss.SorryActive {
				r.Health = "sorry-active"
			}
			if kt != nil {
				if kd, ok := kt.Dests[s.Destination(c.Key, 0).Key()]; ok {
					r.KernelWeight, r.Active, r.Inactive, r.Stats = kd.Weight, kd.ActiveConns, kd.InactiveConns, kd.Stats
				}
			}
			ss.Sorry = &r
		}
		st.Services = append(st.Services, ss)
	}
	return st, nil
}

// ParseServiceKey reads "10.16.8.100:80", "TCP 10.16.8.100:80",
// "udp [2001:db8::1]:53" or "FWM 5" / "fwmark 5".
func ParseServiceKey(s string) (ServiceKey, error) {
	f := strings.Fields(s)
	var k ServiceKey
	if len(f) == 2 {
		switch strings.ToUpper(f[0]) {
		case "FWM", "FWMARK":
			m, err := strconv.ParseUint(f[1], 0, 32)
			if err != nil || m == 0 {
				return k, &parseError{what: "fwmark", s: s}
			}
			return ServiceKey{Family: IPv4, FWMark: uint32(m)}, nil
		case "TCP":
			k.Protocol = TCP
		case "UDP":
			k.Protocol = UDP
		case "SCTP":
			k.Protocol = SCTP
		default:
			return k, &parseError{what: "protocol", s: s}
		}
		f = f[1:]
	} else {
		k.Protocol = TCP
	}
	if len(f) != 1 {
		return k, &parseError{what: "virtual server", s: s}
	}
	ap, err := netip.ParseAddrPort(f[0])
	if err != nil {
		return k, &parseError{what: "virtual server address:port", s: s}
	}
	k.Addr, k.Port, k.Family = ap.Addr().Unmap(), ap.Port(), FamilyOf(ap.Addr())
	return k, nil
}

type parseError struct{ what, s string }

func (e *parseError) Error() string { return "invalid " + e.what + " " + strconv.Quote(e.s) }

func matchService(k ServiceKey, s string) bool {
	p, err := ParseServiceKey(s)
	if err != nil {
		return false
	}
	if p.FWMark != 0 {
		return k.FWMark == p.FWMark
	}
	if len(strings.Fields(s)) == 1 {
		// No protocol given: match any protocol on that address:port.
		return k.FWMark == 0 && k.Addr == p.Addr && k.Port == p.Port
	}
	return k == p
}

func matchReal(k DestKey, s string) bool {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		return err == nil && a.Unmap() == k.Addr
	}
	return ap.Addr().Unmap() == k.Addr && ap.Port() == k.Port
}
