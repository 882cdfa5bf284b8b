package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at is a time relative to t0, in seconds, for readable expectations.
func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

type probeCall struct {
	target string
	step   int
	time   time.Time
}

// harness runs a Scheduler on a fake clock with scripted probes.
type harness struct {
	t     *testing.T
	clk   *harnessClock
	s     *Scheduler[string]
	mu    sync.Mutex
	ok    map[string]func(step int) Result
	took  map[string]time.Duration
	calls []probeCall
}

func newHarness(t *testing.T, rnd func(int64) int64) *harness {
	h := &harness{t: t, clk: newHarnessClock(t0), ok: map[string]func(int) Result{}, took: map[string]time.Duration{}}
	h.s = New[string](Options{Clock: h.clk, Rand: rnd})
	h.s.inline = true
	h.s.mkProbe = func(s *Spec, _ DialFunc) probeFunc {
		return h.probeFor(s.Target())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *harness) up(name string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ok[name] = func(int) Result {
		if ok {
			return Result{OK: true, Reason: name + " ok"}
		}
		return Result{Reason: name + " failed"}
	}
}

func (h *harness) script(name string, f func(step int) Result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ok[name] = f
}

func (h *harness) set(servers ...Server[string]) {
	require.NoError(h.t, h.s.Set(context.Background(), servers))
}

// run fires timers until the clock reaches end, and returns the events.
func (h *harness) run(end time.Time) []Event[string] {
	var evs []Event[string]
	for {
		next := h.clk.next()
		if next.IsZero() || next.After(end) {
			break
		}
		_, ok := h.clk.fireNext()
		require.True(h.t, ok)
		evs = append(evs, h.drain()...)
	}
	return evs
}

func (h *harness) drain() []Event[string] {
	var evs []Event[string]
	for {
		select {
		case ev := <-h.s.Events():
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// callTimes lists when target was probed (and which URL).
func (h *harness) callTimes(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		if c.target == name {
			out = append(out, fmt.Sprintf("%g/%d", c.time.Sub(t0).Seconds(), c.step))
		}
	}
	return out
}

func (h *harness) probeFor(name string) probeFunc {
	return func(_ context.Context, step int) Result {
		h.mu.Lock()
		h.calls = append(h.calls, probeCall{target: name, step: step, time: h.clk.Now()})
		f := h.ok[name]
		d := h.took[name]
		h.mu.Unlock()
		if d > 0 {
			h.clk.Advance(d)
		}
		if f == nil {
			return Result{Reason: "no script"}
		}
		return f(step)
	}
}

func tcpSpec(addr string) Spec {
	return Spec{
		Kind: TCPCheck, Addr: netip.MustParseAddrPort(addr),
		ConnectTimeout: 3 * time.Second, DelayLoop: 5 * time.Second,
		DelayBeforeRetry: time.Second, Retry: 2,
	}
}

func ev(id string, old, new State, sec float64) string {
	return fmt.Sprintf("%s %s->%s @%g", id, old, new, at(sec).Sub(t0).Seconds())
}

func evStrings(evs []Event[string]) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %s->%s @%g", e.Key, e.Old, e.New, e.Time.Sub(t0).Seconds()))
	}
	return out
}

func TestTCPRetryTiming(t *testing.T) {
	h := newHarness(t, nil)
	const a = "10.0.0.1:80"
	h.up(a, true)
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a)}})
	assert.Empty(t, h.run(at(12)), "an up server that passes produces no event")
	h.up(a, false) // dies between the checks at 10 and 15
	evs := h.run(at(30))
	// 15 fails, retried at 16 and 17 (delay_before_retry), down after the
	// third failure (retry+1); down servers are checked every delay_loop.
	assert.Equal(t, []string{ev("rs1", Up, Down, 17)}, evStrings(evs))
	h.up(a, true)
	evs = h.run(at(40))
	assert.Equal(t, []string{ev("rs1", Down, Up, 32)}, evStrings(evs))
	assert.Equal(t, []string{"0/0", "5/0", "10/0", "15/0", "16/0", "17/0", "22/0", "27/0", "32/0", "37/0"}, h.callTimes(a))
}

func TestFirstFailureIsEnoughAtStart(t *testing.T) {
	h := newHarness(t, nil)
	const a = "10.0.0.1:80"
	h.up(a, false)
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a)}})
	evs := h.run(at(11))
	// keepalived starts checkers with their retries used up.
	assert.Equal(t, []string{ev("rs1", Up, Down, 0)}, evStrings(evs))
	assert.Equal(t, []string{"0/0", "5/0", "10/0"}, h.callTimes(a))
}

