package vrrp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
	"github.com/lvsctl/lvsctl/internal/script"
	"github.com/lvsctl/lvsctl/vrrp/packet"
)

var (
	ka67  = netip.MustParseAddr("10.16.8.10")
	ka68  = netip.MustParseAddr("10.16.8.11")
	group = netip.MustParseAddr("224.0.0.111")
)

type nodeHarness struct {
	t       *testing.T
	clock   *clocktest.Fake
	tr      *fakeTransport
	addrs   *fakeAddrs
	arp     *fakeARP
	links   *fakeLinks
	starter *recordingStarter
	node    *Node
	cancel  context.CancelFunc
	done    chan error
	// opts are extra options a prep function may add.
	opts []Option
}

// startNode runs a node on recording fakes; prep runs before the node is
// created (to plant addresses, say).
func startNode(t *testing.T, cfg Config, prep ...func(*nodeHarness)) *nodeHarness {
	t.Helper()
	h := &nodeHarness{
		t:     t,
		clock: clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		tr:    newFakeTransport(),
		addrs: &fakeAddrs{set: map[netip.Prefix]bool{}},
		arp:   &fakeARP{},
		links: &fakeLinks{
			links: map[string]LinkInfo{
				"eth1": {Name: "eth1", Index: 2, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.16.8.10/24")}},
				"eth2": {Name: "eth2", Index: 3, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.8.10/24")}},
			},
			updates: make(chan LinkUpdate),
		},
		starter: &recordingStarter{},
		done:    make(chan error, 1),
	}
	for _, p := range prep {
		p(h)
	}
	opts := append([]Option{WithClock(h.clock), WithTransport(h.tr), WithAddrManager(h.addrs),
		WithAnnouncer(h.arp), WithLinks(h.links), withStarter(h.starter.start),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, h.opts...)
	node, err := New(testConfig(cfg), opts...)
	require.NoError(t, err)
	h.node = node
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- node.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case <-h.done:
				return
			case <-time.After(10 * time.Millisecond):
				// Let hand-over timers run out.
				h.clock.Advance(time.Second)
			}
		}
	})
	return h
}

func (h *nodeHarness) status(name string) InstanceStatus {
	for _, s := range h.node.Status() {
		if s.Name == name {
			return s
		}
	}
	h.t.Fatalf("no instance %s", name)
	return InstanceStatus{}
}

func (h *nodeHarness) eventually(what string, cond func() bool) {
	h.t.Helper()
	require.Eventually(h.t, cond, 5*time.Second, time.Millisecond, what)
}

func (h *nodeHarness) waitState(name, state string) {
	h.t.Helper()
	h.eventually(name+" "+state, func() bool { return h.status(name).State.String() == state })
}

func (h *nodeHarness) inject(p *packet.Packet, meta RecvMeta) {
	b, err := p.Marshal(meta.Src, meta.Dst)
	require.NoError(h.t, err)
	h.tr.in <- fakePacket{b: b, meta: meta}
}

// instCfg is an instance as internal/config hands it over: every value
// set (keepalived's defaults where the test does not care).
// instCfg6 is instCfg for an IPv6 instance (VRRPv3, no authentication).
func instCfg6(name, ifname string, vrid, prio uint8, vip string) InstanceConfig {
	in := instCfg(name, ifname, vrid, prio, "192.0.2.1")
	in.Version, in.AuthType, in.AuthPass = 3, AuthNone, ""
	in.VIPs = []VIP{{Prefix: netip.MustParsePrefix(vip + "/128")}}
	return in
}

func instCfg(name, ifname string, vrid, prio uint8, vip string) InstanceConfig {
	return InstanceConfig{
		Name: name, Interface: ifname, VRID: vrid, Priority: prio, AdvertInt: time.Second,
		Version: 2, AuthType: AuthPass, AuthPass: "renwole2",
		VIPs:       []VIP{{Prefix: netip.MustParsePrefix(vip + "/32")}},
		GARPRepeat: 5, GARPDelay: 5 * time.Second, GARPRefreshRepeat: 1,
	}
}

