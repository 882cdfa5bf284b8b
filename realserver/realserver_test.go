package realserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/realserver"
	"github.com/lvsctl/lvsctl/realserver/rstest"
)

type rig struct {
	sys   *rstest.Sysctls
	addrs *rstest.Addrs
	m     *realserver.Manager
	dir   string
}

// newRig is a host with eth0 10.16.8.8/24 and every ARP sysctl at 0.
func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{sys: rstest.NewSysctls("eth0"), addrs: rstest.NewAddrs(), dir: t.TempDir()}
	r.addrs.Put("eth0", "10.16.8.8/24", "eth0")
	r.m = realserver.New(r.sys, r.addrs, r.dir, nil)
	return r
}

func (r *rig) start(t *testing.T, ifaces []string, vips ...string) (*realserver.StartReport, error) {
	t.Helper()
	return r.m.Start(context.Background(), realserver.StartOptions{VIPs: addrs(t, vips...), Ifaces: ifaces})
}

func (r *rig) state(t *testing.T) *realserver.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, realserver.StateFileName))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var s realserver.State
	require.NoError(t, json.Unmarshal(b, &s))
	return &s
}

func addrs(t *testing.T, s ...string) []netip.Addr {
	t.Helper()
	out := make([]netip.Addr, 0, len(s))
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s))
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func key(iface, name string) realserver.SysctlKey {
	return realserver.SysctlKey{Iface: iface, Name: name}
}

func TestStartOnFreshHost(t *testing.T) {
	r := newRig(t)
	rep, err := r.start(t, nil, "10.16.8.100", "10.16.8.101")
	require.NoError(t, err)

	assert.True(t, rep.Changed())
	assert.Equal(t, []string{
		"all.arp_ignore=1", "all.arp_announce=2", "lo.arp_ignore=1", "lo.arp_announce=2",
	}, r.sys.Writes)
	assert.Equal(t, []string{"add 10.16.8.100/32 lo:lvsctl", "add 10.16.8.101/32 lo:lvsctl"}, r.addrs.Calls)
	assert.Equal(t, prefixes("10.16.8.100/32", "10.16.8.101/32"), rep.Added)
	assert.Len(t, rep.Set, 4)
	assert.Equal(t, "0", r.sys.Value("eth0", "arp_ignore"), "only --iface interfaces are changed")

	st := r.state(t)
	require.NotNil(t, st)
	assert.Equal(t, realserver.State{
		Version: 1,
		Sysctls: []realserver.SysctlRecord{
			{SysctlKey: key("all", "arp_ignore"), Original: "0", Value: "1"},
			{SysctlKey: key("all", "arp_announce"), Original: "0", Value: "2"},
			{SysctlKey: key("lo", "arp_ignore"), Original: "0", Value: "1"},
			{SysctlKey: key("lo", "arp_announce"), Original: "0", Value: "2"},
		},
		VIPs: []realserver.VIPRecord{
			{Prefix: netip.MustParsePrefix("10.16.8.100/32"), Label: "lo:lvsctl"},
			{Prefix: netip.MustParsePrefix("10.16.8.101/32"), Label: "lo:lvsctl"},
		},
	}, *st)
}

func TestStartTwiceIsANoOp(t *testing.T) {
	r := newRig(t)
	_, err := r.start(t, []string{"eth0"}, "10.16.8.100", "2001:db8::100")
	require.NoError(t, err)
	before, err := os.ReadFile(r.m.StatePath())
	require.NoError(t, err)
	writes, calls := len(r.sys.Writes), len(r.addrs.Calls)

	rep, err := r.start(t, []string{"eth0"}, "10.16.8.100", "2001:db8::100")
	require.NoError(t, err)
	assert.False(t, rep.Changed())
	assert.Equal(t, prefixes("10.16.8.100/32", "2001:db8::100/128"), rep.Present)
	assert.Len(t, rep.Kept, 6)
	assert.Len(t, r.sys.Writes, writes)
	assert.Len(t, r.addrs.Calls, calls)
	after, err := os.ReadFile(r.m.StatePath())
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
}

