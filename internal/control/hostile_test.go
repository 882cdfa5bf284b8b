package control_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/control"
)

// locking is a daemon that, like the real one, takes its lock for every
// request, and counts the requests it was asked.
type locking struct {
	mu    sync.Mutex
	calls atomic.Int64
}

func (l *locking) Status(ctx context.Context) (control.Status, error) {
	l.calls.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	return stub{}.Status(ctx)
}
func (l *locking) Reload(context.Context) []error {
	l.calls.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	return nil
}
func (l *locking) Drain(context.Context, director.RealQuery, bool) error {
	l.calls.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	return nil
}

func serve(t *testing.T, d control.Daemon) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	srv, err := control.Listen(sock, d, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return sock
}

// raw sends b as the whole request (then shuts its side down) and returns
// the daemon's answer.
func raw(t *testing.T, sock string, b []byte) control.Response {
	t.Helper()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	// The server may answer and close before reading all of an oversized
	// request; a write error is then expected.
	go func() {
		if _, err := c.Write(b); err == nil {
			_ = c.(*net.UnixConn).CloseWrite()
		}
	}()
	var r control.Response
	require.NoError(t, json.NewDecoder(c).Decode(&r))
	return r
}

// Garbage and oversized requests get a clear error and never reach the
// daemon; the server goes on answering.
func TestMalformedAndOversizedRequests(t *testing.T) {
	d := &locking{}
	sock := serve(t, d)
	for name, tc := range map[string]struct {
		req  []byte
		want string
	}{
		"garbage":       {[]byte("\x00\xff{{{\n"), "bad request: decode"},
		"wrong type":    {[]byte(`{"op":5}`), "bad request: decode"},
		"truncated":     {[]byte(`{"op":"sta`), "bad request: decode"},
		"oversized":     {append(append([]byte(`{"op":"`), bytes.Repeat([]byte("a"), 1<<20)...), `"}`...), "request larger than 64 KiB"},
		"oversized ws":  {append(bytes.Repeat([]byte(" "), 70<<10), `{"op":"status"}`...), "request larger than 64 KiB"},
		"deep nesting":  {bytes.Repeat([]byte("["), 60<<10), "bad request: decode"},
		"unknown op":    {[]byte(`{"op":"rm -rf"}`), `unknown operation "rm -rf"`},
		"drain no real": {[]byte(`{"op":"drain"}`), "drain needs the real server"},
	} {
		t.Run(name, func(t *testing.T) {
			r := raw(t, sock, tc.req)
			assert.False(t, r.OK)
			require.Len(t, r.Errors, 1)
			assert.Contains(t, r.Errors[0], tc.want)
		})
	}
	assert.Zero(t, d.calls.Load(), "a bad request reached the daemon")
	// Just under the limit is still a request.
	r := raw(t, sock, append(bytes.Repeat([]byte(" "), control.MaxRequestSize-100), `{"op":"status"}`...))
	assert.True(t, r.OK, r.Errors)
	assert.Equal(t, int64(1), d.calls.Load())
}

// Clients that send one byte per second, or connect and send nothing,
// hold neither the daemon's lock nor other clients up, and are cut off
// after the read deadline (5 s; it was a minute).
func TestSlowClientsDoNotBlockTheDaemon(t *testing.T) {
	d := &locking{}
	sock := serve(t, d)
	const slow = 20
	type result struct {
		resp    string
		elapsed time.Duration
	}
	results := make(chan result, slow)
	start := time.Now()
	for i := range slow {
		go func() {
			c, err := net.Dial("unix", sock)
			if !assert.NoError(t, err) {
				results <- result{}
				return
			}
			defer c.Close()
			// Half of them trickle a request that never ends; the
			// others send nothing at all.
			stop := make(chan struct{})
			if i%2 == 0 {
				go func() {
					req := `{"op":"status"` + strings.Repeat(" ", 100)
					for j := 0; j < len(req); j++ {
						select {
						case <-stop:
							return
						case <-time.After(300 * time.Millisecond):
						}
						if _, err := c.Write([]byte{req[j]}); err != nil {
							return
						}
					}
				}()
			}
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			b, _ := io.ReadAll(c)
			close(stop)
			results <- result{string(b), time.Since(start)}
		}()
	}
	// Meanwhile every other client is answered at once.
	time.Sleep(200 * time.Millisecond)
	for range 20 {
		t0 := time.Now()
		r, err := control.Call(context.Background(), sock, control.Request{Op: control.OpStatus})
		require.NoError(t, err)
		assert.True(t, r.OK)
		assert.Less(t, time.Since(t0), time.Second, "a slow client delayed another one")
	}
	assert.Equal(t, int64(20), d.calls.Load(), "only the complete requests reached the daemon")
	for range slow {
		r := <-results
		t.Logf("slow client cut after %v: %s", r.elapsed.Round(100*time.Millisecond), strings.TrimSpace(r.resp))
		assert.Less(t, r.elapsed, 8*time.Second, "the read deadline is not enforced")
		assert.Contains(t, r.resp, "request not received in time")
	}
	assert.Equal(t, int64(20), d.calls.Load())
}
