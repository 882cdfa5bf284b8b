package script

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rootDir is a directory only root can write, reachable by every user
// (t.TempDir's parent is 0700, so another user could not run a script in it).
func rootDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: runs a script as another user; run the tests as root (make test does)")
	}
	dir, err := os.MkdirTemp("", "lvsctl-script-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

func writeScript(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), mode))
	require.NoError(t, os.Chmod(path, mode))
}

// TestRunAsUser: the script runs as the configured user, with only its
// group (keepalived's set_script_env), not as root.
func TestRunAsUser(t *testing.T) {
	dir := rootDir(t)
	out := filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(out, 0o777))
	require.NoError(t, os.Chmod(out, 0o777))
	sh := filepath.Join(dir, "id.sh")
	writeScript(t, sh, `echo "$(id -u):$(id -g):$(id -G)" > `+out+`/id`, 0o755)

	c, err := Parse(sh)
	require.NoError(t, err)
	c.As = As{Set: true, User: "nobody", Group: "nogroup", UID: 65534, GID: 65534}
	require.NoError(t, (Runner{}).Run(context.Background(), c, 0))
	b, err := os.ReadFile(filepath.Join(out, "id"))
	require.NoError(t, err)
	assert.Equal(t, "65534:65534:65534", strings.TrimSpace(string(b)))

	// Without As it runs as lvsctl itself.
	c.As = As{}
	require.NoError(t, (Runner{}).Run(context.Background(), c, 0))
	b, err = os.ReadFile(filepath.Join(out, "id"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "0:0:"), string(b))
}

// TestSecureRefusesWritable: with enable_script_security a root script
// that a non-root user can modify (the file, or a directory on its path)
// is refused and does not run; a root-only one runs.
func TestSecureRefusesWritable(t *testing.T) {
	dir := rootDir(t)
	marker := filepath.Join(dir, "ran")
	sh := filepath.Join(dir, "notify.sh")
	writeScript(t, sh, "touch "+marker, 0o755)
	c, err := Parse(sh)
	require.NoError(t, err)
	c.As = As{Set: true, User: "root", Group: "root", Secure: true}
	require.NoError(t, Secure(c))
	require.NoError(t, (Runner{}).Run(context.Background(), c, 0))
	require.FileExists(t, marker)
	require.NoError(t, os.Remove(marker))

	require.NoError(t, os.Chmod(sh, 0o757)) // world-writable file
	err = (Runner{}).Run(context.Background(), c, 0)
	require.ErrorIs(t, err, ErrInsecure)
	assert.NoFileExists(t, marker, "an insecure script must not run")

	require.NoError(t, os.Chmod(sh, 0o755))
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o777))
	require.NoError(t, os.Chmod(sub, 0o777)) // world-writable directory, not sticky
	in := filepath.Join(sub, "x.sh")
	writeScript(t, in, "touch "+marker, 0o755)
	c2, err := Parse(in + " arg")
	require.NoError(t, err)
	c2.As = c.As
	require.ErrorIs(t, Secure(c2), ErrInsecure)
	require.NoError(t, os.Chmod(sub, os.ModeSticky|0o777)) // sticky: keepalived accepts it
	require.NoError(t, Secure(c2))

	// A script run by a non-root user is not checked (keepalived protects root only).
	require.NoError(t, os.Chmod(sub, 0o777))
	c2.As = As{Set: true, UID: 65534, GID: 65534, Secure: true}
	require.NoError(t, Secure(c2))

	// Without enable_script_security nothing is refused.
	c.As.Secure = false
	require.NoError(t, os.Chmod(sh, 0o757))
	require.NoError(t, (Runner{}).Run(context.Background(), c, 0))
}