func TestStartAgainAddsOnlyWhatIsMissingAndKeepsOriginals(t *testing.T) {
	r := newRig(t)
	r.sys.Put("all", "arp_ignore", "3")
	_, err := r.start(t, nil, "10.16.8.100")
	require.NoError(t, err)

	// Someone resets a sysctl and removes the VIP behind lvsctl's back.
	r.sys.Put("all", "arp_ignore", "0")
	require.NoError(t, r.addrs.DelLo(netip.MustParsePrefix("10.16.8.100/32")))
	r.sys.Writes, r.addrs.Calls = nil, nil

	rep, err := r.start(t, nil, "10.16.8.100", "10.16.8.101")
	require.NoError(t, err)
	assert.Equal(t, []string{"all.arp_ignore=1"}, r.sys.Writes)
	assert.Equal(t, []string{"add 10.16.8.100/32 lo:lvsctl", "add 10.16.8.101/32 lo:lvsctl"}, r.addrs.Calls)
	assert.Equal(t, prefixes("10.16.8.100/32", "10.16.8.101/32"), rep.Added)

	st := r.state(t)
	assert.Equal(t, "3", st.Sysctls[0].Original, "the first original value is never overwritten")
	assert.Len(t, st.VIPs, 2)

	_, err = r.m.Stop(context.Background(), realserver.StopOptions{})
	require.NoError(t, err)
	assert.Equal(t, "3", r.sys.Value("all", "arp_ignore"))
}

func TestStartKeepsGoodValuesAndForeignVIPs(t *testing.T) {
	r := newRig(t)
	r.sys.Put("lo", "arp_ignore", "2") // stricter than 1, also fine for DR
	r.addrs.Put("lo", "10.16.8.99/32", "lo:1")

	rep, err := r.start(t, nil, "10.16.8.99", "10.16.8.100")
	require.NoError(t, err)
	assert.Equal(t, prefixes("10.16.8.99/32"), rep.Foreign)
	assert.Equal(t, prefixes("10.16.8.100/32"), rep.Added)
	assert.Contains(t, rep.Kept, realserver.SysctlValue{SysctlKey: key("lo", "arp_ignore"), Value: "2"})
	assert.NotContains(t, r.sys.Writes, "lo.arp_ignore=1")

	st := r.state(t)
	require.Len(t, st.VIPs, 1)
	assert.Equal(t, "10.16.8.100/32", st.VIPs[0].Prefix.String())

	stop, err := r.m.Stop(context.Background(), realserver.StopOptions{})
	require.NoError(t, err)
	assert.Equal(t, prefixes("10.16.8.100/32"), stop.Removed)
	assert.Contains(t, r.addrs.OnLo(), "10.16.8.99/32", "a VIP that was there before stays")
	assert.Equal(t, "2", r.sys.Value("lo", "arp_ignore"))
}

func TestStartIPv6OnlyLeavesARPSysctls(t *testing.T) {
	r := newRig(t)
	rep, err := r.start(t, nil, "2001:db8::100")
	require.NoError(t, err)
	assert.Empty(t, r.sys.Writes, "IPv6 has no ARP")
	assert.Equal(t, []string{"add 2001:db8::100/128 "}, r.addrs.Calls)
	assert.Equal(t, prefixes("2001:db8::100/128"), rep.Added)
}

func TestStartRollsBackWhenAVIPFails(t *testing.T) {
	r := newRig(t)
	orig := r.sys.Snapshot()
	boom := errors.New("boom")
	r.addrs.FailAdd[netip.MustParsePrefix("10.16.8.101/32")] = boom

	_, err := r.start(t, []string{"eth0"}, "10.16.8.100", "10.16.8.101")
	require.ErrorIs(t, err, boom)
	assert.Equal(t, orig, r.sys.Snapshot(), "sysctls restored")
	assert.Equal(t, []string{"127.0.0.1/8", "::1/128"}, r.addrs.OnLo(), "VIP added by this run removed")
	assert.Nil(t, r.state(t), "no state file is left behind")
}

