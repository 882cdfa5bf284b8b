package app_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/alert"
	"github.com/lvsctl/lvsctl/internal/alert/alerttest"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

// runWithAlerts runs the daemon on the seed-like table with plan as its
// alert plan; reload swaps the plan.
func runWithAlerts(t *testing.T, plan func() config.Alerts) (*fakeHealth, chan struct{}, *syncBuffer) {
	t.Helper()
	h, reload, logs, _ := runWithDesired(t, func() *config.Desired {
		d := loaded("10.16.8.100")
		d.Alerts = plan()
		return d
	})
	return h, reload, logs
}

// runWithDesired runs the daemon on what load returns (at start and at
// each reload); stop ends it and returns Run's error.
func runWithDesired(t *testing.T, load func() *config.Desired) (*fakeHealth, chan struct{}, *syncBuffer, func() error) {
	t.Helper()
	h, logs, reload := newFakeHealth(), &syncBuffer{}, make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) { return load(), nil },
			IPVS: fakeipvs.New(), Health: h, Reload: reload,
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return h, reload, logs, stop
}

func mailTo(srv *alerttest.Server) *alert.Config {
	return &alert.Config{Server: srv.Addr(), HeloName: "lb1", From: "root@lb1", To: []string{"ops@example.com"}, Timeout: 5 * time.Second}
}

// TestHealthAlerts: a real server whose smtp_alert is on is mailed on
// down and up, with keepalived's subject; one whose smtp_alert is off is
// not (the mail count shows it).
func TestHealthAlerts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := alerttest.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	a9 := director.RealRef{Service: a8.Service, Real: real("10.16.8.9:80")}
	h, _, logs := runWithAlerts(t, func() config.Alerts {
		return config.Alerts{Mail: mailTo(srv), RouterID: "lb1", RealServers: map[director.RealRef]bool{a8: true}}
	})
	send := func(k director.RealRef, up bool, reason string) {
		ev := healthcheck.Event[director.RealRef]{Key: k, Old: healthcheck.Up, New: healthcheck.Down, Reason: reason, Time: time.Now()}
		if up {
			ev.Old, ev.New = healthcheck.Down, healthcheck.Up
		}
		h.events <- ev
	}
	send(a9, false, "TCP_CHECK 10.16.8.9:80: connect: connection refused") // smtp_alert off: no mail
	send(a8, false, "TCP_CHECK 10.16.8.8:80: connect: connection refused")
	send(a8, true, "TCP_CHECK 10.16.8.8:80 passed")
	mails := srv.Wait(2, 10*time.Second)
	require.Len(t, mails, 2, logs.String())
	for _, m := range mails {
		t.Logf("received: %s | %s", m.Header("Subject"), m.Body())
	}
	assert.Equal(t, "[lb1] Realserver [10.16.8.8]:tcp:80 of virtual server [10.16.8.100]:tcp:80 - DOWN", mails[0].Header("Subject"))
	assert.Equal(t, "=> TCP_CHECK 10.16.8.8:80: connect: connection refused <=\r\n", mails[0].Body())
	assert.Equal(t, "[lb1] Realserver [10.16.8.8]:tcp:80 of virtual server [10.16.8.100]:tcp:80 - UP", mails[1].Header("Subject"))
	// Nothing more arrives: the .9 transition was not mailed.
	assert.Len(t, srv.Wait(3, 300*time.Millisecond), 2)
}

// TestAlertsReload: a file without smtp_server mails nothing; a reload
// that adds it mails from then on.
func TestAlertsReload(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := alerttest.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	on := make(chan bool, 1)
	on <- false
	h, reload, logs := runWithAlerts(t, func() config.Alerts {
		v := <-on
		on <- v
		a := config.Alerts{RouterID: "lb1", RealServers: map[director.RealRef]bool{a8: true}}
		if v {
			a.Mail = mailTo(srv)
		}
		return a
	})
	h.events <- healthcheck.Event[director.RealRef]{Key: a8, Old: healthcheck.Up, New: healthcheck.Down, Reason: "x"}
	assert.Empty(t, srv.Wait(1, 300*time.Millisecond), "no smtp_server: no mail")
	<-on
	on <- true
	reload <- struct{}{}
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "reload done") }, 5*time.Second, 20*time.Millisecond)
	h.events <- healthcheck.Event[director.RealRef]{Key: a8, Old: healthcheck.Down, New: healthcheck.Up, Reason: "y"}
	mails := srv.Wait(1, 10*time.Second)
	require.Len(t, mails, 1, logs.String())
	assert.Contains(t, mails[0].Header("Subject"), "- UP")
}

