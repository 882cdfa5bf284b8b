package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/vrrp"
)

// fakeHealth is a healthcheck scheduler driven by the test.
type fakeHealth struct {
	// running mirrors healthcheck.Scheduler: Set only works while Run runs.
	running chan struct{}
	mu      sync.Mutex
	sets    [][]healthcheck.Server[director.RealRef]
	events  chan healthcheck.Event[director.RealRef]
	setErr  error
	// onSet runs after a successful Set, like the scheduler's first
	// probes of new servers reporting at once.
	onSet func()
}

func newFakeHealth() *fakeHealth {
	return &fakeHealth{events: make(chan healthcheck.Event[director.RealRef]), running: make(chan struct{})}
}

func (h *fakeHealth) Run(ctx context.Context) error {
	close(h.running)
	<-ctx.Done()
	return nil
}

func (h *fakeHealth) Set(ctx context.Context, s []healthcheck.Server[director.RealRef]) error {
	select {
	case <-h.running:
	case <-ctx.Done():
		return ctx.Err()
	}
	h.mu.Lock()
	if h.setErr != nil {
		h.mu.Unlock()
		return h.setErr
	}
	h.sets = append(h.sets, s)
	onSet := h.onSet
	h.mu.Unlock()
	if onSet != nil {
		onSet()
	}
	return nil
}
func (h *fakeHealth) Events() <-chan healthcheck.Event[director.RealRef] { return h.events }
func (h *fakeHealth) Status(context.Context) ([]healthcheck.Status[director.RealRef], error) {
	return []healthcheck.Status[director.RealRef]{{Key: a8, State: healthcheck.Up, Reason: "HTTP 200",
		Checks: []healthcheck.CheckInfo{{LastRun: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}}}, nil
}

func key(s string) director.ServiceKey {
	k, err := director.ParseServiceKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

func query(t *testing.T, vs, rs string) *director.RealQuery {
	t.Helper()
	q, err := director.ParseRealQuery(vs, rs)
	require.NoError(t, err)
	return &q
}

func real(s string) director.DestKey {
	ap := netip.MustParseAddrPort(s)
	return director.DestKey{Addr: ap.Addr(), Port: ap.Port()}
}

// a8 is the real server 10.16.8.8:80 of 10.16.8.100:80.
var a8 = director.RealRef{Service: key("10.16.8.100:80"), Real: real("10.16.8.8:80")}

// loaded builds the seed-like config: VIPs × {10.16.8.8, 10.16.8.9}.
func loaded(vips ...string) *config.Desired {
	l := &config.Desired{}
	for _, vip := range vips {
		vs := director.VirtualService{Service: director.Service{Key: key(vip + ":80"), Scheduler: "rr"}}
		for _, r := range []string{"10.16.8.8:80", "10.16.8.9:80"} {
			ap := netip.MustParseAddrPort(r)
			vs.RealServers = append(vs.RealServers, director.RealServer{Addr: ap.Addr(), Port: 80, Weight: 1,
				Forward: director.DirectRoute, Checked: true})
			l.Checks = append(l.Checks, healthcheck.Server[director.RealRef]{
				Key: director.RealRef{Service: vs.Service.Key, Real: real(r)}})
		}
		l.Director.Services = append(l.Director.Services, vs)
	}
	l.Director = directortest.Complete(l.Director)
	return l
}

type harness struct {
	f      *fakeipvs.IPVS
	h      *fakeHealth
	sock   string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	next   func() (*config.Desired, error)
	reload chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, keep bool) *harness {
	t.Helper()
	hs := &harness{f: fakeipvs.New(), h: newFakeHealth(), sock: filepath.Join(t.TempDir(), "d.sock"),
		logs: &syncBuffer{}, done: make(chan error, 1), reload: make(chan struct{})}
	hs.next = func() (*config.Desired, error) { return loaded("10.16.8.100", "10.16.8.101"), nil }
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	ready := make(chan struct{})
	go func() {
		hs.done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				hs.mu.Lock()
				defer hs.mu.Unlock()
				return hs.next()
			},
			IPVS: hs.f, Health: hs.h, Socket: hs.sock, KeepIPVS: keep, Reload: hs.reload,
			Logger: slog.New(slog.NewTextHandler(io.MultiWriter(hs.logs), nil)),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-hs.done:
		t.Fatalf("daemon stopped: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-hs.done
	})
	return hs
}

func (hs *harness) call(t *testing.T, req control.Request) control.Response {
	t.Helper()
	resp, err := control.Call(context.Background(), hs.sock, req)
	require.NoError(t, err)
	return resp
}

func (hs *harness) stop(t *testing.T) {
	t.Helper()
	hs.cancel()
	require.NoError(t, <-hs.done)
	hs.done <- nil // for Cleanup
}

func TestDaemonLifecycle(t *testing.T) {
	hs := start(t, false)
	assert.Len(t, hs.f.Table(), 2)

	// A health transition becomes one edit.
	hs.f.Reset()
	hs.h.events <- healthcheck.Event[director.RealRef]{Key: a8, Old: healthcheck.Up, New: healthcheck.Down, Reason: "connection refused"}
	require.Eventually(t, func() bool { return len(hs.f.Ops()) == 1 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{"del-dest TCP 10.16.8.100:80 -> 10.16.8.8:80"}, hs.f.OpStrings())

	// Status over the socket, with the check's latest result merged in.
	resp := hs.call(t, control.Request{Op: control.OpStatus})
	require.True(t, resp.OK, resp.Errors)
	require.Len(t, resp.Status.Services, 2)
	r := resp.Status.Services[0].Reals[0]
	assert.Equal(t, "10.16.8.8:80", r.Addr)
	assert.Equal(t, "down", r.Health)
	assert.Equal(t, "HTTP 200", r.LastResult, "latest check result from the scheduler")

	// Drain and enable.
	hs.f.Reset()
	resp = hs.call(t, control.Request{Op: control.OpDrain, Real: query(t, "10.16.8.101:80", "10.16.8.9:80")})
	require.True(t, resp.OK, resp.Errors)
	assert.Equal(t, []string{"edit-dest TCP 10.16.8.101:80 -> 10.16.8.9:80 weight=0 fwd=Route thresholds=0/0"}, hs.f.OpStrings())
	resp = hs.call(t, control.Request{Op: control.OpDrain, Real: query(t, "10.16.8.222:80", "10.16.8.9:80")})
	assert.False(t, resp.OK)
	assert.Contains(t, resp.Errors[0], "not found")

	// A bad reload keeps the running config and reports every error.
	hs.mu.Lock()
	hs.next = func() (*config.Desired, error) {
		return nil, errors.Join(errors.New("k.conf:3:5: unknown keyword \"lb_algoo\""), errors.New("k.conf:9:1: missing }"))
	}
	hs.mu.Unlock()
	hs.f.Reset()
	resp = hs.call(t, control.Request{Op: control.OpReload})
	assert.False(t, resp.OK)
	assert.Equal(t, []string{`k.conf:3:5: unknown keyword "lb_algoo"`, "k.conf:9:1: missing }"}, resp.Errors)
	assert.Empty(t, hs.f.Ops())
	assert.Contains(t, hs.logs.String(), "k.conf:9:1: missing }")

	// A good reload (via SIGHUP's channel) applies the diff: one VIP fewer;
	// the drain stays.
	hs.mu.Lock()
	hs.next = func() (*config.Desired, error) { return loaded("10.16.8.101"), nil }
	hs.mu.Unlock()
	hs.reload <- struct{}{}
	require.Eventually(t, func() bool { return len(hs.f.Ops()) == 1 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, []string{"del-service TCP 10.16.8.100:80"}, hs.f.OpStrings())
	assert.Equal(t, 0, hs.f.Table()[key("10.16.8.101:80")].Dests[real("10.16.8.9:80")].Weight)

	// Stop removes what is ours.
	hs.f.Mutate(func(t director.Table) {
		t[key("UDP 192.0.2.1:53")] = &director.TableService{Service: director.Service{Key: key("UDP 192.0.2.1:53"), Scheduler: "rr"},
			Dests: map[director.DestKey]director.Destination{}}
	})
	hs.stop(t)
	assert.Len(t, hs.f.Table(), 1)
	assert.Contains(t, hs.f.Table(), key("UDP 192.0.2.1:53"))
}

func TestDaemonKeepIPVSAndAdoption(t *testing.T) {
	hs := start(t, true)
	hs.stop(t)
	assert.Len(t, hs.f.Table(), 2, "--keep-ipvs leaves the services")

	// A new daemon on the same table adopts everything: zero edits.
	f := hs.f
	f.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) { return loaded("10.16.8.100", "10.16.8.101"), nil },
			IPVS: f, Ready: func(*app.Daemon) { close(ready) },
		})
	}()
	<-ready
	assert.Empty(t, f.Ops(), "restart adopts the kept entries without touching them")
	cancel()
	require.NoError(t, <-done)
}

