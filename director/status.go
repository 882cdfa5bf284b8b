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
	// Service is the service's identity; Key its ipvsadm-style text.
	Service   ServiceKey `json:"service"`
	Key       string     `json:"key"`
	Pos       string     `json:"pos,omitempty"`
	Scheduler string     `json:"scheduler"`
	Flags     string     `json:"flags,omitempty"`
	Timeout   uint32     `json:"persistence_timeout,omitempty"`
	Netmask   string     `json:"persistence_netmask,omitempty"`
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
	// Fingerprint identifies the scheduler's hash inputs as the director
	// programs them (Fingerprint): directors sharing a VIP over ECMP must
	// show the same.
	Fingerprint string `json:"fingerprint"`
}

// RealStatus describes one real server of a service.
type RealStatus struct {
	// Real is the real server's identity in its service (address and the
	// configured port); Addr its text.
	Real DestKey `json:"real"`
	Addr string  `json:"addr"`
	// Weight is the configured (or dynamic) weight; KernelWeight what the
	// kernel has, nil when the destination is not in the table.
	Weight       int           `json:"weight"`
	KernelWeight *int          `json:"kernel_weight"`
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
	// Up is true when the real server's checks pass (a sorry server: while
	// configured).
	Up bool `json:"up"`
}

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
			Service: c.Key, Key: c.Key.String(), Pos: vs.cfg.Pos, Scheduler: c.Scheduler, Flags: FlagsString(c.Scheduler, c.Flags),
			QuorumUp: vs.quorumUp, LiveWeight: vs.liveWeight(), Quorum: vs.cfg.Quorum, Hysteresis: vs.cfg.Hysteresis,
			SorryActive: vs.sorryActive(), Fingerprint: Fingerprint(d.desired(vs)),
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
				Real: rs.cfg.Key(), Addr: rs.cfg.Key().String(), Weight: rs.weight, Forward: rs.cfg.Forward.String(),
				Health: "down", Since: rs.since, LastResult: rs.result, LastCheck: rs.checked, Latency: rs.latency,
				Drained: d.drained[drainKey{c.Key, rs.cfg.Key()}], Up: rs.alive,
			}
			if rs.alive {
				r.Health = "up"
			}
			if kt != nil {
				if kd, ok := kt.Dests[rs.dkey(c.Key)]; ok {
					r.KernelWeight, r.Active, r.Inactive, r.Stats = &kd.Weight, kd.ActiveConns, kd.InactiveConns, kd.Stats
				}
			}
			ss.Reals = append(ss.Reals, r)
		}
		if s := vs.cfg.Sorry; s != nil {
			r := RealStatus{Real: s.Key(), Addr: s.Key().String(), Weight: s.Weight, Forward: s.Forward.String(),
				Health: "sorry-standby", Up: true}
			if ss.SorryActive {
				r.Health = "sorry-active"
			}
			if kt != nil {
				if kd, ok := kt.Dests[s.Destination(c.Key, 0).Key()]; ok {
					r.KernelWeight, r.Active, r.Inactive, r.Stats = &kd.Weight, kd.ActiveConns, kd.InactiveConns, kd.Stats
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
	// IPVS has no zones: "[fe80::1%eth0]:80" names no service, and a zone
	// (any bytes) would not survive the control socket's JSON.
	if err != nil || ap.Addr().Zone() != "" {
		return k, &parseError{what: "virtual server address:port", s: s}
	}
	k.Addr, k.Port, k.Family = ap.Addr().Unmap(), ap.Port(), FamilyOf(ap.Addr())
	return k, nil
}

type parseError struct{ what, s string }

func (e *parseError) Error() string { return "invalid " + e.what + " " + strconv.Quote(e.s) }

// RealQuery names a real server the way an operator types it: the
// protocol of the service and the port of the real server may be left out.
type RealQuery struct {
	Service ServiceKey `json:"service"`
	// AnyProtocol: the operator gave no protocol; any service on the
	// address and port matches.
	AnyProtocol bool    `json:"any_protocol,omitempty"`
	Real        DestKey `json:"real"`
	// AnyPort: the operator gave no port; the real server's address alone
	// names it.
	AnyPort bool `json:"any_port,omitempty"`
}

// ParseRealQuery reads an operator's service ("10.16.8.100:80",
// "TCP 10.16.8.100:80", "FWM 5") and real server ("10.16.8.8:80" or
// "10.16.8.8").
func ParseRealQuery(vs, rs string) (RealQuery, error) {
	var q RealQuery
	k, err := ParseServiceKey(vs)
	if err != nil {
		return q, err
	}
	q.Service, q.AnyProtocol = k, k.FWMark == 0 && len(strings.Fields(vs)) == 1
	rs = strings.TrimSpace(rs)
	if ap, err := netip.ParseAddrPort(rs); err == nil && ap.Addr().Zone() == "" {
		q.Real = DestKey{Addr: ap.Addr().Unmap(), Port: ap.Port()}
		return q, nil
	}
	a, err := netip.ParseAddr(rs)
	if err != nil || a.Zone() != "" {
		return q, &parseError{what: "real server", s: rs}
	}
	q.Real, q.AnyPort = DestKey{Addr: a.Unmap()}, true
	return q, nil
}

func (q RealQuery) matchService(k ServiceKey) bool {
	if q.AnyProtocol {
		return k.FWMark == 0 && k.Addr == q.Service.Addr && k.Port == q.Service.Port
	}
	return k == q.Service
}

func (q RealQuery) matchReal(k DestKey) bool {
	return k.Addr == q.Real.Addr && (q.AnyPort || k.Port == q.Real.Port)
}