// testConfig fills the node-wide values and the script values a test left
// zero with the loader's defaults, as internal/config would.
func testConfig(c Config) Config {
	if !c.McastGroup4.IsValid() {
		c.McastGroup4 = netip.MustParseAddr("224.0.0.18")
	}
	if !c.McastGroup6.IsValid() {
		c.McastGroup6 = netip.MustParseAddr("ff02::12")
	}
	if c.ReleaseGrace == 0 {
		c.ReleaseGrace = 100 * time.Millisecond
	}
	if c.NotifyTimeout == 0 {
		c.NotifyTimeout = 10 * time.Second
	}
	c.Scripts = slices.Clone(c.Scripts)
	for i := range c.Scripts {
		s := &c.Scripts[i]
		if s.Timeout == 0 {
			s.Timeout = s.Interval
		}
		s.Rise, s.Fall = max(s.Rise, 1), max(s.Fall, 1)
	}
	return c
}

func advert(vrid, prio uint8, vip string) *packet.Packet {
	return &packet.Packet{Version: 2, VRID: vrid, Priority: prio, AuthType: packet.AuthSimple,
		AdvertInt: time.Second, AuthData: packet.PaddedPassword("renwole2"),
		Addresses: []netip.Addr{netip.MustParseAddr(vip)}}
}

func fromPeer() RecvMeta { return RecvMeta{Src: ka68, Dst: group, TTL: 255, IfIndex: 2} }

func TestNodeOwnerBecomesMasterAtOnce(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.Notify = NotifyConfig{Master: "notify.sh master", Any: "any.sh"}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in}})
	h.waitState("VI_1", "MASTER")
	h.eventually("VIP added", func() bool { return h.addrs.has("10.16.8.100/32") })
	h.eventually("GARP burst", func() bool { return h.arp.count() == 5 })
	h.eventually("notify ran", func() bool { return len(h.starter.all()) == 2 })
	assert.Equal(t, [][]string{{"notify.sh", "master"}, {"any.sh", "INSTANCE", "VI_1", "MASTER", "255"}}, h.starter.all())

	s := h.tr.sends()
	require.NotEmpty(t, s)
	assert.Equal(t, ka67, s[0].src)
	assert.Equal(t, group, s[0].dst)
	p, err := packet.Parse(s[0].b, false)
	require.NoError(t, err)
	assert.Equal(t, "VRRPv2, Advertisement, vrid 191, prio 255, authtype simple, intvl 1s, length 20", p.String())
	assert.Equal(t, packet.PaddedPassword("renwole2"), p.AuthData)
	assert.Equal(t, []netip.Addr{group}, h.tr.joined)

	st := h.status("VI_1")
	assert.Equal(t, uint8(255), st.EffectivePriority)
	assert.Equal(t, ka67, st.MasterAddr)
	assert.Len(t, st.Problems, 2, "missing notify scripts are reported: %v", st.Problems)
}

// TestNodeScriptsRunAsTheirUser: notify and track scripts run as the user
// the configuration resolved for them (notify_master "CMD" USER,
// vrrp_script user, script_user), as keepalived's set_script_env.
func TestNodeScriptsRunAsTheirUser(t *testing.T) {
	nobody := script.As{Set: true, User: "nobody", UID: 65534, GID: 65534}
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.Notify = NotifyConfig{Master: "notify.sh master", Any: "any.sh", As: NotifyAs{Master: nobody}}
	in.TrackScripts = []TrackScript{{Name: "chk"}}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in},
		Scripts: []ScriptConfig{{Name: "chk", Command: "chk.sh", Interval: time.Hour, Timeout: time.Second, Weight: -10, Rise: 1, Fall: 1,
			As: script.As{Set: true, User: "u", UID: 4321, GID: 4321}}}})
	h.waitState("VI_1", "MASTER")
	h.eventually("scripts ran", func() bool { return len(h.starter.all()) == 3 })
	runs, uids := h.starter.all(), h.starter.allUIDs()
	byCmd := map[string]int{}
	for i, r := range runs {
		byCmd[r[0]] = uids[i]
	}
	assert.Equal(t, map[string]int{"notify.sh": 65534, "any.sh": -1, "chk.sh": 4321}, byCmd)
}

