package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/config"
)

const seedDR = "../../internal/config/testdata/seed/lvs-dr-ka67.conf"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"lvsctl"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigCheckOK(t *testing.T) {
	code, out, errs := runCLI(t, "config", "check", "-f", seedDR)
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "2 vrrp instances, 2 virtual servers, 4 real servers, 4 checkers\n", out)
	assert.Contains(t, errs, seedDR+":59:13: warning: nb_get_retry is deprecated")
	assert.NotContains(t, errs, "notification_email", "e-mail alerts are implemented (docs/alerts.md)")
}

func TestConfigCheckErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	src := "virtual_server 192.0.2.1 80 {\n    lb_kind DR\n    real_server 192.0.2.2 8080 {\n    }\n}\nvrrp_instance X {\n    interface lo\n    virtual_router_id 1\n    priority 300\n}\n"
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	code, out, errs := runCLI(t, "config", "check", "-f", path)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	var errLines []string
	for _, l := range lines {
		if !strings.Contains(l, ": warning: ") {
			errLines = append(errLines, l)
		}
	}
	assert.Equal(t, []string{
		path + `:1:1: virtual_server 192.0.2.1:80 has no protocol: add "protocol TCP" (or UDP/SCTP); keepalived would silently default to UDP`,
		path + `:3:5: real_server 192.0.2.2:8080: with lb_kind DR the real server port must equal the virtual server port 80 (the kernel cannot change ports without NAT); keepalived would silently use port 80`,
		path + `:9:14: priority 300 out of range 1..255`,
	}, errLines)
}

func TestConfigSeedTypo(t *testing.T) {
	f := "../../internal/config/testdata/seed/typo-notify-seedlines.conf"
	code, _, errs := runCLI(t, "config", "check", "-f", f)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, f+`:504:5: unknown keyword "notify_"`)
}

func TestConfigFileFromEnv(t *testing.T) {
	t.Setenv("LVSCTL_CONFIG", seedDR)
	code, out, errs := runCLI(t, "config", "check")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "2 vrrp instances")
}

func TestConfigDefaultPath(t *testing.T) {
	t.Setenv("LVSCTL_CONFIG", "")
	os.Unsetenv("LVSCTL_CONFIG")
	code, _, errs := runCLI(t, "config", "check")
	if _, err := os.Stat(defaultConfigPath); err == nil {
		t.Fatalf("test host has %s; this test expects it absent", defaultConfigPath)
	}
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "/etc/keepalived/keepalived.conf")
}

func TestConfigDumpJSON(t *testing.T) {
	code, out, errs := runCLI(t, "config", "dump", "-f", seedDR, "-o", "json")
	require.Equal(t, 0, code, errs)
	var back config.Config
	require.NoError(t, json.Unmarshal([]byte(out), &back))
	want, _, err := config.LoadWith(seedDR, config.Options{})
	require.NoError(t, err)
	assert.Equal(t, want, &back)
}

func TestConfigDumpText(t *testing.T) {
	code, out, errs := runCLI(t, "config", "dump", "-f", seedDR)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "virtual_server 10.16.8.100 80 {\n    protocol TCP\n    delay_loop 3\n    lb_algo rr\n    lb_kind DR\n")
	assert.Contains(t, out, "            retry 3\n            delay_before_retry 1\n")
	// The text dump is a configuration lvsctl loads again.
	path := filepath.Join(t.TempDir(), "dump.conf")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o600))
	code, sum, errs := runCLI(t, "config", "check", "-f", path)
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "2 vrrp instances, 2 virtual servers, 4 real servers, 4 checkers\n", sum)
}

func TestConfigDumpBadFormat(t *testing.T) {
	code, _, errs := runCLI(t, "config", "dump", "-f", seedDR, "-o", "yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `unknown output format "yaml"`)
}
