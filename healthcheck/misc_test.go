package healthcheck

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/script"
)

func miscSpec(cmd string, dynamic bool) *Spec {
	return &Spec{Kind: MiscCheck, DelayLoop: 5 * time.Second, DelayBeforeRetry: time.Second,
		Misc: &MiscSpec{Command: cmd, Timeout: 5 * time.Second, Dynamic: dynamic}}
}

func TestMiscExitCodes(t *testing.T) {
	// none marks a row whose result carries no weight (HasWeight false).
	const none = -1
	tests := []struct {
		cmd     string
		dynamic bool
		ok      bool
		weight  int // none: no dynamic weight
		reason  string
	}{
		{"/bin/sh -c 'exit 0'", false, true, none, "passed"},
		{"/bin/sh -c 'exit 1'", false, false, none, "exited with status 1"},
		{"/bin/sh -c 'exit 7'", false, false, none, "exited with status 7"},
		{"/bin/sh -c 'exit 1'", true, false, none, "exited with status 1"},
		{"/bin/sh -c 'exit 0'", true, true, none, "passed"},
		{"/bin/sh -c 'exit 2'", true, true, 0, "passed"},
		{"/bin/sh -c 'exit 12'", true, true, 10, "passed"},
		{"/bin/sh -c 'exit 255'", true, true, 253, "passed"},
		{"/nonexistent/check", false, false, none, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd+strconv.FormatBool(tc.dynamic), func(t *testing.T) {
			r := probeOnce(miscSpec(tc.cmd, tc.dynamic), 0)
			assert.Equal(t, tc.ok, r.OK, r.Reason)
			assert.Equal(t, tc.weight != none, r.HasWeight)
			if tc.weight != none {
				assert.Equal(t, tc.weight, r.Weight)
			}
			assert.Contains(t, r.Reason, tc.reason)
		})
	}
}

func TestMiscTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The script starts a grandchild that ignores nothing and sleeps; both
	// must be gone after the timeout.
	cmd := "/bin/sh -c 'sleep 60 & echo $! > " + pidFile + "; wait'"
	s := miscSpec(cmd, false)
	s.Misc.Timeout = 200 * time.Millisecond
	r := probeOnce(s, 0)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "timed out")
	raw, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		err := syscall.Kill(pid, 0)
		return errors.Is(err, syscall.ESRCH) || isZombie(pid)
	}, 10*time.Second, 10*time.Millisecond, "grandchild %d survived the timeout", pid)
}

// isZombie: a killed grandchild re-parented to a subreaper may linger as a
// zombie until reaped; it is dead all the same.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

func TestMiscTermIgnoredGetsKilled(t *testing.T) {
	s := miscSpec("/bin/sh -c 'trap \"\" TERM; sleep 60'", false)
	s.Misc.Timeout = 100 * time.Millisecond
	r := probeOnce(s, 0)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "timed out")
}

// TestMiscRunsAsUser: MISC_CHECK runs as its configured user (keepalived's
// misc_user_handler / set_script_env), not as root; the check can tell
// (exit 0 only when id -u is the user's).
func TestMiscRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to switch users: run the tests as root (make test does)")
	}
	s := miscSpec(`/bin/sh -c 'test "$(id -u)" = 65534'`, false)
	r := probeOnce(s, 0)
	assert.False(t, r.OK, "as root the check fails: %s", r.Reason)
	s.Misc.As = script.As{Set: true, User: "nobody", UID: 65534, GID: 65534}
	r = probeOnce(s, 0)
	assert.True(t, r.OK, r.Reason)
}
