//go:build e2e

package vrrp_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"

	"github.com/lvsctl/lvsctl/vrrp/vrrplab"
)

// unicast_ttl on the wire: the peer reads the TTL of the unicast adverts
// it receives, 64 with unicast_ttl 64 and 255 without it.
func TestE2EUnicastTTL(t *testing.T) {
	n := vrrplab.NewNet(t, false)
	c, err := n.B.ListenPacket("ip4:112", "0.0.0.0")
	require.NoError(t, err)
	defer c.Close()
	p := ipv4.NewPacketConn(c)
	require.NoError(t, p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagSrc, true))
	ttlOfNext := func() int {
		buf := make([]byte, 1500)
		deadline := time.Now().Add(5 * time.Second)
		require.NoError(t, p.SetReadDeadline(deadline))
		for {
			_, cm, src, err := p.ReadFrom(buf)
			require.NoError(t, err, "no advert from 10.16.8.10")
			if cm != nil && src.(*net.IPAddr).IP.Equal(net.IPv4(10, 16, 8, 10)) {
				return cm.TTL
			}
		}
	}
	for _, tc := range []struct {
		line string
		want int
	}{{"    unicast_ttl 64\n", 64}, {"", 255}} {
		conf := filepath.Join(n.Dir, "uttl.conf")
		require.NoError(t, os.WriteFile(conf, []byte(`vrrp_instance VI_1 {
    interface eth1
    virtual_router_id 51
    priority 255
    advert_int 1
    unicast_src_ip 10.16.8.10
    unicast_peer {
        10.16.8.11
    }
`+tc.line+`    virtual_ipaddress {
        10.16.8.100
    }
}
`), 0o644))
		d := vrrplab.StartLvsctl(t, n.A, conf)
		assert.Equal(t, tc.want, ttlOfNext(), "TTL of the unicast advert with %q", tc.line)
		d.Stop(t)
		// Drop what this run left in the socket (its priority-0 advert).
		buf := make([]byte, 1500)
		for {
			require.NoError(t, p.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
			if _, _, _, err := p.ReadFrom(buf); err != nil {
				break
			}
		}
	}
}
