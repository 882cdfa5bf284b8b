package fsm

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	local = netip.MustParseAddr("10.16.8.10")
	peer  = netip.MustParseAddr("10.16.8.11")
	lower = netip.MustParseAddr("10.16.8.9")
)

// harness drives a machine with a fake clock: advance runs every timer that
// falls due on the way, like the runtime does.
type harness struct {
	t   *testing.T
	m   *Machine
	now time.Time
	log []Action
}

func newHarness(t *testing.T, cfg Config) *harness {
	if !cfg.LocalAddr.IsValid() {
		cfg.LocalAddr = local
	}
	return &harness{t: t, m: New(cfg), now: t0}
}

func (h *harness) step(ev Event) []Action {
	a := h.m.Step(h.now, ev)
	h.log = append(h.log, a...)
	return a
}

// advance moves the clock by d, ticking at each deadline on the way.
func (h *harness) advance(d time.Duration) []Action {
	end := h.now.Add(d)
	var out []Action
	for {
		dl, ok := h.m.Deadline()
		if !ok || dl.After(end) {
			break
		}
		h.now = dl
		out = append(out, h.step(Tick{})...)
	}
	h.now = end
	return out
}

// until advances until the machine enters state s and returns how long it took.
func (h *harness) until(s State, limit time.Duration) time.Duration {
	start := h.now
	for h.m.State() != s {
		dl, ok := h.m.Deadline()
		require.True(h.t, ok, "no timer pending while waiting for %s (in %s)", s, h.m.State())
		require.False(h.t, dl.Sub(start) > limit, "%s not reached within %v", s, limit)
		h.now = dl
		h.step(Tick{})
	}
	return h.now.Sub(start)
}

func kinds(acts []Action) []string {
	var s []string
	for _, a := range acts {
		s = append(s, a.String())
	}
	return s
}

func v2(prio uint8) Config {
	return Config{Version: 2, Priority: prio, AdvertInt: time.Second, GARPRepeat: 5, GARPDelay: 5 * time.Second}
}

func TestSkewAndMasterDown(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg        Config
		skew, down time.Duration
	}{
		"v2 prio 100":        {v2(100), 609375 * time.Microsecond, 3609375 * time.Microsecond},
		"v2 prio 95":         {v2(95), 628906 * time.Microsecond, 3628906 * time.Microsecond},
		"v2 prio 254":        {v2(254), 7812 * time.Microsecond, 3007812 * time.Microsecond},
		"v3 1s prio 95":      {Config{Version: 3, Priority: 95, AdvertInt: time.Second}, 628906 * time.Microsecond, 3628906 * time.Microsecond},
		"v3 100ms prio 95":   {Config{Version: 3, Priority: 95, AdvertInt: 100 * time.Millisecond}, 62890 * time.Microsecond, 362890 * time.Microsecond},
		"v3 100ms prio 100":  {Config{Version: 3, Priority: 100, AdvertInt: 100 * time.Millisecond}, 60937 * time.Microsecond, 360937 * time.Microsecond},
		"v2 3s adverts skew": {Config{Version: 2, Priority: 100, AdvertInt: 3 * time.Second}, 609375 * time.Microsecond, 9609375 * time.Microsecond},
	} {
		t.Run(name, func(t *testing.T) {
			m := New(tc.cfg)
			assert.Equal(t, tc.skew, m.Skew())
			assert.Equal(t, tc.down, m.MasterDownInterval())
		})
	}
}

func TestStartAsBackupThenMasterAfterDownInterval(t *testing.T) {
	h := newHarness(t, v2(100))
	acts := h.step(Start{})
	assert.Equal(t, []string{"Transition(INIT->BACKUP)"}, kinds(acts))
	assert.Equal(t, 3609375*time.Microsecond, h.until(Master, 10*time.Second))
	assert.Equal(t, []string{"Transition(INIT->BACKUP)", "Transition(BACKUP->MASTER)", "SendAdvert(100)", "AddVIPs", "SendGARP(5)"}, kinds(h.log))
	assert.True(t, h.m.HoldsVIPs())
	assert.Equal(t, local, h.m.MasterAddr())
}

