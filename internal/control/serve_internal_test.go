package control

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
)

type statusOnly struct{}

func (statusOnly) Status(context.Context) (Status, error) {
	return Status{Status: director.Status{Services: []director.ServiceStatus{{Key: "TCP 10.0.0.1:80"}}}}, nil
}
func (statusOnly) Reload(context.Context) []error                        { return nil }
func (statusOnly) Drain(context.Context, director.RealQuery, bool) error { return nil }

// A full descriptor table or an aborted connection is transient: Serve
// goes on (the daemon would otherwise stop and delete every IPVS service).
func TestServeRetriesAcceptErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	srv, err := Listen(sock, statusOnly{}, nil)
	require.NoError(t, err)
	var mu sync.Mutex
	var failed []error
	fails := []error{
		&net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
		&net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.ENFILE)},
		&net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)},
	}
	srv.accept = func() (*net.UnixConn, error) {
		mu.Lock()
		if len(fails) > 0 {
			err := fails[0]
			fails = fails[1:]
			failed = append(failed, err)
			mu.Unlock()
			return nil, err
		}
		mu.Unlock()
		return srv.ln.AcceptUnix()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	r, err := Call(ctx, sock, Request{Op: OpStatus})
	require.NoError(t, err, "the server must survive transient accept errors")
	assert.True(t, r.OK)
	mu.Lock()
	assert.Len(t, failed, 3)
	mu.Unlock()
	cancel()
	require.NoError(t, <-done)
}

// A listener closed by someone else (not by ctx) ends Serve with an error
// instead of spinning.
func TestServeReturnsWhenListenerClosed(t *testing.T) {
	srv, err := Listen(filepath.Join(t.TempDir(), "d.sock"), statusOnly{}, nil)
	require.NoError(t, err)
	require.NoError(t, srv.ln.Close())
	err = srv.Serve(context.Background())
	require.ErrorIs(t, err, net.ErrClosed)
}
