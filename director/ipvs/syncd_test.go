//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package ipvs

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/syncd"
)

// unhex reads a hex dump with spaces and comments after '|'.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "|")
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
	}
	out, err := hex.DecodeString(b.String())
	require.NoError(t, err)
	return out
}

// The golden bytes are what ip_vs_genl_set_daemon parses (little-endian
// hosts: netlink integers are in host order, except the IPv4 group, which
// nla_get_in_addr reads in network order; the port is nla_get_u16, host
// order, unlike the destination's tunnel port).
func TestDaemonRequestGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start bool
		d     syncd.Daemon
		want  string
	}{
		{
			name: "start backup, every setting", start: true,
			d: syncd.Daemon{Role: syncd.Backup, Settings: syncd.Settings{Interface: "eth1", SyncID: 191, MaxLen: 1472,
				Port: 8848, TTL: 1, Group: netip.MustParseAddr("224.0.0.81")}},
			want: `09 01 0000             | genlmsghdr: IPVS_CMD_NEW_DAEMON, version 1
			       40 00 0300             | IPVS_CMD_ATTR_DAEMON, 64 bytes
			       0800 0100 02000000     | STATE = IP_VS_STATE_BACKUP
			       0900 0200 65746831 00 000000 | MCAST_IFN "eth1\0" + pad
			       0800 0300 bf000000     | SYNC_ID 191
			       0600 0400 c005 0000    | SYNC_MAXLEN 1472 + pad
			       0800 0500 e0000051     | MCAST_GROUP 224.0.0.81
			       0600 0700 9022 0000    | MCAST_PORT 8848 + pad
			       0500 0800 01 000000    | MCAST_TTL 1 + pad`,
		},
		{
			name: "start master, kernel defaults", start: true,
			d: syncd.Daemon{Role: syncd.Master, Settings: syncd.Settings{Interface: "bond0.100", SyncID: 0}},
			want: `09 01 0000
			       24 00 0300                     | 36 bytes
			       0800 0100 01000000             | STATE = IP_VS_STATE_MASTER
			       0e00 0200 626f6e64302e313030 00 0000 | "bond0.100\0" + pad
			       0800 0300 00000000             | SYNC_ID 0`,
		},
		{
			name: "start with an IPv6 group", start: true,
			d: syncd.Daemon{Role: syncd.Backup, Settings: syncd.Settings{Interface: "e", SyncID: 7,
				Group: netip.MustParseAddr("ff02::81")}},
			want: `09 01 0000
			       30 00 0300                    | 48 bytes
			       0800 0100 02000000
			       0600 0200 6500 0000           | "e\0" + pad
			       0800 0300 07000000
			       1400 0600 ff020000000000000000000000000081 | MCAST_GROUP6`,
		},
		{
			name: "stop master", d: syncd.Daemon{Role: syncd.Master, Settings: syncd.Settings{Interface: "ignored"}},
			want: `0a 01 0000             | IPVS_CMD_DEL_DAEMON
			       0c00 0300
			       0800 0100 01000000     | STATE only: all ip_vs_genl_del_daemon reads`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := daemonRequest(tc.start, tc.d)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(unhex(t, tc.want)), hex.EncodeToString(got))
		})
	}
	assert.Equal(t, "0b010000", hex.EncodeToString(dumpDaemonsRequest()), "IPVS_CMD_GET_DAEMON, no attributes")
}

func TestDaemonRequestRefusesWhatTheKernelWould(t *testing.T) {
	for name, d := range map[string]syncd.Daemon{
		"no role":            {Settings: syncd.Settings{Interface: "eth0"}},
		"no interface":       {Role: syncd.Master},
		"interface too long": {Role: syncd.Master, Settings: syncd.Settings{Interface: "abcdefghijklmnop"}},
		"unicast group":      {Role: syncd.Master, Settings: syncd.Settings{Interface: "eth0", Group: netip.MustParseAddr("10.0.0.1")}},
		"v4-mapped group":    {Role: syncd.Master, Settings: syncd.Settings{Interface: "eth0", Group: netip.MustParseAddr("::ffff:224.0.0.81")}},
	} {
		_, err := daemonRequest(true, d)
		assert.Error(t, err, name)
	}
	_, err := daemonRequest(true, syncd.Daemon{Role: syncd.Master, Settings: syncd.Settings{Interface: "abcdefghijklmno"}})
	assert.NoError(t, err, "15 bytes is the longest name")
}

