package statuspage

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/bgp"
	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
)

type src struct {
	st  control.Status
	log *eventlog.Log
}

func (s src) Status(context.Context) (control.Status, error) { return s.st, nil }
func (s src) Events() control.EventSource                    { return s.log }

func fixture(now time.Time) src {
	one := 1
	log := eventlog.New(0, func() time.Time { return now })
	log.Append(eventlog.Event{Kind: "vrrp", Subject: "VI_1", From: "BACKUP", To: "MASTER"})
	log.Append(eventlog.Event{Kind: "health", Subject: "TCP 10.16.8.100:80 10.16.8.8:80", From: "UP", To: "DOWN",
		Message: "<script>alert(1)</script>"})
	return src{log: log, st: control.Status{IPVS: true,
		Daemon: control.DaemonInfo{Generation: 3, Hash: "abcdef012345", LastReload: now.Add(-time.Minute), ReloadOK: true},
		Status: director.Status{Services: []director.ServiceStatus{{Key: "TCP 10.16.8.100:80", Scheduler: "wrr", InKernel: true,
			QuorumUp: true, LiveWeight: 1, Quorum: 1, Stats: director.Stats{Connections: 1000, CPS: 25, PPSIn: 12000, BPSIn: 3400000},
			Reals: []director.RealStatus{
				{Addr: "10.16.8.8:80", Forward: "Route", Weight: 1, Health: "down", Since: now.Add(-10 * time.Second),
					LastResult: "connection refused", LastCheck: now.Add(-2 * time.Second)},
				{Addr: "10.16.8.9:80", Forward: "Route", Weight: 1, KernelWeight: &one, Health: "up", Up: true, Active: 7,
					Inactive: 30, Stats: director.Stats{Connections: 1000, CPS: 25}},
			}}}},
		VRRP: []control.VRRPInstance{{Name: "VI_1", Interface: "eth1", VRID: 191, State: "MASTER", BasePriority: 100,
			EffectivePriority: 100, Master: "10.16.8.10", VIPs: []string{"10.16.8.100/32"}}},
	}}
}

func get(t *testing.T, h http.Handler, remote, target string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPageShowsEverything(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	h := Handler(fixture(now), Options{Now: func() time.Time { return now }})
	w := get(t, h, "127.0.0.1:5555", "/")
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`data-rs="10.16.8.8:80" data-health="down"`,
		`data-rs="10.16.8.9:80" data-health="up"`,
		`<span class="badge quorum-up">1/2 up</span>`,
		`connection refused <span class="meta">(2s ago)</span>`,
		`<td class="n">25</td><td class="n">12.0k</td><td class="n">3.4M</td>`,
		`data-instance="VI_1" data-state="MASTER"`,
		`10.16.8.10`,
		`configuration generation 3 (hash <code>abcdef012345</code>)`,
		`data-seq="2" data-kind="health"`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
	} {
		assert.Contains(t, body, want)
	}
	// Newest event first.
	assert.Less(t, strings.Index(body, `data-seq="2"`), strings.Index(body, `data-seq="1"`))
	// Self-contained: no scripts, nothing loaded from elsewhere.
	assert.NotContains(t, body, "<script")
	assert.False(t, regexp.MustCompile(`(src|href)=`).MatchString(body), "no external assets")
	assert.Contains(t, w.Header().Get("Content-Security-Policy"), "default-src 'none'")

	// ?refresh=0 stops the refresh (to read a page that keeps changing).
	assert.NotContains(t, get(t, h, "127.0.0.1:5555", "/?refresh=0").Body.String(), `http-equiv="refresh"`)
}

func TestPageLoopbackOnlyUnlessPublic(t *testing.T) {
	now := time.Now()
	h := Handler(fixture(now), Options{})
	assert.Equal(t, http.StatusForbidden, get(t, h, "192.0.2.7:4000", "/").Code)
	assert.Equal(t, http.StatusOK, get(t, h, "[::1]:4000", "/").Code)
	pub := Handler(fixture(now), Options{Public: true})
	assert.Equal(t, http.StatusOK, get(t, pub, "192.0.2.7:4000", "/").Code)
}

func TestPageShowsBGP(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	s := fixture(now)
	assert.NotContains(t, get(t, Handler(s, Options{Now: func() time.Time { return now }}), "127.0.0.1:5555", "/").Body.String(),
		`<h2>BGP</h2>`, "no bgp block, no section")
	s.st.BGP = &bgp.Status{RouterID: netip.MustParseAddr("10.16.8.10"), LocalAS: 65010, Phase: "run",
		Peers: []bgp.PeerState{{Addr: netip.MustParseAddr("10.16.8.1"), RemoteAS: 65000, State: "established",
			Established: true, Since: now.Add(-time.Hour)}},
		Routes: []bgp.RouteStatus{
			{Prefix: netip.MustParsePrefix("10.16.8.100/32"), Announced: true, Reason: bgp.ReasonHealthy, Since: now.Add(-time.Minute)},
			{Prefix: netip.MustParsePrefix("10.16.8.101/32"), Reason: bgp.ReasonQuorum, Since: now.Add(-time.Second)},
		}}
	body := get(t, Handler(s, Options{Now: func() time.Time { return now }}), "127.0.0.1:5555", "/").Body.String()
	for _, want := range []string{
		`router_id 10.16.8.10, AS 65010, phase run`,
		`data-neighbor="10.16.8.1" data-state="established"`,
		`data-prefix="10.16.8.100/32" data-announced="true"`,
		`data-prefix="10.16.8.101/32" data-announced="false"`,
		`<td>no-quorum</td>`,
	} {
		assert.Contains(t, body, want)
	}
}