// vrrp_startup_delay: the master-down timer runs from the end of the
// delay, also when an advert re-arms it during the delay; after it, as
// without a delay. Without the delay the same start takes over at 3.6 s.
func TestStartupDelay(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{Delay: 10 * time.Second})
	assert.Equal(t, 10*time.Second+3609375*time.Microsecond, h.until(Master, 20*time.Second))

	h = newHarness(t, v2(95))
	h.step(Start{Delay: 10 * time.Second})
	h.advance(2 * time.Second)
	h.step(Advert{Src: peer, Priority: 100})
	// Master silent from t=2 s: still BACKUP until 10 s + 3.63 s.
	assert.Equal(t, 8*time.Second+3628906*time.Microsecond, h.until(Master, 20*time.Second))

	// After the delay, an advert re-arms the timer from now.
	h = newHarness(t, v2(95))
	h.step(Start{Delay: time.Second})
	h.advance(2 * time.Second)
	h.step(Advert{Src: peer, Priority: 100})
	assert.Equal(t, 3628906*time.Microsecond, h.until(Master, 20*time.Second))

	// An owner starts as MASTER whatever the delay (keepalived's owner is
	// master at once).
	h = newHarness(t, v2(255))
	assert.Contains(t, kinds(h.step(Start{Delay: 10 * time.Second})), "Transition(INIT->MASTER)")
}

func TestOwnerStartsAsMaster(t *testing.T) {
	h := newHarness(t, v2(255))
	assert.Equal(t, []string{"Transition(INIT->MASTER)", "SendAdvert(255)", "AddVIPs", "SendGARP(5)"}, kinds(h.step(Start{})))
	// Tracking never changes an owner's priority.
	h.step(SetPriority{Priority: 10})
	assert.Equal(t, uint8(255), h.m.EffectivePriority())
}

func TestMasterAdvertsEveryIntervalAndGARPSchedule(t *testing.T) {
	cfg := v2(255)
	cfg.GARPRefresh = 10 * time.Second
	cfg.GARPRefreshRepeat = 2
	h := newHarness(t, cfg)
	h.step(Start{})
	h.log = nil
	acts := h.advance(16 * time.Second)
	var garps []time.Duration
	n := 0
	for _, a := range acts {
		switch a.Kind {
		case SendAdvert:
			n++
		case SendGARP:
			garps = append(garps, time.Duration(a.Count))
		}
	}
	assert.Equal(t, 16, n, "one advert per second")
	// Delayed burst of 5 after 5 s, refresh of 2 at 15 s.
	assert.Equal(t, []time.Duration{5, 2}, garps)
}

func TestBackupAcceptsHigherOrEqualAndResetsTimer(t *testing.T) {
	h := newHarness(t, v2(95))
	h.step(Start{})
	for range 10 {
		h.advance(time.Second)
		assert.Empty(t, h.step(Advert{Src: peer, Priority: 100, AdvertInt: time.Second}))
		assert.Equal(t, Backup, h.m.State())
	}
	assert.Equal(t, peer, h.m.MasterAddr())
	// Equal priority is accepted by a backup too (RFC 5798 6.4.2).
	h.step(Advert{Src: lower, Priority: 95})
	h.advance(3 * time.Second)
	assert.Equal(t, Backup, h.m.State())
	// Master silent: take over after Master_Down_Interval.
	assert.Equal(t, 628906*time.Microsecond, h.until(Master, time.Second))
}

func TestBackupPriorityZeroWaitsSkew(t *testing.T) {
	h := newHarness(t, v2(95))
	h.step(Start{})
	h.step(Advert{Src: peer, Priority: 100})
	h.advance(300 * time.Millisecond)
	h.step(Advert{Src: peer, Priority: 0})
	assert.Equal(t, 628906*time.Microsecond, h.until(Master, 5*time.Second))
}

