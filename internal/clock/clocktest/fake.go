// Package clocktest is the fake clock.Clock of lvsctl's tests: time moves
// only when the test says so, either by a fixed step (Advance) or to the
// next armed timer (FireNext, which also waits until the code under test
// has re-armed or stopped a timer, so every observation is exact).
package clocktest

import (
	"sync"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock"
)

// Fake is a manual clock.
type Fake struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []*timer
	ops    int
}

var _ clock.Clock = (*Fake)(nil)

type timer struct {
	clk      *Fake
	c        chan time.Time
	d        time.Duration
	deadline time.Time
	active   bool
}

// New returns a fake clock reading start.
func New(start time.Time) *Fake {
	f := &Fake{now: start}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer arms a timer d from now; d <= 0 fires at once.
func (f *Fake) NewTimer(d time.Duration) clock.Timer {
	t := &timer{clk: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	f.timers = append(f.timers, t)
	f.mu.Unlock()
	t.Reset(d)
	return t
}

func (t *timer) C() <-chan time.Time { return t.c }

func (t *timer) Reset(d time.Duration) {
	f := t.clk
	f.mu.Lock()
	defer f.mu.Unlock()
	t.drain()
	t.d, t.deadline, t.active = d, f.now.Add(d), true
	if d <= 0 {
		t.active = false
		t.c <- f.now
	}
	f.ops++
	f.cond.Broadcast()
}

func (t *timer) Stop() bool {
	f := t.clk
	f.mu.Lock()
	defer f.mu.Unlock()
	was := t.active
	t.drain()
	t.active = false
	f.ops++
	f.cond.Broadcast()
	return was
}

func (t *timer) drain() {
	select {
	case <-t.c:
	default:
	}
}

// Advance moves time by d without waiting for anyone, firing every timer
// that is due by then (each at most once).
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.timers {
		if t.active && !f.now.Before(t.deadline) {
			t.active = false
			t.drain()
			t.c <- f.now
		}
	}
}

// FireNext jumps to the earliest armed deadline, fires that timer and waits
// for the code under test's next timer operation (Reset, Stop or a new
// timer). It reports false, without waiting, when no timer is armed.
func (f *Fake) FireNext() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next *timer
	for _, t := range f.timers {
		if t.active && (next == nil || t.deadline.Before(next.deadline)) {
			next = t
		}
	}
	if next == nil {
		return f.now, false
	}
	if next.deadline.After(f.now) {
		f.now = next.deadline
	}
	next.active = false
	before := f.ops
	next.drain()
	next.c <- f.now
	for f.ops == before {
		f.cond.Wait()
	}
	return f.now, true
}

// Pending reports whether a timer armed with exactly d is waiting.
func (f *Fake) Pending(d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.timers {
		if t.active && t.d == d {
			return true
		}
	}
	return false
}