func TestNodeBackupTakesOverAfterMasterDownInterval(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")
	h.clock.Advance(3609 * time.Millisecond)
	// 3 × 1 s + 156/256 s = 3.609375 s: not yet.
	h.clock.Advance(0)
	assert.Equal(t, "BACKUP", h.status("VI_1").State.String())
	assert.False(t, h.addrs.has("10.16.8.100/32"))
	h.clock.Advance(time.Millisecond)
	h.waitState("VI_1", "MASTER")
	h.eventually("VIP added", func() bool { return h.addrs.has("10.16.8.100/32") })
}

// vrrp_startup_delay: the same backup takes over 5 s later than without it.
func TestNodeStartupDelay(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, StartupDelay: 5 * time.Second, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")
	h.clock.Advance(5*time.Second + 3609*time.Millisecond)
	h.clock.Advance(0)
	assert.Equal(t, "BACKUP", h.status("VI_1").State.String())
	assert.False(t, h.addrs.has("10.16.8.100/32"))
	h.clock.Advance(time.Millisecond)
	h.waitState("VI_1", "MASTER")
}

func TestNodeDropsBadPacketsWithoutChangingState(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")

	ttl := fromPeer()
	ttl.TTL = 64
	h.inject(advert(191, 200, "10.16.8.100"), ttl)
	noTTL := fromPeer()
	noTTL.TTL = -1
	h.inject(advert(191, 200, "10.16.8.100"), noTTL)
	bad := advert(191, 200, "10.16.8.100")
	bad.AuthData = packet.PaddedPassword("wrong")
	h.inject(bad, fromPeer())
	slow := advert(191, 200, "10.16.8.100")
	slow.AdvertInt = 2 * time.Second
	h.inject(slow, fromPeer())
	noauth := advert(191, 200, "10.16.8.100")
	noauth.AuthType = packet.AuthNone
	h.inject(noauth, fromPeer())
	h.inject(&packet.Packet{Version: 3, VRID: 191, Priority: 200, AdvertInt: time.Second, Addresses: []netip.Addr{netip.MustParseAddr("10.16.8.100")}}, fromPeer())
	own := fromPeer()
	own.Src = ka67
	h.inject(advert(191, 200, "10.16.8.100"), own)
	// Corrupt checksum.
	b, err := advert(191, 200, "10.16.8.100").Marshal(ka68, group)
	require.NoError(t, err)
	b[7] ^= 0xff
	h.tr.in <- fakePacket{b: b, meta: fromPeer()}
	// Truncated.
	h.tr.in <- fakePacket{b: b[:10], meta: fromPeer()}

	want := map[DropReason]uint64{DropTTL: 1, DropTTLUnknown: 1, DropAuthPass: 1, DropInterval: 1, DropAuthType: 1, DropVersion: 1, DropOwn: 1, DropChecksum: 1, DropMalformed: 1}
	h.eventually("all drops counted", func() bool {
		d := h.status("VI_1").Counters.Drops
		for k, v := range want {
			if d[k] != v {
				return false
			}
		}
		return true
	})
	st := h.status("VI_1")
	assert.Equal(t, "BACKUP", st.State.String())
	assert.Zero(t, st.Counters.AdvertsReceived)
	assert.False(t, st.MasterAddr.IsValid(), "no bad packet may set the master")

	// Accepted despite a different address list, as keepalived does (logged, counted).
	other := advert(191, 200, "10.16.8.199")
	other.Addresses = append(other.Addresses, netip.MustParseAddr("10.16.8.198"))
	h.inject(other, fromPeer())
	h.eventually("advert accepted", func() bool { return h.status("VI_1").Counters.AdvertsReceived == 1 })
	st = h.status("VI_1")
	assert.Equal(t, ka68, st.MasterAddr)
	assert.Equal(t, uint64(1), st.Counters.Warnings[WarnAddrCount])
	// Another VRID is not ours: ignored without counting.
	h.inject(advert(17, 200, "10.16.8.100"), fromPeer())
	h.inject(advert(191, 200, "10.16.8.100"), fromPeer())
	h.eventually("second advert", func() bool { return h.status("VI_1").Counters.AdvertsReceived == 2 })
}

