package director_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
)

// faultConfig is n services (the first `from`..from+n) of 6 real servers.
func faultConfig(from, n int, weight int) director.Config {
	var c director.Config
	for i := from; i < from+n; i++ {
		vs := director.VirtualService{Service: director.Service{
			Key: director.ServiceKey{Addr: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Port: 80}, Scheduler: "wrr"}}
		for j := range 6 {
			vs.RealServers = append(vs.RealServers, director.RealServer{Addr: netip.AddrFrom4([4]byte{10, 30, byte(i), byte(j + 1)}),
				Port: 80, Weight: weight + j, Forward: director.DirectRoute, Checked: true, InhibitOnFailure: j%2 == 0})
		}
		c.Services = append(c.Services, vs)
	}
	return directortest.Complete(c)
}

// faulty fails edits at random the ways netlink does: ENOBUFS (half of
// them after the kernel did the edit: the reply was lost), EBUSY, and a
// service or destination deleted by someone else just before the edit.
func faulty(rng *rand.Rand, counts map[string]int) func(director.Op, director.Table) fakeipvs.Fault {
	return func(op director.Op, t director.Table) fakeipvs.Fault {
		switch p := rng.IntN(100); {
		case p < 8:
			applied := rng.IntN(2) == 0
			counts[fmt.Sprintf("ENOBUFS applied=%v", applied)]++
			return fakeipvs.Fault{Err: unix.ENOBUFS, Applied: applied}
		case p < 14:
			counts["EBUSY"]++
			return fakeipvs.Fault{Err: unix.EBUSY}
		case p < 17:
			counts["service deleted behind"]++
			delete(t, op.Service.Key)
		case p < 20:
			if s := t[op.Service.Key]; s != nil {
				for k := range s.Dests {
					counts["destination deleted behind"]++
					delete(s.Dests, k)
					break
				}
			}
		}
		return fakeipvs.Fault{}
	}
}

// Whatever netlink does to the director's edits, the first Sync after the
// faults end makes the kernel table what a director without faults has,
// and the one after that finds no drift: the mirror is right again.
// Services dropped by a reload whose deletion failed are not forgotten.
func TestFaultsNeverLeaveTheMirrorWrong(t *testing.T) {
	ctx := context.Background()
	a := faultConfig(0, 30, 1)
	// b drops 10 services, adds 10, and changes every weight of the rest.
	b := faultConfig(10, 30, 5)
	managed := func(k director.ServiceKey) bool { return k.Addr.As4()[2] == 0 && k.Addr.As4()[3] < 40 }
	counts := map[string]int{}
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 1))
		kernel, ref := fakeipvs.New(), fakeipvs.New()
		// Someone else's service, which must survive everything.
		foreign := director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 443}
		for _, f := range []*fakeipvs.IPVS{kernel, ref} {
			require.NoError(t, f.NewService(ctx, director.Service{Key: foreign, Scheduler: "rr", Netmask: director.DefaultNetmask(director.IPv4)}))
		}
		opts := func(f *fakeipvs.IPVS) director.Options {
			return director.Options{IPVS: f, Logger: slog.New(slog.DiscardHandler)}
		}
		d, err := director.New(a, opts(kernel))
		require.NoError(t, err)
		want, err := director.New(a, opts(ref))
		require.NoError(t, err)
		kernel.Inject(faulty(rng, counts))
		require.NoError(t, d.Start(ctx))
		require.NoError(t, want.Start(ctx))
		cfg := a
		for step := range 40 {
			switch r := rng.IntN(10); {
			case r < 6:
				vs := cfg.Services[rng.IntN(len(cfg.Services))]
				rs := vs.RealServers[rng.IntN(len(vs.RealServers))]
				ev := director.HealthEvent{Ref: director.RealRef{Service: vs.Service.Key, Real: rs.Key()}, Up: rng.IntN(2) == 0}
				_ = d.HandleHealth(ctx, ev)
				require.NoError(t, want.HandleHealth(ctx, ev))
			case r < 8:
				cfg = map[bool]director.Config{true: a, false: b}[cfg.Services[0].Service.Key == b.Services[0].Service.Key]
				_, err := d.Reload(ctx, cfg)
				require.NoError(t, err)
				_, err = want.Reload(ctx, cfg)
				require.NoError(t, err)
			default:
				// A resync while the faults go on.
				_, _ = d.Sync(ctx)
			}
			_ = step
		}
		kernel.Inject(nil)
		_, err = d.Sync(ctx)
		require.NoError(t, err, "seed %d: the first Sync without faults repairs everything", seed)
		diff := director.Diff(pick(ref.Table(), managed), kernel.Table(), managed)
		require.Empty(t, opStrings(diff), "seed %d: kernel differs from a director without faults", seed)
		require.Contains(t, kernel.Table(), foreign, "seed %d: a foreign service was touched", seed)
		drift, err := d.Sync(ctx)
		require.NoError(t, err)
		require.Zero(t, drift, "seed %d: the mirror differs from the kernel after a repair", seed)
		require.False(t, d.Dirty())
	}
	t.Logf("faults injected over 30 seeds: %v", counts)
}

func pick(t director.Table, keep func(director.ServiceKey) bool) director.Table {
	out := director.Table{}
	for k, s := range t {
		if keep(k) {
			out[k] = s
		}
	}
	return out
}

// A reload drops a service whose deletion fails (EBUSY), and another
// whose creation at start failed with ENOBUFS after the kernel created it
// (the mirror never saw it): both stay ours and the next Sync deletes
// them. Before, both stayed in the kernel for good.
func TestDroppedServiceWhoseDeletionFailedIsRetried(t *testing.T) {
	ctx := context.Background()
	a := faultConfig(0, 3, 1)
	b := director.Config{Services: a.Services[:1]}
	busy, lost := a.Services[1].Service.Key, a.Services[2].Service.Key
	kernel := fakeipvs.New()
	kernel.Inject(func(op director.Op, _ director.Table) fakeipvs.Fault {
		switch {
		case op.Kind == director.OpNewService && op.Service.Key == lost:
			return fakeipvs.Fault{Err: unix.ENOBUFS, Applied: true}
		case op.Kind == director.OpDelService && op.Service.Key == busy:
			return fakeipvs.Fault{Err: unix.EBUSY}
		}
		return fakeipvs.Fault{}
	})
	d, err := director.New(a, director.Options{IPVS: kernel, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	_, err = d.Reload(ctx, b)
	require.NoError(t, err)
	require.Contains(t, kernel.Table(), busy)
	require.Contains(t, kernel.Table(), lost)

	kernel.Inject(nil)
	_, err = d.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, []director.ServiceKey{b.Services[0].Service.Key}, keys(kernel.Table()))
	drift, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Zero(t, drift)
}

func keys(t director.Table) []director.ServiceKey {
	var ks []director.ServiceKey
	for k := range t {
		ks = append(ks, k)
	}
	return ks
}