func TestBackupPreemptsLowerPriorityMaster(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	start := h.now
	for h.m.State() == Backup {
		h.advance(time.Second)
		h.step(Advert{Src: peer, Priority: 95})
	}
	// Lower-priority adverts are ignored, so preemption happens one
	// Master_Down_Interval after start (the keepalived measurement: 3.6 s).
	assert.Equal(t, Master, h.m.State())
	assert.Less(t, h.now.Sub(start), 5*time.Second)
	assert.Contains(t, kinds(h.log), "Transition(BACKUP->MASTER)")
}

func TestPreemptTiming(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	// Adverts of the lower master arrive every second; they do not hold us.
	var took time.Duration
	for i := 0; h.m.State() == Backup; i++ {
		next := t0.Add(time.Duration(i+1) * time.Second)
		dl, _ := h.m.Deadline()
		if dl.Before(next) {
			h.now = dl
			h.step(Tick{})
			took = h.now.Sub(t0)
			break
		}
		h.now = next
		h.step(Advert{Src: peer, Priority: 95})
	}
	assert.Equal(t, 3609375*time.Microsecond, took)
}

func TestNopreempt(t *testing.T) {
	cfg := v2(100)
	cfg.Nopreempt = true
	h := newHarness(t, cfg)
	h.step(Start{})
	for range 20 {
		h.advance(time.Second)
		h.step(Advert{Src: peer, Priority: 95})
	}
	assert.Equal(t, Backup, h.m.State())
}

func TestPreemptDelay(t *testing.T) {
	cfg := v2(100)
	cfg.PreemptDelay = 10 * time.Second
	h := newHarness(t, cfg)
	h.step(Start{})
	var took time.Duration
	for i := 1; i < 30; i++ {
		h.advance(time.Second)
		if h.m.State() == Master {
			took = h.now.Sub(t0)
			break
		}
		h.step(Advert{Src: peer, Priority: 95})
	}
	// First lower advert at 1 s starts the 10 s delay; adverts are accepted
	// until 11 s, the last at 11 s is ignored; master down 3.61 s after 10 s.
	require.Equal(t, Master, h.m.State())
	assert.Equal(t, 14*time.Second, took, "down timer from the last accepted advert (10 s) + 3.61 s, seen at the next whole second")
}

func TestMasterYieldsToHigherPriorityWithGrace(t *testing.T) {
	cfg := v2(255)
	cfg.ReleaseGrace = 100 * time.Millisecond
	h := newHarness(t, cfg)
	h.step(Start{})
	h.step(SetPriority{Priority: 1}) // owner: ignored
	h = newHarness(t, Config{Version: 2, Priority: 100, AdvertInt: time.Second, ReleaseGrace: 100 * time.Millisecond})
	h.step(Start{})
	h.until(Master, 5*time.Second)
	h.log = nil
	acts := h.step(Advert{Src: peer, Priority: 110})
	assert.Equal(t, []string{"Transition(MASTER->BACKUP)"}, kinds(acts), "no priority 0 when preempted (RFC), addresses kept for the grace")
	assert.True(t, h.m.HoldsVIPs())
	assert.Equal(t, []string{"RemoveVIPs"}, kinds(h.advance(100*time.Millisecond)))
	assert.False(t, h.m.HoldsVIPs())
}

func TestMasterEqualPriorityTieBreak(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	h.until(Master, 5*time.Second)
	// Equal priority from a lower address: we stay and force an election.
	assert.Equal(t, []string{"SendAdvert(100)"}, kinds(h.step(Advert{Src: lower, Priority: 100})))
	assert.Equal(t, Master, h.m.State())
	// Equal priority from a higher address: we yield (no grace configured).
	assert.Equal(t, []string{"Transition(MASTER->BACKUP)", "RemoveVIPs"}, kinds(h.step(Advert{Src: peer, Priority: 100})))
}

