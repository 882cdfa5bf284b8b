//go:build e2e

package healthcheck_test

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/healthcheck"
)

// twoLegLab is a director with two interfaces: eth0 on switch "a", where
// nobody holds the real server's address, and eth1 on switch "b", where
// rs1 (10.16.9.8, fe80::8) serves HTTP on :80, echoes UDP on :54 and
// answers DNS on :53. The director's main table sends 10.16.9.8 out of
// eth0 (a /32 route), so a check that follows the main table never gets
// an answer: only a socket bound to eth1, or routed by another table,
// reaches rs1. Reverse-path filtering is off in the director (its
// answers arrive on eth1, where the main table does not point); nothing
// outside the lab's namespaces is changed.
func twoLegLab(t *testing.T) (dir *lab.Host) {
	t.Helper()
	l := lab.New(t)
	a, b := l.Switch("a"), l.Switch("b")
	dir, rs1 := l.Host("dir"), l.Host("rs1")
	a.Attach(dir, "eth0", "10.16.8.2/24")
	b.Attach(dir, "eth1", "10.16.9.2/24", "fe80::2/64")
	b.Attach(rs1, "eth0", "10.16.9.8/24", "fe80::8/64")
	for _, k := range []string{"all", "default", "eth0", "eth1"} {
		dir.SetSysctl("net.ipv4.conf."+k+".rp_filter", "0")
	}
	dir.AddRoute("10.16.9.8/32", "eth0", "")
	rs1.ServeHTTP(":80")
	serveUDP(t, rs1, "10.16.9.8:54", func(p []byte) []byte { return p })
	serveUDP(t, rs1, "10.16.9.8:53", func(p []byte) []byte {
		q := new(dns.Msg)
		if q.Unpack(p) != nil {
			return nil
		}
		b, _ := new(dns.Msg).SetReply(q).Pack()
		return b
	})
	return dir
}

func serveUDP(t *testing.T, h *lab.Host, addr string, reply func([]byte) []byte) {
	t.Helper()
	pc, err := h.ListenPacket("udp4", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := reply(buf[:n]); r != nil {
				_, _ = pc.WriteTo(r, from)
			}
		}
	}()
}

// allowPingSockets widens the director's ping_group_range (a sysctl of
// its namespace) so PING_CHECK uses an unprivileged ping socket rather
// than the raw socket root gets by default, and checks that one opens.
func allowPingSockets(t *testing.T, dir *lab.Host) {
	t.Helper()
	dir.SetSysctl("net.ipv4.ping_group_range", "0 2147483647")
	require.NoError(t, dir.Do(func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, syscall.IPPROTO_ICMP)
		if err == nil {
			_ = syscall.Close(fd)
		}
		return err
	}), "a ping socket opens in the director")
}

// connCase is one checker kind and dialer path, with the local end set by
// the test.
type connCase struct {
	name string
	spec func() *healthcheck.Spec
	dial healthcheck.DialFunc
}

// connCases covers every socket path of a check: the raw TCP connect
// (TCP_CHECK, HTTP_GET), DefaultDial (SMTP_CHECK's, here under
// TCP_CHECK), the UDP socket (UDP_CHECK, DNS_CHECK) and the ICMP socket
// (PING_CHECK: a raw socket, and a ping socket once the director's
// ping_group_range allows it).
func connCases(dst string) []connCase {
	const timeout = 700 * time.Millisecond
	base := func(k healthcheck.Kind, port uint16) *healthcheck.Spec {
		return &healthcheck.Spec{Kind: k, Addr: netip.AddrPortFrom(netip.MustParseAddr(dst), port),
			ConnectTimeout: timeout, DelayLoop: time.Second, DelayBeforeRetry: 100 * time.Millisecond}
	}
	return []connCase{
		{"TCP_CHECK raw", func() *healthcheck.Spec { return base(healthcheck.TCPCheck, 80) }, nil},
		{"TCP_CHECK DefaultDial", func() *healthcheck.Spec { return base(healthcheck.TCPCheck, 80) }, healthcheck.DefaultDial},
		{"HTTP_GET", func() *healthcheck.Spec {
			s := base(healthcheck.HTTPGet, 80)
			s.HTTP = &healthcheck.HTTPSpec{URLs: []healthcheck.URL{{Path: "/"}}}
			return s
		}, nil},
		{"UDP_CHECK", func() *healthcheck.Spec {
			s := base(healthcheck.UDPCheck, 54)
			s.UDP = &healthcheck.UDPSpec{Payload: []byte("ping"), RequireReply: true, Reply: []byte("ping"), MaxReply: 255}
			return s
		}, nil},
		{"DNS_CHECK", func() *healthcheck.Spec {
			s := base(healthcheck.DNSCheck, 53)
			s.DNS = &healthcheck.DNSSpec{Type: dns.TypeSOA}
			return s
		}, nil},
		{"PING_CHECK", func() *healthcheck.Spec { return base(healthcheck.PingCheck, 0) }, nil},
	}
}

// checkIn runs one full check inside the director's namespace with the
// built-in dialers (or dial), retries off.
func checkIn(t *testing.T, dir *lab.Host, s *healthcheck.Spec, dial healthcheck.DialFunc) healthcheck.Result {
	t.Helper()
	var res healthcheck.Result
	require.NoError(t, dir.Do(func() error {
		res = healthcheck.CheckOnce(context.Background(), s, dial)
		return nil
	}))
	return res
}

// waitPass repeats a check until it passes (the lab's links carry traffic
// a moment after they are made), for 10 s at most.
func waitPass(t *testing.T, dir *lab.Host, s *healthcheck.Spec, dial healthcheck.DialFunc) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := checkIn(t, dir, s, dial)
		if r.OK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s with bind_if %q and fwmark %d never passed: %s", s.Kind, s.BindIf, s.FWMark, r.Reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EBindIf: bind_if decides which interface a check's packets leave