func TestDaemonStartErrors(t *testing.T) {
	err := app.Run(context.Background(), app.Options{
		Load: func() (*config.Desired, error) { return nil, errors.New("k.conf:1:1: boom") },
		IPVS: fakeipvs.New(),
	})
	require.ErrorContains(t, err, "k.conf:1:1: boom")
	h := newFakeHealth()
	h.setErr = healthcheck.ErrInvalidSpec
	f := fakeipvs.New()
	err = app.Run(context.Background(), app.Options{
		Load: func() (*config.Desired, error) { return loaded("10.16.8.100"), nil }, IPVS: f, Health: h,
	})
	require.ErrorIs(t, err, healthcheck.ErrInvalidSpec)
	assert.Empty(t, f.Table(), "a failed start cleans up")
}

func TestMetrics(t *testing.T) {
	f := fakeipvs.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	ready := make(chan *app.Daemon, 1)
	node := newFakeVRRP()
	l := loaded("10.16.8.100")
	l.VRRP = seedVRRP()
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) { return l, nil },
			IPVS: f, MetricsListen: "127.0.0.1:0", Ready: func(d *app.Daemon) { ready <- d },
			NewVRRP: node.new,
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	d := <-ready
	addr := d.MetricsAddr()
	require.NotEmpty(t, addr)
	// The kernel's counters and rate estimates of one service and server.
	f.Mutate(func(tb director.Table) {
		s := tb[key("10.16.8.100:80")]
		s.Service.Stats = director.Stats{Connections: 40, PacketsIn: 400, BytesIn: 40000, CPS: 4, PPSIn: 44, BPSIn: 4400}
		dst := s.Dests[real("10.16.8.8:80")]
		dst.Stats = director.Stats{Connections: 30, CPS: 3, PPSIn: 33, BPSIn: 3300}
		dst.ActiveConns, dst.InactiveConns = 2, 5
		s.Dests[real("10.16.8.8:80")] = dst
	})
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	text := string(body)
	for _, want := range []string{
		`lvsctl_director_reconcile_ops_total{op="add-dest"} 2`,
		`lvsctl_director_reconcile_ops_total{op="add-service"} 1`,
		`lvsctl_realserver_up{rs="10.16.8.8:80",vs="TCP 10.16.8.100:80"} 1`,
		`lvsctl_ipvs_backend_weight{rs="10.16.8.9:80",vs="TCP 10.16.8.100:80"} 1`,
		`lvsctl_ipvs_service_connections_total{vs="TCP 10.16.8.100:80"} 40`,
		`lvsctl_ipvs_service_incoming_bytes_total{vs="TCP 10.16.8.100:80"} 40000`,
		`lvsctl_ipvs_service_connections_per_second{vs="TCP 10.16.8.100:80"} 4`,
		`lvsctl_ipvs_service_incoming_packets_per_second{vs="TCP 10.16.8.100:80"} 44`,
		`lvsctl_ipvs_service_incoming_bytes_per_second{vs="TCP 10.16.8.100:80"} 4400`,
		`lvsctl_ipvs_service_connections_active{vs="TCP 10.16.8.100:80"} 2`,
		`lvsctl_ipvs_service_connections_inactive{vs="TCP 10.16.8.100:80"} 5`,
		`lvsctl_ipvs_backend_connections_total{rs="10.16.8.8:80",vs="TCP 10.16.8.100:80"} 30`,
		`lvsctl_ipvs_backend_connections_per_second{rs="10.16.8.8:80",vs="TCP 10.16.8.100:80"} 3`,
		`lvsctl_ipvs_backend_incoming_packets_per_second{rs="10.16.8.8:80",vs="TCP 10.16.8.100:80"} 33`,
		`lvsctl_ipvs_backend_incoming_bytes_per_second{rs="10.16.8.8:80",vs="TCP 10.16.8.100:80"} 3300`,
		`lvsctl_ipvs_backend_connections_active{rs="10.16.8.8:80",vs="TCP 10.16.8.100:80"} 2`,
		`lvsctl_config_generation 1`,
		`lvsctl_virtual_server_quorum_up{vs="TCP 10.16.8.100:80"} 1`,
		`lvsctl_vrrp_state{state="MASTER",vrrp_instance="VI_1"} 1`,
		`lvsctl_vrrp_state{state="BACKUP",vrrp_instance="VI_1"} 0`,
		`lvsctl_vrrp_transitions_total{vrrp_instance="VI_1"} 2`,
		`lvsctl_vrrp_instance_info{interface="eth1",vrid="191",vrrp_instance="VI_1"} 1`,
		`lvsctl_vrrp_adverts_dropped_total{reason="ttl",vrrp_instance="VI_1"} 1`,
		`lvsctl_vrrp_vip_repairs_total{vrrp_instance="VI_1"} 3`,
		`lvsctl_vrrp_unmatched_dropped_total{reason="unknown_vrid"} 7`,
	} {
		assert.True(t, strings.Contains(text, want), "missing %s in\n%s", want, text)
	}
	assert.Regexp(t, `\nlvsctl_config_info\{hash="[0-9a-f]{12}"\} 1\n`, text)
	assert.NotContains(t, text, "lvsctl_director_last_reload_timestamp_seconds ", "no reload yet")
	// The last completed check of 10.16.8.8 (fakeHealth.Status: 2026-01-01)
	// is absent here (no Health); the age appears with a scheduler.
	assert.NotContains(t, text, "healthcheck_last_check_age_seconds{")
	cancel()
	require.NoError(t, <-done)
}

