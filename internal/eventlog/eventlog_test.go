package eventlog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogOrdersAndBounds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	l := New(3, func() time.Time { now = now.Add(time.Second); return now })
	ev, missed := l.Since(0)
	assert.Empty(t, ev)
	assert.Zero(t, missed)

	changed := l.Changed()
	e := l.Append(Event{Kind: KindHealth, Subject: "rs1", From: "up", To: "down"})
	assert.Equal(t, uint64(1), e.Seq)
	assert.Equal(t, t0.Add(time.Second), e.Time)
	select {
	case <-changed:
	default:
		t.Fatal("Append must wake followers")
	}
	for i := 0; i < 4; i++ {
		l.Append(Event{Kind: KindReload})
	}
	// Five appended, three kept: a follower at 0 missed two.
	ev, missed = l.Since(0)
	require.Len(t, ev, 3)
	assert.Equal(t, uint64(2), missed)
	assert.Equal(t, []uint64{3, 4, 5}, []uint64{ev[0].Seq, ev[1].Seq, ev[2].Seq})
	ev, missed = l.Since(3)
	assert.Equal(t, []uint64{4, 5}, []uint64{ev[0].Seq, ev[1].Seq})
	assert.Zero(t, missed)
	ev, _ = l.Since(5)
	assert.Empty(t, ev)
	assert.Equal(t, uint64(5), l.Last())
}

// A million events through a small log: memory stays the ring's.
func TestLogStaysBounded(t *testing.T) {
	l := New(16, nil)
	for i := 0; i < 1_000_000; i++ {
		l.Append(Event{Kind: KindDrift})
	}
	assert.Equal(t, 16, cap(l.ring))
	ev, missed := l.Since(0)
	assert.Len(t, ev, 16)
	assert.Equal(t, uint64(1_000_000-16), missed)
	assert.Equal(t, uint64(1_000_000), ev[15].Seq)
}
