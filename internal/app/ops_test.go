package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// Liveness an operator alerts on: how old each real server's last check
// is, which configuration runs, and when and how the last reload went.
func TestMetricsLivenessAndReload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan *app.Daemon, 1)
	done := make(chan error, 1)
	next := loaded("10.16.8.100")
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) { return next, nil },
			IPVS: fakeipvs.New(), Health: newFakeHealth(), MetricsListen: "127.0.0.1:0",
			Ready:  func(d *app.Daemon) { ready <- d },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	d := <-ready
	text := scrape(t, d.MetricsAddr())
	m := regexp.MustCompile(`lvsctl_healthcheck_last_check_age_seconds\{rs="10\.16\.8\.8:80",vs="TCP 10\.16\.8\.100:80"\} (\S+)`).
		FindStringSubmatch(text)
	require.NotNil(t, m, text)
	age, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	// fakeHealth's last run is 2026-01-01.
	require.InDelta(t, time.Since(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Seconds(), age, 60)
	require.Contains(t, text, "lvsctl_config_generation 1\n")
	hash := regexp.MustCompile(`lvsctl_config_info\{hash="([0-9a-f]{12})"\} 1`).FindStringSubmatch(text)
	require.NotNil(t, hash, text)

	// A reload of a changed file: generation 2, another hash, success.
	before := time.Now()
	next = loaded("10.16.8.100", "10.16.8.101")
	require.Empty(t, d.Reload(ctx))
	text = scrape(t, d.MetricsAddr())
	require.Contains(t, text, "lvsctl_config_generation 2\n")
	require.NotContains(t, text, `hash="`+hash[1]+`"`)
	require.Contains(t, text, "lvsctl_director_last_reload_success 1\n")
	at := regexp.MustCompile(`\nlvsctl_director_last_reload_timestamp_seconds (\S+)`).FindStringSubmatch(text)
	require.NotNil(t, at, text)
	ts, err := strconv.ParseFloat(at[1], 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, ts, float64(before.UnixNano())/1e9-1)

	st, err := d.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), st.Daemon.Generation)
	require.True(t, st.Daemon.ReloadOK)

	cancel()
	require.NoError(t, <-done)
}