// seedVRRP is the VRRP part of the seed's LVS-DR ka67 file: VI_1 for the VIP.
func seedVRRP() vrrp.Config {
	return vrrp.Config{McastGroup4: netip.MustParseAddr("224.0.0.111"), NotifyTimeout: 10 * time.Second,
		ReleaseGrace: 100 * time.Millisecond, Instances: []vrrp.InstanceConfig{{
			Name: "VI_1", Interface: "eth1", InitialState: "MASTER", VRID: 191, Priority: 100, AdvertInt: time.Second,
			Version: 2, GARPRepeat: 5, GARPDelay: 5 * time.Second, GARPRefreshRepeat: 1,
			AuthType: vrrp.AuthPass, AuthPass: "renwole0",
			VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("10.16.8.100/32")}},
		}}}
}

// fakeVRRP stands in for a vrrp.Node and records how the daemon uses it.
type fakeVRRP struct {
	mu       sync.Mutex
	created  []vrrp.Config
	reloaded []vrrp.Config
	ran      bool
	closed   bool
	running  chan struct{}
	// tableAtStop is how many IPVS services existed when Run's context
	// ended: VRRP must hand over while the services still forward.
	tableAtStop int
	table       func() int
	newErr      error
}

func newFakeVRRP() *fakeVRRP { return &fakeVRRP{running: make(chan struct{})} }

