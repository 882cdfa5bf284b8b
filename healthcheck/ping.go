package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingPayload is the size of the echo data keepalived sends
// (check/check_ping.c: ICMP_BUFSIZE).
const pingPayload = 128

// probePing sends one ICMP (or ICMPv6) echo request to the checker's
// address and passes when the matching echo reply arrives within
// connect_timeout: keepalived 2.2.7's PING_CHECK (check/check_ping.c:
// icmp_connect_thread, ping_it, recv_it). keepalived opens an
// unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP) after widening
// net.ipv4.ping_group_range; lvsctl changes no sysctl: it uses the ping
// socket when the range allows it and a raw ICMP socket otherwise
// (root, CAP_NET_RAW). Replies are matched by identifier and sequence,
// so checks running side by side never take each other's replies.
func probePing(ctx context.Context, s *Spec) Result {
	dst := s.Addr.Addr().Unmap()
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	v6 := dst.Is6()
	conn, raw, err := listenICMP(v6, s.Local())
	if err != nil {
		return fail(s, "", "%v", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if err := conn.SetDeadline(deadline); err != nil {
		return fail(s, "", "%v", err)
	}

	id, seq := rand.IntN(1<<16), rand.IntN(1<<16)
	data := make([]byte, pingPayload)
	for i := range data {
		data[i] = byte(i)
	}
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1 // ICMP
	if v6 {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}
	b, err := msg.Marshal(nil) // ICMPv6: the kernel fills the checksum
	if err != nil {
		return fail(s, "", "%v", err)
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if raw {
		to = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	if _, err := conn.WriteTo(b, to); err != nil {
		return fail(s, "", "send echo request: %v", err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
				return fail(s, "", "no echo reply within %s", s.ConnectTimeout)
			}
			return fail(s, "", "receive: %v", err)
		}
		if !sameAddr(from, dst) {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		// A ping socket rewrites the identifier to its own port and
		// delivers only its replies: only the sequence tells.
		if !ok || echo.Seq != seq || (raw && echo.ID != id) {
			continue
		}
		return pass(s, "")
	}
}

// listenICMP opens a ping socket, or a raw ICMP socket when ping sockets
// are not allowed for this group (net.ipv4.ping_group_range), bound to
// l's address (its port is not used) with l's interface and mark.
// keepalived 2.2.7 sets none of the three on its ping socket
// (check/check_ping.c, icmp_connect_thread); the configuration gives a
// PING_CHECK no interface and no mark for that reason (internal/config).
func listenICMP(v6 bool, l Local) (net.PacketConn, bool, error) {
	rawNetwork, bind := "ip4:icmp", netip.IPv4Unspecified()
	if v6 {
		rawNetwork, bind = "ip6:ipv6-icmp", netip.IPv6Unspecified()
	}
	if a := l.Addr.Addr(); a.IsValid() && !a.IsUnspecified() {
		bind = a
	}
	c, err := listenPing(v6, bind, l)
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EPROTONOSUPPORT) {
		return nil, false, fmt.Errorf("open ICMP socket: %w", err)
	}
	lc := net.ListenConfig{Control: l.chainControl(nil)}
	rc, rerr := lc.ListenPacket(context.Background(), rawNetwork, bind.String())
	if rerr != nil {
		return nil, false, fmt.Errorf("open ICMP socket: ping socket: %w; raw socket: %w", err, rerr)
	}
	return rc, true, nil
}

// listenPing opens an unprivileged ping socket (SOCK_DGRAM with
// IPPROTO_ICMP/ICMPV6), as golang.org/x/net/icmp.ListenPacket does, with
// l's options set before the bind.
func listenPing(v6 bool, bind netip.Addr, l Local) (net.PacketConn, error) {
	family, proto := syscall.AF_INET, syscall.IPPROTO_ICMP
	if v6 {
		family, proto = syscall.AF_INET6, syscall.IPPROTO_ICMPV6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := l.Apply(fd); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	if err := syscall.Bind(fd, sockaddr(family, netip.AddrPortFrom(bind, 0))); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", bind, err)
	}
	f := os.NewFile(uintptr(fd), "ping")
	defer f.Close() // FilePacketConn holds a duplicate
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("ping socket: %w", err)
	}
	return c, nil
}

func sameAddr(a net.Addr, want netip.Addr) bool {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	default:
		return false
	}
	got, ok := netip.AddrFromSlice(ip)
	return ok && got.Unmap() == want.WithZone("")
}
