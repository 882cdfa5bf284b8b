package director_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
)

// bigConfig has nsvc virtual services with nrs real servers each.
func bigConfig(nsvc, nrs int) director.Config {
	var c director.Config
	for i := range nsvc {
		vip := netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)})
		vs := director.VirtualService{Service: director.Service{
			Key: director.ServiceKey{Protocol: director.TCP, Addr: vip, Port: 80}, Scheduler: "wrr"}}
		for j := range nrs {
			vs.RealServers = append(vs.RealServers, director.RealServer{
				Addr: netip.AddrFrom4([4]byte{10, 200, byte(j >> 8), byte(j)}), Port: 80, Weight: 1,
				Forward: director.DirectRoute, Checked: true})
		}
		c.Services = append(c.Services, vs)
	}
	return directortest.Complete(c)
}

func TestReloadChangingOneOf10000IssuesOneOp(t *testing.T) {
	ctx := context.Background()
	f := fakeipvs.New()
	d, err := director.New(bigConfig(1000, 10), director.Options{IPVS: f})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	require.Len(t, f.Ops(), 1000+10000)

	cfg := bigConfig(1000, 10)
	cfg.Services[567].RealServers[3].Weight = 5
	f.Reset()
	res, err := d.Reload(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"edit-dest TCP 10.100.2.55:80 -> 10.200.0.3:80 weight=5 fwd=Route thresholds=0/0"}, f.OpStrings())
	assert.Len(t, res.Applied, 1)
	assert.Zero(t, f.Reads(), "a reload diffs against the mirror, without dumping the kernel")

	// Replacing one real server: one add, one delete.
	cfg.Services[10].RealServers[9].Addr = netip.MustParseAddr("10.201.0.1")
	f.Reset()
	_, err = d.Reload(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"add-dest TCP 10.100.0.10:80 -> 10.201.0.1:80 weight=1 fwd=Route thresholds=0/0",
		"del-dest TCP 10.100.0.10:80 -> 10.200.0.9:80",
	}, f.OpStrings())
}

// BenchmarkColdStart100k programs 10,000 services × 10 real servers into
// an empty fake: config validation, one dump, diff and 110,000 edits.
func BenchmarkColdStart100k(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		cfg := bigConfig(10000, 10)
		f := fakeipvs.New()
		b.StartTimer()
		d, err := director.New(cfg, director.Options{IPVS: f})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perDest(b, 100000)
}

// BenchmarkResync100k is the steady state: dump 100,000 destinations from
// the fake, compare with the desired table, find nothing to do.
func BenchmarkResync100k(b *testing.B) {
	ctx := context.Background()
	f := fakeipvs.New()
	d, err := director.New(bigConfig(10000, 10), director.Options{IPVS: f})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perDest(b, 100000)
}

// BenchmarkDiff100k is the reconciler alone: diff a desired table of
// 100,000 destinations against an identical actual one.
func BenchmarkDiff100k(b *testing.B) {
	f := fakeipvs.New()
	shadow := director.Table{}
	want := director.Table{}
	cfg := bigConfig(10000, 10)
	for _, vs := range cfg.Services {
		ts := &director.TableService{Service: vs.Service, Dests: map[director.DestKey]director.Destination{}}
		for _, r := range vs.RealServers {
			d := r.Destination(vs.Service.Key, r.Weight)
			ts.Dests[d.Key()] = d
		}
		want[vs.Service.Key] = ts
	}
	director.Apply(context.Background(), f, director.Diff(want, shadow, nil), shadow)
	b.ReportAllocs()
	for b.Loop() {
		if ops := director.Diff(want, shadow, nil); len(ops) != 0 {
			b.Fatalf("unexpected ops: %d", len(ops))
		}
	}
	perDest(b, 100000)
}

func perDest(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/dest")
}

// BenchmarkReloadOneOf10000 is a reload of 1,000 services × 10 real servers
// that changes one weight: validation, desired state, diff against the
// mirror, one edit.
func BenchmarkReloadOneOf10000(b *testing.B) {
	ctx := context.Background()
	f := fakeipvs.New()
	d, err := director.New(bigConfig(1000, 10), director.Options{IPVS: f})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	cfgs := [2]director.Config{bigConfig(1000, 10), bigConfig(1000, 10)}
	cfgs[1].Services[567].RealServers[3].Weight = 5
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := d.Reload(ctx, cfgs[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// nopIPVS is an empty kernel that accepts every edit, so the benchmarks
// below measure the director alone (the recording fake costs as much).
type nopIPVS struct{}

func (nopIPVS) GetServices(context.Context) ([]director.Service, error) { return nil, nil }
func (nopIPVS) GetDestinations(context.Context, director.ServiceKey) ([]director.Destination, error) {
	return nil, nil
}
func (nopIPVS) NewService(context.Context, director.Service) error    { return nil }
func (nopIPVS) UpdateService(context.Context, director.Service) error { return nil }
func (nopIPVS) DelService(context.Context, director.ServiceKey) error { return nil }
func (nopIPVS) NewDestination(context.Context, director.ServiceKey, director.Destination) error {
	return nil
}
func (nopIPVS) UpdateDestination(context.Context, director.ServiceKey, director.Destination) error {
	return nil
}
func (nopIPVS) DelDestination(context.Context, director.ServiceKey, director.DestKey) error {
	return nil
}

// BenchmarkColdStart1000x10 is the daemon's cold start of the comparison
// bench (1,000 services × 10 real servers) without the kernel: validate,
// dump, diff, 11,000 edits into an IPVS that does nothing, with metrics.
func BenchmarkColdStart1000x10(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		cfg := bigConfig(1000, 10)
		b.StartTimer()
		d, err := director.New(cfg, director.Options{IPVS: nopIPVS{}, Observer: director.NewMetrics()})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perDest(b, 10000)
}