func (f *fakeVRRP) new(cfg vrrp.Config, _ *slog.Logger) (app.VRRP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, cfg)
	if f.newErr != nil {
		return nil, f.newErr
	}
	return f, nil
}

func (f *fakeVRRP) Run(ctx context.Context) error {
	f.mu.Lock()
	f.ran = true
	f.mu.Unlock()
	close(f.running)
	<-ctx.Done()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.table != nil {
		f.tableAtStop = f.table()
	}
	return nil
}

func (f *fakeVRRP) Status() []vrrp.InstanceStatus {
	return []vrrp.InstanceStatus{{Name: "VI_1", Interface: "eth1", VRID: 191, Version: 2, State: "MASTER",
		HoldsVIPs: true, BasePriority: 100, EffectivePriority: 100, MasterAddr: netip.MustParseAddr("10.16.8.10"),
		VIPs:     []netip.Prefix{netip.MustParsePrefix("10.16.8.100/32")},
		Counters: vrrp.Counters{AdvertsSent: 5, Transitions: 2, VIPRepairs: 3, Drops: map[vrrp.DropReason]uint64{vrrp.DropTTL: 1}}}}
}

func (f *fakeVRRP) Unmatched() map[vrrp.DropReason]uint64 {
	return map[vrrp.DropReason]uint64{vrrp.DropUnknownVRID: 7}
}

func (f *fakeVRRP) Reload(_ context.Context, cfg vrrp.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloaded = append(f.reloaded, cfg)
	return nil
}

