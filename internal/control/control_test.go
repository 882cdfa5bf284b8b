package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/vrrp"
)

type stub struct{}

func (stub) Status(context.Context) (control.Status, error) {
	return control.Status{Status: director.Status{Services: []director.ServiceStatus{{Key: "TCP 10.0.0.1:80"}}}, IPVS: true,
		VRRP: []control.VRRPInstance{control.VRRPInstanceOf(seedInstance())}}, nil
}

// seedInstance is the seed's VI_1 on ka67 as master, after some traffic.
func seedInstance() vrrp.InstanceStatus {
	return vrrp.InstanceStatus{
		Name: "VI_1", Interface: "eth1", VRID: 191, Version: 2, State: "MASTER", HoldsVIPs: true,
		BasePriority: 100, EffectivePriority: 90, MasterAddr: netip.MustParseAddr("10.16.8.10"),
		SourceAddr: netip.MustParseAddr("10.16.8.10"), AdvertInt: time.Second, MasterAdvertInt: time.Second,
		VIPs:           []netip.Prefix{netip.MustParsePrefix("10.16.8.101/32"), netip.MustParsePrefix("10.16.8.100/32")},
		LastTransition: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Faults:         []string{"script chk_nginx failing"},
		Counters: vrrp.Counters{AdvertsSent: 12, AdvertsReceived: 3, Transitions: 2, GARPsSent: 10, VIPRepairs: 1,
			Drops:    map[vrrp.DropReason]uint64{vrrp.DropAuthPass: 4, vrrp.DropTTL: 1},
			Warnings: map[vrrp.Warning]uint64{}},
	}
}

func TestVRRPInstanceOf(t *testing.T) {
	v := control.VRRPInstanceOf(seedInstance())
	assert.Equal(t, control.VRRPInstance{
		Name: "VI_1", Interface: "eth1", VRID: 191, Version: 2, State: "MASTER", HoldsVIPs: true,
		BasePriority: 100, EffectivePriority: 90, Master: "10.16.8.10", Source: "10.16.8.10",
		AdvertInt: time.Second, MasterAdvertInt: time.Second,
		VIPs:           []string{"10.16.8.100/32", "10.16.8.101/32"},
		LastTransition: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Faults:         []string{"script chk_nginx failing"},
		Counters: control.VRRPCounters{AdvertsSent: 12, AdvertsReceived: 3, Transitions: 2, GARPsSent: 10, VIPRepairs: 1,
			Drops: map[string]uint64{"auth_pass": 4, "ttl": 1}},
	}, v)

	// No master known yet: no address, and empty lists are lists.
	v = control.VRRPInstanceOf(vrrp.InstanceStatus{Name: "VI_2", State: "INIT"})
	assert.Empty(t, v.Master)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"VI_2","interface":"","vrid":0,"version":0,"state":"INIT","holds_vips":false,
		"base_priority":0,"effective_priority":0,"advert_int_ns":0,"vips":[],
		"counters":{"adverts_sent":0,"adverts_received":0,"transitions":0,"send_errors":0,"garps_sent":0,
		"garp_errors":0,"vip_errors":0,"vip_repairs":0,"drops":{}}}`, string(b))
}

// The director's fields stay at the top level of the status JSON, next to
// the VRRP instances.
func TestStatusJSONShape(t *testing.T) {
	st, err := stub{}.Status(context.Background())
	require.NoError(t, err)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Contains(t, m, "services")
	assert.Contains(t, m, "dirty")
	assert.Equal(t, true, m["ipvs"])
	inst := m["vrrp_instances"].([]any)[0].(map[string]any)
	assert.Equal(t, "MASTER", inst["state"])
	assert.Equal(t, "10.16.8.10", inst["master"])
	assert.Equal(t, map[string]any{"auth_pass": 4.0, "ttl": 1.0}, inst["counters"].(map[string]any)["drops"])
	var back control.Status
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, st, back)
}
func (stub) Reload(context.Context) []error {
	return []error{errors.New("a.conf:1:1: x"), errors.New("a.conf:2:1: y")}
}
func (stub) Drain(_ context.Context, q director.RealQuery, on bool) error {
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
	require.Len(t, r.Status.VRRP, 1)
	assert.Equal(t, uint64(4), r.Status.VRRP[0].Counters.Drops["auth_pass"])
	r, err = control.Call(ctx, sock, control.Request{Op: control.OpReload})
	require.NoError(t, err)
	assert.False(t, r.OK)
	assert.Equal(t, []string{"a.conf:1:1: x", "a.conf:2:1: y"}, r.Errors)
	r, err = control.Call(ctx, sock, control.Request{Op: control.OpDrain, Real: &director.RealQuery{}})
	require.NoError(t, err)
	assert.True(t, r.OK)
	r, err = control.Call(ctx, sock, control.Request{Op: control.OpEnable, Real: &director.RealQuery{}})
	require.NoError(t, err)
	assert.Equal(t, []string{"nope"}, r.Errors)
	r, err = control.Call(ctx, sock, control.Request{Op: "explode"})
	require.NoError(t, err)
	assert.Equal(t, []string{`unknown operation "explode"`}, r.Errors)

	cancel()
	require.NoError(t, <-done)
}

// blocking answers status only when released, to hold a request in flight.
type blocking struct {
	stub
	entered chan struct{}
	release chan struct{}
}

func (b blocking) Status(ctx context.Context) (control.Status, error) {
	close(b.entered)
	<-b.release
	return stub{}.Status(ctx)
}

// Serve returns only after the requests in flight are answered, so the
// daemon does not tear down the table under a running drain or reload.
func TestServeWaitsForRequestsInFlight(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	b := blocking{entered: make(chan struct{}), release: make(chan struct{})}
	srv, err := control.Listen(sock, b, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	resp := make(chan control.Response, 1)
	go func() {
		r, err := control.Call(context.Background(), sock, control.Request{Op: control.OpStatus})
		assert.NoError(t, err)
		resp <- r
	}()
	<-b.entered
	cancel()
	// Serve cannot return while the handler is blocked (its bound is 10s).
	require.Never(t, func() bool { return len(done) > 0 }, 200*time.Millisecond, 10*time.Millisecond,
		"Serve returned with a request in flight")
	close(b.release)
	require.NoError(t, <-done)
	assert.True(t, (<-resp).OK, "the request in flight is answered")
}
