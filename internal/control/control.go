// Package control is the runtime API of a running director daemon: a unix
// socket speaking one JSON request and one JSON response per connection.
// Only root (or the daemon's own user) may connect: the socket is mode 0600
// and every peer's credentials are checked.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/eventlog"
	"github.com/lvsctl/lvsctl/syncd"
	"github.com/lvsctl/lvsctl/vrrp"
)

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/lvsctl/director.sock"

// Operations a client can request.
const (
	OpStatus = "status"
	OpReload = "reload"
	OpDrain  = "drain"
	OpEnable = "enable"
	// OpEvents streams the event log as JSON lines (StreamLine), oldest
	// first, then (with Follow) every new event until the client leaves.
	OpEvents = "events"
	// OpBGPDrain and OpBGPEnable move every announced VIP to the
	// graceful-shutdown community and back (docs/bgp.md).
	OpBGPDrain  = "bgp-drain"
	OpBGPEnable = "bgp-enable"
)

// Request is one client request.
type Request struct {
	Op string `json:"op"`
	// Real names the real server of OpDrain and OpEnable.
	Real *director.RealQuery `json:"real,omitempty"`
	// After: OpEvents starts after this sequence number (0: every event
	// the log still holds). Follow keeps the stream open for new events.
	After  uint64 `json:"after,omitempty"`
	Follow bool   `json:"follow,omitempty"`
}

