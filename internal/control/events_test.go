package control_test

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
)

// eventStub is a daemon with an event log.
type eventStub struct {
	stub
	log *eventlog.Log
}

func (e eventStub) Events() control.EventSource { return e.log }

func serveEvents(t *testing.T, d control.Daemon) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	srv, err := control.Listen(sock, d, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

func TestEventsStreamBacklogThenFollow(t *testing.T) {
	log := eventlog.New(4, nil)
	sock := serveEvents(t, eventStub{log: log})
	for _, to := range []string{"DOWN", "UP", "DOWN", "UP", "DOWN", "UP"} {
		log.Append(eventlog.Event{Kind: eventlog.KindHealth, Subject: "TCP 10.16.8.100:80 10.16.8.8:80", To: to})
	}

	// Without Follow: what the ring holds (4 of 6), after a note of the
	// 2 it dropped, then the stream ends.
	var lines []control.StreamLine
	require.NoError(t, control.Stream(context.Background(), sock, control.Request{Op: control.OpEvents},
		func(l control.StreamLine) error { lines = append(lines, l); return nil }))
	require.Len(t, lines, 5)
	assert.Equal(t, uint64(2), lines[0].Missed)
	for i, l := range lines[1:] {
		assert.Equal(t, uint64(3+i), l.Event.Seq)
	}

	// Follow from #6: new events arrive in order as they happen.
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan control.StreamLine, 10)
	done := make(chan error, 1)
	go func() {
		done <- control.Stream(ctx, sock, control.Request{Op: control.OpEvents, After: 6, Follow: true},
			func(l control.StreamLine) error { got <- l; return nil })
	}()
	time.Sleep(50 * time.Millisecond)
	log.Append(eventlog.Event{Kind: eventlog.KindReload, To: "applied"})
	log.Append(eventlog.Event{Kind: eventlog.KindDrain, To: "drained"})
	for _, want := range []uint64{7, 8} {
		select {
		case l := <-got:
			require.NotNil(t, l.Event)
			assert.Equal(t, want, l.Event.Seq)
		case <-time.After(5 * time.Second):
			t.Fatalf("event #%d not streamed", want)
		}
	}
	cancel()
	require.NoError(t, <-done)
}

// A client that never reads costs the daemon nothing but the events it
// misses: the stream holds no queue, and the next read after a burst
// starts with how many it missed.
func TestEventsSlowClientIsBounded(t *testing.T) {
	log := eventlog.New(8, nil)
	sock := serveEvents(t, eventStub{log: log})
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, json.NewEncoder(c).Encode(control.Request{Op: control.OpEvents, Follow: true}))
	// A burst far bigger than the ring while the client does not read.
	for i := 0; i < 100_000; i++ {
		log.Append(eventlog.Event{Kind: eventlog.KindDrift, Message: "a long message to fill socket buffers quickly"})
	}
	dec := json.NewDecoder(c)
	var missed uint64
	var last uint64
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	for last < 100_000 {
		var l control.StreamLine
		require.NoError(t, dec.Decode(&l))
		missed += l.Missed
		if l.Event != nil {
			require.Greater(t, l.Event.Seq, last, "in order")
			last = l.Event.Seq
		}
	}
	assert.Positive(t, missed, "the slow client was told what it missed")
}

func TestEventsRefusedWithoutLog(t *testing.T) {
	sock := serveEvents(t, stub{})
	err := control.Stream(context.Background(), sock, control.Request{Op: control.OpEvents},
		func(control.StreamLine) error { return nil })
	require.ErrorContains(t, err, "no event log")
}
