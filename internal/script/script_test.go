package script

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseShellRule(t *testing.T) {
	c, err := Parse("/bin/echo 'a b' c")
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/echo", "a b", "c"}, c.Argv)
	assert.False(t, c.Shell)

	c, err = Parse("echo a | cat")
	require.NoError(t, err)
	assert.True(t, c.Shell)
	assert.Equal(t, []string{"/bin/sh", "-c", "echo a | cat"}, c.Argv)
	assert.Equal(t, []string{"/bin/sh", "-c", "echo a | cat 'x'\\''y'"}, c.With("x'y"))

	c, err = ParseNoShell("echo a | cat")
	require.NoError(t, err)
	assert.False(t, c.Shell, "MISC_CHECK lines never use a shell")
	assert.Equal(t, []string{"echo", "a", "|", "cat"}, c.Argv)

	_, err = Parse("  ")
	assert.Error(t, err)
	_, err = ParseNoShell("'open")
	assert.Error(t, err)
}

func TestRunExitCodes(t *testing.T) {
	var r Runner
	ctx := context.Background()
	c, err := Parse("/bin/sh -c 'exit $0' 5")
	require.NoError(t, err)
	err = r.Run(ctx, c, time.Second)
	require.Error(t, err)
	assert.Equal(t, 5, ExitCode(err))
	assert.False(t, errors.Is(err, ErrTimeout))

	ok, err := Parse("/bin/true")
	require.NoError(t, err)
	assert.NoError(t, r.Run(ctx, ok, time.Second))
	assert.Equal(t, 0, ExitCode(nil))
}

func TestRunExtraArguments(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	c, err := Parse(`/bin/sh -c 'echo "$@" > ` + out + `' x`)
	require.NoError(t, err)
	require.NoError(t, Runner{}.Run(context.Background(), c, time.Second, "INSTANCE", "VI 1"))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "INSTANCE VI 1\n", string(b))
}

// A script that ignores SIGTERM and leaves a child behind is killed with
// its whole group after the grace period.
func TestRunTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c, err := Parse(`/bin/sh -c 'trap "" TERM; sleep 60 & echo $! > ` + pidFile + `; wait'`)
	require.NoError(t, err)
	r := Runner{Grace: 100 * time.Millisecond}
	start := time.Now()
	err = r.Run(context.Background(), c, 200*time.Millisecond)
	took := time.Since(start)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, -1, ExitCode(err))
	assert.Less(t, took, 5*time.Second)
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return syscall.Kill(pid, 0) != nil || isZombie(pid)
	}, 2*time.Second, 10*time.Millisecond, "the script's child was left running")
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}

func TestRunCustomStart(t *testing.T) {
	var started []string
	r := Runner{Start: func(c *exec.Cmd) error { started = append(started, c.Args...); return c.Start() }}
	c, err := Parse("/bin/true a")
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background(), c, time.Second, "b"))
	assert.Equal(t, []string{"/bin/true", "a", "b"}, started)
	bad := Runner{Start: func(*exec.Cmd) error { return errors.New("no namespace") }}
	assert.ErrorContains(t, bad.Run(context.Background(), c, time.Second), "no namespace")
}

func TestCheck(t *testing.T) {
	c, err := Parse("/nonexistent/script.sh")
	require.NoError(t, err)
	assert.Error(t, c.Check())
	c, err = Parse("true")
	require.NoError(t, err)
	assert.NoError(t, c.Check())
}
