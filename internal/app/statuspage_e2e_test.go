//go:build e2e && !vm

package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

// chromium runs headless Chromium (Debian package chromium) with a
// throw-away profile and returns its stdout.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--no-first-run", "--user-data-dir=" + t.TempDir()}
	out, err := exec.CommandContext(ctx, "chromium", append(base, args...)...).Output()
	require.NoError(t, err, "chromium %v", args)
	return string(out)
}

// screenshotDir is where the screenshots go: LVSCTL_SCREENSHOT_DIR, or the
// repository's bin/ (make screenshot; the README's copy is in docs/img).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("LVSCTL_SCREENSHOT_DIR"); d != "" {
		return d
	}
	d, err := filepath.Abs("../../bin")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(d, 0o755))
	return d
}

// The status page of a running director (fake IPVS with traffic, the
// seed's VRRP instance, checks driven by the test), rendered by headless
// Chromium: a real server's state change shows in the rendered DOM, and
// screenshots (desktop and phone) are written.
func TestStatusPageInChromium(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := fakeipvs.New()
	h := newFakeHealth()
	node := newFakeVRRP()
	l := loaded("10.16.8.100", "10.16.8.101")
	l.VRRP = seedVRRP()
	ready := make(chan *app.Daemon, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) { return l, nil },
			IPVS: f, Health: h, NewVRRP: node.new, MetricsListen: "127.0.0.1:0",
			Ready:  func(d *app.Daemon) { ready <- d },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	d := <-ready
	f.Mutate(func(tb director.Table) {
		for _, vip := range []string{"10.16.8.100:80", "10.16.8.101:80"} {
			s := tb[key(vip)]
			s.Service.Stats = director.Stats{Connections: 182734, CPS: 412, PPSIn: 5230, BPSIn: 3120000}
			for i, rs := range []string{"10.16.8.8:80", "10.16.8.9:80"} {
				dst := s.Dests[real(rs)]
				dst.ActiveConns, dst.InactiveConns = uint32(120+i*7), uint32(900+i*40)
				dst.Stats = director.Stats{Connections: uint64(91000 + i*700), CPS: uint64(206 - i*3), PPSIn: uint64(2600 + i*30),
					BPSIn: uint64(1550000 + i*20000)}
				s.Dests[real(rs)] = dst
			}
		}
	})
	url := "http://" + d.MetricsAddr() + "/?refresh=0"

	dom := chromium(t, "--dump-dom", url)
	assert.Contains(t, dom, `data-rs="10.16.8.8:80" data-health="up"`)
	assert.Contains(t, dom, `data-instance="VI_1" data-state="MASTER"`)

	// 10.16.8.8 fails its check: the next rendering shows it down, in the
	// table and as the newest event.
	h.events <- healthcheck.Event[director.RealRef]{Key: a8, Old: healthcheck.Up, New: healthcheck.Down,
		Reason: "HTTP GET /: connection refused"}
	require.Eventually(t, func() bool {
		st, err := d.Status(ctx)
		return err == nil && !st.Services[0].Reals[0].Up
	}, 10*time.Second, 10*time.Millisecond)
	dom = chromium(t, "--dump-dom", url)
	assert.Contains(t, dom, `data-rs="10.16.8.8:80" data-health="down"`)
	assert.Contains(t, dom, `data-rs="10.16.8.9:80" data-health="up"`)
	first := strings.Index(dom, `class="event"`)
	require.Positive(t, first, dom)
	assert.Contains(t, dom[first:min(first+400, len(dom))], "10.16.8.8:80")

	dir := screenshotDir(t)
	for name, size := range map[string]string{"status-page.png": "1280,760", "status-page-phone.png": "412,915"} {
		path := filepath.Join(dir, name)
		_ = os.Remove(path)
		chromium(t, "--screenshot="+path, "--window-size="+size, url)
		fi, err := os.Stat(path)
		require.NoError(t, err, "screenshot %s", path)
		require.Greater(t, fi.Size(), int64(10_000), "screenshot %s looks empty", path)
		t.Logf("screenshot: %s", path)
	}
	cancel()
	require.NoError(t, <-done)
}
