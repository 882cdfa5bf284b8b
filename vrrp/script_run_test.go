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

	"github.com/lvsctl/lvsctl/internal/script"
)

func TestParseCommand(t *testing.T) {
	for in, want := range map[string]script.Command{
		`/usr/local/keepalived/etc/keepalived/notify.sh master`: {Argv: []string{"/usr/local/keepalived/etc/keepalived/notify.sh", "master"}},
		`killall -0 nginx`:                 {Argv: []string{"killall", "-0", "nginx"}},
		`  /bin/x  'a b'  "c \"d\""  e\ f`: {Argv: []string{"/bin/x", "a b", `c "d"`, "e f"}},
		`pidof nginx || exit 1`:            {Shell: true, Argv: []string{"/bin/sh", "-c", "pidof nginx || exit 1"}},
		`echo $HOSTNAME > /tmp/x`:          {Shell: true, Argv: []string{"/bin/sh", "-c", "echo $HOSTNAME > /tmp/x"}},
	} {
		got, err := script.Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want.Argv, got.Argv, in)
		assert.Equal(t, want.Shell, got.Shell, in)
	}
	_, err := script.Parse("  ")
	require.Error(t, err)
	_, err = script.Parse(`/bin/x 'open`)
	require.Error(t, err)
}

func TestCommandCheck(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "notify.sh")
	require.NoError(t, os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644))
	c, _ := script.Parse(noexec + " master")
	require.Error(t, c.Check(), "not executable")
	c, _ = script.Parse("/nonexistent/notify.sh master")
	require.Error(t, c.Check())
	c, _ = script.Parse("true")
	require.NoError(t, c.Check())
}

func TestCommandRunArgumentsAndTimeout(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	notifySh := filepath.Join(dir, "notify.sh")
	require.NoError(t, os.WriteFile(notifySh, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755))
	// The node's runner: its starter enters the node's namespace.
	r := script.Runner{Start: func(c *exec.Cmd) error { return c.Start() }}
	ctx := context.Background()

	c, err := script.Parse(notifySh + " fixed")
	require.NoError(t, err)
	require.NoError(t, r.Run(ctx, c, 5*time.Second, "INSTANCE", "VI_1", "MASTER", "100"))
	// Shell command lines get the extra arguments appended, quoted.
	sh, err := script.Parse("test -x " + notifySh + " && " + notifySh)
	require.NoError(t, err)
	require.NoError(t, r.Run(ctx, sh, 5*time.Second, "GROUP", "VG 1", "it's", "0"))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "fixed INSTANCE VI_1 MASTER 100\nGROUP VG 1 it's 0\n", string(b))

	slow, err := script.Parse("sleep 30")
	require.NoError(t, err)
	err = r.Run(ctx, slow, 50*time.Millisecond)
	require.ErrorIs(t, err, script.ErrTimeout)

	f, _ := script.Parse("false")
	var exitErr *exec.ExitError
	require.True(t, errors.As(r.Run(ctx, f, 5*time.Second), &exitErr))
}