func TestAlphaStartsDown(t *testing.T) {
	h := newHarness(t, nil)
	const a = "10.0.0.1:80"
	h.up(a, true)
	sp := tcpSpec(a)
	sp.Alpha = true
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	st, err := h.s.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st, 1)
	assert.Equal(t, Down, st[0].State)
	evs := h.run(at(1))
	assert.Equal(t, []string{ev("rs1", Down, Up, 0)}, evStrings(evs))
}

func TestWarmupSpreadsFirstCheck(t *testing.T) {
	var asked []int64
	h := newHarness(t, func(n int64) int64 { asked = append(asked, n); return n / 4 })
	const a = "10.0.0.1:80"
	h.up(a, true)
	sp := tcpSpec(a)
	sp.Warmup = 8 * time.Second
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	h.run(at(8))
	assert.Equal(t, []int64{int64(8 * time.Second)}, asked)
	assert.Equal(t, []string{"2/0", "7/0"}, h.callTimes(a))
}

func TestRiseFall(t *testing.T) {
	h := newHarness(t, nil)
	const a = "10.0.0.1:80"
	h.up(a, true)
	sp := tcpSpec(a)
	sp.Retry = 1
	sp.Rise, sp.Fall = 3, 2
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	h.run(at(4))
	h.up(a, false)
	// fail 5, retry 6 (exhausted: fall 1 of 2), fail 11, retry 12: down.
	evs := h.run(at(13))
	assert.Equal(t, []string{ev("rs1", Up, Down, 12)}, evStrings(evs))
	h.up(a, true)
	// passes at 17, 22, 27: up on the third (rise 3).
	evs = h.run(at(30))
	assert.Equal(t, []string{ev("rs1", Down, Up, 27)}, evStrings(evs))
	assert.Equal(t, []string{"0/0", "5/0", "6/0", "11/0", "12/0", "17/0", "22/0", "27/0"}, h.callTimes(a))
}

func TestHTTPPerURLTiming(t *testing.T) {
	h := newHarness(t, nil)
	const a = "10.0.0.1:80"
	failing := map[int]bool{}
	var mu sync.Mutex
	h.script(a, func(step int) Result {
		mu.Lock()
		defer mu.Unlock()
		if failing[step] {
			return Result{Reason: "fail"}
		}
		return Result{OK: true}
	})
	sp := Spec{
		Kind: HTTPGet, Addr: netip.MustParseAddrPort(a), ConnectTimeout: time.Second,
		DelayLoop: 3 * time.Second, DelayBeforeRetry: time.Second, Retry: 1,
		HTTP: &HTTPSpec{URLs: []URL{{Path: "/a"}, {Path: "/b"}}},
	}
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	assert.Empty(t, h.run(at(7)))
	mu.Lock()
	failing[1] = true
	mu.Unlock()
	// /b fails at 9, retried at 10: down. The failed URL is then retried
	// every max(delay_before_retry, delay_loop).
	evs := h.run(at(15))
	assert.Equal(t, []string{ev("rs1", Up, Down, 10)}, evStrings(evs))
	mu.Lock()
	failing[1] = false
	mu.Unlock()
	// /b passes at 16; recovery then checks every URL again, one per
	// delay_loop: /a at 19, /b at 22 -> up.
	evs = h.run(at(25))
	assert.Equal(t, []string{ev("rs1", Down, Up, 22)}, evStrings(evs))
	assert.Equal(t, []string{"0/0", "3/1", "6/0", "9/1", "10/1", "13/1", "16/1", "19/0", "22/1", "25/0"}, h.callTimes(a))
}

func TestHTTPFastRecovery(t *testing.T) {
	h := newHarness(t, nil)
	const a = "10.0.0.1:80"
	h.up(a, false)
	sp := Spec{
		Kind: HTTPGet, Addr: netip.MustParseAddrPort(a), ConnectTimeout: time.Second,
		DelayLoop: 3 * time.Second, DelayBeforeRetry: time.Second, Retry: 1,
		HTTP: &HTTPSpec{URLs: []URL{{Path: "/a"}, {Path: "/b"}}, FastRecovery: true},
	}
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	assert.Equal(t, []string{ev("rs1", Up, Down, 0)}, evStrings(h.run(at(2))))
	h.up(a, true)
	assert.Equal(t, []string{ev("rs1", Down, Up, 3)}, evStrings(h.run(at(4))))
	assert.Equal(t, []string{"0/0", "3/0", "3/0", "3/1"}, h.callTimes(a))
}

