package director_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
	"github.com/lvsctl/lvsctl/internal/script"
)

// scripts records the line of every script the director runs, and who
// would run it.
type scripts struct {
	mu  sync.Mutex
	ran []string
	as  []string
}

func (s *scripts) Run(_ context.Context, script director.Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ran = append(s.ran, script.Line)
	s.as = append(s.as, script.As.String())
}

func (s *scripts) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ran
	s.ran = nil
	return r
}

func rs(addr string, w int) director.RealServer {
	ap := netip.MustParseAddrPort(addr)
	return director.RealServer{Addr: ap.Addr(), Port: ap.Port(), Weight: w, Forward: director.DirectRoute, Checked: true,
		NotifyUp: director.Script{Line: "up " + addr}, NotifyDown: director.Script{Line: "down " + addr}}
}

// seedConfig is the seed's LVS-DR blocks: 2 VIPs × 2 real servers, rr.
func seedConfig() director.Config {
	var c director.Config
	for _, vip := range []string{"10.16.8.100", "10.16.8.101"} {
		c.Services = append(c.Services, director.VirtualService{
			Service:     director.Service{Key: vsKey("TCP " + vip + ":80"), Scheduler: "rr"},
			RealServers: []director.RealServer{rs("10.16.8.8:80", 1), rs("10.16.8.9:80", 1)},
		})
	}
	return directortest.Complete(c)
}

type fixture struct {
	d    *director.Director
	f    *fakeipvs.IPVS
	s    *scripts
	ev   *events
	logs *bytes.Buffer
	clk  *clocktest.Fake
}

// events records what the director tells director.Events (the health
// reports' RealServerChanged apart).
type events struct {
	mu      sync.Mutex
	got     []string
	changed []string
}

func (e *events) RealServerChanged(ref director.RealRef, up bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.changed = append(e.changed, fmt.Sprintf("%s %s up=%t", ref.Service, ref.Real, up))
}

func (e *events) takeChanged() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.changed
	e.changed = nil
	return r
}

func (e *events) Quorum(q director.QuorumEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, fmt.Sprintf("quorum %s up=%t init=%t stopping=%t %d+%d threshold=%d weight=%d",
		q.Service, q.Up, q.Init, q.Stopping, q.Quorum, q.Hysteresis, q.Threshold, q.Weight))
}

func (e *events) RealServerGone(ref director.RealRef, stopping bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, fmt.Sprintf("gone %s %s stopping=%t", ref.Service, ref.Real, stopping))
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.got
	e.got = nil
	return r
}

