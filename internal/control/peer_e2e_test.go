//go:build e2e

package control_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/internal/control"
)

// nobody is the uid of the foreign peer.
const nobody = 65534

// dialAs connects to sock from a thread running as uid: the kernel takes
// SO_PEERCRED from the connecting thread's credentials. The thread is
// never unlocked, so the runtime throws it away when the goroutine ends
// and no other goroutine ever runs as uid.
func dialAs(t *testing.T, uid int, sock string) (control.Response, error) {
	t.Helper()
	type res struct {
		r   control.Response
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		// The raw syscall changes this thread only (syscall.Setresuid
		// would change the whole process).
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			ch <- res{err: e}
			return
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		// A refused peer may find the socket closed before it wrote
		// (EPIPE); the refusal is already waiting to be read.
		_ = json.NewEncoder(c).Encode(control.Request{Op: control.OpReload})
		var r control.Response
		ch <- res{r, json.NewDecoder(c).Decode(&r)}
	}()
	r := <-ch
	return r.r, r.err
}

// A peer that is neither root nor the daemon's user is refused twice:
// by the socket's mode, and, should the mode be wrong, by its
// credentials; the daemon is never asked.
func TestNonRootPeerRefused(t *testing.T) {
	require.Equal(t, 0, os.Getuid(), "the host e2e tier runs as root")
	// t.TempDir's parent is 0700: nobody could not even reach the socket.
	dir, err := os.MkdirTemp("", "lvsctl-control-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	sock := filepath.Join(dir, "d.sock")
	d := &locking{}
	var srv *control.Server
	srv, err = control.Listen(sock, d, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(ctx) }()

	_, err = dialAs(t, nobody, sock)
	require.ErrorIs(t, err, unix.EACCES, "mode 0600 keeps other users out")

	require.NoError(t, os.Chmod(sock, 0o666))
	r, err := dialAs(t, nobody, sock)
	require.NoError(t, err)
	assert.False(t, r.OK)
	assert.Equal(t, []string{"uid 65534 may not control the director (root only)"}, r.Errors)
	assert.Zero(t, d.calls.Load(), "a foreign peer's request reached the daemon")

	// Root is admitted over the same socket.
	r, err = dialAs(t, 0, sock)
	require.NoError(t, err)
	assert.True(t, r.OK, r.Errors)
	assert.Equal(t, int64(1), d.calls.Load())
}