// keepalived's advert tuning: lower_prio_no_advert keeps the answer to a
// lower priority to the gratuitous ARPs; higher_prio_send_advert sends an
// advert before yielding. Without them: the answer advert, no advert.
func TestAdvertTuning(t *testing.T) {
	master := func(cfg Config) *harness {
		h := newHarness(t, cfg)
		h.step(Start{})
		h.until(Master, 5*time.Second)
		h.log = nil
		return h
	}
	cfg := v2(100)
	cfg.GARPLowerPrioRepeat = 2
	assert.Equal(t, []string{"SendAdvert(100)", "SendGARP(2)"}, kinds(master(cfg).step(Advert{Src: peer, Priority: 90})))
	assert.Equal(t, []string{"Transition(MASTER->BACKUP)", "RemoveVIPs"}, kinds(master(cfg).step(Advert{Src: peer, Priority: 110})))

	cfg.LowerPrioNoAdvert, cfg.HigherPrioSendAdvert = true, true
	assert.Equal(t, []string{"SendGARP(2)"}, kinds(master(cfg).step(Advert{Src: peer, Priority: 90})))
	assert.Equal(t, []string{"SendAdvert(100)", "Transition(MASTER->BACKUP)", "RemoveVIPs"}, kinds(master(cfg).step(Advert{Src: peer, Priority: 110})))

	// down_timer_adverts 5: 5 × 1 s + skew.
	cfg = v2(100)
	cfg.DownAdverts = 5
	h := newHarness(t, cfg)
	h.step(Start{})
	assert.Equal(t, 5609375*time.Microsecond, h.until(Master, 10*time.Second))
}

func TestMasterAnswersPriorityZeroAndIgnoresOwnAdverts(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	h.until(Master, 5*time.Second)
	assert.Equal(t, []string{"SendAdvert(100)"}, kinds(h.step(Advert{Src: peer, Priority: 0})))
	assert.Empty(t, h.step(Advert{Src: local, Priority: 200}))
	assert.Equal(t, Master, h.m.State())
}

func TestFaultFromEveryStateAndBack(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(SetFault{Fault: true})
	assert.Equal(t, []string{"Transition(INIT->FAULT)"}, kinds(h.step(Start{})))
	_, ok := h.m.Deadline()
	assert.False(t, ok, "no timers in FAULT")
	assert.Equal(t, []string{"Transition(FAULT->BACKUP)"}, kinds(h.step(SetFault{Fault: false})))
	assert.Equal(t, []string{"Transition(BACKUP->FAULT)"}, kinds(h.step(SetFault{Fault: true})))
	h.step(SetFault{Fault: false})
	h.until(Master, 5*time.Second)
	assert.Equal(t, []string{"SendAdvert(0)", "Transition(MASTER->FAULT)", "RemoveVIPs"}, kinds(h.step(SetFault{Fault: true})))
	// Adverts do not move a faulty router.
	assert.Empty(t, h.step(Advert{Src: peer, Priority: 0}))
	assert.Equal(t, Fault, h.m.State())
	// Owner leaves FAULT straight to MASTER.
	o := newHarness(t, v2(255))
	o.step(SetFault{Fault: true})
	o.step(Start{})
	assert.Equal(t, []string{"Transition(FAULT->MASTER)", "SendAdvert(255)", "AddVIPs", "SendGARP(5)"}, kinds(o.step(SetFault{Fault: false})))
}

func TestGracefulShutdownMakeBeforeBreak(t *testing.T) {
	cfg := v2(100)
	cfg.ReleaseGrace = 50 * time.Millisecond
	h := newHarness(t, cfg)
	h.step(Start{})
	h.until(Master, 5*time.Second)
	h.log = nil
	assert.Equal(t, []string{"SendAdvert(0)"}, kinds(h.step(Shutdown{})))
	assert.True(t, h.m.Leaving())
	// Still holding the addresses while the backup waits its skew time.
	assert.Empty(t, kinds(h.advance(600*time.Millisecond)))
	assert.True(t, h.m.HoldsVIPs())
	assert.Equal(t, Master, h.m.State())
	// Priority-0 adverts of another leaving router do not count as a new master.
	assert.Empty(t, h.step(Advert{Src: peer, Priority: 0}))
	// The new master's advert: release after the grace, then stop.
	assert.Empty(t, h.step(Advert{Src: peer, Priority: 95}))
	assert.Equal(t, []string{"RemoveVIPs", "Transition(MASTER->STOP)"}, kinds(h.advance(50*time.Millisecond)))
	assert.Equal(t, Stopped, h.m.State())
	assert.Empty(t, h.step(Tick{}))
}

