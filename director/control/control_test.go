package control_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/control"
)

type stub struct{}

func (stub) Status(context.Context) (director.Status, error) {
	return director.Status{Services: []director.ServiceStatus{{Key: "TCP 10.0.0.1:80"}}}, nil
}
func (stub) Reload(context.Context) []error {
	return []error{errors.New("a.conf:1:1: x"), errors.New("a.conf:2:1: y")}
}
func (stub) Drain(_ context.Context, vs, rs string, on bool) error {
	if !on {
		return errors.New("nope")
	}
	return nil
}

func TestControlSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	// A stale socket file from a dead daemon is replaced.
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	srv, err := control.Listen(sock, stub{}, nil)
	require.NoError(t, err)
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "root only")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	// A second daemon on the same socket is refused.
	_, err = control.Listen(sock, stub{}, nil)
	require.ErrorContains(t, err, "another director is running")

	r, err := control.Call(ctx, sock, control.Request{Op: control.OpStatus})
	require.NoError(t, err)
	assert.True(t, r.OK)
	assert.Equal(t, "TCP 10.0.0.1:80", r.Status.Services[0].Key)
	r, err = control.Call(ctx, sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	assert.False(t, r.OK)
	assert.Equal(t, []string{"a.conf:1:1: x", "a.conf:2:1: y"}, r.Errors)
	r, err = control.Call(ctx, sock, control.Request{Op: control.OpDrain, VS: "a", RS: "b"})
	require.NoError(t, err)
	assert.True(t, r.OK)
	r, err = control.Call(ctx, sock, control.Request{Op: control.OpEnable, VS: "a", RS: "b"})
	require.NoError(t, err)
	assert.Equal(t, []string{"nope"}, r.Errors)
	r, err = control.Call(ctx, sock, control.Request{Op: "explode"})
	require.NoError(t, err)
	assert.Equal(t, []string{`unknown operation "explode"`}, r.Errors)

	cancel()
	require.NoError(t, <-done)
}
