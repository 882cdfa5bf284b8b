package notifyfifo

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// keepalived's own formats, as C: every expected line below is what the
// snprintf of keepalived 2.2.7 writes for the same values
// (vrrp/vrrp_notify.c notify_fifo: "%s \"%s\" %s %d\n";
// check/ipwrapper.c notify_fifo_vs: "VS %s %s\n", notify_fifo_rs:
// "RS %s %s %s\n"; check/check_data.c format_vs/format_rs and
// lib/utils.c inet_sockaddrtotrio_r: "[%s]:%s:%d", "FWM %u").
func kaVRRP(typ, name, state string, prio int) string {
	return fmt.Sprintf("%s \"%s\" %s %d\n", typ, name, state, prio)
}

func kaTrio(addr, proto string, port int) string { return fmt.Sprintf("[%s]:%s:%d", addr, proto, port) }

func TestVRRPLines(t *testing.T) {
	for _, c := range []struct {
		got  VRRPLine
		want string
	}{
		{Instance{Name: "VI_1", State: Master, Priority: 100}, kaVRRP("INSTANCE", "VI_1", "MASTER", 100)},
		{Instance{Name: "VI_1", State: Backup, Priority: 95}, kaVRRP("INSTANCE", "VI_1", "BACKUP", 95)},
		{Instance{Name: "External_1", State: Fault, Priority: 1}, kaVRRP("INSTANCE", "External_1", "FAULT", 1)},
		{Instance{Name: "VI_1", State: Stop, Priority: 255}, kaVRRP("INSTANCE", "VI_1", "STOP", 255)},
		{Instance{Name: "VI_1", State: MasterPriority, Priority: 90}, kaVRRP("INSTANCE", "VI_1", "MASTER_PRIORITY", 90)},
		{Instance{Name: "VI_1", State: BackupPriority, Priority: 110}, kaVRRP("INSTANCE", "VI_1", "BACKUP_PRIORITY", 110)},
		{Group{Name: "VG_1", State: Backup}, kaVRRP("GROUP", "VG_1", "BACKUP", 0)},
		{Group{Name: "VG_1", State: Master}, kaVRRP("GROUP", "VG_1", "MASTER", 0)},
		{Group{Name: "VG_1", State: Stop}, kaVRRP("GROUP", "VG_1", "STOP", 0)},
	} {
		assert.Equal(t, c.want, c.got.Line())
	}
	// The examples of keepalived.conf(5), literally.
	assert.Equal(t, "INSTANCE \"VI_1\" MASTER 100\n", Instance{Name: "VI_1", State: Master, Priority: 100}.Line())
	assert.Equal(t, "GROUP \"VG_1\" BACKUP 0\n", Group{Name: "VG_1", State: Backup}.Line())
}

func TestLVSLines(t *testing.T) {
	vs := Service{Endpoint: Endpoint{Addr: netip.MustParseAddr("192.168.201.15"), Proto: TCP, Port: 80}}
	rs := Endpoint{Addr: netip.MustParseAddr("1.2.3.4"), Proto: TCP, Port: 80}
	// keepalived.conf(5): "VS [192.168.201.15]:tcp:80 {UP|DOWN}",
	// "RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 {UP|DOWN}".
	assert.Equal(t, "VS [192.168.201.15]:tcp:80 UP\n", VirtualServer{Service: vs, Up: true}.Line())
	assert.Equal(t, "VS [192.168.201.15]:tcp:80 DOWN\n", VirtualServer{Service: vs}.Line())
	assert.Equal(t, "RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 DOWN\n", RealServer{Real: rs, Service: vs}.Line())
	assert.Equal(t, "RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 UP\n", RealServer{Real: rs, Service: vs, Up: true}.Line())

	for _, c := range []struct {
		got  LVSLine
		want string
	}{
		{VirtualServer{Service: Service{Endpoint: Endpoint{Addr: netip.MustParseAddr("10.16.8.100"), Proto: UDP, Port: 53}}, Up: true},
			"VS " + kaTrio("10.16.8.100", "udp", 53) + " UP\n"},
		{VirtualServer{Service: Service{Endpoint: Endpoint{Addr: netip.MustParseAddr("2001:db8::100"), Proto: SCTP, Port: 3868}}},
			"VS " + kaTrio("2001:db8::100", "sctp", 3868) + " DOWN\n"},
		// A firewall-mark service is "FWM N"; its real servers have no
		// protocol (keepalived clears it: "none").
		{VirtualServer{Service: Service{FWMark: 7}, Up: true}, fmt.Sprintf("VS FWM %d UP\n", 7)},
		{RealServer{Real: Endpoint{Addr: netip.MustParseAddr("10.16.8.8"), Proto: NoProt, Port: 0}, Service: Service{FWMark: 4294967295}},
			"RS " + kaTrio("10.16.8.8", "none", 0) + " FWM 4294967295 DOWN\n"},
		{RealServer{Real: Endpoint{Addr: netip.MustParseAddr("2001:db8::8"), Proto: TCP, Port: 443},
			Service: Service{Endpoint: Endpoint{Addr: netip.MustParseAddr("2001:db8::100"), Proto: TCP, Port: 443}}, Up: true},
			"RS " + kaTrio("2001:db8::8", "tcp", 443) + " " + kaTrio("2001:db8::100", "tcp", 443) + " UP\n"},
	} {
		assert.Equal(t, c.want, c.got.Line())
	}
}

// glibc's inet_ntop, which keepalived prints addresses with.
func TestNtopIsGlibcs(t *testing.T) {
	// Expected: Python's socket.inet_ntop, which calls glibc's.
	for in, want := range map[string]string{
		"10.16.8.8":            "10.16.8.8",
		"2001:db8::8":          "2001:db8::8",
		"2001:db8:0:0:1:0:0:1": "2001:db8::1:0:0:1",
		"::":                   "::",
		"::1":                  "::1",
		"::1.2.3.4":            "::1.2.3.4", // netip: ::102:304
		"::1.2.0.0":            "::1.2.0.0",
		"::0.0.1.2":            "::102",
		"::ffff:1.2.3.4":       "::ffff:1.2.3.4",
		"1::":                  "1::",
		"::1:0:0":              "::1:0:0",
		"::1:102:304":          "::1:102:304",
		"2001:db8::5efe:a00:1": "2001:db8::5efe:a00:1",
		"::ffff:ffff":          "::255.255.255.255",
		"::ffff":               "::ffff",
		"::1:0":                "::0.1.0.0",
		"::100:0":              "::1.0.0.0",
		"::1:0:0:0":            "::1:0:0:0",
		"::ffff:0:0":           "::ffff:0.0.0.0",
		"::ffff:0:102:304":     "::ffff:0:102:304",
		"fe80::102:304":        "fe80::102:304",
		"::8000:0":             "::128.0.0.0",
		"::ff:ff":              "::0.255.0.255",
		"2001:DB8::ABCD":       "2001:db8::abcd",
	} {
		assert.Equal(t, want, ntop(netip.MustParseAddr(in)), in)
	}
}