func TestGracefulShutdownWithoutPeerIsBounded(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	h.until(Master, 5*time.Second)
	h.log = nil
	h.step(Shutdown{})
	took := h.until(Stopped, 10*time.Second)
	assert.Equal(t, 3609375*time.Microsecond, took)
	// The priority-0 advert is repeated every interval while waiting.
	assert.Equal(t, []string{"SendAdvert(0)", "SendAdvert(0)", "SendAdvert(0)", "SendAdvert(0)", "RemoveVIPs", "Transition(MASTER->STOP)"}, kinds(h.log))
}

func TestShutdownFromBackupAndFaultStopsAtOnce(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	assert.Equal(t, []string{"Transition(BACKUP->STOP)"}, kinds(h.step(Shutdown{})))
	f := newHarness(t, v2(100))
	f.step(SetFault{Fault: true})
	f.step(Start{})
	assert.Equal(t, []string{"Transition(FAULT->STOP)"}, kinds(f.step(Shutdown{})))
	// A fault while leaving stops at once.
	l := newHarness(t, v2(255))
	l.step(Start{})
	l.step(Shutdown{})
	assert.Equal(t, []string{"RemoveVIPs", "Transition(MASTER->STOP)"}, kinds(l.step(SetFault{Fault: true})))
}

func TestPreemptedMasterShutdownDuringGraceRemovesAtOnce(t *testing.T) {
	cfg := v2(100)
	cfg.ReleaseGrace = time.Second
	h := newHarness(t, cfg)
	h.step(Start{})
	h.until(Master, 5*time.Second)
	h.step(Advert{Src: peer, Priority: 200})
	assert.True(t, h.m.HoldsVIPs())
	assert.Equal(t, []string{"RemoveVIPs", "Transition(BACKUP->STOP)"}, kinds(h.step(Shutdown{})))
}

func TestV3BackupAdoptsMasterInterval(t *testing.T) {
	h := newHarness(t, Config{Version: 3, Priority: 95, AdvertInt: time.Second})
	h.step(Start{})
	h.step(Advert{Src: peer, Priority: 100, AdvertInt: 100 * time.Millisecond})
	assert.Equal(t, 100*time.Millisecond, h.m.MasterAdvertInt())
	// Sub-second failover: 3 × 0.1 s + (256-95)×0.1/256 s.
	assert.Equal(t, 362890*time.Microsecond, h.until(Master, time.Second))
	// As master it advertises its own interval again.
	assert.Equal(t, time.Second, h.m.MasterAdvertInt())
}

func TestV2BackupKeepsOwnInterval(t *testing.T) {
	h := newHarness(t, v2(95))
	h.step(Start{})
	h.step(Advert{Src: peer, Priority: 100, AdvertInt: 3 * time.Second})
	assert.Equal(t, time.Second, h.m.MasterAdvertInt())
}

func TestEffectivePriorityDropLetsPeerPreempt(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	h.until(Master, 5*time.Second)
	h.step(SetPriority{Priority: 90})
	assert.Equal(t, []string{"SendAdvert(90)"}, kinds(h.advance(time.Second)))
	// Peer at 95 takes over.
	assert.Equal(t, []string{"Transition(MASTER->BACKUP)", "RemoveVIPs"}, kinds(h.step(Advert{Src: peer, Priority: 95})))
	// Priority clamps.
	h.step(SetPriority{Priority: 0})
	assert.Equal(t, uint8(1), h.m.EffectivePriority())
	h.step(SetPriority{Priority: 255})
	assert.Equal(t, uint8(254), h.m.EffectivePriority())
}