// A dump reply has the layout of a start request (ip_vs_genl_fill_daemon
// writes the same attributes, all of them), so the parser reads back what
// the builder wrote.
func TestParseDaemon(t *testing.T) {
	d := syncd.Daemon{Role: syncd.Backup, Settings: syncd.Settings{Interface: "eth1", SyncID: 191, MaxLen: 1472,
		Port: 8848, TTL: 1, Group: netip.MustParseAddr("224.0.0.81")}}
	msg, err := daemonRequest(true, d)
	require.NoError(t, err)
	got, err := parseDaemon(msg)
	require.NoError(t, err)
	assert.Equal(t, d, got)

	d.Group = netip.MustParseAddr("ff05::1:3")
	msg, err = daemonRequest(true, d)
	require.NoError(t, err)
	got, err = parseDaemon(msg)
	require.NoError(t, err)
	assert.Equal(t, d, got)

	// The nested flag, which newer kernels may set, is masked off.
	msg[4+3] |= 0x80
	got, err = parseDaemon(msg)
	require.NoError(t, err)
	assert.Equal(t, d, got)

	_, err = parseDaemon([]byte{9, 1})
	assert.Error(t, err)
	_, err = parseDaemon(dumpDaemonsRequest())
	assert.Error(t, err, "no daemon attribute")
}

func TestCountConns(t *testing.T) {
	// /proc/net/ip_vs_conn of a backup (6.1): two synced streams, one
	// closing connection, one persistence template.
	const table = `Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A100814 9FBA 0A100864 0050 0A100809 0050 ESTABLISHED     898
TCP 0A100814 9FBC 0A100864 0050 0A100808 0050 ESTABLISHED     897
TCP 0A100814 9FC0 0A100864 0050 0A100808 0050 TIME_WAIT       110
TCP 0A100814 0000 0A100864 0050 0A100808 0050 NONE            299
`
	n, err := countConns(strings.NewReader(table))
	require.NoError(t, err)
	assert.Equal(t, syncd.ConnCount{Total: 4, Established: 2}, n)
	n, err = countConns(strings.NewReader(""))
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestSysctlNames(t *testing.T) {
	f, err := sysctlFile("sync_refresh_period")
	require.NoError(t, err)
	assert.Equal(t, "/proc/sys/net/ipv4/vs/sync_refresh_period", f)
	for _, bad := range []string{"", "../../ipv4/ip_forward", "conf.all"} {
		_, err := sysctlFile(bad)
		assert.Error(t, err, bad)
	}
}

func TestConfirmTimedOut(t *testing.T) {
	timeout := fmt.Errorf("stop master sync daemon: %w", unix.EAGAIN)
	none := func() ([]syncd.Daemon, error) { return nil, nil }
	master := func() ([]syncd.Daemon, error) { return []syncd.Daemon{{Role: syncd.Master}}, nil }
	broken := func() ([]syncd.Daemon, error) { return nil, errors.New("dump failed") }
	assert.NoError(t, confirm(timeout, syncd.Master, false, none), "stopped after all")
	assert.ErrorIs(t, confirm(timeout, syncd.Master, false, master), unix.EAGAIN, "still running")
	assert.NoError(t, confirm(timeout, syncd.Master, true, master), "started after all")
	assert.ErrorIs(t, confirm(timeout, syncd.Master, true, none), unix.EAGAIN)
	assert.ErrorIs(t, confirm(timeout, syncd.Master, false, broken), unix.EAGAIN, "the original error when the dump fails")
	assert.ErrorIs(t, confirm(unix.ESRCH, syncd.Master, false, none), unix.ESRCH, "only timeouts are confirmed")
	assert.NoError(t, confirm(nil, syncd.Master, false, master))
}