func (f *fakeVRRP) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeVRRP) state() (created int, ran, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.created), f.ran, f.closed
}

// The seed's LVS-DR director: IPVS and VRRP in one daemon. Status shows
// both, and on stop VRRP hands over before the services are removed.
func TestDaemonRunsVRRPWithIPVS(t *testing.T) {
	f := fakeipvs.New()
	node := newFakeVRRP()
	node.table = func() int { return len(f.Table()) }
	l := loaded("10.16.8.100")
	l.VRRP = seedVRRP()
	sock := filepath.Join(t.TempDir(), "d.sock")
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	next := l
	var mu sync.Mutex
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				mu.Lock()
				defer mu.Unlock()
				return next, nil
			},
			IPVS: f, Socket: sock, NewVRRP: node.new, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
	}()
	<-node.running
	assert.Equal(t, []vrrp.Config{seedVRRP()}, node.created)

	resp, err := control.Call(context.Background(), sock, control.Request{Op: control.OpStatus})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	assert.True(t, resp.Status.IPVS)
	require.Len(t, resp.Status.Services, 1)
	require.Len(t, resp.Status.VRRP, 1)
	v := resp.Status.VRRP[0]
	assert.Equal(t, "MASTER", v.State)
	assert.Equal(t, "10.16.8.10", v.Master)
	assert.Equal(t, []string{"10.16.8.100/32"}, v.VIPs)
	assert.Equal(t, uint64(1), v.Counters.Drops["ttl"])

	// Every reload hands the VRRP part to the running node (which diffs it:
	// vrrp's own tests cover what an unchanged or changed instance does);
	// the node is never recreated.
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	mu.Lock()
	next = loaded("10.16.8.100")
	next.VRRP = seedVRRP()
	next.VRRP.Instances[0].Priority = 90
	mu.Unlock()
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	changed := seedVRRP()
	changed.Instances[0].Priority = 90
	node.mu.Lock()
	assert.Equal(t, []vrrp.Config{seedVRRP(), changed}, node.reloaded)
	assert.Len(t, node.created, 1)
	node.mu.Unlock()

	// A reload whose VRRP part is invalid changes nothing anywhere.
	mu.Lock()
	next = loaded("10.16.8.100", "10.16.8.101")
	next.VRRP = seedVRRP()
	next.VRRP.Instances[0].VRID = 0
	mu.Unlock()
	f.Reset()
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	assert.False(t, resp.OK)
	assert.Empty(t, f.Ops(), "the IPVS part of an invalid file is not applied")
	node.mu.Lock()
	assert.Len(t, node.reloaded, 2)
	node.mu.Unlock()

	// So does one whose track file's directory is missing on this host.
	mu.Lock()
	next = loaded("10.16.8.100", "10.16.8.101")
	next.VRRP = seedVRRP()
	next.VRRP.TrackFiles = []vrrp.TrackFileConfig{{Name: "tf", Path: filepath.Join(t.TempDir(), "no-such-dir", "prio"), Weight: 1}}
	mu.Unlock()
	f.Reset()
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	assert.False(t, resp.OK)
	assert.Contains(t, strings.Join(resp.Errors, "\n"), "no-such-dir")
	assert.Empty(t, f.Ops(), "the IPVS part is not applied")
	node.mu.Lock()
	assert.Len(t, node.reloaded, 2)
	node.mu.Unlock()

	cancel()
	require.NoError(t, <-done)
	_, ran, closed := node.state()
	assert.True(t, ran)
	assert.False(t, closed, "a node that ran is released by Run itself")
	assert.Equal(t, 1, node.tableAtStop, "VRRP hands over while the IPVS service still forwards")
	assert.Empty(t, f.Table(), "services removed after VRRP stopped")
}

// openNoIPVS is OpenIPVS on a kernel without IPVS.
func openNoIPVS(calls *int) func() (director.IPVS, func() error, error) {
	return func() (director.IPVS, func() error, error) {
		*calls++
		return nil, nil, errNoIPVS
	}
}

var errNoIPVS = errors.New("the kernel has no IPVS: load it with `modprobe ip_vs`")

