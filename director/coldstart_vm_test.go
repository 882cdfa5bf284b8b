//go:build vm

package director_test

import (
	"cmp"
	"context"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

// TestVMColdStartTuning measures a cold start (300 services × 10 real
// servers, 3,300 edits into the real kernel) with and without the
// runtime tuning of big batches, the variants interleaved over rounds so
// the emulated guest's noise spreads over all of them. It prints the
// figures and fails when the default is clearly worse than no tuning (by
// the fastest round of each: noise only ever adds).
func TestVMColdStartTuning(t *testing.T) {
	guest.RequireIPVS(t)
	ctx := context.Background()
	h := lab.New(t).Host("director")
	c, err := ipvs.Open(h.NSPath())
	require.NoError(t, err)
	defer c.Close()
	var cfg director.Config
	for i := range 300 {
		vs := director.VirtualService{Service: director.Service{Key: director.ServiceKey{Protocol: director.TCP,
			Addr: netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)}), Port: 80}, Scheduler: "wrr"}}
		for j := range 10 {
			vs.RealServers = append(vs.RealServers, director.RealServer{Addr: netip.AddrFrom4([4]byte{10, 200, 0, byte(j)}),
				Port: 80, Weight: 1, Forward: director.DirectRoute, Checked: true})
		}
		cfg.Services = append(cfg.Services, vs)
	}
	cfg = directortest.Complete(cfg)
	variants := []struct {
		name           string
		oneProc, noGC  bool
		isDefault, off bool
	}{
		{name: "no tuning", off: true},
		{name: "GOMAXPROCS(1) (default)", oneProc: true, isDefault: true},
		{name: "GOMAXPROCS(1) + GC paused", oneProc: true, noGC: true},
	}
	const rounds = 7
	took := make([][]time.Duration, len(variants))
	procs := runtime.GOMAXPROCS(0)
	for range rounds {
		for i, v := range variants {
			d, err := director.New(cfg, director.Options{IPVS: c})
			require.NoError(t, err)
			d.SetBatchTuning(v.oneProc, v.noGC)
			runtime.GC()
			start := time.Now()
			require.NoError(t, d.Start(ctx))
			took[i] = append(took[i], time.Since(start))
			require.Equal(t, procs, runtime.GOMAXPROCS(0), "GOMAXPROCS restored")
			require.False(t, d.Dirty())
			require.NoError(t, d.Stop(ctx))
		}
	}
	var def, off time.Duration
	for i, v := range variants {
		ts := took[i]
		slices.SortFunc(ts, cmp.Compare)
		med := ts[len(ts)/2]
		t.Logf("FIGURES cold start 300 VS x 10 RS (3300 edits), %-36s median %4d ms (min %4d, max %4d)",
			v.name, med.Milliseconds(), ts[0].Milliseconds(), ts[len(ts)-1].Milliseconds())
		if v.isDefault {
			def = ts[0]
		}
		if v.off {
			off = ts[0]
		}
	}
	require.LessOrEqual(t, def, off*6/5, "the default tuning is slower than none")
}
