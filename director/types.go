// Package director programs the kernel's IPVS table from a desired state and
// keeps it right: it reconciles the configured virtual services with one dump
// of the kernel table, turns health-check transitions into single IPVS edits
// (with keepalived's quorum, hysteresis, sorry server, inhibit_on_failure,
// alpha and omega semantics), heals drift, applies reloads as diffs and
// answers status queries.
//
// The kernel is reached only through the small IPVS interface declared here;
// director/ipvs implements it over generic netlink and director/fakeipvs
// is a recording fake for tests.
package director

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Protocol is an IP protocol number of a virtual service.
type Protocol uint16

// Protocols IPVS balances.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	}
	return "proto" + strconv.Itoa(int(p))
}

// MarshalText writes the protocol's name ("TCP"); 0 (a fwmark service) is "".
func (p Protocol) MarshalText() ([]byte, error) {
	if p == 0 {
		return nil, nil
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (p *Protocol) UnmarshalText(b []byte) error {
	switch strings.ToUpper(string(b)) {
	case "TCP":
		*p = TCP
	case "UDP":
		*p = UDP
	case "SCTP":
		*p = SCTP
	case "":
		*p = 0
	default:
		n, err := strconv.ParseUint(strings.TrimPrefix(string(b), "proto"), 10, 16)
		if err != nil || !strings.HasPrefix(string(b), "proto") {
			return fmt.Errorf("unknown protocol %q", b)
		}
		*p = Protocol(n)
	}
	return nil
}

// Family is an address family (AF_INET or AF_INET6).
type Family uint16

// Address families.
const (
	IPv4 Family = 2
	IPv6 Family = 10
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "inet"
	case IPv6:
		return "inet6"
	}
	return "af" + strconv.Itoa(int(f))
}

// MarshalText writes the family as ipvsadm names it ("inet", "inet6");
// the zero Family is "".
func (f Family) MarshalText() ([]byte, error) {
	if f == 0 {
		return nil, nil
	}
	return []byte(f.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (f *Family) UnmarshalText(b []byte) error {
	switch string(b) {
	case "inet":
		*f = IPv4
	case "inet6":
		*f = IPv6
	case "":
		*f = 0
	default:
		n, err := strconv.ParseUint(strings.TrimPrefix(string(b), "af"), 10, 16)
		if err != nil || !strings.HasPrefix(string(b), "af") {
			return fmt.Errorf("unknown address family %q", b)
		}
		*f = Family(n)
	}
	return nil
}

// FamilyOf is the family of addr.
func FamilyOf(addr netip.Addr) Family {
	if addr.Is4() || addr.Is4In6() {
		return IPv4
	}
	return IPv6
}

// Service flags as the kernel defines them (IP_VS_SVC_F_*).
const (
	FlagPersistent uint32 = 0x0001
	// FlagHashed is set by the kernel on every service it holds; it is
	// never part of a desired state and is masked before comparing.
	FlagHashed    uint32 = 0x0002
	FlagOnePacket uint32 = 0x0004
	// FlagSched1..3 are scheduler specific: for sh and mh, 1 is
	// "fallback" and 2 is "port".
	FlagSched1 uint32 = 0x0008
	FlagSched2 uint32 = 0x0010
	FlagSched3 uint32 = 0x0020
)

// schedulerNames are the kernel's IPVS scheduling algorithms, in the order
// ipvsadm's man page lists them: the one list lvsctl has.
var schedulerNames = [...]string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}

// Schedulers returns the IPVS schedulers the kernel knows.
func Schedulers() []string { return append([]string(nil), schedulerNames[:]...) }

// ValidScheduler reports whether name is an IPVS scheduler the kernel knows.
func ValidScheduler(name string) bool {
	for _, s := range schedulerNames {
		if s == name {
			return true
		}
	}
	return false
}

// ServiceKey identifies a virtual service in the kernel: a fwmark (per
// family) or protocol + address + port.
type ServiceKey struct {
	Family   Family     `json:"family"`
	Protocol Protocol   `json:"protocol,omitempty"`
	Addr     netip.Addr `json:"addr,omitzero"`
	Port     uint16     `json:"port,omitempty"`
	FWMark   uint32     `json:"fwmark,omitempty"`
}

// String formats the key as ipvsadm does ("TCP 10.16.8.100:80", "FWM 5").
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Family == IPv6 {
			return "FWM " + strconv.FormatUint(uint64(k.FWMark), 10) + " IPv6"
		}
		return "FWM " + strconv.FormatUint(uint64(k.FWMark), 10)
	}
	return k.Protocol.String() + " " + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// Service is a virtual service as the kernel holds it.
type Service struct {
	Key       ServiceKey
	Scheduler string
	// Flags never include FlagHashed in a desired state.
	Flags uint32
	// Timeout is the persistence timeout in seconds (with FlagPersistent).
	Timeout uint32
	// Netmask is the persistence granularity in the kernel's wire form:
	// for IPv4 the mask's four bytes read in native byte order
	// (0xffffffff for /32), for IPv6 a prefix length (128).
	Netmask uint32
	// Stats are filled when read from the kernel.
	Stats Stats
}

// Forward is a destination's forwarding method (IP_VS_CONN_F_*).
type Forward uint32

// Forwarding methods.
const (
	Masq        Forward = 0
	Tunnel      Forward = 2
	DirectRoute Forward = 3
	fwdMask     Forward = 0x7
)

func (f Forward) String() string {
	switch f & fwdMask {
	case Masq:
		return "Masq"
	case Tunnel:
		return "Tunnel"
	case DirectRoute:
		return "Route"
	case 1:
		return "Local"
	}
	return "fwd" + strconv.Itoa(int(f))
}

// DestKey identifies a destination inside a service.
type DestKey struct {
	Addr netip.Addr `json:"addr"`
	Port uint16     `json:"port"`
}

func (k DestKey) String() string { return netip.AddrPortFrom(k.Addr, k.Port).String() }

// Destination is a real server entry of a service as the kernel holds it.
type Destination struct {
	Addr           netip.Addr
	Port           uint16
	Weight         int
	Forward        Forward
	UpperThreshold uint32
	LowerThreshold uint32
	// ActiveConns, InactiveConns and Stats are filled when read from
	// the kernel.
	ActiveConns   uint32
	InactiveConns uint32
	Stats         Stats
}

// Key is the destination's identity inside its service.
func (d Destination) Key() DestKey { return DestKey{Addr: d.Addr, Port: d.Port} }

// Stats are IPVS traffic counters of a service or destination, and the
// kernel's rate estimates (per second, averaged by the kernel over about
// the last minute and refreshed every 2 s). In DR and TUN mode replies do
// not pass the director, so the outgoing figures stay 0.
type Stats struct {
	Connections uint64
	PacketsIn   uint64
	PacketsOut  uint64
	BytesIn     uint64
	BytesOut    uint64
	CPS         uint64
	PPSIn       uint64
	PPSOut      uint64
	BPSIn       uint64
	BPSOut      uint64
}

// IPv4Netmask converts a dotted netmask prefix length (0..32) into the
// kernel's wire form for Service.Netmask.
func IPv4Netmask(bits int) uint32 {
	if bits <= 0 {
		return 0
	}
	if bits > 32 {
		bits = 32
	}
	m := ^uint32(0) << (32 - bits)
	// The kernel takes the mask in network byte order and the netlink
	// attribute carries the uint32 in native order, so the value must
	// carry the mask's bytes in memory order.
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], m)
	return binary.NativeEndian.Uint32(b[:])
}

