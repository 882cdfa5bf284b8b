package notifyfifo

import (
	"net/netip"
	"strconv"
	"strings"
)

// The lines below are keepalived 2.2.7's, byte for byte, so that FIFO
// readers written for keepalived keep working:
//
//	INSTANCE "VI_1" MASTER 100                   vrrp/vrrp_notify.c notify_fifo
//	GROUP "VG_1" BACKUP 0                        (a sync group's priority is 0)
//	VS [10.16.8.100]:tcp:80 UP                   check/ipwrapper.c notify_fifo_vs
//	RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 DOWN   check/ipwrapper.c notify_fifo_rs
//
// Each line ends with "\n". A line is built from typed values and never
// parsed back.

// VRRPState is the word of a VRRP line (vrrp_notify.c notify_fifo).
type VRRPState string

// The states and events lvsctl writes. keepalived's DELETED and
// MASTER_RX_LOWER_PRI need notify_deleted and notify_master_rx_lower_pri,
// which lvsctl does not support.
const (
	Master VRRPState = "MASTER"
	Backup VRRPState = "BACKUP"
	Fault  VRRPState = "FAULT"
	Stop   VRRPState = "STOP"
	// MasterPriority and BackupPriority report an instance's new effective
	// priority (notify_priority_changes), in MASTER and in any other
	// state (vrrp_notify.c send_instance_priority_notifies).
	MasterPriority VRRPState = "MASTER_PRIORITY"
	BackupPriority VRRPState = "BACKUP_PRIORITY"
)

// VRRPLine is a line of the VRRP kind: it goes to notify_fifo and
// vrrp_notify_fifo.
type VRRPLine interface {
	Line() string
	vrrpLine()
}

// LVSLine is a line of the checker kind: it goes to notify_fifo and
// lvs_notify_fifo.
type LVSLine interface {
	Line() string
	lvsLine()
}

// Instance is a vrrp_instance's line: `INSTANCE "VI_1" MASTER 100`, with
// its effective priority.
type Instance struct {
	Name     string
	State    VRRPState
	Priority uint8
}

// Line is `INSTANCE "NAME" STATE PRIORITY\n` (the name is not escaped,
// as in keepalived).
func (i Instance) Line() string {
	return "INSTANCE \"" + i.Name + "\" " + string(i.State) + " " + strconv.Itoa(int(i.Priority)) + "\n"
}

func (Instance) vrrpLine() {}

// Group is a vrrp_sync_group's line: `GROUP "VG_1" BACKUP 0` (keepalived
// writes priority 0 for groups).
type Group struct {
	Name  string
	State VRRPState
}

// Line is `GROUP "NAME" STATE 0\n`.
func (g Group) Line() string { return "GROUP \"" + g.Name + "\" " + string(g.State) + " 0\n" }

func (Group) vrrpLine() {}

// Proto is a service's protocol as keepalived prints it
// (lib/utils.c inet_sockaddrtotrio).
type Proto string

// Protocols. A firewall-mark service has none: its real servers are
// printed with "none" (keepalived clears the protocol of fwmark services,
// check/check_data.c).
const (
	TCP    Proto = "tcp"
	UDP    Proto = "udp"
	SCTP   Proto = "sctp"
	NoProt Proto = "none"
)

// Endpoint is an address, protocol and port: "[10.16.8.8]:tcp:80".
type Endpoint struct {
	Addr  netip.Addr
	Proto Proto
	Port  uint16
}

func (e Endpoint) String() string {
	return "[" + ntop(e.Addr) + "]:" + string(e.Proto) + ":" + strconv.Itoa(int(e.Port))
}

// Service is a virtual server as keepalived names it (check/check_data.c
// format_vs): its endpoint, or "FWM N" for a firewall-mark service.
type Service struct {
	Endpoint
	// FWMark, when not 0, makes the service "FWM N".
	FWMark uint32
}

func (s Service) String() string {
	if s.FWMark != 0 {
		return "FWM " + strconv.FormatUint(uint64(s.FWMark), 10)
	}
	return s.Endpoint.String()
}

// VirtualServer is a virtual server's quorum line: `VS [10.16.8.100]:tcp:80 UP`,
// written where quorum_up / quorum_down run (ipwrapper.c do_vs_notifies).
type VirtualServer struct {
	Service Service
	Up      bool
}

// Line is `VS SERVICE UP|DOWN\n`.
func (v VirtualServer) Line() string { return "VS " + v.Service.String() + " " + upDown(v.Up) + "\n" }

func (VirtualServer) lvsLine() {}

// RealServer is a real server's line:
// `RS [10.16.8.8]:tcp:80 [10.16.8.100]:tcp:80 DOWN`, written where
// notify_up / notify_down run (ipwrapper.c do_rs_notifies). The real
// server is printed with its service's protocol.
type RealServer struct {
	Real    Endpoint
	Service Service
	Up      bool
}

// Line is `RS REAL SERVICE UP|DOWN\n`.
func (r RealServer) Line() string {
	return "RS " + r.Real.String() + " " + r.Service.String() + " " + upDown(r.Up) + "\n"
}

func (RealServer) lvsLine() {}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// ntop prints an address as glibc's inet_ntop does. It differs from
// netip's form in one case only: an IPv6 address whose first 96 bits are
// zero and whose seventh 16-bit word is not ends in dotted IPv4
// ("::1.2.3.4", glibc resolv/inet_ntop.c inet_ntop6), where netip writes
// "::102:304".
func ntop(a netip.Addr) string {
	if !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return a.String()
	}
	b := a.As16()
	for _, x := range b[:12] {
		if x != 0 {
			return a.String()
		}
	}
	// glibc compresses the longest run of zero words; the encapsulated
	// IPv4 form is used when that run is exactly words 0..5, i.e. word 6
	// is not zero.
	if b[12] == 0 && b[13] == 0 {
		return a.String()
	}
	var s strings.Builder
	s.WriteString("::")
	for i := 12; i < 16; i++ {
		if i > 12 {
			s.WriteByte('.')
		}
		s.WriteString(strconv.Itoa(int(b[i])))
	}
	return s.String()
}
