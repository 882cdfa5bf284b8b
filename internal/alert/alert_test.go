package alert_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/alert"
	"github.com/lvsctl/lvsctl/internal/alert/alerttest"
	"github.com/lvsctl/lvsctl/internal/clock/clocktest"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// silentCfg mails to a server that accepts connections (the kernel does)
// and never answers, with a timeout longer than any test.
func silentCfg(t *testing.T) alert.Config {
	t.Helper()
	silent := listen(t)
	t.Cleanup(func() { _ = silent.Close() })
	c := cfg(silent.Addr().String())
	c.Timeout = time.Hour
	return c
}

func cfg(server string) alert.Config {
	return alert.Config{Server: server, HeloName: "lb1.example", From: "root@lb1.example",
		To: []string{"ops@example.com", "noc@example.com"}, Timeout: 2 * time.Second}
}

func run(t *testing.T, s *alert.Sender) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestSenderDelivers: one mail per message, to every recipient, with
// keepalived's headers; the date comes from the injected clock.
func TestSenderDelivers(t *testing.T) {
	srv := alerttest.Serve(listen(t))
	t.Cleanup(func() { _ = srv.Close() })
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 44, 8, 0, time.UTC))
	s, err := alert.New(cfg(srv.Addr()), alert.Options{Clock: clk})
	require.NoError(t, err)
	run(t, s)
	m, ok := alert.VRRPInstance("lb1", "VI_1", alert.Master)
	require.True(t, ok)
	require.True(t, s.Enqueue(m))
	got := srv.Wait(1, 5*time.Second)
	require.Len(t, got, 1)
	t.Logf("received:\n%s", got[0].Data)
	assert.Equal(t, "lb1.example", got[0].Helo)
	assert.Equal(t, "root@lb1.example", got[0].From)
	assert.Equal(t, []string{"ops@example.com", "noc@example.com"}, got[0].To)
	assert.Equal(t, "[lb1] VRRP Instance VI_1 - Entering MASTER state", got[0].Header("Subject"))
	assert.Equal(t, "Sun, 01 Mar 2026 09:44:08 +0000", got[0].Header("Date"))
	assert.Equal(t, "ops@example.com, noc@example.com", got[0].Header("To"))
	assert.Equal(t, "=> VRRP Instance is now owning VRRP VIPs <=\r\n", got[0].Body())
	require.Eventually(t, func() bool { return s.Counters() == alert.Counters{Sent: 1} }, 5*time.Second, 10*time.Millisecond)
}