func newFixture(t *testing.T, cfg director.Config, f *fakeipvs.IPVS) *fixture {
	t.Helper()
	if f == nil {
		f = fakeipvs.New()
	}
	fx := &fixture{f: f, s: &scripts{}, ev: &events{}, logs: &bytes.Buffer{}, clk: clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	d, err := director.New(cfg, director.Options{
		IPVS: f, Scripts: fx.s, Logger: slog.New(slog.NewTextHandler(fx.logs, nil)),
		Clock: fx.clk, Events: fx.ev,
	})
	require.NoError(t, err)
	fx.d = d
	require.NoError(t, d.Start(context.Background()))
	return fx
}

func (fx *fixture) health(t *testing.T, vs, real string, up bool) {
	t.Helper()
	ap := netip.MustParseAddrPort(real)
	require.NoError(t, fx.d.HandleHealth(context.Background(), director.HealthEvent{
		Ref: director.RealRef{Service: vsKey(vs), Real: director.DestKey{Addr: ap.Addr(), Port: ap.Port()}}, Up: up, Result: fmt.Sprint(up)}))
}

func TestStartProgramsSeedConfig(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	assert.Equal(t, []string{
		"add-service TCP 10.16.8.100:80 sched=rr flags=0x0 timeout=0 netmask=255.255.255.255",
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0",
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
		"add-service TCP 10.16.8.101:80 sched=rr flags=0x0 timeout=0 netmask=255.255.255.255",
		"add-dest TCP 10.16.8.101:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0",
		"add-dest TCP 10.16.8.101:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
	}, fx.f.OpStrings())
}

func TestRestartAdoptsAndLeavesOthersAlone(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	// Someone else's service, and a stray destination inside ours.
	fx.f.Mutate(func(tb director.Table) {
		tb[vsKey("UDP 192.0.2.1:53")] = ts(svc("UDP 192.0.2.1:53", "wlc"), dst("192.0.2.2:53", 1))
		tb[vsKey("TCP 10.16.8.100:80")].Dests[dst("10.16.8.77:80", 1).Key()] = dst("10.16.8.77:80", 1)
	})
	fx.f.Reset()
	fx2 := newFixture(t, seedConfig(), fx.f)
	assert.Equal(t, []string{"del-dest TCP 10.16.8.100:80 -> 10.16.8.77:80"}, fx2.f.OpStrings())
	assert.Contains(t, fx2.logs.String(), "removed destination unknown to the config")
	assert.Contains(t, fx2.f.Table(), vsKey("UDP 192.0.2.1:53"))
}

func TestHealthDrivesSingleEdits(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	fx.s.take()
	fx.f.Reset()
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", false)
	assert.Equal(t, []string{"del-dest TCP 10.16.8.100:80 -> 10.16.8.8:80"}, fx.f.OpStrings())
	assert.Equal(t, []string{"down 10.16.8.8:80"}, fx.s.take())
	fx.f.Reset()
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", false) // no transition
	assert.Empty(t, fx.f.OpStrings())
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", true)
	assert.Equal(t, []string{"add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0"}, fx.f.OpStrings())
	assert.Equal(t, []string{"up 10.16.8.8:80"}, fx.s.take())
}

func TestInhibitOnFailureAndDynamicWeight(t *testing.T) {
	cfg := seedConfig()
	cfg.Services = cfg.Services[:1]
	cfg.Services[0].RealServers[0].InhibitOnFailure = true
	cfg.Services[0].RealServers[0].Weight = 3
	fx := newFixture(t, cfg, nil)
	fx.f.Reset()
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", false)
	assert.Equal(t, []string{"edit-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=0 fwd=Route thresholds=0/0"}, fx.f.OpStrings())
	fx.f.Reset()
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", true)
	assert.Equal(t, []string{"edit-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=3 fwd=Route thresholds=0/0"}, fx.f.OpStrings())
	fx.f.Reset()
	ap := netip.MustParseAddrPort("10.16.8.9:80")
	require.NoError(t, fx.d.HandleHealth(context.Background(), director.HealthEvent{Ref: director.RealRef{Service: vsKey("TCP 10.16.8.100:80"),
		Real: director.DestKey{Addr: ap.Addr(), Port: ap.Port()}}, Up: true, HasWeight: true, Weight: 7}))
	assert.Equal(t, []string{"edit-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=7 fwd=Route thresholds=0/0"}, fx.f.OpStrings())
	// A passing report without a dynamic weight (misc_dynamic exit 0)
	// returns to the configured weight, as keepalived does.
	fx.f.Reset()
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.9:80", true)
	assert.Equal(t, []string{"edit-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0"}, fx.f.OpStrings())
}

func TestQuorumSorryServerAndHysteresis(t *testing.T) {
	cfg := seedConfig()
	cfg.Services = cfg.Services[:1]
	vs := &cfg.Services[0]
	vs.RealServers[0].Weight, vs.RealServers[1].Weight = 2, 2
	vs.Quorum, vs.Hysteresis = 3, 1
	vs.QuorumUp, vs.QuorumDown = director.Script{Line: "qup"}, director.Script{Line: "qdown"}
	sorry := rs("127.0.0.1:80", 1)
	sorry.Forward = director.Masq
	vs.Sorry = &sorry
	fx := newFixture(t, cfg, nil)
	fx.s.take()
	fx.f.Reset()
	// 4 → 2: 2 ≥ quorum-hysteresis (2), quorum stays.
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", false)
	assert.Equal(t, []string{"del-dest TCP 10.16.8.100:80 -> 10.16.8.8:80"}, fx.f.OpStrings())
	assert.Equal(t, []string{"down 10.16.8.8:80"}, fx.s.take())
	fx.f.Reset()
	// 2 → 0: quorum lost, sorry server in (added first), rest out.
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.9:80", false)
	assert.Equal(t, []string{
		"add-dest TCP 10.16.8.100:80 -> 127.0.0.1:80 weight=1 fwd=Masq thresholds=0/0",
		"del-dest TCP 10.16.8.100:80 -> 10.16.8.9:80",
	}, fx.f.OpStrings())
	assert.Equal(t, []string{"down 10.16.8.9:80", "qdown"}, fx.s.take())
	fx.f.Reset()
	// 0 → 2: below quorum+hysteresis (4): sorry stays, nothing changes.
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.9:80", true)
	assert.Empty(t, fx.f.OpStrings())
	// 2 → 4: quorum gained, real servers in, sorry out.
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", true)
	assert.Equal(t, []string{
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=2 fwd=Route thresholds=0/0",
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=2 fwd=Route thresholds=0/0",
		"del-dest TCP 10.16.8.100:80 -> 127.0.0.1:80",
	}, fx.f.OpStrings())
	assert.Equal(t, []string{"up 10.16.8.9:80", "up 10.16.8.8:80", "qup"}, fx.s.take())
}

func TestSorryInhibitAndAlpha(t *testing.T) {
	cfg := seedConfig()
	cfg.Services = cfg.Services[:1]
	vs := &cfg.Services[0]
	vs.Alpha = true
	sorry := rs("10.16.8.50:80", 1)
	vs.Sorry = &sorry
	vs.SorryInhibit = true
	fx := newFixture(t, cfg, nil)
	// Alpha: real servers wait for their first good check; quorum is down
	// so the sorry server serves.
	assert.Equal(t, []string{
		"add-service TCP 10.16.8.100:80 sched=rr flags=0x0 timeout=0 netmask=255.255.255.255",
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.50:80 weight=1 fwd=Route thresholds=0/0",
	}, fx.f.OpStrings())
	fx.f.Reset()
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", true)
	assert.Equal(t, []string{
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0",
		"edit-dest TCP 10.16.8.100:80 -> 10.16.8.50:80 weight=0 fwd=Route thresholds=0/0",
	}, fx.f.OpStrings(), "inhibited sorry server stays with weight 0")
}

func TestDrainSurvivesReload(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	fx.f.Reset()
	q, err := director.ParseRealQuery("10.16.8.100:80", "10.16.8.9:80")
	require.NoError(t, err)
	ref, err := fx.d.Resolve(q)
	require.NoError(t, err)
	k, r := ref.Service, ref.Real
	require.NoError(t, fx.d.Drain(context.Background(), k, r, true))
	assert.Equal(t, []string{"edit-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=0 fwd=Route thresholds=0/0"}, fx.f.OpStrings())
	fx.f.Reset()
	cfg := seedConfig()
	cfg.Services[0].Service.Scheduler = "wrr"
	_, err = fx.d.Reload(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"edit-service TCP 10.16.8.100:80 sched=wrr flags=0x0 timeout=0 netmask=255.255.255.255"}, fx.f.OpStrings())
	fx.f.Reset()
	require.NoError(t, fx.d.Drain(context.Background(), k, r, false))
	assert.Equal(t, []string{"edit-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0"}, fx.f.OpStrings())
	q, err = director.ParseRealQuery("10.16.8.100:80", "10.9.9.9:80")
	require.NoError(t, err)
	_, err = fx.d.Resolve(q)
	require.ErrorIs(t, err, director.ErrNotFound)
}

