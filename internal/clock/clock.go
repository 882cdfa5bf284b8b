// Package clock is lvsctl's one source of time: the health-check
// scheduler, the VRRP runtime and the director take a Clock so their tests
// can run on a fake one (package clock/clocktest) instead of sleeping.
package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer lvsctl uses.
type Timer interface {
	C() <-chan time.Time
	// Reset re-arms the timer, dropping a tick that was not received.
	Reset(d time.Duration)
	// Stop disarms the timer; it reports whether the timer was armed.
	Stop() bool
}

// System is the real clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (System) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }

// Reset relies on Go 1.23+ timers: Reset discards an unreceived tick.
func (t sysTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t sysTimer) Stop() bool            { return t.t.Stop() }
