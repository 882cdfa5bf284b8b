//go:build e2e && !vm

package app_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// promtool (Debian package prometheus) lints a live scrape (names, help,
// types, suffixes) and the alert rules.
func TestPromtoolChecksScrapeAndRules(t *testing.T) {
	text := liveScrape(t)
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "promtool check metrics complained")

	out, err = exec.Command("promtool", "check", "rules", "../../deploy/prometheus/alerts.yml").CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	require.Contains(t, string(out), "SUCCESS")

	// The rules' own unit tests: split brain (seen by one director and by
	// the fleet), no false split brain in a healthy pair, stalled checks,
	// quorum, repeated drift.
	cmd = exec.Command("promtool", "test", "rules", "alerts_test.yml")
	cmd.Dir = "../../deploy/prometheus"
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
}
