//go:build !vm

package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

// liveScrape runs a director (fake IPVS, fake checks, fake VRRP with the
// seed's VI_1), reloads it once so the reload series exist, and returns
// one scrape of its /metrics.
func liveScrape(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan *app.Daemon, 1)
	done := make(chan error, 1)
	l := loaded("10.16.8.100")
	l.VRRP = seedVRRP()
	node := newFakeVRRP()
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) { return l, nil },
			IPVS: fakeipvs.New(), Health: newFakeHealth(), NewVRRP: node.new, MetricsListen: "127.0.0.1:0",
			Ready:  func(d *app.Daemon) { ready <- d },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	d := <-ready
	require.Empty(t, d.Reload(ctx))
	text := scrape(t, d.MetricsAddr())
	cancel()
	require.NoError(t, <-done)
	return text
}

var metricName = regexp.MustCompile(`\blvsctl_[a-z0-9_]+`)

// queried returns every lvsctl_ metric name in s.
func queried(s string) []string {
	seen := map[string]bool{}
	for _, m := range metricName.FindAllString(s, -1) {
		seen[m] = true
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// dashboardExprs collects the PromQL of every panel, template variable
// and annotation of the Grafana dashboard.
func dashboardExprs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/lvsctl.json")
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	var all string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q has an empty query", p.Title)
			all += tg.Expr + "\n"
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok {
			all += q + "\n"
		}
	}
	for _, a := range d.Annotations.List {
		all += a.Expr + "\n"
	}
	return all
}

// Every metric the dashboard and the alert rules query exists in a live
// scrape: a renamed metric breaks this test, not a dashboard at 3 a.m.
func TestDashboardAndAlertsQueryLiveMetrics(t *testing.T) {
	text := liveScrape(t)
	exposed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^(lvsctl_[a-z0-9_]+)[{ ]`).FindAllStringSubmatch(text, -1) {
		exposed[m[1]] = true
	}
	rules, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	require.NoError(t, err)
	for name, src := range map[string]string{"dashboard": dashboardExprs(t), "alerts": string(rules)} {
		names := queried(src)
		require.NotEmpty(t, names, name)
		for _, m := range names {
			require.True(t, exposed[m], "%s queries %s, which a running director does not expose:\n%s", name, m, text)
		}
	}
}