func TestNodeGracefulShutdownKeepsVIPsUntilNewMaster(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	in.Notify = NotifyConfig{Stop: "notify.sh stop"}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in}})
	h.waitState("VI_1", "MASTER")
	h.eventually("VIP added", func() bool { return h.addrs.has("10.16.8.100/32") })
	before := len(h.tr.sends())
	h.cancel()
	h.eventually("priority 0 sent", func() bool {
		s := h.tr.sends()
		if len(s) <= before {
			return false
		}
		p, err := packet.Parse(s[len(s)-1].b, false)
		return err == nil && p.Priority == 0
	})
	assert.True(t, h.status("VI_1").Leaving)
	assert.True(t, h.addrs.has("10.16.8.100/32"), "make-before-break: VIP kept until the new master is heard")
	h.inject(advert(191, 100, "10.16.8.100"), fromPeer())
	h.eventually("new master seen", func() bool { return h.status("VI_1").MasterAddr == ka68 })
	assert.True(t, h.addrs.has("10.16.8.100/32"), "kept for the release grace")
	h.clock.Advance(100 * time.Millisecond)
	select {
	case err := <-h.done:
		require.NoError(t, err)
		h.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the handover")
	}
	assert.False(t, h.addrs.has("10.16.8.100/32"))
	assert.Equal(t, "STOP", h.status("VI_1").State.String())
	assert.Contains(t, h.starter.all(), []string{"notify.sh", "stop"}, "notify_stop runs before Run returns")
}

func TestNodeSyncGroupMovesTogether(t *testing.T) {
	a := instCfg("External_1", "eth1", 171, 255, "10.16.8.100")
	b := instCfg("Internal_1", "eth2", 191, 100, "172.16.8.100")
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b},
		SyncGroups: []SyncGroupConfig{{Name: "VG_1", Instances: []string{"External_1", "Internal_1"}, Notify: NotifyConfig{Any: "group.sh"}}}})
	// External_1 is the owner and goes MASTER at once; the group pulls Internal_1 along.
	h.waitState("External_1", "MASTER")
	h.waitState("Internal_1", "MASTER")
	h.eventually("both VIPs", func() bool { return h.addrs.has("10.16.8.100/32") && h.addrs.has("172.16.8.100/32") })
	assert.Equal(t, "VG_1", h.status("Internal_1").SyncGroup)

	// eth2 fails: Internal_1 is FAULT and takes External_1 with it.
	h.links.updates <- LinkUpdate{Name: "eth2", Index: 3, Up: false}
	h.waitState("External_1", "FAULT")
	h.waitState("Internal_1", "FAULT")
	h.eventually("VIPs removed", func() bool { return !h.addrs.has("10.16.8.100/32") && !h.addrs.has("172.16.8.100/32") })
	assert.Equal(t, []string{"interface eth2 down"}, h.status("Internal_1").Faults)

	h.links.updates <- LinkUpdate{Name: "eth2", Index: 3, Up: true}
	h.waitState("External_1", "MASTER")
	h.waitState("Internal_1", "MASTER")
	h.eventually("group notify", func() bool {
		return slices.ContainsFunc(h.starter.all(), func(a []string) bool {
			return slices.Equal(a, []string{"group.sh", "GROUP", "VG_1", "FAULT", "0"})
		})
	})
	assert.Contains(t, h.starter.all(), []string{"group.sh", "GROUP", "VG_1", "MASTER", "0"})
}

