package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/script"
)

// Notify scripts follow the VRRP rule: a plain line runs directly (its
// quoted words kept whole), a line with shell syntax runs under /bin/sh.
func TestExecScriptsRunsDirectlyOrUnderShell(t *testing.T) {
	dir := t.TempDir()
	direct := filepath.Join(dir, "direct")
	viaShell := filepath.Join(dir, "shell")
	s := &ExecScripts{Timeout: 10 * time.Second}
	s.Run(context.Background(), director.Script{Line: `touch '` + direct + `'`})
	s.Run(context.Background(), director.Script{Line: `echo up > '` + viaShell + `'`})
	require.Eventually(t, func() bool {
		_, errDirect := os.Stat(direct)
		b, errShell := os.ReadFile(viaShell)
		return errDirect == nil && errShell == nil && string(b) == "up\n"
	}, 10*time.Second, 20*time.Millisecond)
}

// The director's notify and quorum scripts run as the user the
// configuration resolved (quorum_up "CMD" USER, script_user).
func TestExecScriptsRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to switch users: run the tests as root (make test does)")
	}
	dir, err := os.MkdirTemp("", "lvsctl-app-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	out := filepath.Join(dir, "uid")
	s := &ExecScripts{Timeout: 10 * time.Second}
	s.Run(context.Background(), director.Script{Line: `/bin/sh -c 'id -u > ` + out + `'`,
		As: script.As{Set: true, User: "nobody", UID: 65534, GID: 65534}})
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(out)
		return err == nil && string(b) == "65534\n"
	}, 10*time.Second, 20*time.Millisecond)
}

// Wait returns once the scripts started so far have ended (a stopping
// daemon's omega scripts run before it exits), or at its context's end.
func TestExecScriptsWait(t *testing.T) {
	out := filepath.Join(t.TempDir(), "done")
	s := &ExecScripts{Timeout: 10 * time.Second}
	s.Run(context.Background(), director.Script{Line: `/bin/sh -c 'sleep 0.3; touch ` + out + `'`})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
	_, err := os.Stat(out)
	require.NoError(t, err, "the script ran to its end before Wait returned")

	s.Run(context.Background(), director.Script{Line: `sleep 5`})
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Wait(ctx), context.DeadlineExceeded)
}
