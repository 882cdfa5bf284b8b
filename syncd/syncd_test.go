package syncd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
	"github.com/lvsctl/lvsctl/syncd"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

func cfg(instance string) *syncd.Config {
	return &syncd.Config{Instance: instance, Settings: syncd.Settings{Interface: "eth1", SyncID: 191}}
}

// The state table of the package doc and docs/sync.md.
func TestDecideStateTable(t *testing.T) {
	type W = syncd.Want
	for _, tc := range []struct {
		cfg  *syncd.Config
		st   fsm.State
		want W
	}{
		{nil, fsm.Master, W{}},
		{nil, fsm.Backup, W{}},
		{cfg(""), fsm.Init, W{Master: true, Backup: true}},
		{cfg(""), fsm.Backup, W{Master: true, Backup: true}},
		{cfg(""), fsm.Stopped, W{Master: true, Backup: true}},
		{cfg("VI_1"), fsm.Init, W{Backup: true}},
		{cfg("VI_1"), fsm.Backup, W{Backup: true}},
		{cfg("VI_1"), fsm.Master, W{Master: true, Backup: true}},
		{cfg("VI_1"), fsm.Fault, W{Backup: true}},
		{cfg("VI_1"), fsm.Stopped, W{}},
	} {
		name := "<nil>"
		if tc.cfg != nil {
			name = "instance=" + tc.cfg.Instance
		}
		assert.Equal(t, tc.want, syncd.Decide(tc.cfg, tc.st), "%s %s", name, tc.st)
	}
}

func TestMaxLenFromMTU(t *testing.T) {
	c := cfg("VI_1")
	assert.Equal(t, uint16(1472), c.MaxLenFor(syncd.Master, 1500))
	assert.Equal(t, uint16(1422), c.MaxLenFor(syncd.Master, 1450), "below 1500 the kernel's default would fragment")
	assert.Equal(t, uint16(8972), c.MaxLenFor(syncd.Master, 9000))
	assert.Equal(t, uint16(65507), c.MaxLenFor(syncd.Master, 65536))
	assert.Equal(t, uint16(0), c.MaxLenFor(syncd.Backup, 9000), "the kernel sizes a backup from the MTU itself")
	c.Settings.Group = netip.MustParseAddr("ff02::81")
	assert.Equal(t, uint16(1452), c.MaxLenFor(syncd.Master, 1500), "IPv6 + UDP headers")
	c.Settings.MaxLen = 1000
	assert.Equal(t, uint16(1000), c.MaxLenFor(syncd.Master, 9000), "configured wins")
	assert.Equal(t, uint16(1000), c.MaxLenFor(syncd.Backup, 9000))
}

func newRuntime(t *testing.T) (*syncd.Runtime, *syncd.Fake) {
	f := syncd.NewFake(map[string]int{"eth1": 1500, "eth2": 9000})
	r := syncd.New(f, nil, syncd.WithRetry(0))
	t.Cleanup(func() { r.Stop(context.Background()) })
	return r, f
}