func TestMiscTimedFromStart(t *testing.T) {
	h := newHarness(t, nil)
	sp := Spec{Kind: MiscCheck, DelayLoop: 5 * time.Second, DelayBeforeRetry: time.Second, Retry: 1,
		Misc: &MiscSpec{Command: "/bin/check"}}
	h.up("/bin/check", true)
	h.took["/bin/check"] = 2 * time.Second
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	h.run(at(11))
	assert.Equal(t, []string{"0/0", "5/0", "10/0"}, h.callTimes("/bin/check"))
}

func TestSeveralCheckersAllMustPass(t *testing.T) {
	h := newHarness(t, nil)
	a, b := "10.0.0.1:80", "10.0.0.1:81"
	h.up(a, true)
	h.up(b, true)
	sa, sb := tcpSpec(a), tcpSpec(b)
	sb.DelayLoop = 7 * time.Second
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sa, sb}})
	h.run(at(1))
	h.up(b, false)
	evs := h.run(at(10))
	assert.Equal(t, []string{ev("rs1", Up, Down, 9)}, evStrings(evs))
	h.up(a, false)
	assert.Empty(t, h.run(at(16)), "still down: no event")
	h.up(b, true)
	assert.Empty(t, h.run(at(17)), "b up at 14+... a still down")
	h.up(a, true)
	evs = h.run(at(30))
	require.Len(t, evs, 1)
	assert.Equal(t, Up, evs[0].New)
}

func TestDynamicWeightEvents(t *testing.T) {
	h := newHarness(t, nil)
	sp := Spec{Kind: MiscCheck, DelayLoop: 5 * time.Second, DelayBeforeRetry: time.Second,
		Misc: &MiscSpec{Command: "/bin/w", Dynamic: true}}
	w := 10
	var mu sync.Mutex
	h.script("/bin/w", func(int) Result {
		mu.Lock()
		defer mu.Unlock()
		return Result{OK: true, Weight: w, HasWeight: true}
	})
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	evs := h.run(at(1))
	require.Len(t, evs, 1)
	assert.Equal(t, Event[string]{Key: "rs1", Old: Up, New: Up, Weight: 10, HasWeight: true, Time: at(0), Reason: ""}, evs[0])
	assert.Empty(t, h.run(at(6)), "same weight: no event")
	mu.Lock()
	w = 3
	mu.Unlock()
	evs = h.run(at(11))
	require.Len(t, evs, 1)
	assert.Equal(t, 3, evs[0].Weight)
}

func TestSetKeepsStateOfUnchangedChecks(t *testing.T) {
	h := newHarness(t, nil)
	const a, b = "10.0.0.1:80", "10.0.0.2:80"
	h.up(a, false)
	h.up(b, true)
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a)}}, Server[string]{Key: "rs2", Checks: []Spec{tcpSpec(b)}})
	assert.Equal(t, []string{ev("rs1", Up, Down, 0)}, evStrings(h.run(at(1))))
	// Reload: rs1 unchanged but with a new delay_loop, rs2 removed.
	sp := tcpSpec(a)
	sp.DelayLoop = 2 * time.Second
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sp}})
	assert.Empty(t, h.drain(), "an unchanged checker keeps its state: no event")
	st, err := h.s.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st, 1)
	assert.Equal(t, Down, st[0].State)
	h.run(at(12))
	// Its next run (5) was kept; the new delay_loop applies after it.
	assert.Equal(t, []string{"0/0", "5/0", "7/0", "9/0", "11/0"}, h.callTimes(a))
	assert.Equal(t, []string{"0/0"}, h.callTimes(b), "a removed server is not checked any more")
	// A changed checker (other port) starts afresh, as in keepalived: up
	// (not alpha), probed at once (the clock is at the last run, 11).
	h.up("10.0.0.1:81", true)
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec("10.0.0.1:81")}})
	assert.Equal(t, []string{ev("rs1", Down, Up, 11)}, evStrings(h.drain()))
	assert.Empty(t, h.run(at(20)))
	assert.Equal(t, []string{"11/0", "16/0"}, h.callTimes("10.0.0.1:81"))
}