// by, whatever the main routing table says. rs1 is reachable only through
// the director's eth1 while the main table points at eth0: every kind of
// check passes bound to eth1 and fails unbound (the scenario without the
// feature) and bound to eth0. For an IPv6 link-local address, which the
// kernel cannot route without an interface, bind_if is what makes the
// check possible at all (keepalived: "Checker link local address ...
// requires a bind_if").
func TestE2EBindIf(t *testing.T) {
	dir := twoLegLab(t)
	cases := connCases("10.16.9.8")
	first := cases[0].spec()
	first.BindIf = "eth1"
	waitPass(t, dir, first, nil)

	run := func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, iface := range []string{"eth1", "", "eth0"} {
					s := c.spec()
					s.BindIf = iface
					r := checkIn(t, dir, s, c.dial)
					t.Logf("bind_if %-4q: OK=%v %s", iface, r.OK, r.Reason)
					assert.Equal(t, iface == "eth1", r.OK, "bind_if %q: %s", iface, r.Reason)
				}
			})
		}
	}
	t.Run("raw ICMP", run)
	allowPingSockets(t, dir)
	t.Run("ping socket", func(t *testing.T) {
		for _, c := range cases {
			if c.name != "PING_CHECK" {
				continue
			}
			for _, iface := range []string{"eth1", "", "eth0"} {
				s := c.spec()
				s.BindIf = iface
				r := checkIn(t, dir, s, nil)
				t.Logf("PING_CHECK (ping socket) bind_if %-4q: OK=%v %s", iface, r.OK, r.Reason)
				assert.Equal(t, iface == "eth1", r.OK, "bind_if %q: %s", iface, r.Reason)
			}
		}
	})

	t.Run("link-local", func(t *testing.T) {
		for _, c := range connCases("fe80::8")[:3] { // TCP and HTTP: rs1 serves :80 on IPv6 too
			t.Run(c.name, func(t *testing.T) {
				s := c.spec()
				r := checkIn(t, dir, s, c.dial)
				t.Logf("fe80::8 without bind_if: OK=%v %s", r.OK, r.Reason)
				assert.False(t, r.OK)
				assert.Contains(t, r.Reason, "invalid argument", "the kernel refuses a link-local connect without an interface")
				s.BindIf = "eth1"
				s.BindTo = netip.MustParseAddrPort("[fe80::2]:0")
				r = checkIn(t, dir, s, c.dial)
				t.Logf("fe80::8 bind_if eth1, bindto fe80::2: OK=%v %s", r.OK, r.Reason)
				assert.True(t, r.OK, r.Reason)
			})
		}
	})
}

// TestE2EFWMark: fwmark marks every packet of a check's socket. In the
// director, a policy rule "fwmark 42 lookup 100" sends marked packets by
// table 100, where rs1 is reached through eth1; the main table sends
// everything else to eth0, where nobody answers. Every kind of check
// passes with fwmark 42 and fails without a mark (the scenario without
// the feature) and with another mark.
func TestE2EFWMark(t *testing.T) {
	dir := twoLegLab(t)
	eth1, err := dir.Handle().LinkByName("eth1")
	require.NoError(t, err)
	require.NoError(t, dir.Handle().RouteAdd(&netlink.Route{
		LinkIndex: eth1.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4(10, 16, 9, 0).To4(), Mask: net.CIDRMask(24, 32)},
		Scope: netlink.SCOPE_LINK, Table: 100,
	}))
	rule := netlink.NewRule()
	rule.Family, rule.Mark, rule.Table, rule.Priority = netlink.FAMILY_V4, 42, 100, 100
	require.NoError(t, dir.Handle().RuleAdd(rule))

	cases := connCases("10.16.9.8")
	first := cases[0].spec()
	first.FWMark = 42
	waitPass(t, dir, first, nil)

	run := func(t *testing.T, only string) {
		for _, c := range cases {
			if only != "" && c.name != only {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				for _, mark := range []uint32{42, 0, 43} {
					s := c.spec()
					s.FWMark = mark
					r := checkIn(t, dir, s, c.dial)
					t.Logf("fwmark %-2d: OK=%v %s", mark, r.OK, r.Reason)
					assert.Equal(t, mark == 42, r.OK, "fwmark %d: %s", mark, r.Reason)
				}
			})
		}
	}
	t.Run("raw ICMP", func(t *testing.T) { run(t, "") })
	allowPingSockets(t, dir)
	t.Run("ping socket", func(t *testing.T) { run(t, "PING_CHECK") })
}

// TestE2EBindIfInjectedDialer: a DialFunc built on net.Dialer applies the
// local end with Local.Control, as DefaultDial does.
func TestE2EBindIfInjectedDialer(t *testing.T) {
	dir := twoLegLab(t)
	var seen []healthcheck.Local
	dial := func(ctx context.Context, network string, local healthcheck.Local, remote netip.AddrPort) (net.Conn, error) {
		seen = append(seen, local)
		d := net.Dialer{Control: local.Control}
		return d.DialContext(ctx, network, remote.String())
	}
	s := connCases("10.16.9.8")[2].spec() // HTTP_GET
	s.BindIf, s.FWMark = "eth1", 7
	waitPass(t, dir, s, dial)
	assert.Equal(t, healthcheck.Local{Iface: "eth1", Mark: 7}, seen[len(seen)-1])
	s.BindIf = "eth0"
	r := checkIn(t, dir, s, dial)
	assert.False(t, r.OK, r.Reason)
}