// The seed's keepalived + nginx files have no virtual_server: they run
// without IPVS, which is never opened.
func TestDaemonVRRPOnlyRunsWithoutIPVS(t *testing.T) {
	node := newFakeVRRP()
	sock := filepath.Join(t.TempDir(), "d.sock")
	opens := 0
	var mu sync.Mutex
	next := &config.Desired{VRRP: seedVRRP()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				mu.Lock()
				defer mu.Unlock()
				return next, nil
			},
			OpenIPVS: openNoIPVS(&opens), Socket: sock, NewVRRP: node.new, Resync: time.Millisecond,
			Logger: slog.New(slog.DiscardHandler),
		})
	}()
	<-node.running
	resp, err := control.Call(context.Background(), sock, control.Request{Op: control.OpStatus})
	require.NoError(t, err)
	require.True(t, resp.OK, resp.Errors)
	assert.False(t, resp.Status.IPVS)
	assert.Empty(t, resp.Status.Services)
	assert.Len(t, resp.Status.VRRP, 1)

	// A reload that adds a virtual_server needs IPVS: refused with the
	// reason, and the running configuration stays.
	mu.Lock()
	next = loaded("10.16.8.100")
	next.VRRP = seedVRRP()
	mu.Unlock()
	resp, err = control.Call(context.Background(), sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	assert.False(t, resp.OK)
	require.Len(t, resp.Errors, 1)
	assert.Contains(t, resp.Errors[0], "modprobe ip_vs")

	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, 1, opens, "opened only for the reload with a virtual_server")
}

// A configuration with virtual servers needs IPVS: without it nothing
// starts, VRRP included.
func TestDaemonVirtualServersNeedIPVS(t *testing.T) {
	node := newFakeVRRP()
	opens := 0
	l := loaded("10.16.8.100")
	l.VRRP = seedVRRP()
	err := app.Run(context.Background(), app.Options{
		Load:     func() (*config.Desired, error) { return l, nil },
		OpenIPVS: openNoIPVS(&opens), NewVRRP: node.new,
	})
	require.ErrorIs(t, err, errNoIPVS)
	assert.Equal(t, 1, opens)
	created, _, _ := node.state()
	assert.Zero(t, created, "VRRP not even created")
}

// A VRRP node created but never run is closed, whatever fails after New.
func TestDaemonClosesVRRPNodeThatNeverRan(t *testing.T) {
	for name, broken := range map[string]func(o *app.Options){
		"control socket": func(o *app.Options) {
			o.Socket = filepath.Join(t.TempDir(), "file", "d.sock")
			require.NoError(t, os.WriteFile(filepath.Dir(o.Socket), nil, 0o644))
		},
		"health checks": func(o *app.Options) {
			h := newFakeHealth()
			h.setErr = healthcheck.ErrInvalidSpec
			o.Health = h
		},
		"metrics listener": func(o *app.Options) { o.MetricsListen = "256.0.0.1:0" },
	} {
		t.Run(name, func(t *testing.T) {
			node := newFakeVRRP()
			f := fakeipvs.New()
			l := loaded("10.16.8.100")
			l.VRRP = seedVRRP()
			o := app.Options{Load: func() (*config.Desired, error) { return l, nil }, IPVS: f, NewVRRP: node.new}
			broken(&o)
			require.Error(t, app.Run(context.Background(), o))
			created, ran, closed := node.state()
			assert.Equal(t, 1, created)
			assert.False(t, ran)
			assert.True(t, closed)
			assert.Empty(t, f.Table(), "a failed start cleans up")
		})
	}
}

func TestDaemonVRRPCreateErrorAppliesNothing(t *testing.T) {
	node := newFakeVRRP()
	node.newErr = errors.New(`vrrp_instance VI_1: link "eth1" not found`)
	f := fakeipvs.New()
	l := loaded("10.16.8.100")
	l.VRRP = seedVRRP()
	err := app.Run(context.Background(), app.Options{Load: func() (*config.Desired, error) { return l, nil },
		IPVS: f, NewVRRP: node.new})
	require.ErrorContains(t, err, `vrrp: vrrp_instance VI_1: link "eth1" not found`)
	assert.Empty(t, f.Ops(), "nothing programmed")
}

