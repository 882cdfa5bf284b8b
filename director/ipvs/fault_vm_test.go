//go:build vm

package ipvs_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/directortest"
	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
	"github.com/lvsctl/lvsctl/e2e/vm/guest"
)

// While a reload changes every real server of 100 services, someone else
// (a second netlink client: ipvsadm -D) deletes services and destinations
// under the director's feet. The reload's edits on them fail (ESRCH,
// ENOENT); the next Sync repairs the kernel table to the desired state,
// and the one after finds nothing to repair: the mirror is right.
func TestVMServiceDeletedBehindTheDirectorDuringReload(t *testing.T) {
	guest.RequireIPVS(t)
	ctx := context.Background()
	h := lab.New(t).Host("director")
	c, err := ipvs.Open(h.NSPath())
	require.NoError(t, err)
	defer c.Close()
	other, err := ipvs.Open(h.NSPath())
	require.NoError(t, err)
	defer other.Close()

	cfg := func(weight, rsBase int) director.Config {
		var cfg director.Config
		for i := range 100 {
			vs := director.VirtualService{Service: director.Service{Key: director.ServiceKey{Protocol: director.TCP,
				Addr: netip.AddrFrom4([4]byte{10, 100, 0, byte(i)}), Port: 80}, Scheduler: "wrr"}}
			for j := range 10 {
				vs.RealServers = append(vs.RealServers, director.RealServer{Addr: netip.AddrFrom4([4]byte{10, 200, byte(i), byte(rsBase + j)}),
					Port: 80, Weight: weight, Forward: director.DirectRoute, Checked: true})
			}
			cfg.Services = append(cfg.Services, vs)
		}
		return directortest.Complete(cfg)
	}
	d, err := director.New(cfg(1, 1), director.Options{IPVS: c})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	defer func() { assert.NoError(t, d.Stop(ctx)) }()

	// The reload replaces half of every service's real servers and
	// reweights the rest: 1,500 edits.
	next := cfg(3, 6)
	var deleted atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i = (i + 7) % 100 {
			select {
			case <-stop:
				return
			default:
			}
			k := next.Services[i].Service.Key
			if other.DelService(ctx, k) == nil {
				deleted.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	res, err := d.Reload(ctx, next)
	require.NoError(t, err)
	close(stop)
	<-done
	t.Logf("reload: %d edits applied, %d failed, %d postponed; %d services deleted behind its back",
		len(res.Applied), len(res.Failed), len(res.Skipped), deleted.Load())
	require.Positive(t, deleted.Load())

	drift, err := d.Sync(ctx)
	require.NoError(t, err, "the first Sync repairs")
	t.Logf("first sync: %d drifted entries repaired", drift)
	require.Positive(t, drift)

	got, err := director.Dump(ctx, c, nil)
	require.NoError(t, err)
	want := director.Table{}
	for _, vs := range next.Services {
		ts := &director.TableService{Service: vs.Service, Dests: map[director.DestKey]director.Destination{}}
		for _, rs := range vs.RealServers {
			dst := rs.Destination(vs.Service.Key, rs.Weight)
			ts.Dests[dst.Key()] = dst
		}
		want[vs.Service.Key] = ts
	}
	assert.Empty(t, director.Diff(want, got, func(director.ServiceKey) bool { return true }),
		"the kernel table is the desired one")
	drift, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Zero(t, drift, "the mirror matches the kernel")
	assert.False(t, d.Dirty())
}