func TestStartRollbackKeepsWhatEarlierRunsDid(t *testing.T) {
	r := newRig(t)
	_, err := r.start(t, nil, "10.16.8.100")
	require.NoError(t, err)
	before, err := os.ReadFile(r.m.StatePath())
	require.NoError(t, err)
	snap := r.sys.Snapshot()

	boom := errors.New("boom")
	r.addrs.FailAdd[netip.MustParsePrefix("10.16.8.102/32")] = boom
	_, err = r.start(t, []string{"eth0"}, "10.16.8.100", "10.16.8.101", "10.16.8.102")
	require.ErrorIs(t, err, boom)

	assert.Equal(t, snap, r.sys.Snapshot(), "eth0 restored, earlier values kept")
	assert.Equal(t, []string{"127.0.0.1/8", "::1/128", "10.16.8.100/32"}, r.addrs.OnLo())
	after, err := os.ReadFile(r.m.StatePath())
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
}

func TestStartRollsBackWhenASysctlFails(t *testing.T) {
	r := newRig(t)
	r.sys.Put("all", "arp_announce", "1")
	orig := r.sys.Snapshot()
	boom := errors.New("read-only")
	r.sys.FailSet[key("lo", "arp_announce")] = boom

	_, err := r.start(t, nil, "10.16.8.100")
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "set net.ipv4.conf.lo.arp_announce=2")
	assert.Equal(t, orig, r.sys.Snapshot())
	assert.Empty(t, r.addrs.Calls)
	assert.Nil(t, r.state(t))
}

func TestStartCancelledChangesNothing(t *testing.T) {
	r := newRig(t)
	orig := r.sys.Snapshot()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.m.Start(ctx, realserver.StartOptions{VIPs: addrs(t, "10.16.8.100")})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, orig, r.sys.Snapshot())
	assert.Empty(t, r.addrs.Calls)
	assert.Nil(t, r.state(t))
}

func TestStartRefusesBadInputAndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vips    []string
		ifaces  []string
		wantErr string
		is      error
	}{
		{name: "no VIPs", wantErr: "no VIP given", is: realserver.ErrNoVIPs},
		{name: "duplicate", vips: []string{"10.16.8.100", "10.16.8.100"}, wantErr: "given twice", is: realserver.ErrBadVIP},
		{name: "loopback", vips: []string{"127.0.0.5"}, wantErr: "loopback", is: realserver.ErrBadVIP},
		{name: "own address", vips: []string{"10.16.8.100", "10.16.8.8"},
			wantErr: "10.16.8.8 is already an address of eth0", is: realserver.ErrBadVIP},
		{name: "network address", vips: []string{"10.16.8.0"},
			wantErr: "10.16.8.0 is the network address of 10.16.8.0/24 (on eth0)", is: realserver.ErrBadVIP},
		{name: "broadcast address", vips: []string{"10.16.8.255"},
			wantErr: "10.16.8.255 is the broadcast address of 10.16.8.0/24", is: realserver.ErrBadVIP},
		{name: "missing interface", vips: []string{"10.16.8.100"}, ifaces: []string{"eth9"},
			wantErr: "read net.ipv4.conf.eth9.arp_ignore", is: realserver.ErrNoInterface},
		{name: "bad interface name", vips: []string{"10.16.8.100"}, ifaces: []string{"../x"},
			wantErr: "invalid interface name", is: realserver.ErrNoInterface},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			_, err := r.m.Start(context.Background(), realserver.StartOptions{VIPs: addrs(t, tc.vips...), Ifaces: tc.ifaces})
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, tc.wantErr)
			assert.Empty(t, r.sys.Writes)
			assert.Empty(t, r.addrs.Calls)
			assert.Nil(t, r.state(t))
		})
	}
}

func TestStartRefusesADamagedStateFile(t *testing.T) {
	r := newRig(t)
	require.NoError(t, os.WriteFile(r.m.StatePath(), []byte("{not json"), 0o644))
	_, err := r.start(t, nil, "10.16.8.100")
	require.ErrorContains(t, err, "is damaged")
	assert.Empty(t, r.sys.Writes)
	assert.Empty(t, r.addrs.Calls)
}

