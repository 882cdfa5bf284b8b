package healthcheck

import (
	"fmt"
	"net/netip"
	"syscall"
)

// Local is where a check's packets leave from: keepalived's bindto,
// bind_port, bind_if and fwmark (conn_opts_t, keepalived 2.2.7
// include/layer4.h). Every socket a check opens applies it: the raw
// TCP connect (connect.go), DefaultDial (SMTP_CHECK, injected dialers
// that use it), the UDP socket of UDP_CHECK and DNS_CHECK (udp.go) and
// the ICMP socket of PING_CHECK (ping.go).
type Local struct {
	// Addr is the source address and port (invalid: the kernel's choice;
	// port 0: any).
	Addr netip.AddrPort
	// Iface binds the socket to this interface (SO_BINDTODEVICE): its
	// packets leave by it whatever the main routing decision would be,
	// only what arrives on it is received, and an IPv6 link-local
	// address (destination or source) gets its scope from it. "": none.
	Iface string
	// Mark is the socket's firewall mark (SO_MARK): every packet of the
	// socket carries it, so "ip rule fwmark" and firewall rules see it.
	// 0: none (the kernel's default mark).
	Mark uint32
}

// Local is where s's sockets leave from.
func (s *Spec) Local() Local {
	return Local{Addr: s.BindTo, Iface: s.BindIf, Mark: s.FWMark}
}

// hasOpts reports whether l sets any socket option (Apply does nothing
// otherwise), so callers can skip building a Control function.
func (l Local) hasOpts() bool { return l.Iface != "" || l.Mark != 0 }

// Apply sets l's mark and interface on the socket fd. It must run before
// bind and connect: keepalived's socket_bind_connect (core/layer4.c)
// sets SO_MARK, then SO_BINDTODEVICE, then binds and connects, and the
// kernel needs the interface before it binds or connects to a
// link-local IPv6 address. Both options need CAP_NET_ADMIN (SO_MARK) or
// CAP_NET_RAW (SO_BINDTODEVICE before Linux 5.7); the director runs as
// root.
func (l Local) Apply(fd int) error {
	if l.Mark != 0 {
		// The kernel reads the option as a u32: the int32 conversion
		// inside SetsockoptInt keeps all 32 bits.
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_MARK, int(int32(l.Mark))); err != nil {
			return fmt.Errorf("set fwmark %d (SO_MARK): %w", l.Mark, err)
		}
	}
	if l.Iface != "" {
		if err := syscall.BindToDevice(fd, l.Iface); err != nil {
			return fmt.Errorf("bind to interface %s (SO_BINDTODEVICE): %w", l.Iface, err)
		}
	}
	return nil
}

// Control is Apply as a net.Dialer / net.ListenConfig Control function,
// for dialers built on package net (DefaultDial, injected DialFuncs).
func (l Local) Control(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) { err = l.Apply(int(fd)) }); cerr != nil {
		return cerr
	}
	return err
}

// chainControl returns a Control function that applies l, then next (nil:
// nothing more), or next itself when l sets nothing.
func (l Local) chainControl(next func(network, address string, c syscall.RawConn) error) func(network, address string, c syscall.RawConn) error {
	if !l.hasOpts() {
		return next
	}
	return func(network, address string, c syscall.RawConn) error {
		if err := l.Control(network, address, c); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(network, address, c)
	}
}

// ifNameValid is the kernel's dev_valid_name: 1 to 15 bytes (IFNAMSIZ-1),
// not "." or "..", no '/', ':' or white space.
func ifNameValid(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/', ':', ' ', '\t', '\n', '\v', '\f', '\r', 0:
			return false
		}
	}
	return true
}
