package realserver_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/realserver"
)

// A directory tree shaped like /proc/sys/net/ipv4/conf.
func fakeProc(t *testing.T, ifaces ...string) *realserver.ProcSysctls {
	t.Helper()
	root := t.TempDir()
	for _, i := range ifaces {
		require.NoError(t, os.MkdirAll(filepath.Join(root, i), 0o755))
		for _, name := range []string{"arp_ignore", "arp_announce"} {
			require.NoError(t, os.WriteFile(filepath.Join(root, i, name), []byte("0\n"), 0o644))
		}
	}
	return &realserver.ProcSysctls{Root: root}
}

func TestProcSysctls(t *testing.T) {
	p := fakeProc(t, "all", "lo", "eth0.100")
	v, err := p.Get("eth0.100", "arp_ignore")
	require.NoError(t, err)
	assert.Equal(t, "0", v)

	require.NoError(t, p.Set("eth0.100", "arp_ignore", "1"))
	v, err = p.Get("eth0.100", "arp_ignore")
	require.NoError(t, err)
	assert.Equal(t, "1", v)

	ifaces, err := p.Interfaces()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"all", "lo", "eth0.100"}, ifaces)

	_, err = p.Get("eth9", "arp_ignore")
	require.ErrorIs(t, err, realserver.ErrNoInterface)
	// Set never creates files for a missing interface.
	require.ErrorIs(t, p.Set("eth9", "arp_ignore", "1"), realserver.ErrNoInterface)
	_, err = os.Stat(filepath.Join(p.Root, "eth9"))
	require.True(t, os.IsNotExist(err))

	for _, bad := range []string{"", "..", "a/b"} {
		_, err = p.Get(bad, "arp_ignore")
		require.ErrorIs(t, err, realserver.ErrNoInterface, bad)
	}
}