func TestReloadKeepsHealthAndRemovesDroppedService(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", false)
	fx.f.Reset()
	cfg := seedConfig()
	cfg.Services = cfg.Services[:1]
	_, err := fx.d.Reload(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"del-service TCP 10.16.8.101:80"}, fx.f.OpStrings(), "the down server stays out")

	bad := seedConfig()
	bad.Services[0].Service.Scheduler = "nope"
	_, err = fx.d.Reload(context.Background(), bad)
	require.Error(t, err)
}

func TestResyncHealsDrift(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	fx.f.Mutate(func(tb director.Table) {
		delete(tb[vsKey("TCP 10.16.8.100:80")].Dests, dst("10.16.8.8:80", 1).Key())
		d := tb[vsKey("TCP 10.16.8.101:80")].Dests[dst("10.16.8.9:80", 1).Key()]
		d.Weight = 9
		tb[vsKey("TCP 10.16.8.101:80")].Dests[d.Key()] = d
	})
	fx.f.Reset()
	n, err := fx.d.Sync(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0",
		"edit-dest TCP 10.16.8.101:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
	}, fx.f.OpStrings())
	assert.Contains(t, fx.logs.String(), "behind lvsctl's back: destination deleted")
	fx.f.Reset()
	n, err = fx.d.Sync(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Empty(t, fx.f.OpStrings())
}

