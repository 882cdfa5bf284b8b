package healthcheck

import (
	"context"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sockOpts reads back the mark and the bound interface of a socket.
func sockOpts(t *testing.T, c syscall.Conn) (uint32, string) {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var mark int
	var iface string
	var gerr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		if mark, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK); gerr != nil {
			return
		}
		iface, gerr = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
	}))
	require.NoError(t, gerr)
	return uint32(mark), iface
}

// TestLocalSocketOptions: every kind of socket a check opens carries the
// Spec's fwmark (SO_MARK, all 32 bits) and bind_if (SO_BINDTODEVICE): the
// raw TCP connect (TCP_CHECK, HTTP_GET, SSL_GET), DefaultDial (SMTP_CHECK
// and net.Dialer-based DialFuncs), the connected UDP socket (UDP_CHECK,
// DNS_CHECK) and the ICMP socket (PING_CHECK). SO_MARK needs
// CAP_NET_ADMIN.
func TestLocalSocketOptions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to set SO_MARK: run the tests as root (make test does)")
	}
	ctx := context.Background()
	l := Local{Iface: "lo", Mark: 0xfffffffe}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	remote := addrOf(t, ln.Addr().String())
	want := func(t *testing.T, c syscall.Conn) {
		t.Helper()
		mark, iface := sockOpts(t, c)
		assert.Equal(t, l.Mark, mark)
		assert.Equal(t, "lo", iface)
	}

	t.Run("rawDial", func(t *testing.T) {
		f, err := rawDial(ctx, l, remote, time.Second)
		require.NoError(t, err)
		defer f.Close()
		want(t, f)
	})
	t.Run("DefaultDial", func(t *testing.T) {
		c, err := DefaultDial(ctx, "tcp", l, remote)
		require.NoError(t, err)
		defer c.Close()
		want(t, c.(*net.TCPConn))
	})
	t.Run("dialUDP", func(t *testing.T) {
		s := &Spec{Kind: UDPCheck, Addr: remote, BindIf: l.Iface, FWMark: l.Mark}
		c, release, err := dialUDP(ctx, s, net.Dialer{})
		require.NoError(t, err)
		defer release()
		want(t, c.(*net.UDPConn))
	})
	t.Run("listenICMP", func(t *testing.T) {
		for _, v6 := range []bool{false, true} {
			c, raw, err := listenICMP(v6, l)
			require.NoError(t, err)
			t.Logf("v6 %v: raw socket %v", v6, raw)
			want(t, c.(syscall.Conn))
			_ = c.Close()
		}
	})
	t.Run("listenPing", func(t *testing.T) {
		// The ping socket path, when this host's ping_group_range lets
		// root's group open one (else listenICMP used a raw socket).
		c, err := listenPing(false, remote.Addr(), l)
		if err != nil {
			t.Logf("no ping socket here (%v): the raw socket was checked above", err)
			return
		}
		defer c.Close()
		want(t, c.(syscall.Conn))
	})
}

// TestBindIfReachesEveryProbe: each checker kind opens its socket with the
// Spec's interface. An interface that does not exist fails every probe
// at SO_BINDTODEVICE (ENODEV, also without root since Linux 5.7), while
// the same Spec without it passes against the same loopback servers.
func TestBindIfReachesEveryProbe(t *testing.T) {
	ctx := context.Background()
	httpAddr := serveRaw(t, func(c net.Conn) { readReq(c); _, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n") })
	smtpAddr := serveRaw(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "220 hi\r\n")
		buf := make([]byte, 512)
		for _, reply := range []string{"250 ok\r\n", "221 bye\r\n"} {
			if _, err := c.Read(buf); err != nil {
				return
			}
			_, _ = io.WriteString(c, reply)
		}
	})
	echo, _ := udpServer(t, func(p []byte) []byte { return p })
	dnsAddr, _ := udpServer(t, func(p []byte) []byte {
		q := new(dns.Msg)
		if q.Unpack(p) != nil {
			return nil
		}
		b, _ := new(dns.Msg).SetReply(q).Pack()
		return b
	})
	base := func(k Kind, addr string) *Spec {
		return &Spec{Kind: k, Addr: addrOf(t, addr), ConnectTimeout: time.Second, DelayLoop: time.Second}
	}
	tcp := base(TCPCheck, httpAddr)
	http := base(HTTPGet, httpAddr)
	http.HTTP = &HTTPSpec{URLs: []URL{{Path: "/"}}}
	smtp := base(SMTPCheck, smtpAddr)
	smtp.SMTP = &SMTPSpec{HeloName: "me"}
	udp := base(UDPCheck, echo.String())
	udp.UDP = &UDPSpec{RequireReply: true, MaxReply: 255}
	dnsc := base(DNSCheck, dnsAddr.String())
	dnsc.DNS = &DNSSpec{Type: dns.TypeSOA}
	for _, tc := range []struct {
		name string
		s    *Spec
		dial DialFunc
	}{
		{"TCP_CHECK raw", tcp, nil},
		{"TCP_CHECK DefaultDial", tcp, DefaultDial},
		{"HTTP_GET raw", http, nil},
		{"HTTP_GET DefaultDial", http, DefaultDial},
		{"SMTP_CHECK", smtp, nil},
		{"UDP_CHECK", udp, nil},
		{"DNS_CHECK", dnsc, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckOnce(ctx, tc.s, tc.dial)
			require.True(t, r.OK, "without bind_if: %s", r.Reason)
			s := *tc.s
			s.BindIf = "nosuchif0"
			r = CheckOnce(ctx, &s, tc.dial)
			assert.False(t, r.OK)
			assert.Contains(t, r.Reason, "bind to interface nosuchif0 (SO_BINDTODEVICE): no such device")
		})
	}
	// PING_CHECK needs a ping or raw ICMP socket; an unprivileged user
	// outside ping_group_range may open neither, so only the interface
	// error is asserted when one opens.
	ping := &Spec{Kind: PingCheck, Addr: addrOf(t, "127.0.0.1:0"), ConnectTimeout: time.Second, DelayLoop: time.Second, BindIf: "nosuchif0"}
	r := CheckOnce(ctx, ping, nil)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "nosuchif0")
}

// TestSpecValidateBindIf: a Spec's interface must be a name the kernel
// could have.
func TestSpecValidateBindIf(t *testing.T) {
	s := &Spec{Kind: TCPCheck, Addr: addrOf(t, "127.0.0.1:80"), ConnectTimeout: time.Second, DelayLoop: time.Second}
	for _, bad := range []string{"abcdefghijklmnop", "eth0:1", "a/b", "a b", ".", ".."} {
		s.BindIf = bad
		assert.ErrorIs(t, s.Validate(), ErrInvalidSpec, bad)
	}
	s.BindIf = "abcdefghijklmno"
	assert.NoError(t, s.Validate())
}