func TestForceBySyncGroup(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	assert.Equal(t, []string{"Transition(BACKUP->MASTER)", "SendAdvert(100)", "AddVIPs", "SendGARP(5)"}, kinds(h.step(Force{To: Master})))
	assert.Equal(t, []string{"Transition(MASTER->BACKUP)", "RemoveVIPs"}, kinds(h.step(Force{To: Backup})))
	h.step(SetFault{Fault: true})
	assert.Empty(t, h.step(Force{To: Master}), "a faulty member is not forced to MASTER")
}

func TestStateStrings(t *testing.T) {
	assert.Equal(t, []string{"INIT", "BACKUP", "MASTER", "FAULT", "STOP"},
		[]string{Init.String(), Backup.String(), Master.String(), Fault.String(), Stopped.String()})
}

func TestStateTextAndCauses(t *testing.T) {
	b, err := json.Marshal(struct{ S State }{Master})
	require.NoError(t, err)
	assert.Equal(t, `{"S":"MASTER"}`, string(b))
	var s State
	require.NoError(t, s.UnmarshalText([]byte("FAULT")))
	assert.Equal(t, Fault, s)
	require.Error(t, s.UnmarshalText([]byte("PRIMARY")))
	assert.Equal(t, []State{Init, Backup, Master, Fault, Stopped}, States())
	assert.Equal(t, Init, New(Config{Version: 2, Priority: 100, AdvertInt: time.Second}).State())

	// Transitions carry a typed cause the runtime can branch on.
	h := newHarness(t, Config{Version: 2, Priority: 100, AdvertInt: time.Second, GARPRepeat: 1})
	acts := h.step(Start{})
	require.Len(t, acts, 1)
	assert.Equal(t, CauseStart, acts[0].Cause)
	acts = h.step(Force{To: Master})
	require.NotEmpty(t, acts)
	assert.Equal(t, CauseSyncGroup, acts[0].Cause)
	assert.Equal(t, "sync group", acts[0].Cause.String())
	assert.Equal(t, "Cause(200)", Cause(200).String())
}

func TestReconfigureKeepsStateAndTimers(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	h.until(Master, 5*time.Second)
	dl, _ := h.m.Deadline()
	// Same values: nothing happens, no timer moves.
	assert.Empty(t, h.m.Reconfigure(h.now, h.m.cfg))
	dl2, _ := h.m.Deadline()
	assert.Equal(t, dl, dl2)
	assert.Equal(t, Master, h.m.State())

	// A shorter interval brings the next advert forward, no flap.
	cfg := h.m.cfg
	cfg.Version, cfg.AdvertInt = 3, 100*time.Millisecond
	h.advance(200 * time.Millisecond)
	assert.Empty(t, h.m.Reconfigure(h.now, cfg))
	acts := h.advance(100 * time.Millisecond)
	assert.Equal(t, []string{"SendAdvert(100)"}, kinds(acts))
	assert.Equal(t, Master, h.m.State())
	assert.True(t, h.m.HoldsVIPs())
}

func TestReconfigureBackupBecomingOwnerTakesOver(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	h.step(Advert{Src: peer, Priority: 150})
	cfg := h.m.cfg
	cfg.Priority = PriorityOwner
	acts := h.m.Reconfigure(h.now, cfg)
	require.NotEmpty(t, acts)
	assert.Equal(t, "Transition(BACKUP->MASTER)", acts[0].String())
	assert.Equal(t, CauseOwner, acts[0].Cause)
	assert.Equal(t, uint8(PriorityOwner), h.m.EffectivePriority())
}