func TestFailedEditIsLoggedAndRetried(t *testing.T) {
	f := fakeipvs.New()
	f.FailWith(func(op director.Op) error {
		if op.Kind == director.OpNewDest && op.Dest.Addr == netip.MustParseAddr("10.16.8.9") {
			return unix.ENOMEM
		}
		return nil
	})
	fx := newFixture(t, seedConfig(), f)
	assert.True(t, fx.d.Dirty())
	assert.Contains(t, fx.logs.String(), "IPVS edit failed")
	assert.Contains(t, fx.logs.String(), "cannot allocate memory")
	f.FailWith(nil)
	f.Reset()
	_, err := fx.d.Sync(context.Background())
	require.NoError(t, err)
	assert.False(t, fx.d.Dirty())
	assert.Equal(t, []string{
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
		"add-dest TCP 10.16.8.101:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
	}, f.OpStrings())
}

func TestStopRemovesOwnServicesOnly(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	fx.f.Mutate(func(tb director.Table) {
		tb[vsKey("UDP 192.0.2.1:53")] = ts(svc("UDP 192.0.2.1:53", "wlc"))
	})
	fx.f.Reset()
	require.NoError(t, fx.d.Stop(context.Background()))
	assert.Equal(t, []string{"del-service TCP 10.16.8.100:80", "del-service TCP 10.16.8.101:80"}, fx.f.OpStrings())
	assert.Len(t, fx.f.Table(), 1)
}

func TestStatus(t *testing.T) {
	fx := newFixture(t, seedConfig(), nil)
	fx.clk.Advance(time.Minute)
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.8:80", false)
	fx.f.SetConns(vsKey("TCP 10.16.8.100:80"), dst("10.16.8.9:80", 1).Key(), 3, 4)
	st, err := fx.d.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st.Services, 2)
	s := st.Services[0]
	assert.Equal(t, "TCP 10.16.8.100:80", s.Key)
	assert.Equal(t, "rr", s.Scheduler)
	assert.True(t, s.InKernel)
	require.Len(t, s.Reals, 2)
	assert.Equal(t, "down", s.Reals[0].Health)
	assert.Equal(t, fx.clk.Now(), s.Reals[0].Since)
	assert.Nil(t, s.Reals[0].KernelWeight, "not in the kernel")
	assert.Equal(t, "false", s.Reals[0].LastResult)
	assert.Equal(t, "up", s.Reals[1].Health)
	assert.Equal(t, uint32(3), s.Reals[1].Active)
	assert.Equal(t, uint32(4), s.Reals[1].Inactive)
}

