package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
)

// stubDaemon answers the control socket like a running director.
type stubDaemon struct {
	mu     sync.Mutex
	drains []string
	// vrrpOnly answers like a daemon running a file without virtual_server.
	vrrpOnly bool
}

// stubVRRP is the seed's ka67: VI_1 master, VI_2 backup of ka68.
func stubVRRP(since time.Time) []control.VRRPInstance {
	return []control.VRRPInstance{
		{Name: "VI_1", Interface: "eth1", VRID: 191, Version: 2, State: "MASTER", HoldsVIPs: true, BasePriority: 100,
			EffectivePriority: 100, Master: "10.16.8.10", VIPs: []string{"10.16.8.100/32"}, LastTransition: since,
			Problems: []string{`notify_master "/usr/local/keepalived/etc/keepalived/notify.sh master": not found`},
			Counters: control.VRRPCounters{AdvertsSent: 42, AdvertsReceived: 1, Transitions: 2, VIPRepairs: 1,
				Drops: map[string]uint64{"own_advert": 42, "auth_pass": 3}}},
		{Name: "VI_2", Interface: "eth1", VRID: 192, Version: 2, State: "BACKUP", BasePriority: 95,
			EffectivePriority: 85, Master: "10.16.8.11", VIPs: []string{"10.16.8.101/32"}, LastTransition: since,
			Faults:   []string{"script chk_nginx failing"},
			Counters: control.VRRPCounters{AdvertsReceived: 40, Transitions: 1, Drops: map[string]uint64{}}},
	}
}

func (s *stubDaemon) Status(context.Context) (control.Status, error) {
	one := 1
	since := time.Now().Add(-90 * time.Second)
	s.mu.Lock()
	vrrpOnly := s.vrrpOnly
	s.mu.Unlock()
	if vrrpOnly {
		return control.Status{Status: director.Status{Services: []director.ServiceStatus{}}, VRRP: stubVRRP(since)}, nil
	}
	return control.Status{IPVS: true, VRRP: stubVRRP(since), VRRPUnmatched: map[string]uint64{"unknown_vrid": 7}, Status: director.Status{Services: []director.ServiceStatus{{
		Key: "TCP 10.16.8.100:80", Scheduler: "rr", InKernel: true, QuorumUp: true, LiveWeight: 1, Quorum: 1,
		Reals: []director.RealStatus{
			{Addr: "10.16.8.8:80", Weight: 1, Forward: "Route", Health: "down", Since: since,
				LastResult: "connection refused"},
			{Addr: "10.16.8.9:80", Weight: 1, KernelWeight: &one, Forward: "Route", Health: "up", Since: since,
				LastResult: "HTTP 200", Active: 3, Inactive: 7,
				Stats: director.Stats{Connections: 120, CPS: 12, PPSIn: 15000, BPSIn: 2500000}},
		},
		Stats: director.Stats{Connections: 120, CPS: 12, PPSIn: 15000, BPSIn: 2500000},
	}}}, Daemon: control.DaemonInfo{Generation: 2, Hash: "0123abcd4567", LastReload: since, ReloadOK: true}}, nil
}

func (s *stubDaemon) Reload(context.Context) []error {
	return []error{errors.New(`k.conf:3:5: unknown keyword "lb_algoo"`)}
}

func (s *stubDaemon) Drain(_ context.Context, q director.RealQuery, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs, rs := netip.AddrPortFrom(q.Service.Addr, q.Service.Port).String(), q.Real.String()
	if vs != "10.16.8.100:80" || !q.AnyProtocol {
		return errors.New("virtual server " + vs + ": not found")
	}
	s.drains = append(s.drains, vs+" "+rs+" "+map[bool]string{true: "drain", false: "enable"}[on])
	return nil
}

func serveStub(t *testing.T) (string, *stubDaemon) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	d := &stubDaemon{}
	srv, err := control.Listen(sock, d, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock, d
}

func runDirectorCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"lvsctl"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDirectorStatusCommand(t *testing.T) {
	sock, _ := serveStub(t)
	code, out, errs := runDirectorCLI("director", "status", "--socket", sock)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "TCP 10.16.8.100:80 rr")
	assert.Contains(t, out, "quorum up (1 >= 1)")
	assert.Regexp(t, `-> 10\.16\.8\.8:80\s+Route\s+1\s+-\s+down\s+1m30s ago\s+connection refused\s+0\s+0`, out)
	assert.Regexp(t, `-> 10\.16\.8\.9:80\s+Route\s+1\s+1\s+up\s+1m30s ago\s+HTTP 200\s+3\s+7`, out)
	// Traffic: totals and the kernel's rate estimates, per service and real server.
	assert.Regexp(t, `ACTIVE\s+INACTIVE\s+CONNS\s+CPS\s+PPS IN\s+BPS IN\n`, out)
	assert.Regexp(t, `-> 10\.16\.8\.9:80\s+Route\s+1\s+1\s+up\s+1m30s ago\s+HTTP 200\s+3\s+7\s+120\s+12\s+15\.0k\s+2\.5M\n`, out)
	assert.Contains(t, out, "conns 120  cps 12  pps 15.0k/0  bps 2.5M/0 (in/out)")
	assert.Contains(t, out, "configuration generation 2 (hash 0123abcd4567), last reload 1m30s ago: applied")

	code, out, errs = runDirectorCLI("director", "status", "-o", "json", "--socket", sock)
	require.Equal(t, 0, code, errs)
	var st control.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, uint32(7), st.Services[0].Reals[1].Inactive)
	require.Len(t, st.VRRP, 2)
	assert.Equal(t, "MASTER", st.VRRP[0].State)
	assert.Equal(t, uint64(3), st.VRRP[0].Counters.Drops["auth_pass"])
	assert.Equal(t, uint8(85), st.VRRP[1].EffectivePriority)
	assert.Equal(t, uint8(95), st.VRRP[1].BasePriority)

	code, _, errs = runDirectorCLI("director", "status", "-o", "yaml", "--socket", sock)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "invalid output format")
}

func TestDirectorStatusVRRP(t *testing.T) {
	sock, d := serveStub(t)
	code, out, errs := runDirectorCLI("director", "status", "--socket", sock)
	require.Equal(t, 0, code, errs)
	t.Log("\n" + out)
	assert.Regexp(t, `VRRP INSTANCE\s+IF\s+VRID\s+STATE\s+PRIO\s+BASE\s+MASTER\s+VIPS\s+SINCE\s+SENT\s+RECEIVED\s+TRANSITIONS\s+DROPS\n`, out)
	assert.Regexp(t, `\nVI_1\s+eth1\s+191\s+MASTER\s+100\s+100\s+10\.16\.8\.10\s+10\.16\.8\.100/32\s+1m30s ago\s+42\s+1\s+2\s+auth_pass=3 own_advert=42\n`, out)
	assert.Regexp(t, `\nVI_2\s+eth1\s+192\s+BACKUP\s+85\s+95\s+10\.16\.8\.11\s+10\.16\.8\.101/32\s+1m30s ago\s+0\s+40\s+1\s+-\n`, out)
	assert.Contains(t, out, "  VI_2: script chk_nginx failing\n")
	assert.Contains(t, out, `  VI_1: problem: notify_master "/usr/local/keepalived/etc/keepalived/notify.sh master": not found`)
	assert.Less(t, strings.Index(out, "TCP 10.16.8.100:80"), strings.Index(out, "VRRP INSTANCE"), "services first")
	assert.Contains(t, out, "  VI_1: 1 VIP repairs")
	assert.NotContains(t, out, "  VI_2: 0 VIP repairs")
	assert.Contains(t, out, "VRRP packets for no instance here: unknown_vrid=7\n")

	// A VRRP-only file (keepalived + nginx): no services, IPVS unused.
	d.mu.Lock()
	d.vrrpOnly = true
	d.mu.Unlock()
	code, out, errs = runDirectorCLI("director", "status", "--socket", sock)
	require.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(out, "no virtual_server: IPVS not used\n\nVRRP INSTANCE"), out)
	code, out, errs = runDirectorCLI("director", "status", "-o", "json", "--socket", sock)
	require.Equal(t, 0, code, errs)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, false, st["ipvs"])
	assert.Equal(t, []any{}, st["services"])
	assert.Len(t, st["vrrp_instances"], 2)
}