func TestValidateRejects(t *testing.T) {
	h := newHarness(t, nil)
	bad := tcpSpec("10.0.0.1:80")
	bad.DelayLoop = 0
	err := h.s.Set(context.Background(), []Server[string]{{Key: "x", Checks: []Spec{bad}}})
	require.ErrorIs(t, err, ErrInvalidSpec)
	err = h.s.Set(context.Background(), []Server[string]{{Key: "x"}, {Key: "x"}})
	require.ErrorIs(t, err, ErrInvalidSpec)
}

func TestStoppedScheduler(t *testing.T) {
	s := New[string](Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
	require.ErrorIs(t, s.Set(context.Background(), nil), ErrStopped)
	_, open := <-s.Events()
	assert.False(t, open)
}

func TestUpsertRemove(t *testing.T) {
	h := newHarness(t, nil)
	const a = "10.0.0.1:80"
	h.up(a, true)
	ctx := context.Background()
	require.NoError(t, h.s.Upsert(ctx, Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a)}}))
	h.run(at(6))
	require.NoError(t, h.s.Remove(ctx, "rs1"))
	h.run(at(30))
	assert.Equal(t, []string{"0/0", "5/0"}, h.callTimes(a))
	st, err := h.s.Status(ctx)
	require.NoError(t, err)
	assert.Empty(t, st)
	// An existing server without checkers gaining an alpha checker goes
	// down: that is an event.
	require.NoError(t, h.s.Upsert(ctx, Server[string]{Key: "rs2"}))
	sp := tcpSpec(a)
	sp.Alpha = true
	require.NoError(t, h.s.Upsert(ctx, Server[string]{Key: "rs2", Checks: []Spec{sp}}))
	assert.Equal(t, []string{"rs2 UP->DOWN @5"}, evStrings(h.drain()))
}

func TestEventLatency(t *testing.T) {
	h := newHarness(t, nil)
	const a, b = "10.0.0.1:80", "10.0.0.2:80"
	h.up(a, false)
	h.took[a] = 1500 * time.Millisecond
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a)}})
	evs := h.run(at(1))
	require.Equal(t, []string{ev("rs1", Up, Down, 1.5)}, evStrings(evs))
	assert.Equal(t, 1500*time.Millisecond, evs[0].Latency, "the failed round's duration")

	h.up(a, true)
	h.took[a] = 250 * time.Millisecond
	evs = h.run(at(7))
	require.Equal(t, []string{ev("rs1", Down, Up, 6.75)}, evStrings(evs))
	assert.Equal(t, 250*time.Millisecond, evs[0].Latency, "the passing round's duration")

	// A second checker fails (its round takes 400ms), then is removed:
	// that change comes from no probe and has no latency.
	h.up(b, false)
	h.took[b] = 400 * time.Millisecond
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a), tcpSpec(b)}})
	evs = append(h.drain(), h.run(at(12))...)
	require.Len(t, evs, 1)
	assert.Equal(t, Down, evs[0].New)
	assert.Equal(t, 400*time.Millisecond, evs[0].Latency)
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a)}})
	evs = h.drain()
	require.Len(t, evs, 1)
	assert.Equal(t, Event[string]{Key: "rs1", Old: Down, New: Up, Reason: "checkers changed", Time: evs[0].Time}, evs[0])
}

// With alpha, a real server with two checkers starts DOWN, comes UP only
// once both checkers passed, and goes DOWN again when one of them fails.
func TestAlphaTwoCheckersUpOnlyWhenBothPass(t *testing.T) {
	h := newHarness(t, nil)
	const a, b = "10.0.0.1:80", "10.0.0.1:81"
	h.up(a, true)
	h.up(b, false)
	sa, sb := tcpSpec(a), tcpSpec(b)
	sa.Alpha, sb.Alpha = true, true
	h.set(Server[string]{Key: "rs1", Checks: []Spec{sa, sb}})
	st, err := h.s.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st, 1)
	assert.Equal(t, Down, st[0].State, "alpha: down before any check")

	// a passes at 0, b fails: still down; b's first verdict confirms the
	// state it started in, which keepalived notifies (FirstDown), once.
	evs := h.run(at(4))
	require.Len(t, evs, 1)
	assert.True(t, evs[0].FirstDown)
	assert.Equal(t, []State{Down, Down}, []State{evs[0].Old, evs[0].New})
	st, err = h.s.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st, 1)
	assert.Equal(t, Down, st[0].State)
	require.Len(t, st[0].Checks, 2)
	assert.Equal(t, Up, st[0].Checks[0].State)
	assert.Equal(t, Down, st[0].Checks[1].State)

	// b passes at 5: both up, the server comes up.
	h.up(b, true)
	assert.Equal(t, []string{ev("rs1", Down, Up, 5)}, evStrings(h.run(at(9))))

	// a fails from 10 on: retried at 11 and 12 (retry 2), down at 12
	// although b still passes.
	h.up(a, false)
	assert.Equal(t, []string{ev("rs1", Up, Down, 12)}, evStrings(h.run(at(16))))
	assert.Equal(t, []string{"0/0", "5/0", "10/0", "11/0", "12/0"}, h.callTimes(a))
	assert.Equal(t, []string{"0/0", "5/0", "10/0", "15/0"}, h.callTimes(b))
}

