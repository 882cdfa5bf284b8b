//go:build vm

package ipvs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"flag"
	"net/netip"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	moby "github.com/moby/ipvs"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

var profileFlag = flag.Bool("ipvs.profile", false, "TestVMCallCost: print a CPU profile of the add-destination calls, base64")

// sink keeps the buffers of the allocation measurement on the heap.
var sink []byte

// TestVMCallCost measures where the time of one IPVS edit goes, in the
// guest's real kernel: the whole call through Client, moby/ipvs alone
// with prepared arguments, the 64 KiB receive buffer moby/ipvs (in fact
// vishvananda/netlink's Receive) allocates per call, lvsctl's own
// preparation, and the effect of the garbage collector and GOMAXPROCS.
func TestVMCallCost(t *testing.T) {
	guest.RequireIPVS(t)
	ctx := context.Background()
	h := lab.New(t).Host("director")
	c, err := Open(h.NSPath())
	require.NoError(t, err)
	defer c.Close()
	const n = 2000
	svc := director.Service{Key: director.ServiceKey{Family: director.IPv4, Protocol: director.TCP,
		Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}, Scheduler: "wrr", Netmask: director.DefaultNetmask(director.IPv4)}
	dest := func(i int) director.Destination {
		return director.Destination{Addr: netip.AddrFrom4([4]byte{10, 17, byte(i >> 8), byte(i)}), Port: 80, Weight: 1,
			Forward: director.DirectRoute}
	}
	type cost struct {
		perCall time.Duration
		alloc   float64 // bytes per call
		gcs     uint32
	}
	measure := func(procs int, gcOff bool, fn func(i int)) cost {
		require.NoError(t, c.NewService(ctx, svc))
		defer func() { require.NoError(t, c.DelService(ctx, svc.Key)) }()
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		if gcOff {
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		for i := range n {
			fn(i)
		}
		el := time.Since(start)
		runtime.ReadMemStats(&m1)
		return cost{el / n, float64(m1.TotalAlloc-m0.TotalAlloc) / n, m1.NumGC - m0.NumGC}
	}
	viaClient := func(i int) {
		if err := c.NewDestination(ctx, svc.Key, dest(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The same edits straight through moby/ipvs, arguments prepared.
	ms := lookupService(svc.Key)
	md := make([]*moby.Destination, n)
	for i := range md {
		md[i] = toDest(dest(i))
	}
	viaMoby := func(i int) {
		if err := c.h.NewDestination(ms, md[i]); err != nil {
			t.Fatal(err)
		}
	}
	procs := runtime.GOMAXPROCS(0)
	measure(procs, false, viaClient) // warm up: page in, grow the heap
	variants := []struct {
		name  string
		procs int
		gcOff bool
		fn    func(int)
	}{
		{"Client.NewDestination", procs, false, viaClient},
		{"moby NewDestination (args prepared)", procs, false, viaMoby},
		{"Client.NewDestination, GC paused", procs, true, viaClient},
		{"Client.NewDestination, GOMAXPROCS(1)", 1, false, viaClient},
		{"Client.NewDestination, GOMAXPROCS(1)+GC off", 1, true, viaClient},
	}
	// Rounds interleave the variants, so a busy moment of the host (the
	// guest is emulated) spreads over all of them; the median is shown.
	const rounds = 5
	results := make([][]cost, len(variants))
	for range rounds {
		for i, v := range variants {
			results[i] = append(results[i], measure(v.procs, v.gcOff, v.fn))
		}
	}
	for i, v := range variants {
		rs := results[i]
		slices.SortFunc(rs, func(a, b cost) int { return cmp.Compare(a.perCall, b.perCall) })
		med := rs[len(rs)/2]
		t.Logf("%-44s median %6.1f µs/call (min %6.1f, max %6.1f)  %4.1f KiB/call  %d GCs", v.name,
			us(med.perCall), us(rs[0].perCall), us(rs[len(rs)-1].perCall), med.alloc/1024, med.gcs)
	}
	// The 64 KiB buffer alone: allocated (zeroed) and dropped per call.
	for _, gcOff := range []bool{false, true} {
		prev := -2
		if gcOff {
			prev = debug.SetGCPercent(-1)
		}
		start := time.Now()
		for range n {
			sink = make([]byte, 64<<10)
		}
		el := time.Since(start) / n
		if gcOff {
			debug.SetGCPercent(prev)
		}
		t.Logf("%-44s        %6.1f µs/call", map[bool]string{false: "64 KiB allocation alone", true: "64 KiB allocation alone, GC paused"}[gcOff],
			float64(el.Nanoseconds())/1e3)
	}
	// lvsctl's own preparation per call, before and after labels on error only.
	var l string
	start := time.Now()
	for i := range n {
		d := dest(i)
		l = "add destination " + d.Key().String() + " to " + svc.Key.String()
		_, _ = lookupService(svc.Key), toDest(d)
	}
	before := time.Since(start) / n
	start = time.Now()
	for i := range n {
		_, _ = c.keyService(svc.Key), toDest(dest(i))
	}
	after := time.Since(start) / n
	_ = l
	t.Logf("lvsctl's own preparation per call: before %.2f µs (label every call), after %.2f µs",
		float64(before.Nanoseconds())/1e3, float64(after.Nanoseconds())/1e3)

	if *profileFlag {
		var buf bytes.Buffer
		require.NoError(t, pprof.StartCPUProfile(&buf))
		measure(procs, false, viaClient)
		measure(procs, false, viaClient)
		pprof.StopCPUProfile()
		t.Logf("PROFILE-BEGIN\n%s\nPROFILE-END", base64.StdEncoding.EncodeToString(buf.Bytes()))
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
