package director_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
)

func vsKey(s string) director.ServiceKey {
	k, err := director.ParseServiceKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

func dst(s string, w int) director.Destination {
	ap := netip.MustParseAddrPort(s)
	return director.Destination{Addr: ap.Addr(), Port: ap.Port(), Weight: w, Forward: director.DirectRoute}
}

func svc(s, sched string) director.Service {
	k := vsKey(s)
	return director.Service{Key: k, Scheduler: sched, Netmask: director.DefaultNetmask(k.Family)}
}

func table(svcs ...*director.TableService) director.Table {
	t := director.Table{}
	for _, s := range svcs {
		t[s.Service.Key] = s
	}
	return t
}

func ts(s director.Service, ds ...director.Destination) *director.TableService {
	t := &director.TableService{Service: s, Dests: map[director.DestKey]director.Destination{}}
	for _, d := range ds {
		t.Dests[d.Key()] = d
	}
	return t
}

func opStrings(ops []director.Op) []string {
	if len(ops) == 0 {
		return nil
	}
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.String()
	}
	return out
}

func TestDiff(t *testing.T) {
	a := svc("TCP 10.16.8.100:80", "rr")
	b := svc("TCP 10.16.8.101:80", "rr")
	other := svc("UDP 192.0.2.1:53", "wlc")
	managed := func(k director.ServiceKey) bool { return k == a.Key || k == b.Key }
	hashed := a
	hashed.Flags |= director.FlagHashed
	tests := []struct {
		name       string
		want, have director.Table
		ops        []string
	}{
		{
			name: "empty kernel: service first, then its destinations",
			want: table(ts(a, dst("10.16.8.9:80", 1), dst("10.16.8.8:80", 1))),
			have: director.Table{},
			ops: []string{
				"add-service TCP 10.16.8.100:80 sched=rr flags=0x0 timeout=0 netmask=255.255.255.255",
				"add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0",
				"add-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
			},
		},
		{
			name: "already right (HASHED ignored): adopted, nothing to do",
			want: table(ts(a, dst("10.16.8.8:80", 1))),
			have: table(ts(hashed, dst("10.16.8.8:80", 1))),
		},
		{
			name: "swap: add before delete, edits in between",
			want: table(ts(a, dst("10.16.8.8:80", 5), dst("10.16.8.10:80", 1))),
			have: table(ts(a, dst("10.16.8.8:80", 1), dst("10.16.8.9:80", 1))),
			ops: []string{
				"add-dest TCP 10.16.8.100:80 -> 10.16.8.10:80 weight=1 fwd=Route thresholds=0/0",
				"edit-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=5 fwd=Route thresholds=0/0",
				"del-dest TCP 10.16.8.100:80 -> 10.16.8.9:80",
			},
		},
		{
			name: "scheduler change is an edit, unmanaged services untouched, dropped managed service deleted last",
			want: table(ts(svc("TCP 10.16.8.100:80", "wrr"), dst("10.16.8.8:80", 1))),
			have: table(ts(a, dst("10.16.8.8:80", 1)), ts(b, dst("10.16.8.8:80", 1)), ts(other, dst("192.0.2.2:53", 1))),
			ops: []string{
				"edit-service TCP 10.16.8.100:80 sched=wrr flags=0x0 timeout=0 netmask=255.255.255.255",
				"del-service TCP 10.16.8.101:80",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ops, opStrings(director.Diff(tt.want, tt.have, managed)))
		})
	}
}

