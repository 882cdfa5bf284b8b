package memlock

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// vmLocked reads VmLck (KiB) from /proc/self/status.
func vmLocked(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmLck:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			require.NoError(t, err)
			return kb
		}
	}
	t.Fatal("no VmLck in /proc/self/status")
	return 0
}

// Lock locks the binary's pages: in a child (the test binary again, so
// that this process stays unlocked), VmLck goes from 0 to at least the
// size of the code it runs. Needs root (CAP_IPC_LOCK), as make test runs.
func TestLock(t *testing.T) {
	if os.Getenv("MEMLOCK_CHILD") == "1" {
		before := vmLocked(t)
		require.NoError(t, Lock())
		after := vmLocked(t)
		require.Zero(t, before)
		require.Greater(t, after, 1024, "VmLck %d kB after Lock", after)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLock$", "-test.v")
	cmd.Env = append(os.Environ(), "MEMLOCK_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestLock")
}
