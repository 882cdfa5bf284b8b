package realserver

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStateRoundTrip(t *testing.T) {
	st := stateStore{dir: filepath.Join(t.TempDir(), "run", "lvsctl")}

	got, existed, err := st.load()
	require.NoError(t, err)
	assert.False(t, existed)
	assert.True(t, got.empty())

	want := State{
		Version: stateVersion,
		Sysctls: []SysctlRecord{
			{SysctlKey: SysctlKey{Iface: "all", Name: "arp_ignore"}, Original: "3", Value: "1"},
			{SysctlKey: SysctlKey{Iface: "eth0.100", Name: "arp_announce"}, Original: "0", Value: "2"},
		},
		VIPs: []VIPRecord{
			{Prefix: netip.MustParsePrefix("10.16.8.100/32"), Label: Label},
			{Prefix: netip.MustParsePrefix("2001:db8::100/128")},
		},
	}
	require.NoError(t, st.save(want))
	got, existed, err = st.load()
	require.NoError(t, err)
	assert.True(t, existed)
	assert.Equal(t, want, got)

	entries, err := os.ReadDir(st.dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
	info, err := entries[0].Info()
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	require.NoError(t, st.restore(State{}, false))
	_, existed, err = st.load()
	require.NoError(t, err)
	assert.False(t, existed)
	require.NoError(t, st.remove(), "removing a missing file is fine")
}

func TestStateRefusesUnknownVersion(t *testing.T) {
	st := stateStore{dir: t.TempDir()}
	require.NoError(t, os.WriteFile(st.path(), []byte(`{"version": 2}`), 0o644))
	_, _, err := st.load()
	require.ErrorContains(t, err, "has version 2, this lvsctl understands 1")
}

func TestStateLockIsExclusive(t *testing.T) {
	st := stateStore{dir: t.TempDir()}
	unlock, err := st.lock()
	require.NoError(t, err)
	_, err = st.lock()
	require.ErrorIs(t, err, ErrBusy)
	unlock()
	unlock2, err := st.lock()
	require.NoError(t, err)
	unlock2()
}