func TestValidateReportsEveryError(t *testing.T) {
	cfg := seedConfig()
	cfg.Services[0].Pos = "a.conf:1"
	cfg.Services[0].Service.Scheduler = "fastest"
	cfg.Services[1].Pos = "a.conf:20"
	cfg.Services[1].RealServers[1].Addr = netip.MustParseAddr("2001:db8::1")
	cfg.Services = append(cfg.Services, seedConfig().Services[0])
	cfg.Services[2].Pos = "a.conf:40"
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `a.conf:1: unknown scheduler "fastest"`)
	assert.Contains(t, err.Error(), "a.conf:20: real server 2001:db8::1 is not in the family")
	assert.Contains(t, err.Error(), "a.conf:40: virtual server TCP 10.16.8.100:80 already defined")
}

func TestPersistenceAndIPv6Defaults(t *testing.T) {
	cfg := director.Config{Services: []director.VirtualService{
		{Service: director.Service{Key: vsKey("TCP [2001:db8::100]:443"), Scheduler: "sh", Timeout: 600,
			Flags: director.FlagSched1 | director.FlagSched2}},
		{Service: director.Service{Key: director.ServiceKey{FWMark: 5}, Scheduler: "mh"},
			RealServers: []director.RealServer{rs("10.0.0.1:8080", 1)}},
		{Service: director.Service{Key: vsKey("UDP 10.0.0.53:53"), Scheduler: "lc", Timeout: 60, Netmask: director.IPv4Netmask(24)}},
	}}
	cfg = directortest.Complete(cfg)
	fx := newFixture(t, cfg, nil)
	assert.Equal(t, []string{
		"add-service UDP 10.0.0.53:53 sched=lc flags=0x1 timeout=60 netmask=255.255.255.0",
		"add-service FWM 5 sched=mh flags=0x0 timeout=0 netmask=255.255.255.255",
		"add-dest FWM 5 -> 10.0.0.1:0 weight=1 fwd=Route thresholds=0/0",
		"add-service TCP [2001:db8::100]:443 sched=sh flags=0x19 timeout=600 netmask=128",
	}, fx.f.OpStrings())
}

// A big start runs on one P and gives GOMAXPROCS back afterwards.
func TestBigStartRestoresGOMAXPROCS(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	var cfg director.Config
	for i := range 100 {
		vs := director.VirtualService{Service: director.Service{Key: director.ServiceKey{Protocol: director.TCP,
			Addr: netip.AddrFrom4([4]byte{10, 100, 0, byte(i)}), Port: 80}, Scheduler: "wrr"}}
		for j := range 10 {
			vs.RealServers = append(vs.RealServers, rs(fmt.Sprintf("10.200.0.%d:80", j+1), 1))
		}
		cfg.Services = append(cfg.Services, vs)
	}
	f := fakeipvs.New()
	seen := 0
	f.Inject(func(director.Op, director.Table) fakeipvs.Fault {
		seen = max(seen, runtime.GOMAXPROCS(0))
		return fakeipvs.Fault{}
	})
	newFixture(t, directortest.Complete(cfg), f)
	assert.Len(t, f.Ops(), 1100)
	assert.Equal(t, 1, seen, "the batch ran with GOMAXPROCS(1)")
	assert.Equal(t, procs, runtime.GOMAXPROCS(0), "restored")
}