func TestNodeTrackScriptWeightAndFault(t *testing.T) {
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	a.TrackScripts = []TrackScript{{Name: "chk_nginx"}}
	b := instCfg("VI_2", "eth2", 192, 100, "172.16.8.100")
	b.TrackScripts = []TrackScript{{Name: "chk_missing", Weight: 0, WeightSet: true}}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b},
		Scripts: []ScriptConfig{
			{Name: "chk_nginx", Command: "false", Interval: 5 * time.Millisecond, Weight: -10, Fall: 2, Rise: 2},
			{Name: "chk_missing", Command: "/nonexistent/check.sh", Interval: 5 * time.Millisecond, Weight: -5},
		}})
	h.eventuallyAdvancing("priority lowered by chk_nginx", 5*time.Millisecond, func() bool { return h.status("VI_1").EffectivePriority == 90 })
	assert.Equal(t, uint8(100), h.status("VI_1").BasePriority)
	// A script that cannot run counts as failing; weight 0 means FAULT.
	h.eventuallyAdvancing("VI_2 FAULT", 5*time.Millisecond, func() bool { return h.status("VI_2").State.String() == "FAULT" })
	st := h.status("VI_2")
	require.Len(t, st.Problems, 1)
	assert.Contains(t, st.Problems[0], "chk_missing")
	assert.Equal(t, []string{"script chk_missing failing"}, st.Faults)
}

func TestNewRejectsBadConfig(t *testing.T) {
	in := instCfg("VI_1", "eth9", 191, 100, "10.16.8.100")
	_, err := New(testConfig(Config{Instances: []InstanceConfig{in}}), WithTransport(newFakeTransport()),
		WithAddrManager(&fakeAddrs{}), WithAnnouncer(&fakeARP{}), WithLinks(&fakeLinks{}), withStarter((&recordingStarter{}).start))
	require.Error(t, err, "unknown interface")
	in.Interface = "eth1"
	in.AuthType = AuthAH
	_, err = New(testConfig(Config{Instances: []InstanceConfig{in}}))
	require.ErrorIs(t, err, ErrConfig)
}

func TestNodeTrackInterfaceWeight(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	in.TrackInterfaces = []TrackInterface{{Name: "eth2", Weight: -30}}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in}})
	h.waitState("VI_1", "BACKUP")
	assert.Equal(t, uint8(100), h.status("VI_1").EffectivePriority)
	h.links.updates <- LinkUpdate{Name: "eth2", Index: 3, Up: false}
	h.eventually("priority 70", func() bool { return h.status("VI_1").EffectivePriority == 70 })
	assert.Equal(t, "BACKUP", h.status("VI_1").State.String(), "a weighted interface lowers the priority, no FAULT")
	h.links.updates <- LinkUpdate{Name: "eth1", Index: 2, Up: false}
	h.waitState("VI_1", "FAULT")
	h.links.updates <- LinkUpdate{Name: "eth1", Index: 2, Up: true}
	h.links.updates <- LinkUpdate{Name: "eth2", Index: 3, Up: true}
	h.waitState("VI_1", "BACKUP")
	h.eventually("priority back", func() bool { return h.status("VI_1").EffectivePriority == 100 })
}

// eventuallyAdvancing moves the fake clock by step between checks, for
// conditions that wait on the node's own timers (backoffs, script intervals).
func (h *nodeHarness) eventuallyAdvancing(what string, step time.Duration, cond func() bool) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		if cond() {
			return true
		}
		h.clock.Advance(step)
		return false
	}, 5*time.Second, time.Millisecond, what)
}

