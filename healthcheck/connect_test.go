package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synDropper returns a loopback address whose SYNs the kernel drops: a
// listener with a zero backlog that never accepts, its queue filled. It is
// the unprivileged stand-in for a powered-off server.
func synDropper(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
	// net.Dial waits for the handshake, so once one dial times out the
	// accept queue is full and further SYNs are dropped.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			require.True(t, errors.As(err, &ne) && ne.Timeout(), "filling the accept queue: %v", err)
			return addr
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Fatalf("the accept queue of %s never filled", addr)
	return addr
}

func TestConnectWaitsForHandshake(t *testing.T) {
	addr := synDropper(t)
	const timeout = 200 * time.Millisecond
	ctx := context.Background()

	err := connectOnly(ctx, Local{}, addr, timeout)
	require.Error(t, err, "a connect whose SYN is dropped must not pass")
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)

	s := &Spec{Kind: TCPCheck, Addr: addr, ConnectTimeout: timeout, DelayLoop: time.Second}
	res := CheckOnce(ctx, s, nil)
	assert.False(t, res.OK, res.Reason)
	assert.Contains(t, res.Reason, "connect: timeout", res.Reason)

	for _, kind := range []Kind{HTTPGet, SSLGet} {
		s := &Spec{Kind: kind, Addr: addr, ConnectTimeout: timeout, DelayLoop: time.Second,
			HTTP: &HTTPSpec{URLs: []URL{{Path: "/"}}}}
		res := CheckOnce(ctx, s, nil)
		assert.False(t, res.OK, res.Reason)
		// The connect phase is what times out, not the request write.
		assert.Contains(t, res.Reason, "connect: timeout", "%s: %s", kind, res.Reason)
	}
}

func TestConnectDone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	f, err := rawDial(context.Background(), Local{}, addr, time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	rc, err := f.SyscallConn()
	require.NoError(t, err)
	var done bool
	require.NoError(t, rc.Control(func(fd uintptr) { done, err = connectDone(int(fd)) }))
	assert.True(t, done)
	assert.NoError(t, err, "an established connection is done without error")

	// A socket that never connected is neither done nor failed: ENOTCONN
	// with SO_ERROR 0, exactly what a pending connect looks like.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	done, err = connectDone(fd)
	assert.False(t, done)
	assert.NoError(t, err)
}