// TestStartQuorumScripts follows keepalived 2.2.7's start
// (check/ipwrapper.c: init_service_vs → update_quorum_state(vs, true)):
// a service whose quorum is met at start runs quorum_up; one below its
// quorum runs quorum_down only when a sorry server goes in.
func TestStartQuorumScripts(t *testing.T) {
	q := func(alpha, sorry bool) director.Config {
		cfg := seedConfig()
		cfg.Services = cfg.Services[:1]
		vs := &cfg.Services[0]
		vs.Alpha = alpha
		vs.QuorumUp = director.Script{Line: "qup", As: script.As{Set: true, User: "nobody", Group: "nogroup", UID: 65534, GID: 65534}}
		vs.QuorumDown = director.Script{Line: "qdown"}
		if sorry {
			s := rs("127.0.0.1:80", 1)
			s.NotifyUp, s.NotifyDown = director.Script{}, director.Script{}
			s.Forward = director.Masq
			vs.Sorry = &s
		}
		return cfg
	}
	fx := newFixture(t, q(false, false), nil)
	assert.Equal(t, []string{"qup"}, fx.s.ran, "quorum met at start: quorum_up announces the service")
	assert.Equal(t, []string{"nobody:nogroup"}, fx.s.as, "the script keeps its user")
	assert.Contains(t, fx.logs.String(), "starting with quorum up")

	fx = newFixture(t, q(true, false), nil)
	assert.Empty(t, fx.s.ran, "quorum not met, no sorry server: keepalived runs nothing")

	fx = newFixture(t, q(true, true), nil)
	assert.Equal(t, []string{"qdown"}, fx.s.ran, "quorum not met, sorry server put in: quorum_down")
}

// TestReloadSorryServerBelowQuorum: a service that stays below its quorum
// across a reload that gives it a sorry server (or another one) runs
// quorum_down again, as keepalived 2.2.7's update_quorum_state(vs, init)
// on reload; the same sorry server again runs nothing.
func TestReloadSorryServerBelowQuorum(t *testing.T) {
	q := func(sorry string) director.Config {
		cfg := seedConfig()
		cfg.Services = cfg.Services[:1]
		vs := &cfg.Services[0]
		vs.Alpha = true // every real server down until checked: below quorum
		vs.QuorumDown = director.Script{Line: "qdown"}
		if sorry != "" {
			s := rs(sorry, 1)
			s.NotifyUp, s.NotifyDown = director.Script{}, director.Script{}
			s.Forward = director.Masq
			vs.Sorry = &s
		}
		return cfg
	}
	fx := newFixture(t, q(""), nil)
	assert.Empty(t, fx.s.take(), "below quorum, no sorry server: nothing")
	reload := func(cfg director.Config) []string {
		_, err := fx.d.Reload(context.Background(), cfg)
		require.NoError(t, err)
		return fx.s.take()
	}
	assert.Equal(t, []string{"qdown"}, reload(q("127.0.0.1:80")), "sorry server added below quorum")
	assert.Contains(t, fx.logs.String(), "sorry server added by the reload")
	assert.Empty(t, reload(q("127.0.0.1:80")), "the same sorry server: nothing")
	assert.Equal(t, []string{"qdown"}, reload(q("127.0.0.2:80")), "another sorry server")
	assert.Empty(t, reload(q("")), "sorry server removed: nothing")
}

// TestReloadAddedServiceRunsQuorumUp: a service added by a reload starts
// like one at Start (keepalived's init_service_vs on reload); services
// that stay run nothing unless their quorum moves.
func TestReloadAddedServiceRunsQuorumUp(t *testing.T) {
	cfg := seedConfig()
	for i := range cfg.Services {
		cfg.Services[i].QuorumUp = director.Script{Line: "qup " + cfg.Services[i].Service.Key.String()}
	}
	first := cfg
	first.Services = cfg.Services[:1]
	fx := newFixture(t, first, nil)
	assert.Equal(t, []string{"qup TCP 10.16.8.100:80"}, fx.s.take())
	_, err := fx.d.Reload(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"qup TCP 10.16.8.101:80"}, fx.s.take(), "only the added service")
}