func TestDaemonNoVRRP(t *testing.T) {
	node := newFakeVRRP()
	l := loaded("10.16.8.100")
	l.VRRP = seedVRRP()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan *app.Daemon, 1)
	go func() {
		done <- app.Run(ctx, app.Options{Load: func() (*config.Desired, error) { return l, nil },
			IPVS: fakeipvs.New(), NewVRRP: node.new, NoVRRP: true, Ready: func(d *app.Daemon) { ready <- d }})
	}()
	d := <-ready
	st, err := d.Status(context.Background())
	require.NoError(t, err)
	assert.Empty(t, st.VRRP)
	cancel()
	require.NoError(t, <-done)
	created, _, _ := node.state()
	assert.Zero(t, created)
}

// A reload that brings the file's first vrrp_instance starts a node, in
// the same process, and the next reload hands it the new VRRP part.
func TestReloadStartsVRRPWhenTheFileGainsInstances(t *testing.T) {
	node := newFakeVRRP()
	var mu sync.Mutex
	next := loaded("10.16.8.100")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan *app.Daemon, 1)
	go func() {
		done <- app.Run(ctx, app.Options{Load: func() (*config.Desired, error) {
			mu.Lock()
			defer mu.Unlock()
			return next, nil
		}, IPVS: fakeipvs.New(), NewVRRP: node.new, Ready: func(d *app.Daemon) { ready <- d }})
	}()
	d := <-ready
	created, _, _ := node.state()
	assert.Zero(t, created, "no vrrp_instance, no node")

	mu.Lock()
	next = loaded("10.16.8.100")
	next.VRRP = seedVRRP()
	mu.Unlock()
	require.Empty(t, d.Reload(context.Background()))
	select {
	case <-node.running:
	case <-time.After(10 * time.Second):
		t.Fatal("the reload did not start the VRRP node")
	}
	created, ran, _ := node.state()
	assert.Equal(t, 1, created)
	assert.True(t, ran)
	require.Empty(t, d.Reload(context.Background()))
	node.mu.Lock()
	assert.Len(t, node.reloaded, 1, "the running node reloads; no second node")
	node.mu.Unlock()

	cancel()
	require.NoError(t, <-done)
	_, _, closed := node.state()
	assert.False(t, closed, "a node that ran is not closed")
}

