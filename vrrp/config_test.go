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
		"version 4":    func(c *Config) { c.Instances[0].Version = 4 },
		"no vrid":      func(c *Config) { c.Instances[0].VRID = 0 },
		"no interface": func(c *Config) { c.Instances[0].Interface = "" },
		"no VIP":       func(c *Config) { c.Instances[0].VIPs = nil },
		"IPv6 VIP in an IPv4 instance": func(c *Config) {
			c.Instances[0].VIPs = append(c.Instances[0].VIPs, VIP{Prefix: netip.MustParsePrefix("2001:db8::1/128")})
		},
		"IPv6 with version 2": func(c *Config) {
			c.Instances[0] = instCfg6("VI_1", "eth1", 191, 100, "2001:db8::1")
			c.Instances[0].Version = 2
			c.Instances[0].AdvertInt = time.Second
		},
		"IPv6 without group6": func(c *Config) {
			c.Instances[0] = instCfg6("VI_1", "eth1", 191, 100, "2001:db8::1")
			c.McastGroup6 = netip.Addr{}
		},
		"IPv6 with IPv4 source": func(c *Config) {
			c.Instances[0] = instCfg6("VI_1", "eth1", 191, 100, "2001:db8::1")
			c.Instances[0].SrcIP = netip.MustParseAddr("10.16.8.10")
		},
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

// TestValidateIPv6: a VRRPv3 instance with IPv6 addresses, IPv6 peers and
// IPv4 excluded addresses is what the loader passes for keepalived's IPv6
// instances; an IPv4 instance may exclude IPv6 addresses.
func TestValidateIPv6(t *testing.T) {
	v6 := instCfg6("VI_6", "eth1", 191, 100, "fe80::191")
	v6.VIPs = append(v6.VIPs, VIP{Prefix: netip.MustParsePrefix("2001:db8::191/64")})
	v6.ExcludedVIPs = []VIP{{Prefix: netip.MustParsePrefix("10.16.8.191/32")}}
	u6 := instCfg6("VI_U", "eth1", 192, 100, "2001:db8::192")
	u6.SrcIP = netip.MustParseAddr("2001:db8::10")
	u6.UnicastPeers = []netip.Addr{netip.MustParseAddr("2001:db8::11")}
	v4 := instCfg("VI_4", "eth1", 191, 100, "10.16.8.100")
	v4.ExcludedVIPs = []VIP{{Prefix: netip.MustParsePrefix("2001:db8::100/128")}}
	c := testConfig(Config{Instances: []InstanceConfig{v6, u6, v4}})
	require.NoError(t, c.Validate())
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
