package lab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPServer is a small web server inside a host that answers every request
// with the host's name and a newline, like the seed's "Server 10.16.8.8"
// pages. Stop and Start simulate a failing and recovering real server.
type HTTPServer struct {
	host     *Host
	addr     string
	requests atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

// ServeHTTP starts an HTTP server on addr ("0.0.0.0:80") inside the host.
func (h *Host) ServeHTTP(addr string) *HTTPServer {
	h.lab.t.Helper()
	s := &HTTPServer{host: h, addr: addr}
	if err := s.Start(); err != nil {
		h.fatalf("%v", err)
	}
	h.lab.onClose(func() { _ = s.Stop() })
	return s
}

// Start (re)starts the server after Stop.
func (s *HTTPServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := s.host.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("http server on %s: %w", s.addr, err)
	}
	name := s.host.name
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			s.requests.Add(1)
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintln(w, name)
		}),
	}
	s.srv = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.host.lab.t.Logf("lab: http server on %s %s: %v", name, s.addr, err)
		}
	}()
	return nil
}

// Stop closes the listener and every connection: new connections are
// refused, as when the web server process dies.
func (s *HTTPServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	s.srv = nil
	return err
}

// Requests is how many requests the server has answered.
func (s *HTTPServer) Requests() int64 { return s.requests.Load() }

// Addr is the address the server listens on.
func (s *HTTPServer) Addr() string { return s.addr }

// WaitTCP waits until something accepts TCP connections on addr as seen
// from the host, or ctx ends.
func (h *Host) WaitTCP(ctx context.Context, addr string) error {
	for {
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		conn, err := h.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s from %s: %w (last error: %v)", addr, h.name, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