func TestReconfigureRaisedPriorityPreempts(t *testing.T) {
	h := newHarness(t, v2(100))
	h.step(Start{})
	h.step(Advert{Src: peer, Priority: 150})
	cfg := h.m.cfg
	cfg.Priority = 200
	assert.Empty(t, h.m.Reconfigure(h.now, cfg))
	h.step(SetPriority{Priority: 200})
	// The master's adverts are lower now: they no longer hold the backup.
	for range 3 {
		h.advance(time.Second)
		h.step(Advert{Src: peer, Priority: 150})
	}
	h.until(Master, time.Second)
	assert.Equal(t, Master, h.m.State())
}

// A BACKUP that heard a lower-priority router claim mastership just before
// its own timer ran out (both expired together) sends one more burst an
// advert interval after its takeover: the other router's gratuitous ARPs
// may have come after its own, and the other steps down on its first
// advert. Without such a claim, no extra burst.
func TestContestedTakeoverRefreshesARP(t *testing.T) {
	for _, claimed := range []bool{true, false} {
		cfg := v2(100)
		cfg.GARPDelay = 0
		h := newHarness(t, cfg)
		h.step(Start{})
		h.advance(3 * time.Second)
		if claimed {
			assert.Empty(t, h.step(Advert{Src: lower, Priority: 95}), "a backup answers nothing")
		}
		h.until(Master, 2*time.Second)
		var garps []string
		for _, a := range h.advance(5 * time.Second) {
			if a.Kind == SendGARP {
				garps = append(garps, a.String())
			}
		}
		if claimed {
			assert.Equal(t, []string{"SendGARP(5)"}, garps, "contested: a burst one advert interval later")
		} else {
			assert.Empty(t, garps, "uncontested: the takeover burst only")
		}
	}
}

// A MASTER that receives a lower-priority advert (a router whose timer
// expired with ours) forces an election and sends garp_lower_prio_repeat
// gratuitous ARPs, again after garp_lower_prio_delay: its own ARPs may have
// pointed the neighbours at the other router (keepalived 2.2.7,
// vrrp/vrrp.c vrrp_state_master_rx).
func TestMasterLowerPriorityAdvertRefreshesARP(t *testing.T) {
	cfg := v2(100)
	cfg.GARPLowerPrioRepeat, cfg.GARPLowerPrioDelay = 5, 5*time.Second
	h := newHarness(t, cfg)
	h.step(Start{})
	h.until(Master, 5*time.Second)
	h.advance(6 * time.Second) // past the master's own delayed burst
	assert.Equal(t, []string{"SendAdvert(100)", "SendGARP(5)"}, kinds(h.step(Advert{Src: lower, Priority: 95})))
	garps := func(d time.Duration) []string {
		var out []string
		for _, a := range h.advance(d) {
			if a.Kind == SendGARP {
				out = append(out, a.String())
			}
		}
		return out
	}
	assert.Equal(t, []string{"SendGARP(5)"}, garps(time.Second), "one advert interval later, once the other router stepped down (lvsctl's)")
	assert.Equal(t, []string{"SendGARP(5)"}, garps(5*time.Second), "the delayed burst (garp_lower_prio_delay)")

	// A flood of them is answered once per LowerPriorityAnswerGap.
	h.advance(10 * time.Second)
	var answers []string
	for range 50 {
		answers = append(answers, kinds(h.step(Advert{Src: lower, Priority: 95}))...)
		h.advance(LowerPriorityAnswerGap / 10)
	}
	assert.Equal(t, []string{"SendAdvert(100)", "SendGARP(5)", "SendAdvert(100)", "SendGARP(5)",
		"SendAdvert(100)", "SendGARP(5)", "SendAdvert(100)", "SendGARP(5)", "SendAdvert(100)", "SendGARP(5)"}, answers)

	// garp_lower_prio_repeat 0: the advert only.
	cfg.GARPLowerPrioRepeat = 0
	h = newHarness(t, cfg)
	h.step(Start{})
	h.until(Master, 5*time.Second)
	assert.Equal(t, []string{"SendAdvert(100)"}, kinds(h.step(Advert{Src: lower, Priority: 95})))
}
