package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// udpDefaultPayload is what keepalived sends when UDP_CHECK has no
// payload: 32 bytes of "keepalived check - " repeated (core/layer4.c:
// UDP_BUFSIZE, set_buf).
var udpDefaultPayload = func() []byte {
	const s = "keepalived check - "
	b := make([]byte, 32)
	for i := range b {
		b[i] = s[i%len(s)]
	}
	return b
}()

// UDPSpec is the UDP_CHECK part of a Spec (keepalived 2.2.7
// check/check_udp.c).
type UDPSpec struct {
	// Payload is sent in one datagram (nil: udpDefaultPayload).
	Payload []byte
	// RequireReply fails a check that gets no answer within
	// connect_timeout; without it silence passes and only an ICMP error
	// (port or host unreachable) fails.
	RequireReply bool
	// Reply, when set, is compared with the start of the answer, except
	// for the bits set in ReplyMask (the x/X nibbles of the config).
	Reply, ReplyMask []byte
	// MinReply and MaxReply bound the answer's length; keepalived checks
	// them only when Reply is set (check_udp_reply).
	MinReply, MaxReply int
}

// probeUDP sends the payload from a connected socket with IP_RECVERR (so
// an ICMP error of any kind is the read's error) and waits
// connect_timeout for an answer: keepalived's udp_bind_connect,
// udp_socket_state and udp_check_thread (core/layer4.c, check/check_udp.c).
func probeUDP(ctx context.Context, s *Spec) Result {
	u := s.UDP
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	d := net.Dialer{Control: func(network, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if network == "udp6" {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVERR, 1)
			} else {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_RECVERR, 1)
			}
		})
		return errors.Join(err, serr)
	}}
	conn, release, err := dialUDP(ctx, s, d)
	if err != nil {
		return fail(s, "", "%v", err)
	}
	defer release()
	payload := u.Payload
	if len(payload) == 0 {
		payload = udpDefaultPayload
	}
	if _, err := conn.Write(payload); err != nil {
		return fail(s, "", "send: %v", err)
	}
	buf := make([]byte, u.MaxReply+1)
	if !u.RequireReply {
		buf = buf[:1]
	}
	n, err := conn.Read(buf)
	switch {
	case err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil):
		if u.RequireReply {
			return fail(s, "", "no reply within %s", s.ConnectTimeout)
		}
		return pass(s, "") // silence is success without require_reply
	case err != nil:
		return fail(s, "", "%v", err)
	}
	if u.Reply != nil {
		if why := u.mismatch(buf[:n]); why != "" {
			return fail(s, "", "reply %s", why)
		}
	}
	return pass(s, "")
}

// mismatch is keepalived's check_udp_reply: the length within
// [MinReply, MaxReply], then the first min(len, len(Reply)) octets equal
// outside ReplyMask.
func (u *UDPSpec) mismatch(got []byte) string {
	if len(got) < u.MinReply || len(got) > u.MaxReply {
		return fmt.Sprintf("length %d outside %d..%d", len(got), u.MinReply, u.MaxReply)
	}
	for i := 0; i < len(u.Reply) && i < len(got); i++ {
		var mask byte
		if i < len(u.ReplyMask) {
			mask = u.ReplyMask[i]
		}
		if (got[i]^u.Reply[i])&^mask != 0 {
			return fmt.Sprintf("data differs at octet %d (%#02x, want %#02x)", i, got[i], u.Reply[i])
		}
	}
	return ""
}

// dialUDP opens a connected UDP socket to the check's address (from
// bindto when set, with the check's interface and mark: Local) whose
// deadline is ctx's and which ctx's end unblocks; release closes it.
// keepalived sets SO_MARK in udp_bind_connect (UDP_CHECK) and SO_MARK and
// SO_BINDTODEVICE in socket_bind_connect (DNS_CHECK), core/layer4.c; the
// configuration gives a UDP_CHECK no interface, as keepalived never binds
// one (internal/config).
func dialUDP(ctx context.Context, s *Spec, d net.Dialer) (conn net.Conn, release func(), err error) {
	l := s.Local()
	if l.Addr.IsValid() {
		d.LocalAddr = net.UDPAddrFromAddrPort(l.Addr)
	}
	d.Control = l.chainControl(d.Control)
	network := "udp4"
	if s.Addr.Addr().Unmap().Is6() {
		network = "udp6"
	}
	conn, err = d.DialContext(ctx, network, s.Addr.String())
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	return conn, func() { stop(); conn.Close() }, nil
}