// pushLink delivers a link update, failing instead of hanging when nothing
// listens any more.
func (h *nodeHarness) pushLink(u LinkUpdate) {
	h.t.Helper()
	select {
	case h.links.updates <- u:
	case <-time.After(5 * time.Second):
		h.t.Fatalf("nobody receives link updates any more (wanted to deliver %+v)", u)
	}
}

func TestNodeResubscribesWhenLinkMonitorEnds(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")
	require.Equal(t, 1, h.links.subscriptions())

	h.links.endSubscription()
	h.eventuallyAdvancing("resubscribed", 100*time.Millisecond, func() bool { return h.links.subscriptions() == 2 })
	h.pushLink(LinkUpdate{Name: "eth1", Index: 2, Up: false})
	h.waitState("VI_1", "FAULT")
	assert.Equal(t, []string{"interface eth1 down"}, h.status("VI_1").Faults)
}

func TestNodeResubscribeBacksOffAndCatchesUpMissedChanges(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")

	// The interface goes down while no subscription exists: no update is sent.
	h.links.endSubscription()
	h.eventually("backoff timer", func() bool { return h.clock.Pending(linkResubscribeMin) })
	h.links.setUp("eth1", false)
	h.clock.Advance(linkResubscribeMin)
	h.eventually("resubscribed", func() bool { return h.links.subscriptions() == 2 })
	h.waitState("VI_1", "FAULT")

	// A subscription that ends without delivering anything backs off longer.
	h.links.endSubscription()
	h.eventually("doubled backoff", func() bool { return h.clock.Pending(2 * linkResubscribeMin) })
	h.clock.Advance(2 * linkResubscribeMin)
	h.eventually("resubscribed again", func() bool { return h.links.subscriptions() == 3 })
	h.pushLink(LinkUpdate{Name: "eth1", Index: 2, Up: true})
	h.waitState("VI_1", "BACKUP")
}

func TestNodeReceiveErrorBackoffUsesClock(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")
	h.tr.errs <- errors.New("transient")
	h.eventually("retry waits on the node's clock", func() bool { return h.clock.Pending(receiveRetry) })
	h.clock.Advance(receiveRetry)
	h.inject(advert(191, 200, "10.16.8.100"), fromPeer())
	h.eventually("receiving again", func() bool { return h.status("VI_1").Counters.AdvertsReceived == 1 })
}

func TestTrackScriptIntervalUsesClock(t *testing.T) {
	in := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	in.TrackScripts = []TrackScript{{Name: "chk"}}
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{in},
		Scripts: []ScriptConfig{{Name: "chk", Command: "false", Interval: time.Hour, Weight: -10, Fall: 2, Rise: 1}}})
	h.eventually("first run", func() bool { return len(h.starter.all()) == 1 })
	h.eventually("interval timer", func() bool { return h.clock.Pending(time.Hour) })
	h.clock.Advance(time.Hour)
	h.eventually("second run lowers the priority", func() bool { return h.status("VI_1").EffectivePriority == 90 })
	assert.Len(t, h.starter.all(), 2)
}

// Packets no instance can take (too short to name a VRID, or a VRID that
// is not configured) are counted on the node: a flood of them must show.
func TestNodeCountsPacketsForNoInstance(t *testing.T) {
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	h.waitState("VI_1", "BACKUP")
	h.inject(advert(77, 200, "10.16.8.100"), fromPeer())
	h.inject(advert(78, 200, "10.16.8.100"), fromPeer())
	h.tr.in <- fakePacket{b: []byte{0x21}, meta: fromPeer()}
	h.tr.in <- fakePacket{b: nil, meta: fromPeer()}
	want := map[DropReason]uint64{DropUnknownVRID: 2, DropMalformed: 2}
	h.eventually("unmatched drops counted", func() bool { return assert.ObjectsAreEqual(want, h.node.Unmatched()) })
	st := h.status("VI_1")
	assert.Equal(t, "BACKUP", st.State.String())
	assert.Empty(t, st.Counters.Drops)
}
