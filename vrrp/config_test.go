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
		return testConfig(Config{Instances: []InstanceConfig{instCfg("VI_1", "eth1", 191, 100, "10.16.8.100")}})
	}
	c := base()
	require.NoError(t, c.Validate())
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
		"version 4":       func(c *Config) { c.Instances[0].Version = 4 },
		"no vrid":         func(c *Config) { c.Instances[0].VRID = 0 },
		"no interface":    func(c *Config) { c.Instances[0].Interface = "" },
		"no VIP":          func(c *Config) { c.Instances[0].VIPs = nil },
		"IPv6 VIP":        func(c *Config) { c.Instances[0].VIPs[0].Prefix = netip.MustParsePrefix("2001:db8::1/128") },
		"bad scope":       func(c *Config) { c.Instances[0].VIPs[0].Scope = "galaxy" },
		"bad state":       func(c *Config) { c.Instances[0].InitialState = "PRIMARY" },
		"unknown script":  func(c *Config) { c.Instances[0].TrackScripts = []TrackScript{{Name: "chk_nginx"}} },
		"duplicate name":  func(c *Config) { c.Instances = append(c.Instances, c.Instances[0]) },
		"zero interval":   func(c *Config) { c.Instances[0].AdvertInt = 0 },
		"zero priority":   func(c *Config) { c.Instances[0].Priority = 0 },
		"zero garp":       func(c *Config) { c.Instances[0].GARPRepeat = 0 },
		"no notify bound": func(c *Config) { c.NotifyTimeout = 0 },
		"script no rise": func(c *Config) {
			c.Scripts = []ScriptConfig{{Name: "s", Command: "true", Interval: time.Second, Timeout: time.Second, Fall: 1}}
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

// The duplicate VRID check lives in internal/config (with the positions of
// both instances); the runtime accepts what the loader passed.
func TestValidateLeavesUserChecksToTheLoader(t *testing.T) {
	c := testConfig(Config{Instances: []InstanceConfig{
		instCfg("VI_1", "eth1", 191, 100, "10.16.8.100"),
		instCfg("VI_2", "eth1", 191, 100, "10.16.8.101"),
	}})
	require.NoError(t, c.Validate())
}
