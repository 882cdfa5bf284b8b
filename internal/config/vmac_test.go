package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/vrrp"
)

func vmacInst(name, iface, vrid, extra, vip string) string {
	return "vrrp_instance " + name + " {\n    interface " + iface + "\n    virtual_router_id " + vrid + "\n" + extra +
		"    virtual_ipaddress {\n        " + vip + "\n    }\n}\n"
}

func TestVMACKeywords(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want *vrrp.VMACConfig
	}{
		{"absent", vmacInst("A", "eth0", "51", "", "192.0.2.1"), nil},
		{"default name vrrp.VRID", vmacInst("A", "eth0", "51", "    use_vmac\n", "192.0.2.1"), &vrrp.VMACConfig{Name: "vrrp.51"}},
		{"named", vmacInst("A", "eth0", "51", "    use_vmac vmac51\n", "192.0.2.1"), &vrrp.VMACConfig{Name: "vmac51"}},
		{"15 bytes", vmacInst("A", "eth0", "51", "    use_vmac abcdefghijklmno\n", "192.0.2.1"), &vrrp.VMACConfig{Name: "abcdefghijklmno"}},
		{"xmit base before use_vmac", vmacInst("A", "eth0", "51", "    vmac_xmit_base\n    use_vmac\n", "192.0.2.1"), &vrrp.VMACConfig{Name: "vrrp.51", XmitBase: true}},
		{"unicast forces xmit base", vmacInst("A", "eth0", "51", "    use_vmac\n    unicast_peer {\n        192.0.2.9\n    }\n", "192.0.2.1"), &vrrp.VMACConfig{Name: "vrrp.51", XmitBase: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseString(tt.src, nil)
			require.NoError(t, err)
			v := cfg.VRRP()
			require.Len(t, v.Instances, 1)
			assert.Equal(t, tt.want, v.Instances[0].VMAC)
			require.NoError(t, v.Validate())
		})
	}
}

func TestVMACUnicastWarns(t *testing.T) {
	_, diags, err := parseString(vmacInst("A", "eth0", "51", "    use_vmac\n    unicast_peer {\n        192.0.2.9\n    }\n", "192.0.2.1"), nil)
	require.NoError(t, err)
	var got []string
	for _, d := range diags {
		got = append(got, strings.TrimPrefix(d.String(), "/etc/keepalived/t.conf:"))
	}
	assert.Contains(t, strings.Join(got, "\n"), "4:5: warning: vrrp_instance A: unicast with use_vmac requires vmac_xmit_base")
}

func TestVMACErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"name too long", vmacInst("A", "eth0", "51", "    use_vmac abcdefghijklmnop\n", "192.0.2.1"),
			[]string{`4:14: use_vmac: "abcdefghijklmnop" is not a valid interface name (1 to 15 characters`}},
		{"name with slash", vmacInst("A", "eth0", "51", "    use_vmac a/b\n", "192.0.2.1"),
			[]string{`4:14: use_vmac: "a/b" is not a valid interface name`}},
		{"multicast MAC", vmacInst("A", "eth0", "51", "    use_vmac 03:00:00:00:00:01\n", "192.0.2.1"),
			[]string{`4:14: use_vmac 03:00:00:00:00:01: a multicast MAC address cannot be a VMAC's`}},
		{"RFC 5798 MAC", vmacInst("A", "eth0", "51", "    use_vmac 00:00:5e:00:02\n", "192.0.2.1"),
			[]string{`4:14: use_vmac 00:00:5e:00:02: an RFC 5798 virtual router MAC cannot be configured`}},
		{"bad MAC", vmacInst("A", "eth0", "51", "    use_vmac 02:00:100:00:00:01\n", "192.0.2.1"),
			[]string{`4:14: use_vmac 02:00:100:00:00:01: not a MAC address: octet "100"`}},
		{"MAC of 4 octets", vmacInst("A", "eth0", "51", "    use_vmac 02:00:00:01\n", "192.0.2.1"),
			[]string{`4:14: use_vmac 02:00:00:01: not a MAC address (6 octets, or 5 and the VRID as the last)`}},
		{"two names", vmacInst("A", "eth0", "51", "    use_vmac a b\n", "192.0.2.1"),
			[]string{`4:16: use_vmac: the VMAC interface name is already given`}},
		{"two MACs", vmacInst("A", "eth0", "51", "    use_vmac 02:00:00:00:00:01 02:00:00:00:00:02\n", "192.0.2.1"),
			[]string{`4:32: use_vmac: the VMAC MAC address is already given`}},
		{"three arguments", vmacInst("A", "eth0", "51", "    use_vmac a 02:00:00:00:00:01 b\n", "192.0.2.1"),
			[]string{`4:34: use_vmac takes at most 2 arguments`}},
		{"same name twice", vmacInst("A", "eth0", "51", "    use_vmac\n", "192.0.2.1") + vmacInst("B", "eth1", "51", "    use_vmac\n", "192.0.2.2"),
			[]string{`12:5: vrrp_instance B: VMAC interface vrrp.51 is already used by vrrp_instance A (/etc/keepalived/t.conf:1:1)`}},
		{"name of the interface", vmacInst("A", "eth0", "51", "    use_vmac eth0\n", "192.0.2.1"),
			[]string{`4:5: vrrp_instance A: the VMAC interface cannot be the instance's interface eth0`}},
		{"still unsupported", vmacInst("A", "eth0", "51", "    use_vmac_addr\n", "192.0.2.1"),
			[]string{`4:5: use_vmac_addr is a keepalived feature lvsctl does not support`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseString(tt.src, nil)
			var list ErrorList
			require.True(t, errors.As(err, &list), "want errors, got %v", err)
			var got []string
			for _, d := range list {
				got = append(got, strings.TrimPrefix(d.String(), "/etc/keepalived/t.conf:"))
			}
			require.Len(t, got, len(tt.want), "errors: %s", strings.Join(got, "\n"))
			for i := range tt.want {
				assert.True(t, strings.HasPrefix(got[i], tt.want[i]), "error %d\n got: %s\nwant: %s", i, got[i], tt.want[i])
			}
		})
	}
}

