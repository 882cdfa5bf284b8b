package realserver_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/realserver"
)

func TestParseVIP(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "10.16.8.100", want: "10.16.8.100"},
		{in: " 10.16.8.101 ", want: "10.16.8.101"},
		{in: "10.16.8.100/32", want: "10.16.8.100"},
		{in: "2001:db8::100", want: "2001:db8::100"},
		{in: "2001:db8::100/128", want: "2001:db8::100"},
		{in: "::ffff:10.16.8.100", want: "10.16.8.100"},
		// Could be a host in a /23; Start checks the host's subnets.
		{in: "10.16.9.0", want: "10.16.9.0"},
		{in: "", wantErr: "empty address"},
		{in: "10.16.8", wantErr: `"10.16.8" is not an IP address`},
		{in: "vip.example.com", wantErr: "is not an IP address"},
		{in: "10.16.8.0/24", wantErr: "10.16.8.0/24 is a network, not one address"},
		{in: "10.16.8.100/24", wantErr: "is a network"},
		{in: "2001:db8::/64", wantErr: "is a network"},
		{in: "10.16.8.100/33", wantErr: "is not an address or prefix"},
		{in: "0.0.0.0", wantErr: "the unspecified address"},
		{in: "::", wantErr: "the unspecified address"},
		{in: "127.0.0.2", wantErr: "a loopback address"},
		{in: "::1", wantErr: "a loopback address"},
		{in: "224.0.0.18", wantErr: "a multicast address"},
		{in: "169.254.1.1", wantErr: "a link-local address"},
		{in: "fe80::1", wantErr: "a link-local address"},
		{in: "fe80::1%eth0", wantErr: "has a zone"},
		{in: "255.255.255.255", wantErr: "the broadcast address"},
		{in: "0.1.2.3", wantErr: "this network"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := realserver.ParseVIP(tc.in)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, realserver.ErrBadVIP)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, netip.MustParseAddr(tc.want), got)
		})
	}
}

func TestParseVIPs(t *testing.T) {
	got, err := realserver.ParseVIPs([]string{"10.16.8.100", "10.16.8.101", "2001:db8::1"})
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{
		netip.MustParseAddr("10.16.8.100"), netip.MustParseAddr("10.16.8.101"), netip.MustParseAddr("2001:db8::1"),
	}, got)

	_, err = realserver.ParseVIPs([]string{"10.16.8.100", "10.16.8.100/32"})
	require.ErrorIs(t, err, realserver.ErrBadVIP)
	require.ErrorContains(t, err, `10.16.8.100/32 given twice (first as "10.16.8.100")`)

	// Every problem is reported at once.
	_, err = realserver.ParseVIPs([]string{"x", "10.16.8.0/24", "10.16.8.100"})
	require.ErrorContains(t, err, `"x" is not an IP address`)
	require.ErrorContains(t, err, "10.16.8.0/24 is a network")

	_, err = realserver.ParseVIPs(nil)
	require.ErrorIs(t, err, realserver.ErrNoVIPs)
}