// TestReloadRemovesAliveRealServers: a reload that drops an alive real
// server runs its notify_down, and one that drops a whole service runs
// notify_down for each alive real server and then quorum_down, as
// keepalived 2.2.7 (check/ipwrapper.c clear_diff_rs, clear_diff_services →
// clear_service_rs, update_vs_notifies); a dropped real server that was
// down runs nothing. The events (mails) follow the same steps.
func TestReloadRemovesAliveRealServers(t *testing.T) {
	cfg := seedConfig()
	for i := range cfg.Services {
		cfg.Services[i].QuorumUp = director.Script{Line: "qup " + cfg.Services[i].Service.Key.String()}
		cfg.Services[i].QuorumDown = director.Script{Line: "qdown " + cfg.Services[i].Service.Key.String()}
	}
	fx := newFixture(t, cfg, nil)
	fx.s.take()
	assert.Equal(t, []string{
		"quorum TCP 10.16.8.100:80 up=true init=true stopping=false 1+0 threshold=1 weight=2",
		"quorum TCP 10.16.8.101:80 up=true init=true stopping=false 1+0 threshold=1 weight=2",
	}, fx.ev.take())
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.9:80", false)
	fx.s.take()

	next := cfg
	next.Services = []director.VirtualService{cfg.Services[0]}
	// 10.16.8.100:80 keeps only 10.16.8.9, which is down: 10.16.8.8 goes
	// while up.
	next.Services[0].RealServers = []director.RealServer{cfg.Services[0].RealServers[1]}
	_, err := fx.d.Reload(context.Background(), directortest.Complete(next))
	require.NoError(t, err)
	assert.Equal(t, []string{"down 10.16.8.8:80", "down 10.16.8.8:80", "down 10.16.8.9:80", "qdown TCP 10.16.8.101:80",
		"qdown TCP 10.16.8.100:80"}, fx.s.take())
	assert.Equal(t, []string{
		"gone TCP 10.16.8.100:80 10.16.8.8:80 stopping=false",
		"gone TCP 10.16.8.101:80 10.16.8.8:80 stopping=false",
		"gone TCP 10.16.8.101:80 10.16.8.9:80 stopping=false",
		"quorum TCP 10.16.8.101:80 up=false init=false stopping=false 1+0 threshold=1 weight=0",
		// 10.16.8.100:80 has only 10.16.8.9 (down) left: weight 0.
		"quorum TCP 10.16.8.100:80 up=false init=false stopping=false 1+0 threshold=1 weight=0",
	}, fx.ev.take())
}

// TestStopOmegaEvents: with omega, a stop tells of every alive real server
// and of the service's quorum going ("Shutting down" mails); without, of
// nothing.
func TestStopOmegaEvents(t *testing.T) {
	cfg := seedConfig()
	cfg.Services[0].Omega = true
	fx := newFixture(t, cfg, nil)
	fx.ev.take()
	fx.health(t, "TCP 10.16.8.100:80", "10.16.8.9:80", false)
	fx.ev.take()
	require.NoError(t, fx.d.Stop(context.Background()))
	assert.Equal(t, []string{
		"gone TCP 10.16.8.100:80 10.16.8.8:80 stopping=true",
		"quorum TCP 10.16.8.100:80 up=false init=false stopping=true 1+0 threshold=1 weight=0",
	}, fx.ev.take())
}

// A checker's first verdict that confirms an alpha server's down state
// runs its notify_down (keepalived 2.2.7, check/ipwrapper.c:
// update_svr_checker_state); nothing changes in the kernel.
func TestFirstDownRunsNotifyDown(t *testing.T) {
	cfg := seedConfig()
	cfg.Services = cfg.Services[:1]
	cfg.Services[0].Alpha = true
	fx := newFixture(t, cfg, nil)
	fx.s.take()
	fx.f.Reset()
	ref := func(addr string) director.RealRef {
		ap := netip.MustParseAddrPort(addr)
		return director.RealRef{Service: vsKey("TCP 10.16.8.100:80"), Real: director.DestKey{Addr: ap.Addr(), Port: ap.Port()}}
	}
	require.NoError(t, fx.d.HandleHealth(context.Background(), director.HealthEvent{Ref: ref("10.16.8.8:80"), FirstDown: true, Result: "connection refused"}))
	assert.Equal(t, []string{"down 10.16.8.8:80"}, fx.s.take())
	assert.Empty(t, fx.f.OpStrings())
	assert.Equal(t, []string{"TCP 10.16.8.100:80 10.16.8.8:80 up=false"}, fx.ev.takeChanged())
}