// TestVMACConfiguredMAC: use_vmac takes a MAC (before or after the name);
// with 5 octets the VRID is the sixth (keepalived 2.2.7 vrrp_parser.c
// vrrp_vmac_handler, vrrp.c vrrp_complete_instance).
func TestVMACConfiguredMAC(t *testing.T) {
	for _, tt := range []struct{ args, name, mac string }{
		{"02:aa:bb:cc:dd:ee", "vrrp.51", "02:aa:bb:cc:dd:ee"},
		{"vmac51 2:a:b:c:d:e", "vmac51", "02:0a:0b:0c:0d:0e"},
		{"02:aa:bb:cc:dd vmac51", "vmac51", "02:aa:bb:cc:dd:33"},
		{"02:aa:bb:cc:dd:", "vrrp.51", "02:aa:bb:cc:dd:33"},
	} {
		cfg, _, err := parseString(vmacInst("A", "eth0", "51", "    use_vmac "+tt.args+"\n", "192.0.2.1"), nil)
		require.NoError(t, err, tt.args)
		in := cfg.VRRP().Instances[0]
		require.NotNil(t, in.VMAC, tt.args)
		assert.Equal(t, tt.name, in.VMAC.Name, tt.args)
		assert.Equal(t, tt.mac, in.VMAC.MAC.String(), tt.args)
	}
}

// TestVMACIPv6: an IPv6 instance takes use_vmac; its addresses go on the
// VMAC like IPv4 ones.
func TestVMACIPv6(t *testing.T) {
	cfg, _, err := parseString(vmacInst("A", "eth0", "51", "    use_vmac\n", "2001:db8::1"), nil)
	require.NoError(t, err)
	in := cfg.VRRP().Instances[0]
	require.NotNil(t, in.VMAC)
	assert.Equal(t, "vrrp.51", in.VMAC.Name)
	assert.True(t, in.IPv6())
	require.Len(t, in.VIPs, 1)
	assert.Equal(t, "vrrp.51", in.VIPs[0].Dev)
}

// TestVMACVIPDev: addresses without a dev go on the VMAC interface; an
// explicit dev stays.
func TestVMACVIPDev(t *testing.T) {
	src := "vrrp_instance A {\n    interface eth0\n    use_vmac\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.1\n        192.0.2.2 dev eth0\n    }\n    virtual_ipaddress_excluded {\n        192.0.2.3\n    }\n}\n"
	cfg, _, err := parseString(src, nil)
	require.NoError(t, err)
	in := cfg.VRRP().Instances[0]
	assert.Equal(t, "vrrp.51", in.VIPs[0].Dev)
	assert.Equal(t, "eth0", in.VIPs[1].Dev)
	assert.Equal(t, "vrrp.51", in.ExcludedVIPs[0].Dev)
}

// promote_secondaries reaches the node and is written back; with use_vmac
// keepalived ignores it with a message (vrrp.c), and so does lvsctl.
func TestPromoteSecondaries(t *testing.T) {
	cfg, _, err := parseString(vmacInst("A", "eth0", "51", "    promote_secondaries\n", "192.0.2.1"), nil)
	require.NoError(t, err)
	assert.True(t, cfg.VRRP().Instances[0].PromoteSecondaries)
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	assert.True(t, again.VRRP().Instances[0].PromoteSecondaries)

	cfg, warns, err := parseString(vmacInst("A", "eth0", "51", "    use_vmac\n    promote_secondaries\n", "192.0.2.1"), nil)
	require.NoError(t, err)
	assert.False(t, cfg.VRRP().Instances[0].PromoteSecondaries)
	var msgs []string
	for _, w := range warns {
		msgs = append(msgs, w.String())
	}
	assert.Contains(t, strings.Join(msgs, "\n"), ":5:5: warning: vrrp_instance A: promote_secondaries with use_vmac: keepalived ignores it")
}

