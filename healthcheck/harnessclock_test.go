package healthcheck

import (
	"sync"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock"
	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
)

// harnessClock is a clocktest.Fake as the scheduler tests need it: a timer
// armed for now (or the past) waits for the test like any other instead of
// firing at once, so a test sees the state before a due check runs (the
// initial state of an alpha server, say), and the test can read when the
// next timer is due. Time itself is the Fake's: FireNext moves it.
type harnessClock struct {
	*clocktest.Fake
	mu     sync.Mutex
	cond   *sync.Cond
	ops    int
	timers []*harnessTimer
}

type harnessTimer struct {
	clk   *harnessClock
	inner clock.Timer
	c     chan time.Time
	// deadline is when the timer fires; held marks a deadline already
	// reached that waits for fire.
	deadline time.Time
	active   bool
	held     bool
}

func newHarnessClock(start time.Time) *harnessClock {
	h := &harnessClock{Fake: clocktest.New(start)}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *harnessClock) NewTimer(d time.Duration) clock.Timer {
	t := &harnessTimer{clk: h, c: make(chan time.Time, 1)}
	t.inner = h.Fake.NewTimer(time.Hour)
	t.inner.Stop()
	// Ticks of the Fake reach the scheduler through c, which the test can
	// feed too; the goroutine ends with the test binary.
	go func() {
		for v := range t.inner.C() {
			t.c <- v
		}
	}()
	h.mu.Lock()
	h.timers = append(h.timers, t)
	h.mu.Unlock()
	t.Reset(d)
	return t
}

func (t *harnessTimer) C() <-chan time.Time { return t.c }

func (t *harnessTimer) Reset(d time.Duration) {
	h := t.clk
	h.mu.Lock()
	t.drain()
	t.deadline, t.active, t.held = h.Now().Add(d), true, d <= 0
	h.mu.Unlock()
	if d <= 0 {
		// Still a timer operation for the Fake, which FireNext waits for.
		t.inner.Stop()
	} else {
		t.inner.Reset(d)
	}
	h.done()
}

// done counts a timer operation once the Fake saw it too, so a test that
// waited for it finds both clocks in step.
func (h *harnessClock) done() {
	h.mu.Lock()
	h.ops++
	h.cond.Broadcast()
	h.mu.Unlock()
}

func (t *harnessTimer) Stop() bool {
	h := t.clk
	h.mu.Lock()
	was := t.active
	t.drain()
	t.active, t.held = false, false
	h.mu.Unlock()
	t.inner.Stop()
	h.done()
	return was
}

func (t *harnessTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}

// next is the earliest armed deadline, zero when none is armed.
func (h *harnessClock) next() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var next time.Time
	for _, t := range h.timers {
		if t.active && (next.IsZero() || t.deadline.Before(next)) {
			next = t.deadline
		}
	}
	return next
}

// fireNext fires the earliest armed timer: a held one here, any other
// through the Fake's FireNext. Both wait for the scheduler's next timer
// operation.
func (h *harnessClock) fireNext() (time.Time, bool) {
	h.mu.Lock()
	var held *harnessTimer
	for _, t := range h.timers {
		if t.active && t.held && (held == nil || t.deadline.Before(held.deadline)) {
			held = t
		}
	}
	if held == nil {
		h.mu.Unlock()
		return h.FireNext()
	}
	held.active, held.held = false, false
	before := h.ops
	held.c <- h.Now()
	for h.ops == before {
		h.cond.Wait()
	}
	h.mu.Unlock()
	return h.Now(), true
}