// Status's JSON has the weight only when a dynamic weight is set.
func TestStatusJSON(t *testing.T) {
	b, err := json.Marshal(Status[string]{Key: "rs1", State: Up, Reason: "ok"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"key":"rs1","state":"UP","reason":"ok","checks":null}`, string(b))
	b, err = json.Marshal(Status[string]{Key: "rs1", State: Up, Reason: "ok", Weight: 0, HasWeight: true})
	require.NoError(t, err)
	assert.JSONEq(t, `{"key":"rs1","state":"UP","reason":"ok","weight":0,"checks":null}`, string(b))
}

// TestSuspendHoldsState: ha_suspend. While suspended, due checks are not
// run (a dead server stays up: keepalived's disabled checker only
// re-arms its timer, every delay_loop); once resumed the next due check
// runs and the state moves on from where it was.
func TestSuspendHoldsState(t *testing.T) {
	h := newHarness(t, nil)
	const a, b = "10.0.0.1:80", "10.0.0.2:80"
	h.up(a, true)
	h.up(b, true)
	ctx := context.Background()
	require.NoError(t, h.s.Suspend(ctx, []string{"rs1", "rs-later"}))
	h.set(Server[string]{Key: "rs1", Checks: []Spec{tcpSpec(a)}}, Server[string]{Key: "rs2", Checks: []Spec{tcpSpec(b)}})
	h.up(a, false)
	assert.Empty(t, h.run(at(12)), "suspended: the dead server is not checked, nothing changes")
	assert.Empty(t, h.callTimes(a))
	assert.Equal(t, []string{"0/0", "5/0", "10/0"}, h.callTimes(b), "other servers are checked")
	st, err := h.s.Status(ctx)
	require.NoError(t, err)
	for _, s := range st {
		assert.Equal(t, s.Key == "rs1", s.Suspended, s.Key)
		assert.Equal(t, Up, s.State)
	}

	require.NoError(t, h.s.Suspend(ctx, nil))
	evs := h.run(at(20))
	assert.Equal(t, []string{ev("rs1", Up, Down, 15)}, evStrings(evs), "resumed: the next due check finds it down")

	// Suspending again freezes the down state too.
	require.NoError(t, h.s.Suspend(ctx, []string{"rs1"}))
	h.up(a, true)
	assert.Empty(t, h.run(at(60)))
	require.NoError(t, h.s.Suspend(ctx, []string{}))
	assert.Equal(t, []string{ev("rs1", Down, Up, 65)}, evStrings(h.run(at(66))))
}

// FirstDown: only a checker's first verdict that keeps the state it
// started in, and only a down one (keepalived's update_svr_checker_state
// with has_run unset): an alpha server failing its first check; not a
// non-alpha server passing its first, nor a later failure.
func TestFirstDownOnlyForTheFirstVerdict(t *testing.T) {
	h := newHarness(t, nil)
	const a, b = "10.0.0.1:80", "10.0.0.2:80"
	h.up(a, false)
	h.up(b, true)
	sa := tcpSpec(a)
	sa.Alpha = true
	h.set(Server[string]{Key: "alpha", Checks: []Spec{sa}}, Server[string]{Key: "plain", Checks: []Spec{tcpSpec(b)}})
	evs := h.run(at(4))
	require.Len(t, evs, 1, "%v", evs)
	assert.Equal(t, "alpha", evs[0].Key)
	assert.True(t, evs[0].FirstDown)
	assert.Empty(t, h.run(at(30)), "later failures of a down server: nothing")
}
