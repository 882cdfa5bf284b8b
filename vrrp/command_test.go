package vrrp

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	for in, want := range map[string]command{
		`/usr/local/keepalived/etc/keepalived/notify.sh master`: {argv: []string{"/usr/local/keepalived/etc/keepalived/notify.sh", "master"}},
		`killall -0 nginx`:                 {argv: []string{"killall", "-0", "nginx"}},
		`  /bin/x  'a b'  "c \"d\""  e\ f`: {argv: []string{"/bin/x", "a b", `c "d"`, "e f"}},
		`pidof nginx || exit 1`:            {shell: true, argv: []string{"/bin/sh", "-c", "pidof nginx || exit 1"}},
		`echo $HOSTNAME > /tmp/x`:          {shell: true, argv: []string{"/bin/sh", "-c", "echo $HOSTNAME > /tmp/x"}},
	} {
		got, err := parseCommand(in)
		require.NoError(t, err, in)
		assert.Equal(t, want.argv, got.argv, in)
		assert.Equal(t, want.shell, got.shell, in)
	}
	_, err := parseCommand("  ")
	require.Error(t, err)
	_, err = parseCommand(`/bin/x 'open`)
	require.Error(t, err)
}

func TestCommandCheck(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "notify.sh")
	require.NoError(t, os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644))
	c, _ := parseCommand(noexec + " master")
	require.Error(t, c.check(), "not executable")
	c, _ = parseCommand("/nonexistent/notify.sh master")
	require.Error(t, c.check())
	c, _ = parseCommand("true")
	require.NoError(t, c.check())
}

func TestCommandRunArgumentsAndTimeout(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "notify.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755))
	start := func(c *exec.Cmd) error { return c.Start() }

	c, err := parseCommand(script + " fixed")
	require.NoError(t, err)
	require.NoError(t, c.run(context.Background(), start, 5*time.Second, "INSTANCE", "VI_1", "MASTER", "100"))
	// Shell command lines get the extra arguments appended, quoted.
	sh, err := parseCommand("test -x " + script + " && " + script)
	require.NoError(t, err)
	require.NoError(t, sh.run(context.Background(), start, 5*time.Second, "GROUP", "VG 1", "it's", "0"))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "fixed INSTANCE VI_1 MASTER 100\nGROUP VG 1 it's 0\n", string(b))

	slow, err := parseCommand("sleep 30")
	require.NoError(t, err)
	err = slow.run(context.Background(), start, 50*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	f, _ := parseCommand("false")
	var exitErr *exec.ExitError
	require.True(t, errors.As(f.run(context.Background(), start, 5*time.Second), &exitErr))
}