// native_ipv6 (vrrp_parser.c) agrees with IPv6 addresses and is refused
// with IPv4 ones, where keepalived refuses it too.
func TestNativeIPv6(t *testing.T) {
	cfg, _, err := parseString(vmacInst("A", "eth0", "51", "    native_ipv6\n", "2001:db8::1"), nil)
	require.NoError(t, err)
	assert.Equal(t, uint8(3), cfg.VRRP().Instances[0].Version)
	_, _, err = parseString(vmacInst("A", "eth0", "51", "    native_ipv6\n", "192.0.2.1"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), ":4:5: native_ipv6 in vrrp_instance A, whose virtual_ipaddress is IPv4 or empty")
}

// unicast_ttl (vrrp_parser.c): 1..255 for unicast peers; 0 is refused
// (the kernel would refuse every advert); without peers it changes
// nothing, as keepalived says.
func TestUnicastTTL(t *testing.T) {
	peer := "    unicast_peer {\n        192.0.2.9\n    }\n"
	cfg, _, err := parseString(vmacInst("A", "eth0", "51", peer+"    unicast_ttl 64\n", "192.0.2.1"), nil)
	require.NoError(t, err)
	assert.Equal(t, uint8(64), cfg.VRRP().Instances[0].UnicastTTL)
	var b strings.Builder
	require.NoError(t, WriteText(&b, cfg))
	again, _, err := parseString(b.String(), nil)
	require.NoError(t, err, b.String())
	assert.Equal(t, uint8(64), again.VRRP().Instances[0].UnicastTTL)

	_, _, err = parseString(vmacInst("A", "eth0", "51", peer+"    unicast_ttl 0\n", "192.0.2.1"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), ":7:17: unicast_ttl 0: keepalived accepts it, and the kernel then refuses every advert")

	cfg, warns, err := parseString(vmacInst("A", "eth0", "51", "    unicast_ttl 64\n", "192.0.2.1"), nil)
	require.NoError(t, err)
	assert.Zero(t, cfg.VRRP().Instances[0].UnicastTTL)
	var msgs []string
	for _, w := range warns {
		msgs = append(msgs, w.String())
	}
	assert.Contains(t, strings.Join(msgs, "\n"), ":4:5: warning: vrrp_instance A: unicast_ttl without unicast_peer changes nothing")
}

// Advert tuning (keepalived 2.2.7 vrrp.c, vrrp_complete_instance): the
// instance's value, else vrrp_strict's, else global_defs'; what
// vrrp_strict overrides is refused.
func TestAdvertTuning(t *testing.T) {
	inst := func(global, extra string) (*Config, error) {
		cfg, _, err := parseString("global_defs {\n"+global+"}\n"+vmacInst("A", "eth0", "51", extra, "192.0.2.1"), nil)
		return cfg, err
	}
	get := func(cfg *Config) [3]any {
		ic := cfg.VRRP().Instances[0]
		return [3]any{ic.LowerPrioNoAdvert, ic.HigherPrioSendAdvert, ic.DownAdverts}
	}
	for _, tc := range []struct {
		global, extra string
		want          [3]any
	}{
		{"", "", [3]any{false, false, 3}},
		{" vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert true\n vrrp_down_timer_adverts 5\n", "", [3]any{true, true, 5}},
		{" vrrp_lower_prio_no_advert\n", "    lower_prio_no_advert false\n    down_timer_adverts 2\n", [3]any{false, false, 2}},
		{" vrrp_strict\n", "", [3]any{true, false, 3}},
	} {
		cfg, err := inst(tc.global, tc.extra)
		require.NoError(t, err, tc.global+tc.extra)
		assert.Equal(t, tc.want, get(cfg), tc.global+tc.extra)
		var b strings.Builder
		require.NoError(t, WriteText(&b, cfg))
		again, _, err := parseString(b.String(), nil)
		require.NoError(t, err, b.String())
		assert.Equal(t, tc.want, get(again), b.String())
	}
	for _, tc := range []struct{ extra, want string }{
		{"    lower_prio_no_advert off\n", ":7:5: vrrp_instance A: lower_prio_no_advert off with vrrp_strict: keepalived resets it"},
		{"    higher_prio_send_advert\n", ":7:5: vrrp_instance A: higher_prio_send_advert with vrrp_strict: keepalived resets it"},
		{"    down_timer_adverts 4\n", ":7:5: vrrp_instance A: down_timer_adverts 4 with vrrp_strict: keepalived resets it to 3"},
	} {
		_, err := inst(" vrrp_strict\n", tc.extra)
		require.Error(t, err, tc.extra)
		assert.Contains(t, err.Error(), tc.want)
	}
}