// The runtime through a whole life: start as BACKUP, promotion, demotion,
// fault, and stop; every transition that does not change the table is free.
func TestRuntimeFollowsVRRP(t *testing.T) {
	ctx := context.Background()
	r, f := newRuntime(t)
	require.NoError(t, r.Start(ctx, cfg("VI_1"), fsm.Init))
	assert.Equal(t, []string{"start backup eth1 id=191 maxlen=0 port=0 ttl=0 group=invalid IP"}, f.TakeOps())

	r.SetVRRPState("VI_1", fsm.Backup)
	require.NoError(t, r.Settle(ctx))
	assert.Empty(t, f.TakeOps(), "INIT → BACKUP: the backup daemon runs already")
	r.SetVRRPState("VI_2", fsm.Master)
	require.NoError(t, r.Settle(ctx))
	assert.Empty(t, f.TakeOps(), "another instance")

	r.SetVRRPState("VI_1", fsm.Master)
	require.NoError(t, r.Settle(ctx))
	assert.Equal(t, []string{"start master eth1 id=191 maxlen=1472 port=0 ttl=0 group=invalid IP"}, f.TakeOps(),
		"MASTER adds the master daemon and keeps the backup one")
	run := f.Running()
	assert.Len(t, run, 2)
	assert.Equal(t, uint16(8848), run[syncd.Master].Port)

	r.SetVRRPState("VI_1", fsm.Backup)
	require.NoError(t, r.Settle(ctx))
	assert.Equal(t, []string{"stop master"}, f.TakeOps())
	r.SetVRRPState("VI_1", fsm.Master)
	require.NoError(t, r.Settle(ctx))
	r.SetVRRPState("VI_1", fsm.Fault)
	require.NoError(t, r.Settle(ctx))
	assert.Equal(t, []string{"start master eth1 id=191 maxlen=1472 port=0 ttl=0 group=invalid IP", "stop master"}, f.TakeOps())

	st, err := r.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Configured)
	assert.Equal(t, "FAULT", st.VRRPState)
	_, m := st.Running(syncd.Master)
	b, ok := st.Running(syncd.Backup)
	assert.False(t, m)
	assert.True(t, ok)
	assert.Equal(t, uint16(1472), b.MaxLen, "the kernel's choice is reported")

	require.NoError(t, r.Stop(ctx))
	assert.Equal(t, []string{"stop backup"}, f.TakeOps())
	assert.Empty(t, f.Running())
	r.SetVRRPState("VI_1", fsm.Master)
	require.NoError(t, r.Settle(ctx))
	assert.Empty(t, f.TakeOps(), "nothing after stop")
}

// Without an instance both daemons run whatever VRRP does (keepalived's
// checker does the same).
func TestRuntimeWithoutInstance(t *testing.T) {
	ctx := context.Background()
	r, f := newRuntime(t)
	c := cfg("")
	c.Settings.SyncID = 0
	require.NoError(t, r.Start(ctx, c, fsm.Init))
	assert.Equal(t, []string{
		"start backup eth1 id=0 maxlen=0 port=0 ttl=0 group=invalid IP",
		"start master eth1 id=0 maxlen=1472 port=0 ttl=0 group=invalid IP",
	}, f.TakeOps())
	r.SetVRRPState("VI_1", fsm.Backup)
	require.NoError(t, r.Settle(ctx))
	assert.Empty(t, f.TakeOps())
}

// Start replaces daemons found running (left by a crashed lvsctl, or by
// ipvsadm) as keepalived does, and names a missing interface.
func TestRuntimeStartReplacesAndReportsMissingInterface(t *testing.T) {
	ctx := context.Background()
	_, f := newRuntime(t)
	require.NoError(t, f.StartDaemon(ctx, syncd.Daemon{Role: syncd.Master, Settings: syncd.Settings{Interface: "eth2", SyncID: 5}}))
	f.TakeOps()
	r := syncd.New(f, nil, syncd.WithRetry(0))
	require.NoError(t, r.Start(ctx, cfg("VI_1"), fsm.Init))
	assert.Equal(t, []string{"stop master", "start backup eth1 id=191 maxlen=0 port=0 ttl=0 group=invalid IP"}, f.TakeOps())

	r2, f2 := newRuntime(t)
	c := cfg("VI_1")
	c.Settings.Interface = "eth9"
	err := r2.Start(ctx, c, fsm.Init)
	require.ErrorIs(t, err, syncd.ErrNoInterface)
	assert.Contains(t, err.Error(), "lvs_sync_daemon interface eth9 does not exist")
	assert.Empty(t, f2.Running())
	st, _ := r2.Status(ctx)
	assert.Contains(t, st.LastError, "eth9")

	// A kernel that answers ENODEV (interface gone between the MTU read and the start).
	f2.SetMTU("eth9", 1500)
	f2.Fail("StartDaemon", unix.ENODEV)
	r2.Resync()
	require.ErrorIs(t, r2.Settle(ctx), unix.ENODEV)
	r2.Resync()
	require.NoError(t, r2.Settle(ctx), "the next reconcile retries")
	assert.Len(t, f2.Running(), 1)
}