// Events hears every health report that runs notify_up / notify_down (the
// notify FIFO lines), whether the real server has those scripts or not,
// and nothing for a report that changes nothing.
func TestRealServerChangedFollowsNotifyScripts(t *testing.T) {
	cfg := seedConfig()
	cfg.Services = cfg.Services[:1]
	cfg.Services[0].RealServers[1].NotifyUp, cfg.Services[0].RealServers[1].NotifyDown = director.Script{}, director.Script{}
	fx := newFixture(t, cfg, nil)
	fx.s.take()
	ref := func(addr string) director.RealRef {
		ap := netip.MustParseAddrPort(addr)
		return director.RealRef{Service: vsKey("TCP 10.16.8.100:80"), Real: director.DestKey{Addr: ap.Addr(), Port: ap.Port()}}
	}
	ctx := context.Background()
	for _, ev := range []director.HealthEvent{
		{Ref: ref("10.16.8.8:80"), Up: false},
		{Ref: ref("10.16.8.9:80"), Up: false},
		{Ref: ref("10.16.8.9:80"), Up: false}, // no change
		{Ref: ref("10.16.8.9:80"), Up: true},
	} {
		require.NoError(t, fx.d.HandleHealth(ctx, ev))
	}
	assert.Equal(t, []string{"down 10.16.8.8:80"}, fx.s.take())
	assert.Equal(t, []string{
		"TCP 10.16.8.100:80 10.16.8.8:80 up=false",
		"TCP 10.16.8.100:80 10.16.8.9:80 up=false",
		"TCP 10.16.8.100:80 10.16.8.9:80 up=true",
	}, fx.ev.takeChanged())
}

// TestInitNotifies: with rs_init_notifies every real server that starts
// alive runs notify_up once (not one that starts down under alpha), at
// Start and for the real servers a reload adds; without it nothing runs
// (keepalived 2.2.7 check/ipwrapper.c, init_service_rs).
func TestInitNotifies(t *testing.T) {
	cfg := seedConfig()
	for i := range cfg.Services {
		for j := range cfg.Services[i].RealServers {
			r := &cfg.Services[i].RealServers[j]
			r.NotifyUp = director.Script{Line: "up " + cfg.Services[i].Service.Key.String() + " " + r.Key().String()}
		}
	}
	cfg.Services[1].Alpha = true
	for j := range cfg.Services[1].RealServers {
		cfg.Services[1].RealServers[j].Checked = true
	}
	first := cfg
	first.Services = []director.VirtualService{cfg.Services[0], cfg.Services[1]}
	first.Services[0].RealServers = cfg.Services[0].RealServers[:1]
	off := newFixture(t, first, nil)
	assert.Empty(t, off.s.take(), "rs_init_notifies off: nothing")

	first.InitNotifies = true
	fx := newFixture(t, first, nil)
	assert.Equal(t, []string{"up TCP 10.16.8.100:80 10.16.8.8:80"}, fx.s.take(), "alive at start; the alpha service's servers start down")
	assert.Equal(t, []string{"TCP 10.16.8.100:80 10.16.8.8:80 up=true"}, fx.ev.takeChanged())
	cfg.InitNotifies = true
	_, err := fx.d.Reload(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"up TCP 10.16.8.100:80 10.16.8.9:80"}, fx.s.take(), "only the real server the reload added")
	assert.Equal(t, []string{"TCP 10.16.8.100:80 10.16.8.9:80 up=true"}, fx.ev.takeChanged(), "the FIFO's RS line too")
}
