package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// connectOnly is TCP_CHECK's default probe: rawDial, then close.
func connectOnly(ctx context.Context, local Local, remote netip.AddrPort, timeout time.Duration) error {
	f, err := rawDial(ctx, local, remote, timeout)
	if err != nil {
		return err
	}
	return f.Close()
}

// rawDial is the built-in dialer: a non-blocking connect on a raw socket,
// waited for by Go's poller. It skips what net.Dial does for a general
// purpose connection (address resolution, getsockname, getpeername,
// TCP_NODELAY, keep-alive options): a third fewer system calls and
// allocations per check. The *os.File supports deadlines. local's mark
// and interface are set before the bind and the connect, as keepalived's
// socket_bind_connect does (core/layer4.c).
func rawDial(ctx context.Context, local Local, remote netip.AddrPort, timeout time.Duration) (*os.File, error) {
	family := syscall.AF_INET
	if remote.Addr().Is6() && !remote.Addr().Is4In6() {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := local.Apply(fd); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	if local.Addr.IsValid() {
		if err := syscall.Bind(fd, sockaddr(family, local.Addr)); err != nil {
			_ = syscall.Close(fd)
			return nil, fmt.Errorf("bind %s: %w", local.Addr, err)
		}
	}
	err = syscall.Connect(fd, sockaddr(family, remote))
	if err != nil && !errors.Is(err, syscall.EINPROGRESS) {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("connect: %w", err)
	}
	// os.NewFile registers the non-blocking descriptor with the poller.
	f := os.NewFile(uintptr(fd), "tcp-check")
	if err == nil {
		return f, nil
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
		}
	}()
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = f.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	var soErr error
	err = rc.Write(func(fd uintptr) bool {
		done, err := connectDone(int(fd))
		soErr = err
		return done
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("connect: %w", ctx.Err())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("connect: timeout after %s: %w", timeout, err)
	case err != nil:
		return nil, fmt.Errorf("connect: %w", err)
	case soErr != nil:
		return nil, fmt.Errorf("connect: %w", soErr)
	}
	_ = f.SetWriteDeadline(time.Time{})
	ok = true
	return f, nil
}

// connectDone reports whether the pending connect of fd has ended, and how.
// It is checked before every wait for writability, not only after one: a
// readiness edge that arrived before RawConn.Write reset the poller's state
// is lost, so a connect that completed early would otherwise wait for its
// deadline. While the handshake runs, SO_ERROR is 0 just as after success,
// so only getpeername tells the two apart (as net.Dial does). It comes
// first because it settles the common case, a finished handshake, in one
// system call; on ENOTCONN, SO_ERROR tells a failure from a handshake
// still in progress. A change of state between the two calls happens after
// the poller's reset, so the next wait wakes at once and looks again.
func connectDone(fd int) (bool, error) {
	switch err := getpeername(fd); {
	case err == nil:
		return true, nil
	case !errors.Is(err, syscall.ENOTCONN):
		return true, fmt.Errorf("getpeername: %w", err)
	}
	v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		return true, fmt.Errorf("getsockopt SO_ERROR: %w", err)
	}
	switch e := syscall.Errno(v); e {
	case 0, syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
		return false, nil
	default:
		return true, e
	}
}

// getpeername is syscall.Getpeername without decoding the address, which
// would cost an allocation per check for an answer only its error matters.
func getpeername(fd int) error {
	var rsa syscall.RawSockaddrAny
	n := uint32(syscall.SizeofSockaddrAny)
	_, _, e := syscall.RawSyscall(syscall.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return e
	}
	return nil
}

// fileConn lets crypto/tls run over a rawDial socket.
type fileConn struct {
	*os.File
	local, remote netip.AddrPort
}

func (c fileConn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.local) }
func (c fileConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

func sockaddr(family int, ap netip.AddrPort) syscall.Sockaddr {
	if family == syscall.AF_INET6 {
		return &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
}