func TestRuntimeReload(t *testing.T) {
	ctx := context.Background()
	r, f := newRuntime(t)
	c := cfg("VI_1")
	require.NoError(t, r.Start(ctx, c, fsm.Init))
	r.SetVRRPState("VI_1", fsm.Master)
	require.NoError(t, r.Settle(ctx))
	f.TakeOps()

	same := cfg("VI_1")
	require.NoError(t, r.Reload(ctx, same, fsm.Master))
	assert.Empty(t, f.TakeOps(), "unchanged settings touch nothing")

	changed := cfg("VI_1")
	changed.Settings.Port = 9000
	require.NoError(t, r.Reload(ctx, changed, fsm.Master))
	assert.Equal(t, []string{
		"stop backup", "start backup eth1 id=191 maxlen=0 port=9000 ttl=0 group=invalid IP",
		"stop master", "start master eth1 id=191 maxlen=1472 port=9000 ttl=0 group=invalid IP",
	}, f.TakeOps(), "changed settings restart both")

	sys := cfg("VI_1")
	sys.Settings.Port = 9000
	sys.Sysctls = []syncd.Sysctl{{Name: "sync_refresh_period", Value: "5"}}
	require.NoError(t, r.Reload(ctx, sys, fsm.Master))
	assert.Equal(t, []string{"sysctl sync_refresh_period=5"}, f.TakeOps(), "a sysctl alone restarts nothing")

	other := cfg("VI_2")
	other.Settings.Port = 9000
	require.NoError(t, r.Reload(ctx, other, fsm.Backup))
	assert.Equal(t, []string{"sysctl sync_refresh_period=0", "stop master"}, f.TakeOps(),
		"the sysctl left the file (restored), another instance in BACKUP: the master daemon stops")

	require.NoError(t, r.Reload(ctx, nil, fsm.Init))
	assert.Equal(t, []string{"stop backup"}, f.TakeOps())
	assert.Empty(t, f.Running())
}

func TestRuntimeSysctlsSavedAndRestored(t *testing.T) {
	ctx := context.Background()
	r, f := newRuntime(t)
	f.Sysctls["sync_threshold"] = "3 50"
	c := cfg("")
	c.Sysctls = []syncd.Sysctl{{Name: "sync_threshold", Value: "3 10"}, {Name: "sync_refresh_period", Value: "0"}}
	require.NoError(t, r.Start(ctx, c, fsm.Init))
	ops := f.TakeOps()
	assert.Equal(t, "sysctl sync_threshold=3 10", ops[0], "written before the daemons start")
	assert.NotContains(t, ops, "sysctl sync_refresh_period=0", "already the value")
	require.NoError(t, r.Stop(ctx))
	assert.Contains(t, f.TakeOps(), "sysctl sync_threshold=3 50", "restored at stop")
}

// A daemon stopped behind lvsctl's back comes back at the next resync;
// kernel errors are returned wrapped and remembered for the status.
func TestRuntimeResyncAndErrors(t *testing.T) {
	ctx := context.Background()
	r, f := newRuntime(t)
	require.NoError(t, r.Start(ctx, cfg("VI_1"), fsm.Backup))
	f.TakeOps()
	f.Kill(syncd.Backup)
	r.Resync()
	require.NoError(t, r.Settle(ctx))
	assert.Equal(t, []string{"start backup eth1 id=191 maxlen=0 port=0 ttl=0 group=invalid IP"}, f.TakeOps())

	boom := errors.New("netlink timeout")
	f.Fail("Daemons", boom)
	r.SetVRRPState("VI_1", fsm.Master)
	require.ErrorIs(t, r.Settle(ctx), boom)
	st, _ := r.Status(ctx)
	assert.Contains(t, st.LastError, "netlink timeout")
	r.Resync()
	require.NoError(t, r.Settle(ctx), "retried")
	assert.Len(t, f.Running(), 2)
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	r, f := newRuntime(t)
	f.Conns = syncd.ConnCount{Total: 42, Established: 20}
	require.NoError(t, r.Start(ctx, cfg("VI_1"), fsm.Init))
	r.SetVRRPState("VI_1", fsm.Master)
	require.NoError(t, r.Settle(ctx))
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(syncd.NewMetrics(r, time.Second)))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var got []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got = append(got, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(labels, ","), m.GetGauge().GetValue()))
		}
	}
	assert.Equal(t, []string{
		"lvsctl_ipvs_connection_entries{state=all} 42",
		"lvsctl_ipvs_connection_entries{state=established} 20",
		"lvsctl_sync_daemon_info{group=224.0.0.81,interface=eth1,maxlen=1472,port=8848,role=backup,sync_id=191} 1",
		"lvsctl_sync_daemon_info{group=224.0.0.81,interface=eth1,maxlen=1472,port=8848,role=master,sync_id=191} 1",
		"lvsctl_sync_daemon_running{role=backup} 1",
		"lvsctl_sync_daemon_running{role=master} 1",
		"lvsctl_sync_daemon_wanted{role=backup} 1",
		"lvsctl_sync_daemon_wanted{role=master} 1",
		"lvsctl_sync_error{} 0",
	}, got)
}

