package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	base := func() Config {
		return Config{Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}}
	}
	require.NoError(t, (&Config{Instances: base().Instances}).Validate())
	for name, mutate := range map[string]func(*Config){
		"AH":            func(c *Config) { c.Instances[0].AuthType = AuthAH },
		"unknown auth":  func(c *Config) { c.Instances[0].AuthType = "MD5" },
		"v2 sub-second": func(c *Config) { c.Instances[0].AdvertInt = 500 * time.Millisecond },
		"v3 with PASS":  func(c *Config) { c.Instances[0].Version = 3 },
		"v3 odd interval": func(c *Config) {
			c.Instances[0].Version = 3
			c.Instances[0].AuthType = AuthNone
			c.Instances[0].AdvertInt = 15 * time.Millisecond
		},
		"version 4":      func(c *Config) { c.Instances[0].Version = 4 },
		"no vrid":        func(c *Config) { c.Instances[0].VRID = 0 },
		"no interface":   func(c *Config) { c.Instances[0].Interface = "" },
		"no VIP":         func(c *Config) { c.Instances[0].VIPs = nil },
		"IPv6 VIP":       func(c *Config) { c.Instances[0].VIPs[0].Prefix = netip.MustParsePrefix("2001:db8::1/128") },
		"bad scope":      func(c *Config) { c.Instances[0].VIPs[0].Scope = "galaxy" },
		"bad state":      func(c *Config) { c.Instances[0].InitialState = "PRIMARY" },
		"unknown script": func(c *Config) { c.Instances[0].TrackScripts = []TrackScript{{Name: "chk_nginx"}} },
		"duplicate name": func(c *Config) { c.Instances = append(c.Instances, c.Instances[0]) },
		"duplicate vrid": func(c *Config) {
			c.Instances = append(c.Instances, instCfg("VI_2", "eth1", 191, 100, "10.16.8.101"))
		},
		"group member":   func(c *Config) { c.SyncGroups = []SyncGroupConfig{{Name: "VG", Instances: []string{"VI_9"}}} },
		"mcast group":    func(c *Config) { c.McastGroup4 = netip.MustParseAddr("10.0.0.1") },
		"unicast peer 6": func(c *Config) { c.Instances[0].UnicastPeers = []netip.Addr{netip.MustParseAddr("::1")} },
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			mutate(&c)
			assert.ErrorIs(t, c.Validate(), ErrConfig)
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{Instances: []InstanceConfig{{Name: "VI_1", Interface: "eth1", VRID: 1, AuthPass: "x"}}, Scripts: []ScriptConfig{{Name: "s", Command: "true"}}}
	d := c.withDefaults()
	assert.Equal(t, netip.MustParseAddr(DefaultMcastGroup4), d.McastGroup4)
	in := d.Instances[0]
	assert.Equal(t, uint8(2), in.Version)
	assert.Equal(t, uint8(100), in.Priority)
	assert.Equal(t, time.Second, in.AdvertInt)
	assert.Equal(t, AuthPass, in.AuthType)
	assert.Equal(t, 5, in.GARPRepeat)
	assert.Equal(t, 5*time.Second, in.GARPDelay)
	assert.Equal(t, ScriptConfig{Name: "s", Command: "true", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}, d.Scripts[0])
	assert.Equal(t, 100*time.Millisecond, d.ReleaseGrace)
}
