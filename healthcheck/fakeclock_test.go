package healthcheck

import (
	"sync"
	"time"
)

// fakeClock is a discrete-event clock: time moves only when the test fires
// the earliest armed timer, and fireNext waits until the scheduler has
// re-armed (or stopped) its timer, so every observation is exact.
type fakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []*fakeTimer
	ops    int
}

type fakeTimer struct {
	clk      *fakeClock
	c        chan time.Time
	deadline time.Time
	active   bool
}

func newFakeClock(start time.Time) *fakeClock {
	c := &fakeClock{now: start}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves time without firing timers (a probe that takes time).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.drain()
	t.deadline, t.active = t.clk.now.Add(d), true
	t.clk.ops++
	t.clk.cond.Broadcast()
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.drain()
	t.active = false
	t.clk.ops++
	t.clk.cond.Broadcast()
}

func (t *fakeTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}

// fireNext jumps to the earliest armed deadline, fires that timer and waits
// for the scheduler's next timer operation. It reports false when no timer
// is armed.
func (c *fakeClock) fireNext() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next *fakeTimer
	for _, t := range c.timers {
		if t.active && (next == nil || t.deadline.Before(next.deadline)) {
			next = t
		}
	}
	if next == nil {
		return c.now, false
	}
	if next.deadline.After(c.now) {
		c.now = next.deadline
	}
	next.active = false
	before := c.ops
	next.c <- c.now
	for c.ops == before {
		c.cond.Wait()
	}
	return c.now, true
}
