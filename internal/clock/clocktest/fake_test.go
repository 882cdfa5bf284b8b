package clocktest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case at := <-c:
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestAdvanceFiresDueTimersOnce(t *testing.T) {
	f := New(t0)
	a, b := f.NewTimer(time.Second), f.NewTimer(3*time.Second)
	assert.True(t, f.Pending(time.Second))
	f.Advance(999 * time.Millisecond)
	_, ok := fired(a.C())
	assert.False(t, ok, "not due yet")
	f.Advance(time.Millisecond)
	at, ok := fired(a.C())
	assert.True(t, ok)
	assert.Equal(t, t0.Add(time.Second), at)
	f.Advance(10 * time.Second)
	_, ok = fired(a.C())
	assert.False(t, ok, "a timer fires once")
	_, ok = fired(b.C())
	assert.True(t, ok)
}

func TestStopAndReset(t *testing.T) {
	f := New(t0)
	tm := f.NewTimer(time.Second)
	assert.True(t, tm.Stop())
	assert.False(t, tm.Stop())
	f.Advance(2 * time.Second)
	_, ok := fired(tm.C())
	assert.False(t, ok, "a stopped timer does not fire")
	tm.Reset(time.Second)
	f.Advance(time.Second)
	at, ok := fired(tm.C())
	assert.True(t, ok)
	assert.Equal(t, t0.Add(3*time.Second), at)
	tm.Reset(0)
	_, ok = fired(tm.C())
	assert.True(t, ok, "a zero duration fires at once")
}

// FireNext jumps to the earliest deadline and returns once the code under
// test touched a timer again.
func TestFireNextWaitsForTheNextTimerOperation(t *testing.T) {
	f := New(t0)
	tm := f.NewTimer(5 * time.Second)
	go func() {
		<-tm.C()
		tm.Reset(time.Second)
	}()
	at, ok := f.FireNext()
	assert.True(t, ok)
	assert.Equal(t, t0.Add(5*time.Second), at)
	assert.True(t, f.Pending(time.Second), "FireNext returned after the re-arm")
	tm.Stop()
	_, ok = f.FireNext()
	assert.False(t, ok, "nothing armed")
}