func TestStatusJSON(t *testing.T) {
	st := syncd.Status{Configured: true, Daemons: []syncd.Daemon{{Role: syncd.Backup, Settings: syncd.Settings{Interface: "eth1",
		SyncID: 191, MaxLen: 1472, Port: 8848, TTL: 1, Group: syncd.DefaultGroup}}}, Connections: syncd.ConnCount{Total: 25, Established: 20}}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.JSONEq(t, `{"configured":true,"want_master":false,"want_backup":false,"connections":{"total":25,"established":20},
		"daemons":[{"role":"backup","interface":"eth1","sync_id":191,"maxlen":1472,"port":8848,"ttl":1,"group":"224.0.0.81"}]}`, string(b))
	var back syncd.Status
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, st, back)
}

// SetVRRPState returns at once even while the kernel is slow; the worker
// applies the latest state.
func TestSetVRRPStateDoesNotBlock(t *testing.T) {
	ctx := context.Background()
	f := syncd.NewFake(map[string]int{"eth1": 1500})
	slow := &slowKernel{Fake: f, release: make(chan struct{})}
	r := syncd.New(slow, nil, syncd.WithRetry(0))
	require.NoError(t, r.Start(ctx, cfg("VI_1"), fsm.Init))
	slow.block.Store(true)
	r.SetVRRPState("VI_1", fsm.Master) // the worker blocks in the kernel
	start := time.Now()
	r.SetVRRPState("VI_1", fsm.Backup)
	r.SetVRRPState("VI_1", fsm.Master)
	assert.Less(t, time.Since(start), time.Second, "transitions do not wait for the kernel")
	close(slow.release)
	require.NoError(t, r.Settle(ctx))
	run := f.Running()
	assert.Len(t, run, 2, "the latest state, MASTER, is applied")
	require.NoError(t, r.Stop(ctx))
}

type slowKernel struct {
	*syncd.Fake
	block   atomic.Bool
	release chan struct{}
}

func (k *slowKernel) Daemons(ctx context.Context) ([]syncd.Daemon, error) {
	if k.block.Load() {
		<-k.release
	}
	return k.Fake.Daemons(ctx)
}

// A failed reconcile is retried RetryEvery later without a transition.
func TestRuntimeRetries(t *testing.T) {
	ctx := context.Background()
	f := syncd.NewFake(map[string]int{})
	clk := clocktest.New(time.Unix(0, 0))
	r := syncd.New(f, nil, syncd.WithClock(clk), syncd.WithRetry(5*time.Second))
	defer r.Stop(ctx)
	require.ErrorIs(t, r.Start(ctx, cfg("VI_1"), fsm.Init), syncd.ErrNoInterface)
	require.ErrorIs(t, r.Settle(ctx), syncd.ErrNoInterface, "the worker's own attempt")
	assert.True(t, clk.Pending(5*time.Second), "a retry is armed")
	f.SetMTU("eth1", 1500)
	_, fired := clk.FireNext()
	require.True(t, fired)
	require.NoError(t, r.Settle(ctx), "FireNext returned after the worker's Stop: its generation is counted")
	assert.Len(t, f.Running(), 1)
	st, err := r.Status(ctx)
	require.NoError(t, err)
	assert.Empty(t, st.LastError)
	assert.False(t, clk.Pending(5*time.Second), "no retry after success")
}