// DefaultNetmask is what ipvsadm and keepalived send when no persistence
// granularity is given.
func DefaultNetmask(f Family) uint32 {
	if f == IPv6 {
		return 128
	}
	return 0xffffffff
}

// NetmaskString renders a Service.Netmask for display.
func NetmaskString(f Family, m uint32) string {
	if f == IPv6 {
		return strconv.FormatUint(uint64(m), 10)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], m)
	return netip.AddrFrom4(b).String()
}

// FlagsString renders service flags like ipvsadm's list output.
func FlagsString(sched string, flags uint32) string {
	flags &^= FlagHashed
	var s string
	add := func(w string) {
		if s != "" {
			s += ","
		}
		s += w
	}
	if flags&FlagPersistent != 0 {
		add("persistent")
	}
	if flags&FlagOnePacket != 0 {
		add("ops")
	}
	prefix := "flag"
	if sched == "sh" || sched == "mh" {
		prefix = sched
	}
	if flags&FlagSched1 != 0 {
		if prefix == "flag" {
			add("flag-1")
		} else {
			add(prefix + "-fallback")
		}
	}
	if flags&FlagSched2 != 0 {
		if prefix == "flag" {
			add("flag-2")
		} else {
			add(prefix + "-port")
		}
	}
	if flags&FlagSched3 != 0 {
		add("flag-3")
	}
	if rest := flags &^ (FlagPersistent | FlagOnePacket | FlagSched1 | FlagSched2 | FlagSched3); rest != 0 {
		add(fmt.Sprintf("0x%x", rest))
	}
	return s
}
