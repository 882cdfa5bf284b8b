package vrrp

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeConf is a recording IfaceSysctls.
type fakeConf struct {
	mu   sync.Mutex
	vals map[string]string
	sets []string
}

func (f *fakeConf) Get(ifname, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vals[ifname+"."+key]
	if !ok {
		return "", fmt.Errorf("no %s.%s", ifname, key)
	}
	return v, nil
}

func (f *fakeConf) Set(ifname, key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vals[ifname+"."+key] = value
	f.sets = append(f.sets, ifname+"."+key+"="+value)
	return nil
}

func (f *fakeConf) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sets...)
}

// promote_secondaries: set once per interface before the instances run
// (two instances on eth1 share it), left alone where it already was 1,
// put back when a reload drops it, and at stop.
func TestNodePromoteSecondaries(t *testing.T) {
	conf := &fakeConf{vals: map[string]string{"eth1.promote_secondaries": "0", "eth2.promote_secondaries": "1"}}
	a := instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")
	b := instCfg("VI_2", "eth1", 192, 100, "10.16.8.101")
	c := instCfg("VI_3", "eth2", 193, 100, "172.16.8.100")
	a.PromoteSecondaries, b.PromoteSecondaries, c.PromoteSecondaries = true, true, true
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{a, b, c}}, func(h *nodeHarness) {
		h.opts = append(h.opts, WithIfaceSysctls(conf))
	})
	h.waitState("VI_1", "BACKUP")
	assert.Equal(t, []string{"eth1.promote_secondaries=1"}, conf.recorded(), "eth2 already had it")

	// A reload that keeps it on one eth1 instance changes nothing; one
	// that drops it everywhere puts eth1 back.
	b.PromoteSecondaries = false
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{a, b, c}}))
	assert.Len(t, conf.recorded(), 1)
	a.PromoteSecondaries = false
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{a, b, c}}))
	assert.Equal(t, []string{"eth1.promote_secondaries=1", "eth1.promote_secondaries=0"}, conf.recorded())

	a.PromoteSecondaries = true
	require.NoError(t, h.reload(Config{McastGroup4: group, Instances: []InstanceConfig{a, b, c}}))
	want := []string{"eth1.promote_secondaries=1", "eth1.promote_secondaries=0", "eth1.promote_secondaries=1", "eth1.promote_secondaries=0"}

	// Stop: eth1 put back, eth2 left as lvsctl found it.
	h.cancel()
	for {
		select {
		case <-h.done:
			assert.Equal(t, want, conf.recorded())
			assert.Equal(t, "1", conf.vals["eth2.promote_secondaries"])
			h.done <- nil
			return
		case <-time.After(10 * time.Millisecond):
			h.clock.Advance(time.Second)
		}
	}
}

// unicast_ttl sets the TTL of adverts to unicast peers; multicast adverts
// keep 255.
func TestNodeUnicastTTL(t *testing.T) {
	uni := instCfg("VI_1", "eth1", 191, 255, "10.16.8.100")
	uni.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.16.8.11")}
	uni.UnicastTTL = 64
	multi := instCfg("VI_2", "eth1", 192, 255, "10.16.8.101")
	multi.UnicastTTL = 64 // the loader clears it without peers; the node ignores it too
	h := startNode(t, Config{McastGroup4: group, Instances: []InstanceConfig{uni, multi}})
	h.waitState("VI_1", "MASTER")
	h.waitState("VI_2", "MASTER")
	h.eventually("adverts of both sent", func() bool {
		ttl := map[netip.Addr]uint8{}
		for _, s := range h.tr.sends() {
			ttl[s.dst] = s.ttl
		}
		return ttl[netip.MustParseAddr("10.16.8.11")] == 64 && ttl[group] == 255
	})
}