func TestDaemonRetriesFailedEdits(t *testing.T) {
	f := fakeipvs.New()
	var mu sync.Mutex
	failures := 3
	f.FailWith(func(op director.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if op.Kind == director.OpNewDest && failures > 0 {
			failures--
			return syscall.ENOMEM
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) { return loaded("10.16.8.100"), nil },
			IPVS: f, Retry: time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
	}()
	require.Eventually(t, func() bool {
		s := f.Table()[key("10.16.8.100:80")]
		return s != nil && len(s.Dests) == 2
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), `msg="IPVS edit failed, will retry" op="add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80`)
	assert.Contains(t, logs.String(), "cannot allocate memory")
}

// A new real server's first transition can come as soon as its checks are
// set; the director must already have the server then, or the event (the
// scheduler sends transitions only) is lost for good.
func TestReloadInstallsServersBeforeTheirChecks(t *testing.T) {
	hs := start(t, false)
	next := loaded("10.16.8.100", "10.16.8.101")
	vs := &next.Director.Services[0]
	vs.RealServers = append(vs.RealServers, director.RealServer{Addr: netip.MustParseAddr("10.16.8.10"), Port: 80,
		Weight: 1, Forward: director.DirectRoute, Checked: true})
	newRef := director.RealRef{Service: vs.Service.Key, Real: real("10.16.8.10:80")}
	next.Checks = append(next.Checks, healthcheck.Server[director.RealRef]{Key: newRef})
	hs.mu.Lock()
	hs.next = func() (*config.Desired, error) { return next, nil }
	hs.mu.Unlock()
	hs.h.mu.Lock()
	hs.h.onSet = func() {
		hs.h.events <- healthcheck.Event[director.RealRef]{Key: newRef, Old: healthcheck.Up, New: healthcheck.Down,
			Reason: "connection refused"}
		// The consumer takes one event at a time: once this one is taken,
		// the first is applied (or dropped).
		hs.h.events <- healthcheck.Event[director.RealRef]{}
	}
	hs.h.mu.Unlock()

	resp := hs.call(t, control.Request{Op: control.OpReload})
	require.True(t, resp.OK, resp.Errors)
	resp = hs.call(t, control.Request{Op: control.OpStatus})
	require.True(t, resp.OK, resp.Errors)
	var health string
	for _, r := range resp.Status.Services[0].Reals {
		if r.Addr == "10.16.8.10:80" {
			health = r.Health
		}
	}
	assert.Equal(t, "down", health, "the new server's first DOWN was lost")
	assert.NotContains(t, hs.f.Table()[key("10.16.8.100:80")].Dests, real("10.16.8.10:80"))
}

// A reload with an invalid check changes nothing: the checks are
// validated before the table is touched.
// A FILE_CHECK whose track file's directory is missing is refused by the
// reload's checks, before the director or anything else changes.
func TestReloadRefusesFileCheckWithoutDirectory(t *testing.T) {
	hs := start(t, false)
	next := loaded("10.16.8.100")
	missing := filepath.Join(t.TempDir(), "no-such-dir", "weight")
	next.Checks[0].Checks = append(next.Checks[0].Checks, healthcheck.Spec{Kind: healthcheck.FileCheck, Addr: netip.MustParseAddrPort("10.16.8.8:80"),
		File: &healthcheck.FileSpec{Name: "tf", Path: missing, Weight: 1}})
	next.Director.Services = next.Director.Services[:1]
	hs.mu.Lock()
	hs.next = func() (*config.Desired, error) { return next, nil }
	hs.mu.Unlock()
	hs.f.Reset()
	resp := hs.call(t, control.Request{Op: control.OpReload})
	assert.False(t, resp.OK)
	require.NotEmpty(t, resp.Errors)
	assert.Contains(t, resp.Errors[0], "no-such-dir")
	assert.Empty(t, hs.f.Ops(), "nothing applied")
	assert.Len(t, hs.f.Table(), 2)
}

func TestReloadValidatesChecksFirst(t *testing.T) {
	hs := start(t, false)
	next := loaded("10.16.8.100")
	next.Checks = append(next.Checks, next.Checks[0]) // duplicate key
	hs.mu.Lock()
	hs.next = func() (*config.Desired, error) { return next, nil }
	hs.mu.Unlock()
	hs.f.Reset()
	resp := hs.call(t, control.Request{Op: control.OpReload})
	assert.False(t, resp.OK)
	assert.Contains(t, resp.Errors[0], "duplicate server")
	assert.Empty(t, hs.f.Ops())
	assert.Len(t, hs.f.Table(), 2)
}

// heldDumps is an IPVS that counts its dumps and, when the test waits for
// one, holds it until the test releases it.
type heldDumps struct {
	*fakeipvs.IPVS
	started, release chan struct{}
	mu               sync.Mutex
	dumps            int
}

func (s *heldDumps) GetServices(ctx context.Context) ([]director.Service, error) {
	select {
	case s.started <- struct{}{}:
		<-s.release
	default:
	}
	s.mu.Lock()
	s.dumps++
	s.mu.Unlock()
	return s.IPVS.GetServices(ctx)
}

func (s *heldDumps) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dumps
}

// A resync that outlasts its interval keeps its ticker ready; a SIGHUP
// must be served once the resync in progress ends, not after a random
// number of further resyncs (the soak saw a reload wait more than 60 s).
// Each reload below arrives while a resync's dump is held; without the
// reload-first select about half of them wait behind a second resync or
// more.
func TestReloadIsNotStarvedByResyncs(t *testing.T) {
	ipvs := &heldDumps{IPVS: fakeipvs.New(), started: make(chan struct{}), release: make(chan struct{})}
	reload := make(chan struct{}, 1)
	dumpsAtLoad := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				select {
				case dumpsAtLoad <- ipvs.count():
				case <-ctx.Done():
				}
				return loaded("10.16.8.100"), nil
			},
			IPVS: ipvs, Reload: reload, Resync: time.Millisecond, Retry: time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	<-dumpsAtLoad // the start's load
	<-ready
	const reloads = 20
	waited := 0
	for range reloads {
		<-ipvs.started // a resync's dump is running
		before := ipvs.count()
		reload <- struct{}{}
		time.Sleep(2 * time.Millisecond) // the resync ticker is ready again
		ipvs.release <- struct{}{}
		// Only the dump running when the reload came ended before it.
		waited += <-dumpsAtLoad - before
	}
	t.Logf("%d reloads, each arriving during a resync, waited for %d resync dumps", reloads, waited)
	assert.Equal(t, reloads, waited, "a reload waited behind more than the resync in progress")
	cancel()
	require.NoError(t, <-done)
}