func TestDirectorReloadDrainEnable(t *testing.T) {
	sock, d := serveStub(t)
	code, _, errs := runDirectorCLI("director", "reload", "--socket", sock)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, `k.conf:3:5: unknown keyword "lb_algoo"`)

	code, out, errs := runDirectorCLI("director", "drain", "--socket", sock, "10.16.8.100:80", "10.16.8.8:80")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "drained 10.16.8.8:80 in 10.16.8.100:80\n", out)
	code, _, errs = runDirectorCLI("director", "enable", "--socket", sock, "10.16.8.100:80", "10.16.8.8:80")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, []string{"10.16.8.100:80 10.16.8.8:80 drain", "10.16.8.100:80 10.16.8.8:80 enable"}, d.drains)

	code, _, errs = runDirectorCLI("director", "drain", "--socket", sock, "10.9.9.9:80", "10.16.8.8:80")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "not found")
	code, _, _ = runDirectorCLI("director", "drain", "--socket", sock, "10.16.8.100:80")
	assert.Equal(t, 2, code)
}

func TestDirectorCommandsWithoutDaemon(t *testing.T) {
	code, _, errs := runDirectorCLI("director", "status", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "is `lvsctl director up` running?")
}

func TestDirectorUpRejectsBadConfig(t *testing.T) {
	code, _, errs := runDirectorCLI("director", "up", "-f", "../../internal/config/testdata/seed/typo-notify-seedlines.conf",
		"--socket", filepath.Join(t.TempDir(), "d.sock"))
	if code == 0 {
		t.Fatal("a broken config must not start")
	}
	assert.Contains(t, errs, "nothing applied")
}

func TestWriteIPVS(t *testing.T) {
	k, err := director.ParseServiceKey("TCP 10.16.8.100:80")
	require.NoError(t, err)
	tb := director.Table{k: {
		Service: director.Service{Key: k, Scheduler: "sh", Flags: director.FlagPersistent | director.FlagSched2, Timeout: 300,
			Netmask: director.IPv4Netmask(24)},
		Dests: map[director.DestKey]director.Destination{
			{Addr: netip.MustParseAddr("10.16.8.9"), Port: 80}: {Addr: netip.MustParseAddr("10.16.8.9"), Port: 80, Weight: 2,
				Forward: director.DirectRoute, ActiveConns: 1},
			{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80}: {Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Weight: 1,
				Forward: director.DirectRoute},
		},
	}}
	var b bytes.Buffer
	require.NoError(t, writeIPVS(&b, tb, "text"))
	assert.Equal(t, `Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn 
TCP  10.16.8.100:80 sh persistent,sh-port timeout 300 mask 255.255.255.0
  -> 10.16.8.8:80                 Route   1      0          0         
  -> 10.16.8.9:80                 Route   2      1          0         
`, b.String())
	b.Reset()
	require.NoError(t, writeIPVS(&b, director.Table{}, "json"))
	assert.Equal(t, "[]\n", b.String())
}

func TestWriteEvent(t *testing.T) {
	var b bytes.Buffer
	at := time.Date(2026, 11, 26, 0, 21, 15, 813e6, time.UTC)
	require.NoError(t, writeEvent(&b, control.StreamLine{Missed: 3}))
	require.NoError(t, writeEvent(&b, control.StreamLine{Event: &eventlog.Event{Seq: 12, Time: at, Kind: "health",
		Subject: "TCP 10.16.8.100:80 10.16.8.8:80", From: "UP", To: "DOWN", Message: "connection refused"}}))
	require.NoError(t, writeEvent(&b, control.StreamLine{Event: &eventlog.Event{Seq: 13, Time: at, Kind: "reload",
		To: "applied", Message: "generation 2"}}))
	assert.Equal(t, "... 3 older events dropped (this client read too slowly)\n"+
		"2026-11-26T00:21:15.813Z  #12  health  TCP 10.16.8.100:80 10.16.8.8:80  UP -> DOWN  connection refused\n"+
		"2026-11-26T00:21:15.813Z  #13  reload  applied  generation 2\n", b.String())
}
