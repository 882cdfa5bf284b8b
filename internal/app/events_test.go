package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
)

// What happens in the daemon reaches `director events` in order: a health
// transition, a drain, a refused and an applied reload.
func TestDaemonRecordsEvents(t *testing.T) {
	hs := start(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan eventlog.Event, 100)
	go func() {
		_ = control.Stream(ctx, hs.sock, control.Request{Op: control.OpEvents, Follow: true}, func(l control.StreamLine) error {
			if l.Event != nil {
				got <- *l.Event
			}
			return nil
		})
	}()
	next := func() eventlog.Event {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return eventlog.Event{}
		}
	}

	hs.h.events <- healthcheck.Event[director.RealRef]{Key: a8, Old: healthcheck.Up, New: healthcheck.Down, Reason: "connection refused"}
	e := next()
	assert.Equal(t, eventlog.Event{Seq: 1, Time: e.Time, Kind: "health", Subject: "TCP 10.16.8.100:80 10.16.8.8:80",
		From: "UP", To: "DOWN", Message: "connection refused"}, e)
	assert.WithinDuration(t, time.Now(), e.Time, 10*time.Second)

	resp := hs.call(t, control.Request{Op: control.OpDrain, Real: query(t, "10.16.8.101:80", "10.16.8.9:80")})
	require.True(t, resp.OK, resp.Errors)
	e = next()
	assert.Equal(t, uint64(2), e.Seq)
	assert.Equal(t, "drain", e.Kind)
	assert.Equal(t, "TCP 10.16.8.101:80 10.16.8.9:80", e.Subject)
	assert.Equal(t, "drained", e.To)

	hs.mu.Lock()
	hs.next = func() (*config.Desired, error) { return nil, errors.New(`k.conf:3:5: unknown keyword "lb_algoo"`) }
	hs.mu.Unlock()
	hs.call(t, control.Request{Op: control.OpReload})
	e = next()
	assert.Equal(t, "reload", e.Kind)
	assert.Equal(t, "refused", e.To)
	assert.Contains(t, e.Message, "lb_algoo")

	hs.mu.Lock()
	hs.next = func() (*config.Desired, error) { return loaded("10.16.8.101"), nil }
	hs.mu.Unlock()
	hs.call(t, control.Request{Op: control.OpReload})
	e = next()
	assert.Equal(t, uint64(4), e.Seq)
	assert.Equal(t, "applied", e.To)
	assert.Contains(t, e.Message, "generation 2")
}