func TestApplyKeepsShadowAndSkipsUnsafeDeletes(t *testing.T) {
	ctx := context.Background()
	f := fakeipvs.New()
	a := svc("TCP 10.16.8.100:80", "rr")
	shadow := director.Table{}
	res := director.Apply(ctx, f, director.Diff(table(ts(a, dst("10.16.8.8:80", 1))), shadow, nil), shadow)
	require.NoError(t, res.Err())
	assert.Equal(t, f.Table(), shadow)

	// Swap 10.16.8.8 for 10.16.8.9, but the kernel refuses the new one:
	// the old one must stay, or the service would be empty.
	f.FailWith(func(op director.Op) error {
		if op.Kind == director.OpNewDest {
			return unix.ENOMEM
		}
		return nil
	})
	f.Reset()
	res = director.Apply(ctx, f, director.Diff(table(ts(a, dst("10.16.8.9:80", 1))), shadow, nil), shadow)
	require.ErrorIs(t, res.Err(), unix.ENOMEM)
	assert.Equal(t, []string{"add-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0"}, f.OpStrings())
	assert.Equal(t, []string{"del-dest TCP 10.16.8.100:80 -> 10.16.8.8:80"}, opStrings(res.Skipped))
	assert.Len(t, f.Table()[a.Key].Dests, 1)

	// A failed service creation skips its destinations.
	f.FailWith(func(op director.Op) error {
		if op.Kind == director.OpNewService {
			return unix.EINVAL
		}
		return nil
	})
	f.Reset()
	b := svc("TCP 10.16.8.101:80", "rr")
	res = director.Apply(ctx, f, director.Diff(table(ts(a, dst("10.16.8.8:80", 1)), ts(b, dst("10.16.8.8:80", 1))), shadow, nil), shadow)
	require.ErrorIs(t, res.Err(), unix.EINVAL)
	assert.Equal(t, []string{"add-service TCP 10.16.8.101:80 sched=rr flags=0x0 timeout=0 netmask=255.255.255.255"}, f.OpStrings())
	assert.Len(t, res.Skipped, 1)
}

func TestFakeBehavesLikeTheKernel(t *testing.T) {
	ctx := context.Background()
	f := fakeipvs.New()
	a := svc("TCP 10.16.8.100:80", "rr")
	require.NoError(t, f.NewService(ctx, a))
	require.ErrorIs(t, f.NewService(ctx, a), unix.EEXIST)
	require.ErrorIs(t, f.DelService(ctx, vsKey("TCP 10.16.8.1:80")), unix.ESRCH)
	require.NoError(t, f.NewDestination(ctx, a.Key, dst("10.16.8.8:80", 1)))
	require.ErrorIs(t, f.NewDestination(ctx, a.Key, dst("10.16.8.8:80", 1)), unix.EEXIST)
	require.ErrorIs(t, f.UpdateDestination(ctx, a.Key, dst("10.16.8.9:80", 1)), unix.ENOENT)
	svcs, err := f.GetServices(ctx)
	require.NoError(t, err)
	require.Len(t, svcs, 1)
	assert.Equal(t, director.FlagHashed, svcs[0].Flags&director.FlagHashed, "the kernel reports HASHED")
	got, err := director.Dump(ctx, f, nil)
	require.NoError(t, err)
	assert.Zero(t, got[a.Key].Service.Flags&director.FlagHashed, "Dump masks HASHED")
}

func TestNetmask(t *testing.T) {
	assert.Equal(t, uint32(0xffffffff), director.IPv4Netmask(32))
	assert.Equal(t, "255.255.255.0", director.NetmaskString(director.IPv4, director.IPv4Netmask(24)))
	assert.Equal(t, "255.255.255.255", director.NetmaskString(director.IPv4, director.DefaultNetmask(director.IPv4)))
	assert.Equal(t, uint32(128), director.DefaultNetmask(director.IPv6))
}

func TestParseServiceKey(t *testing.T) {
	for _, tt := range []struct {
		in, out string
		err     bool
	}{
		{in: "10.16.8.100:80", out: "TCP 10.16.8.100:80"},
		{in: "udp [2001:db8::1]:53", out: "UDP [2001:db8::1]:53"},
		{in: "SCTP 10.0.0.1:3868", out: "SCTP 10.0.0.1:3868"},
		{in: "fwmark 7", out: "FWM 7"},
		{in: "FWM 0", err: true},
		{in: "ICMP 10.0.0.1:1", err: true},
		{in: "10.0.0.1", err: true},
	} {
		k, err := director.ParseServiceKey(tt.in)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.out, k.String())
	}
}
