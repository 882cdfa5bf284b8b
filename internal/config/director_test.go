package config

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
)

func TestDirectorFromSeedLVSDR(t *testing.T) {
	c, _, err := Load("testdata/seed/lvs-dr-ka67.conf")
	require.NoError(t, err)
	dc := c.Director()
	require.NoError(t, dc.Validate())
	require.Len(t, dc.Services, 2)
	vs := dc.Services[0]
	assert.Equal(t, "TCP 10.16.8.100:80", vs.Service.Key.String())
	assert.Equal(t, "rr", vs.Service.Scheduler)
	require.Len(t, vs.RealServers, 2)
	assert.Equal(t, director.DirectRoute, vs.RealServers[0].Forward)
	assert.Equal(t, 1, vs.RealServers[0].Weight)
	assert.True(t, vs.RealServers[0].Checked)

	servers, err := HealthServers(c)
	require.NoError(t, err)
	require.Len(t, servers, 4)
	configured := map[director.RealRef]bool{}
	for _, vs := range dc.Services {
		for _, rs := range vs.RealServers {
			configured[director.RealRef{Service: vs.Service.Key, Real: rs.Key()}] = true
		}
	}
	for _, s := range servers {
		ref := s.Key
		require.True(t, configured[ref], "%s names no real server of the director", ref)
		assert.True(t, ref.Real.Addr == netip.MustParseAddr("10.16.8.8") || ref.Real.Addr == netip.MustParseAddr("10.16.8.9"))
	}

	f := fakeipvs.New()
	d, err := director.New(dc, director.Options{IPVS: f})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	assert.Equal(t, []string{
		"add-service TCP 10.16.8.100:80 sched=rr flags=0x0 timeout=0 netmask=255.255.255.255",
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0",
		"add-dest TCP 10.16.8.100:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
		"add-service TCP 10.16.8.101:80 sched=rr flags=0x0 timeout=0 netmask=255.255.255.255",
		"add-dest TCP 10.16.8.101:80 -> 10.16.8.8:80 weight=1 fwd=Route thresholds=0/0",
		"add-dest TCP 10.16.8.101:80 -> 10.16.8.9:80 weight=1 fwd=Route thresholds=0/0",
	}, f.OpStrings())
}

func TestDirectorPersistenceFwmarkSorry(t *testing.T) {
	src := `
virtual_server 10.0.0.1 443 {
    lb_algo sh
    lb_kind NAT
    protocol TCP
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    sorry_server 10.0.0.99 8443
    sorry_server_inhibit
    quorum 2
    hysteresis 1
    real_server 10.0.0.2 8443 {
        weight 2
        inhibit_on_failure
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
virtual_server fwmark 7 {
    lb_algo wlc
    lb_kind DR
    real_server 2001:db8::2 80 {
        weight 1
    }
}
`
	c, _, err := Parse("t.conf", []byte(src), Options{})
	require.NoError(t, err)
	dc := c.Director()
	require.NoError(t, dc.Validate())
	require.Len(t, dc.Services, 2)
	s := dc.Services[0]
	assert.Equal(t, uint32(600), s.Service.Timeout)
	assert.Equal(t, director.FlagPersistent, s.Service.Flags)
	assert.Equal(t, "255.255.255.0", director.NetmaskString(director.IPv4, s.Service.Netmask))
	assert.Equal(t, 2, s.Quorum)
	assert.Equal(t, 1, s.Hysteresis)
	require.NotNil(t, s.Sorry)
	assert.True(t, s.SorryInhibit)
	assert.Equal(t, director.Masq, s.RealServers[0].Forward)
	assert.True(t, s.RealServers[0].InhibitOnFailure)
	assert.Equal(t, "t.conf:2:1", s.Pos)
	fw := dc.Services[1]
	assert.Equal(t, "FWM 7 IPv6", fw.Service.Key.String())
	assert.Equal(t, uint32(128), fw.Service.Netmask)
}