// TestQuorumAndRemovalAlerts: a virtual server whose smtp_alert is on is
// mailed when it starts with its quorum, loses and regains it; a reload
// that drops a real server while up mails "Removing"; an omega stop mails
// "Shutting down" before the daemon exits. Subjects and bodies are
// keepalived 2.2.7's (check/ipwrapper.c do_vs_notifies, clear_service_rs).
func TestQuorumAndRemovalAlerts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := alerttest.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	a9 := director.RealRef{Service: a8.Service, Real: real("10.16.8.9:80")}
	var mu sync.Mutex
	dropA9 := false
	h, reload, logs, stop := runWithDesired(t, func() *config.Desired {
		mu.Lock()
		defer mu.Unlock()
		d := loaded("10.16.8.100")
		d.Director.Services[0].Omega = true
		if dropA9 {
			d.Director.Services[0].RealServers = d.Director.Services[0].RealServers[:1]
			d.Checks = d.Checks[:1]
		}
		d.Alerts = config.Alerts{Mail: mailTo(srv), RouterID: "lb1",
			Services: map[director.ServiceKey]bool{a8.Service: true}, RealServers: map[director.RealRef]bool{a8: true, a9: true}}
		return d
	})
	send := func(k director.RealRef, up bool) {
		ev := healthcheck.Event[director.RealRef]{Key: k, Old: healthcheck.Up, New: healthcheck.Down, Reason: "r", Time: time.Now()}
		if up {
			ev.Old, ev.New = healthcheck.Down, healthcheck.Up
		}
		h.events <- ev
	}
	const vsUp, vsDown = "[lb1] Virtualserver [10.16.8.100]:tcp:80 - UP", "[lb1] Virtualserver [10.16.8.100]:tcp:80 - DOWN"
	const rs8, rs9 = "[lb1] Realserver [10.16.8.8]:tcp:80 of virtual server [10.16.8.100]:tcp:80 - ", "[lb1] Realserver [10.16.8.9]:tcp:80 of virtual server [10.16.8.100]:tcp:80 - "
	got := func(n int) []string {
		t.Helper()
		mails := srv.Wait(n, 10*time.Second)
		require.Len(t, mails, n, logs.String())
		var out []string
		for _, m := range mails {
			out = append(out, m.Header("Subject")+" | "+strings.TrimSpace(m.Body()))
		}
		return out
	}
	assert.Equal(t, []string{vsUp + " | => Starting with quorum up 1+0=1 <= 2 <="}, got(1))
	send(a8, false)
	send(a9, false)
	all := got(4)
	assert.ElementsMatch(t, []string{rs8 + "DOWN | => r <=", rs9 + "DOWN | => r <=", vsDown + " | => Lost quorum 1+0=1 <= 0 <="}, all[1:])
	send(a9, true)
	all = got(6)
	assert.ElementsMatch(t, []string{rs9 + "UP | => r <=", vsUp + " | => Gained quorum 1+0=1 <= 1 <="}, all[4:])

	mu.Lock()
	dropA9 = true
	mu.Unlock()
	reload <- struct{}{}
	all = got(8)
	assert.ElementsMatch(t, []string{rs9 + "DOWN | => Removing <=", vsDown + " | => Lost quorum 1+0=1 <= 0 <="}, all[6:])

	require.NoError(t, stop())
	all = got(9)
	assert.Equal(t, vsDown+" | => Shutting down <=", all[8], "delivered before the daemon exited")
}