func TestStartWhileAnotherRunHoldsTheLock(t *testing.T) {
	r := newRig(t)
	f, err := os.OpenFile(filepath.Join(r.dir, "rs.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))

	_, err = r.start(t, nil, "10.16.8.100")
	require.ErrorIs(t, err, realserver.ErrBusy)
	_, err = r.m.Stop(context.Background(), realserver.StopOptions{})
	require.ErrorIs(t, err, realserver.ErrBusy)
	assert.Empty(t, r.sys.Writes)
}

func TestStopRestoresExactly(t *testing.T) {
	r := newRig(t)
	r.sys.Put("all", "arp_ignore", "3")
	r.sys.Put("all", "arp_announce", "1")
	r.sys.Put("eth0", "arp_ignore", "8")
	r.addrs.Put("lo", "10.16.8.99/32", "lo:1")
	origSys, origLo := r.sys.Snapshot(), r.addrs.OnLo()

	_, err := r.start(t, []string{"eth0"}, "10.16.8.100", "10.16.8.101", "2001:db8::100")
	require.NoError(t, err)
	assert.Equal(t, "1", r.sys.Value("eth0", "arp_ignore"))

	rep, err := r.m.Stop(context.Background(), realserver.StopOptions{})
	require.NoError(t, err)
	assert.Equal(t, prefixes("10.16.8.100/32", "10.16.8.101/32", "2001:db8::100/128"), rep.Removed)
	assert.Len(t, rep.Restored, 6)
	assert.Empty(t, rep.Untouched)
	assert.Equal(t, origSys, r.sys.Snapshot())
	assert.Equal(t, origLo, r.addrs.OnLo())
	assert.Nil(t, r.state(t), "state file removed")

	again, err := r.m.Stop(context.Background(), realserver.StopOptions{})
	require.NoError(t, err)
	assert.True(t, again.NothingToUndo)
}

func TestStopWithoutState(t *testing.T) {
	r := newRig(t)
	rep, err := r.m.Stop(context.Background(), realserver.StopOptions{})
	require.NoError(t, err)
	assert.True(t, rep.NothingToUndo)
	assert.Empty(t, r.sys.Writes)
	assert.Empty(t, r.addrs.Calls)
}

func TestStopLimitedToSomeVIPs(t *testing.T) {
	r := newRig(t)
	orig := r.sys.Snapshot()
	_, err := r.start(t, nil, "10.16.8.100", "10.16.8.101")
	require.NoError(t, err)

	rep, err := r.m.Stop(context.Background(), realserver.StopOptions{VIPs: addrs(t, "10.16.8.101", "10.16.8.102")})
	require.NoError(t, err)
	assert.Equal(t, prefixes("10.16.8.101/32"), rep.Removed)
	assert.Equal(t, prefixes("10.16.8.100/32"), rep.Remaining)
	assert.Equal(t, addrs(t, "10.16.8.102"), rep.NotOurs)
	assert.Empty(t, rep.Restored, "sysctls stay while a VIP is served")
	assert.True(t, rep.SysctlsKept)
	assert.Equal(t, "1", r.sys.Value("all", "arp_ignore"))
	st := r.state(t)
	require.NotNil(t, st)
	require.Len(t, st.VIPs, 1)
	assert.Len(t, st.Sysctls, 4)

	rep, err = r.m.Stop(context.Background(), realserver.StopOptions{VIPs: addrs(t, "10.16.8.100")})
	require.NoError(t, err)
	assert.Equal(t, prefixes("10.16.8.100/32"), rep.Removed)
	assert.Len(t, rep.Restored, 4)
	assert.Equal(t, orig, r.sys.Snapshot())
	assert.Nil(t, r.state(t))
}

func TestStopLeavesLaterChangesAlone(t *testing.T) {
	r := newRig(t)
	_, err := r.start(t, nil, "10.16.8.100")
	require.NoError(t, err)
	r.sys.Put("all", "arp_ignore", "2") // an administrator's later choice
	require.NoError(t, r.addrs.DelLo(netip.MustParsePrefix("10.16.8.100/32")))

	rep, err := r.m.Stop(context.Background(), realserver.StopOptions{})
	require.NoError(t, err)
	assert.Equal(t, prefixes("10.16.8.100/32"), rep.Gone)
	assert.Empty(t, rep.Removed)
	assert.Equal(t, []realserver.SysctlChange{{SysctlKey: key("all", "arp_ignore"), From: "2", To: "2"}}, rep.Untouched)
	assert.Len(t, rep.Restored, 3)
	assert.Equal(t, "2", r.sys.Value("all", "arp_ignore"))
	assert.Nil(t, r.state(t))
}

func TestStatus(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()

	st, err := r.m.Status(ctx, realserver.StatusOptions{VIPs: addrs(t, "10.16.8.100")})
	require.NoError(t, err)
	assert.False(t, st.Ready())
	assert.Nil(t, st.State)
	require.Len(t, st.VIPs, 1)
	assert.False(t, st.VIPs[0].OnLo)
	assert.Contains(t, st.VIPs[0].Reasons, "not bound on lo: the host drops packets for it")
	assert.Contains(t, st.VIPs[0].Reasons,
		"eth0: arp_ignore is 0 (max of all=0, eth0=0), needs 1 or 2, else the interface answers ARP for addresses on lo")
	require.Len(t, st.Interfaces, 1)
	assert.Equal(t, "eth0", st.Interfaces[0].Name)

	_, err = r.start(t, nil, "10.16.8.100", "2001:db8::100")
	require.NoError(t, err)
	st, err = r.m.Status(ctx, realserver.StatusOptions{})
	require.NoError(t, err)
	assert.True(t, st.Ready(), "%+v", st.VIPs)
	require.NotNil(t, st.State)
	require.Len(t, st.VIPs, 2)
	assert.Equal(t, realserver.VIPStatus{
		Addr: netip.MustParseAddr("10.16.8.100"), OnLo: true, Label: "lo:lvsctl",
		AddedByLvsctl: true, Ready: true, Reasons: []string{},
	}, st.VIPs[0])
	assert.Equal(t, realserver.Effective{All: 1, Iface: 0, Effective: 1}, st.Interfaces[0].ARPIgnore)
	assert.Equal(t, realserver.Effective{All: 2, Iface: 0, Effective: 2}, st.Interfaces[0].ARPAnnounce)

	// The kernel takes the larger value: eth0=3 beats all=1 and would
	// answer ARP for the global-scope VIP. IPv6 does not care.
	r.sys.Put("eth0", "arp_ignore", "3")
	st, err = r.m.Status(ctx, realserver.StatusOptions{})
	require.NoError(t, err)
	assert.False(t, st.Ready())
	assert.False(t, st.VIPs[0].Ready)
	assert.Equal(t, []string{
		"eth0: arp_ignore is 3 (max of all=1, eth0=3), needs 1 or 2, else the interface answers ARP for addresses on lo",
	}, st.VIPs[0].Reasons)
	assert.True(t, st.VIPs[1].Ready)

	// A foreign address on lo shows up, as not added by lvsctl.
	r.addrs.Put("lo", "10.16.8.99/24", "lo:1")
	st, err = r.m.Status(ctx, realserver.StatusOptions{})
	require.NoError(t, err)
	require.Len(t, st.VIPs, 3)
	assert.Equal(t, "10.16.8.99", st.VIPs[2].Addr.String())
	assert.False(t, st.VIPs[2].AddedByLvsctl)
	assert.Contains(t, st.VIPs[2].Reasons[0], "bound as 10.16.8.99/24 on lo, not /32")
}

func TestStopRestoresSysctlsWhenOnlyIPv6VIPsRemain(t *testing.T) {
	r := newRig(t)
	orig := r.sys.Snapshot()
	_, err := r.start(t, nil, "10.16.8.100", "2001:db8::100")
	require.NoError(t, err)

	rep, err := r.m.Stop(context.Background(), realserver.StopOptions{VIPs: addrs(t, "10.16.8.100")})
	require.NoError(t, err)
	assert.False(t, rep.SysctlsKept)
	assert.Len(t, rep.Restored, 4)
	assert.Equal(t, orig, r.sys.Snapshot(), "IPv6 needs no ARP sysctls")
	st := r.state(t)
	require.NotNil(t, st)
	assert.Empty(t, st.Sysctls)
	assert.Equal(t, "2001:db8::100/128", st.VIPs[0].Prefix.String())
}