// StreamLine is one line of an OpEvents stream: an event, or how many
// events the log dropped before this client read them (a slow client loses
// the oldest events rather than growing the daemon's memory), or an error.
type StreamLine struct {
	Event  *eventlog.Event `json:"event,omitempty"`
	Missed uint64          `json:"missed,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// EventSource is what the server needs to stream events (*eventlog.Log).
type EventSource interface {
	Since(seq uint64) (events []eventlog.Event, missed uint64)
	Changed() <-chan struct{}
}

// EventDaemon is a Daemon that keeps an event log; OpEvents is refused by
// daemons that do not.
type EventDaemon interface {
	Events() EventSource
}

// Response is the daemon's answer. Errors holds every problem (a reload can
// fail with many config errors, each with its position).
type Response struct {
	OK     bool     `json:"ok"`
	Errors []string `json:"errors,omitempty"`
	Status *Status  `json:"status,omitempty"`
}

// Status is the daemon's state: the director's view of its IPVS services
// (embedded, so its fields stay at the top level of the JSON) and the VRRP
// instances it runs.
type Status struct {
	director.Status
	// IPVS is false when the daemon runs without the kernel's IPVS (a
	// configuration without virtual_server).
	IPVS bool           `json:"ipvs"`
	VRRP []VRRPInstance `json:"vrrp_instances,omitempty"`
	// VRRPUnmatched counts received VRRP packets that reached no instance
	// (too short to name a VRID, or a VRID not configured), by reason.
	VRRPUnmatched map[string]uint64 `json:"vrrp_unmatched_drops,omitempty"`
	// Daemon is the running configuration and the last reload.
	Daemon DaemonInfo `json:"daemon"`
	// Sync is the IPVS connection-sync daemons (lvs_sync_daemon), nil
	// when the file has none.
	Sync *syncd.Status `json:"sync,omitempty"`
	// BGP is the speaker's sessions and routes (bgp), nil when the file
	// has no bgp block.
	BGP *bgp.Status `json:"bgp,omitempty"`
}

// DaemonInfo says which configuration runs and how the last reload went.
type DaemonInfo struct {
	// Generation counts the configurations loaded: 1 after the start, +1
	// per successful reload.
	Generation uint64 `json:"config_generation"`
	// Hash identifies the effective (defaulted) configuration.
	Hash       string    `json:"config_hash"`
	LastReload time.Time `json:"last_reload,omitzero"`
	ReloadOK   bool      `json:"last_reload_ok"`
}

// VRRPInstance is one VRRP instance as `director status` shows it.
type VRRPInstance struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	VRID      uint8  `json:"vrid"`
	Version   uint8  `json:"version"`
	SyncGroup string `json:"sync_group,omitempty"`
	// State is INIT, BACKUP, MASTER, FAULT or STOP.
	State string `json:"state"`
	// Leaving: a master handing over on shutdown (it keeps the VIPs until
	// it hears the new master).
	Leaving           bool  `json:"leaving,omitempty"`
	HoldsVIPs         bool  `json:"holds_vips"`
	BasePriority      uint8 `json:"base_priority"`
	EffectivePriority uint8 `json:"effective_priority"`
	// Master is the current master's address (ours when MASTER), "" while
	// none is known.
	Master          string        `json:"master,omitempty"`
	Source          string        `json:"source,omitempty"`
	AdvertInt       time.Duration `json:"advert_int_ns"`
	MasterAdvertInt time.Duration `json:"master_advert_int_ns,omitempty"`
	VIPs            []string      `json:"vips"`
	LastTransition  time.Time     `json:"last_transition,omitzero"`
	Faults          []string      `json:"faults,omitempty"`
	Problems        []string      `json:"problems,omitempty"`
	Counters        VRRPCounters  `json:"counters"`
}

// VRRPCounters are an instance's statistics since the daemon started.
type VRRPCounters struct {
	AdvertsSent     uint64 `json:"adverts_sent"`
	AdvertsReceived uint64 `json:"adverts_received"`
	Transitions     uint64 `json:"transitions"`
	SendErrors      uint64 `json:"send_errors"`
	GARPsSent       uint64 `json:"garps_sent"`
	GARPErrors      uint64 `json:"garp_errors"`
	VIPErrors       uint64 `json:"vip_errors"`
	// VIPRepairs counts VIPs found wrong (on a non-master, missing on a
	// master) and repaired.
	VIPRepairs uint64 `json:"vip_repairs"`
	// Drops counts received packets dropped, by reason.
	Drops map[string]uint64 `json:"drops"`
	// Warnings counts adverts accepted with a mismatch, by kind.
	Warnings map[string]uint64 `json:"warnings,omitempty"`
}

// VRRPInstanceOf converts a vrrp.InstanceStatus for the wire.
func VRRPInstanceOf(s vrrp.InstanceStatus) VRRPInstance {
	v := VRRPInstance{
		Name: s.Name, Interface: s.Interface, VRID: s.VRID, Version: s.Version, SyncGroup: s.SyncGroup,
		State: s.State.String(), Leaving: s.Leaving, HoldsVIPs: s.HoldsVIPs,
		BasePriority: s.BasePriority, EffectivePriority: s.EffectivePriority,
		AdvertInt: s.AdvertInt, MasterAdvertInt: s.MasterAdvertInt, LastTransition: s.LastTransition,
		Faults: s.Faults, Problems: s.Problems, VIPs: []string{},
		Counters: VRRPCounters{
			AdvertsSent: s.Counters.AdvertsSent, AdvertsReceived: s.Counters.AdvertsReceived,
			Transitions: s.Counters.Transitions, SendErrors: s.Counters.SendErrors, GARPsSent: s.Counters.GARPsSent,
			GARPErrors: s.Counters.GARPErrors, VIPErrors: s.Counters.VIPErrors, VIPRepairs: s.Counters.VIPRepairs,
			Drops: map[string]uint64{},
		},
	}
	if s.MasterAddr.IsValid() {
		v.Master = s.MasterAddr.String()
	}
	if s.SourceAddr.IsValid() {
		v.Source = s.SourceAddr.String()
	}
	for _, p := range s.VIPs {
		v.VIPs = append(v.VIPs, p.String())
	}
	sort.Strings(v.VIPs)
	for r, n := range s.Counters.Drops {
		v.Counters.Drops[string(r)] = n
	}
	for w, n := range s.Counters.Warnings {
		if v.Counters.Warnings == nil {
			v.Counters.Warnings = map[string]uint64{}
		}
		v.Counters.Warnings[string(w)] = n
	}
	return v
}

// Daemon is what the server needs from the running daemon.
type Daemon interface {
	Status(ctx context.Context) (Status, error)
	// Reload returns every error of the new configuration.
	Reload(ctx context.Context) []error
	Drain(ctx context.Context, q director.RealQuery, on bool) error
}

// BGPDrainer is a Daemon that announces VIPs over BGP (optional: a daemon
// without it answers OpBGPDrain with an error).
type BGPDrainer interface {
	DrainBGP(ctx context.Context, on bool) error
}

// Server answers requests on a unix socket.
type Server struct {
	ln  *net.UnixListener
	d   Daemon
	log *slog.Logger
	// accept is ln.AcceptUnix; tests inject failures.
	accept func() (*net.UnixConn, error)
	// drainWait bounds how long Serve waits for requests in flight.
	drainWait time.Duration
	// readTimeout and writeTimeout are the per-connection deadlines of
	// reading the request and writing the response; tests shorten them.
	readTimeout, writeTimeout time.Duration
}

// Accept backoff after an error, as net/http does: a full descriptor table
// (EMFILE) or an aborted connection must not end the daemon, whose stop
// would delete every IPVS service.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
	// defaultDrainWait bounds Serve's wait for handlers; they see ctx end
	// and every connection has a deadline, so this is only a safety net.
	defaultDrainWait = 10 * time.Second
	// MaxRequestSize bounds one request: the largest real one (a drain
	// with its query) is a few hundred bytes, so anything near this is
	// garbage or an attack, and must not grow the daemon's heap.
	MaxRequestSize = 64 << 10
	// defaultReadTimeout bounds reading the request: a client that sends
	// one byte per second, or nothing, holds only its own goroutine and
	// descriptor, and only this long. The CLI writes its request at once.
	defaultReadTimeout = 5 * time.Second
	// defaultWriteTimeout bounds writing the response to a client that
	// does not read it (a status of a big table is a few MB).
	defaultWriteTimeout = time.Minute
)

// ErrRequestTooLarge is returned for a request over MaxRequestSize.
var ErrRequestTooLarge = fmt.Errorf("request larger than %d KiB", MaxRequestSize>>10)

// Listen creates the socket at path (its directory too, mode 0755),
// replacing a stale socket left by a daemon that died.
func Listen(path string, d Daemon, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another director is running", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Peer credentials are checked as well, so the short window before
	// the chmod grants nothing.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket permissions: %w", err)
	}
	return &Server{ln: ln, d: d, log: log, accept: ln.AcceptUnix, drainWait: defaultDrainWait,
		readTimeout: defaultReadTimeout, writeTimeout: defaultWriteTimeout}, nil
}

// Serve handles connections until ctx ends, then closes the socket and
// waits (bounded) for the requests in flight. Accept errors are logged and
// retried with a capped backoff; Serve returns an error only when the
// listener was closed by someone else.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer s.wait(&wg)
	defer s.ln.Close()
	var delay time.Duration
	for {
		c, err := s.accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("control socket accept: %w", err)
			}
			delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
			s.log.Warn("control socket accept failed, retrying", "err", err, "delay", delay.String())
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, c)
		}()
	}
}

// wait waits for the handlers, at most drainWait.
func (s *Server) wait(wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.drainWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("control socket: requests still running at shutdown", "waited", s.drainWait.String())
	}
}

func (s *Server) handle(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	// The whole request is read, under its own short deadline, before
	// the daemon is asked anything: a slow or stuck client never holds a
	// daemon lock and never delays another client.
	_ = c.SetDeadline(time.Now().Add(s.readTimeout))
	if err := checkPeer(c); err != nil {
		s.log.Warn("control connection refused", "err", err)
		writeResp(c, Response{Errors: []string{err.Error()}})
		return
	}
	req, err := DecodeRequest(c)
	if err != nil {
		s.log.Warn("control request refused", "err", err)
		_ = c.SetDeadline(time.Now().Add(s.writeTimeout))
		writeResp(c, Response{Errors: []string{"bad request: " + err.Error()}})
		return
	}
	if req.Op == OpEvents {
		s.stream(ctx, c, req)
		return
	}
	// Handling may take long (a reload, a status of a big table): the
	// deadline covers only writing the answer.
	_ = c.SetDeadline(time.Time{})
	resp := s.do(ctx, req)
	_ = c.SetDeadline(time.Now().Add(s.writeTimeout))
	writeResp(c, resp)
}

// DecodeRequest reads one JSON request of at most MaxRequestSize bytes.
// Anything after the request (the CLI sends a newline) is not read.
func DecodeRequest(r io.Reader) (Request, error) {
	lr := &io.LimitedReader{R: r, N: MaxRequestSize + 1}
	var req Request
	if err := json.NewDecoder(bufio.NewReader(lr)).Decode(&req); err != nil {
		switch {
		case lr.N <= 0:
			return Request{}, ErrRequestTooLarge
		case errors.Is(err, os.ErrDeadlineExceeded):
			return Request{}, fmt.Errorf("request not received in time: %w", err)
		}
		return Request{}, fmt.Errorf("decode: %w", err)
	}
	return req, nil
}

// streamWriteTimeout bounds one write of the events stream: a client that
// stops reading is dropped, its handler does not linger.
const streamWriteTimeout = 30 * time.Second

// stream writes the event log to c as JSON lines until ctx ends, the
// client leaves, or (without Follow) the backlog is written. It keeps no
// queue of its own: it reads the log's ring by sequence number, so a slow
// client costs nothing but the events it misses.
func (s *Server) stream(ctx context.Context, c *net.UnixConn, req Request) {
	enc := json.NewEncoder(c)
	ed, ok := s.d.(EventDaemon)
	if !ok {
		_ = enc.Encode(StreamLine{Error: "this daemon keeps no event log"})
		return
	}
	src := ed.Events()
	_ = c.SetDeadline(time.Time{})
	// The client sends nothing more: a read returning means it left.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		var b [1]byte
		_, _ = c.Read(b[:])
		cancel()
	}()
	after := req.After
	for {
		changed := src.Changed()
		events, missed := src.Since(after)
		_ = c.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if missed > 0 {
			if enc.Encode(StreamLine{Missed: missed}) != nil {
				return
			}
		}
		for i := range events {
			if enc.Encode(StreamLine{Event: &events[i]}) != nil {
				return
			}
			after = events[i].Seq
		}
		if !req.Follow {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func (s *Server) do(ctx context.Context, req Request) Response {
	switch req.Op {
	case OpStatus:
		st, err := s.d.Status(ctx)
		if err != nil {
			return Response{Errors: []string{err.Error()}}
		}
		return Response{OK: true, Status: &st}
	case OpReload:
		errs := s.d.Reload(ctx)
		if len(errs) == 0 {
			return Response{OK: true}
		}
		r := Response{}
		for _, e := range errs {
			r.Errors = append(r.Errors, e.Error())
		}
		return r
	case OpDrain, OpEnable:
		if req.Real == nil {
			return Response{Errors: []string{req.Op + " needs the real server"}}
		}
		if err := s.d.Drain(ctx, *req.Real, req.Op == OpDrain); err != nil {
			return Response{Errors: []string{err.Error()}}
		}
		return Response{OK: true}
	case OpBGPDrain, OpBGPEnable:
		d, ok := s.d.(BGPDrainer)
		if !ok {
			return Response{Errors: []string{"this daemon does not speak BGP"}}
		}
		if err := d.DrainBGP(ctx, req.Op == OpBGPDrain); err != nil {
			return Response{Errors: []string{err.Error()}}
		}
		return Response{OK: true}
	}
	return Response{Errors: []string{fmt.Sprintf("unknown operation %q", req.Op)}}
}

func writeResp(c net.Conn, r Response) {
	_ = json.NewEncoder(c).Encode(r)
}

// checkPeer admits root and the daemon's own user.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("uid %d may not control the director (root only)", cred.Uid)
	}
	return nil
}

// Stream sends an OpEvents request and calls fn for every line until the
// daemon ends the stream, ctx ends (nil error) or fn fails.
func Stream(ctx context.Context, path string, req Request, fn func(StreamLine) error) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("connect to the director daemon at %s (is `lvsctl director up` running?): %w", path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for {
		var line StreamLine
		if err := dec.Decode(&line); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read events: %w", err)
		}
		if line.Error != "" {
			return errors.New(line.Error)
		}
		if err := fn(line); err != nil {
			return err
		}
	}
}

// Call sends one request to the daemon at path and returns its response.
// A response with OK false is returned as is, with a nil error.
func Call(ctx context.Context, path string, req Request) (Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, fmt.Errorf("connect to the director daemon at %s (is `lvsctl director up` running?): %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, fmt.Errorf("send request: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("read response: %w", err)
	}
	return resp, nil
}