// TestSenderFailures: a refused recipient, a server that never answers
// (timeout) and one that closes at once are failures, counted and logged;
// the sender goes on with the next mail.
func TestSenderFailures(t *testing.T) {
	rejecting := alerttest.Serve(listen(t))
	rejecting.SetReject("550 5.1.1 no such user")
	t.Cleanup(func() { _ = rejecting.Close() })

	silent := listen(t) // accepts (the kernel does) and never says 220
	t.Cleanup(func() { _ = silent.Close() })

	closing := listen(t)
	t.Cleanup(func() { _ = closing.Close() })
	go func() {
		for {
			c, err := closing.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	for name, tc := range map[string]struct {
		addr string
		want string
	}{
		"5xx":    {rejecting.Addr(), "550"},
		"silent": {silent.Addr().String(), "timeout"},
		"closes": {closing.Addr().String(), "greeting"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs syncBuf
			c := cfg(tc.addr)
			c.Timeout = 300 * time.Millisecond
			s, err := alert.New(c, alert.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			run(t, s)
			start := time.Now()
			require.True(t, s.Enqueue(alert.Message{Subject: "x", Body: "y"}))
			require.Eventually(t, func() bool { return s.Counters().Failed == 1 }, 5*time.Second, 10*time.Millisecond)
			assert.Less(t, time.Since(start), 3*time.Second, "bounded by the timeout")
			assert.Equal(t, uint64(0), s.Counters().Sent)
			assert.Contains(t, logs.String(), "e-mail alert not sent")
			assert.Contains(t, logs.String(), tc.want)
			t.Log(strings.TrimSpace(logs.String()))
		})
	}
}

// TestEnqueueNeverBlocks: with the sender stuck on a silent server, a
// full queue drops (and counts) instead of blocking the caller.
func TestEnqueueNeverBlocks(t *testing.T) {
	c := silentCfg(t)
	s, err := alert.New(c, alert.Options{Queue: 2})
	require.NoError(t, err)
	// Not running: nothing leaves the queue.
	start := time.Now()
	for i := 0; i < 5; i++ {
		s.Enqueue(alert.Message{Subject: "x"})
	}
	assert.Less(t, time.Since(start), time.Second)
	assert.Equal(t, alert.Counters{Dropped: 3}, s.Counters())
	// Stopping with mails queued counts them as dropped too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, s.Run(ctx))
	assert.Equal(t, uint64(5), s.Counters().Dropped+s.Counters().Failed)
}

// TestFlush: Flush returns once the queued mails are delivered, and at
// its context's end when the server does not answer.
func TestFlush(t *testing.T) {
	srv := alerttest.Serve(listen(t))
	t.Cleanup(func() { _ = srv.Close() })
	s, err := alert.New(cfg(srv.Addr()), alert.Options{})
	require.NoError(t, err)
	run(t, s)
	for range 3 {
		require.True(t, s.Enqueue(alert.Message{Subject: "x", Body: "y"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Flush(ctx))
	assert.Equal(t, alert.Counters{Sent: 3}, s.Counters())

	c := silentCfg(t)
	s, err = alert.New(c, alert.Options{})
	require.NoError(t, err)
	run(t, s)
	require.True(t, s.Enqueue(alert.Message{Subject: "x"}))
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.Flush(ctx), context.DeadlineExceeded)
}

// TestStartStop: Stop delivers what is queued within its flush time, and
// returns once the flush time is over when the server does not answer.
func TestStartStop(t *testing.T) {
	srv := alerttest.Serve(listen(t))
	t.Cleanup(func() { _ = srv.Close() })
	s, err := alert.New(cfg(srv.Addr()), alert.Options{})
	require.NoError(t, err)
	s.Start()
	require.True(t, s.Enqueue(alert.Message{Subject: "x", Body: "y"}))
	require.NoError(t, s.Stop(5*time.Second))
	assert.Equal(t, alert.Counters{Sent: 1}, s.Counters())

	c := silentCfg(t)
	s, err = alert.New(c, alert.Options{})
	require.NoError(t, err)
	s.Start()
	require.True(t, s.Enqueue(alert.Message{Subject: "x"}))
	start := time.Now()
	assert.ErrorIs(t, s.Stop(200*time.Millisecond), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "Stop does not wait for the silent server")
}

func TestConfigValidate(t *testing.T) {
	good := cfg("127.0.0.1:25")
	require.NoError(t, good.Validate())
	for name, mut := range map[string]func(*alert.Config){
		"no port":      func(c *alert.Config) { c.Server = "127.0.0.1" },
		"no recipient": func(c *alert.Config) { c.To = nil },
		"no timeout":   func(c *alert.Config) { c.Timeout = 0 },
		"crlf":         func(c *alert.Config) { c.To = []string{"a@b\r\nRCPT TO:<x@y>"} },
		"no helo":      func(c *alert.Config) { c.HeloName = "" },
	} {
		c := cfg("127.0.0.1:25")
		mut(&c)
		assert.ErrorIs(t, c.Validate(), alert.ErrInvalidConfig, name)
	}
}

// TestFormats pins keepalived's subjects and bodies (core/smtp.c,
// vrrp/vrrp_notify.c, check/ipwrapper.c).
func TestFormats(t *testing.T) {
	rs := alert.Endpoint{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80, Proto: "tcp"}
	vs := alert.Endpoint{Addr: netip.MustParseAddr("10.16.8.100"), Port: 80, Proto: "tcp"}
	m := alert.RealServer("lb1", rs, vs, false, "")
	assert.Equal(t, "[lb1] Realserver [10.16.8.8]:tcp:80 of virtual server [10.16.8.100]:tcp:80 - DOWN", m.Subject)
	assert.Equal(t, "=> CHECK failed on service <=", m.Body)
	m = alert.RealServer("lb1", rs, alert.Endpoint{FWMark: 5}, true, "TCP_CHECK 10.16.8.8:80 passed")
	assert.Equal(t, "[lb1] Realserver [10.16.8.8]:tcp:80 of virtual server FWM 5 - UP", m.Subject)
	assert.Equal(t, "=> TCP_CHECK 10.16.8.8:80 passed <=", m.Body)
	m, ok := alert.VRRPGroup("lb1", "G1", alert.Fault)
	require.True(t, ok)
	assert.Equal(t, "[lb1] VRRP Group G1 - Entering FAULT state", m.Subject)
	assert.Equal(t, "=> All VRRP group instances are now in FAULT state <=", m.Body)
	_, ok = alert.VRRPInstance("lb1", "VI_1", "INIT")
	assert.False(t, ok)
	m = alert.VirtualServer("lb1", vs, true, alert.QuorumBody(true, false, 3, 1, 4, 5))
	assert.Equal(t, "[lb1] Virtualserver [10.16.8.100]:tcp:80 - UP", m.Subject)
	assert.Equal(t, "=> Gained quorum 3+1=4 <= 5 <=", m.Body)
	assert.Equal(t, "=> Lost quorum 3+1=2 <= 1 <=", alert.QuorumBody(false, false, 3, 1, 2, 1))
	assert.Equal(t, "=> Starting with quorum down 3+1=4 <= 0 <=", alert.QuorumBody(false, true, 3, 1, 4, 0))
	assert.Equal(t, "=> Starting with quorum up 1+0=1 <= 2 <=", alert.QuorumBody(true, true, 1, 0, 1, 2))
	m = alert.RealServer("lb1", rs, vs, false, alert.Removing)
	assert.Equal(t, "=> Removing <=", m.Body)
	// A subject cannot smuggle a header in.
	r := alert.Render(cfg("h:25"), alert.Message{Subject: "a\r\nBcc: x@y", Body: "b"}, time.Unix(0, 0).UTC())
	assert.NotContains(t, string(r), "\r\nBcc:")
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMailer: nothing is sent before a configuration asks for mail; once it
// does, mails go; a configuration without mail settings stops them (the
// sender stays); a later one resumes them; Stop delivers what is queued.
func TestMailer(t *testing.T) {
	srv := alerttest.Serve(listen(t))
	t.Cleanup(func() { _ = srv.Close() })
	m := alert.NewMailer(alert.Options{})
	m.Send(alert.Message{Subject: "before"})
	_, ok := m.Counters()
	assert.False(t, ok, "no sender before a configuration asks for mail")
	c := cfg(srv.Addr())
	require.NoError(t, m.Apply(&c))
	m.Send(alert.Message{Subject: "on"})
	require.Len(t, srv.Wait(1, 5*time.Second), 1)
	require.NoError(t, m.Apply(nil))
	m.Send(alert.Message{Subject: "off"})
	require.NoError(t, m.Apply(&c))
	m.Send(alert.Message{Subject: "on again"})
	require.NoError(t, m.Stop(5*time.Second))
	var subjects []string
	for _, got := range srv.Wait(2, 5*time.Second) {
		subjects = append(subjects, got.Header("Subject"))
	}
	assert.Equal(t, []string{"on", "on again"}, subjects)
	n, ok := m.Counters()
	assert.False(t, ok, "stopped")
	assert.Zero(t, n)
	m.Send(alert.Message{Subject: "after stop"}) // dropped, no panic
}
