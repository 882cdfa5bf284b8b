package config

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
)

func TestHealthServersSeed(t *testing.T) {
	cfg, _, err := LoadWith("testdata/seed/lvs-dr-ka67.conf", Options{})
	require.NoError(t, err)
	servers, err := HealthServers(cfg)
	require.NoError(t, err)
	var ids []string
	for _, s := range servers {
		ids = append(ids, s.Key.String())
	}
	assert.Equal(t, []string{
		"TCP 10.16.8.100:80 -> 10.16.8.8:80", "TCP 10.16.8.100:80 -> 10.16.8.9:80",
		"TCP 10.16.8.101:80 -> 10.16.8.8:80", "TCP 10.16.8.101:80 -> 10.16.8.9:80",
	}, ids)
	assert.Equal(t, director.RealRef{
		Service: director.ServiceKey{Family: director.IPv4, Protocol: director.TCP, Addr: netip.MustParseAddr("10.16.8.100"), Port: 80},
		Real:    director.DestKey{Addr: netip.MustParseAddr("10.16.8.8"), Port: 80},
	}, servers[0].Key)
	require.Len(t, servers[0].Checks, 1)
	assert.Equal(t, healthcheck.Spec{
		Kind: healthcheck.HTTPGet, Addr: netip.MustParseAddrPort("10.16.8.8:80"),
		ConnectTimeout: time.Second, DelayLoop: 3 * time.Second, DelayBeforeRetry: time.Second,
		Retry: 3, Warmup: 3 * time.Second, Rise: 1, Fall: 1,
		HTTP: &healthcheck.HTTPSpec{URLs: []healthcheck.URL{{Path: "/", Status: []healthcheck.StatusRange{{Min: 200, Max: 200}}}}},
	}, servers[0].Checks[0])
}

func TestHealthSpecKinds(t *testing.T) {
	src := `
virtual_server 10.0.0.100 80 {
    delay_loop 5
    protocol TCP
    alpha
    virtualhost www.example
    real_server 10.0.0.1 80 {
        TCP_CHECK {
            connect_port 8080
            bindto 10.0.0.200
            connect_timeout 2
        }
        SSL_GET {
            url {
                path /health
                digest 9b3a0c85a887a256d6939da88aabd8cd
                status_code 200 201 202 301
            }
        }
        MISC_CHECK {
            misc_path "/usr/local/bin/check 'a b'"
            misc_timeout 3
            misc_dynamic
        }
    }
}
`
	cfg, _, err := Parse("t.conf", []byte(src), Options{})
	require.NoError(t, err)
	servers, err := HealthServers(cfg)
	require.NoError(t, err)
	require.Len(t, servers, 1)
	c := servers[0].Checks
	require.Len(t, c, 3)
	assert.Equal(t, healthcheck.TCPCheck, c[0].Kind)
	assert.Equal(t, "10.0.0.1:8080", c[0].Addr.String())
	assert.Equal(t, "10.0.0.200:0", c[0].BindTo.String())
	assert.Equal(t, 2*time.Second, c[0].ConnectTimeout)
	assert.True(t, c[0].Alpha)
	assert.Equal(t, healthcheck.SSLGet, c[1].Kind)
	assert.Equal(t, "www.example", c[1].HTTP.VirtualHost)
	assert.Equal(t, []healthcheck.StatusRange{{Min: 200, Max: 202}, {Min: 301, Max: 301}}, c[1].HTTP.URLs[0].Status)
	assert.Equal(t, healthcheck.MiscCheck, c[2].Kind)
	assert.Equal(t, &healthcheck.MiscSpec{Command: "/usr/local/bin/check 'a b'", Timeout: 3 * time.Second, Dynamic: true}, c[2].Misc)
}

func TestStatusRanges(t *testing.T) {
	assert.Nil(t, StatusRanges(nil))
	assert.Equal(t, []healthcheck.StatusRange{{Min: 200, Max: 204}, {Min: 404, Max: 404}},
		StatusRanges([]int{404, 204, 200, 201, 202, 203, 203}))
}

// Every checker of the real-world seed configurations converts.
func TestHealthServersAllSeeds(t *testing.T) {
	files, err := filepath.Glob("testdata/seed/*.conf")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	checks := 0
	for _, f := range files {
		cfg, _, err := LoadWith(f, Options{})
		if err != nil {
			continue // deliberately invalid seeds are the parser's tests
		}
		servers, err := HealthServers(cfg)
		require.NoError(t, err, f)
		for _, s := range servers {
			checks += len(s.Checks)
		}
	}
	assert.Positive(t, checks)
}

// The key of every health-checked real server is exactly the identity the
// director's configuration gives that real server (IPv4, IPv6, fwmark), so
// a health event needs no lookup.
func TestHealthKeysAreDirectorKeys(t *testing.T) {
	files, err := filepath.Glob("testdata/seed/*.conf")
	require.NoError(t, err)
	cfgs := []*Config{}
	for _, f := range files {
		if cfg, _, err := LoadWith(f, Options{}); err == nil {
			cfgs = append(cfgs, cfg)
		}
	}
	cfg, _, err := Parse("t.conf", []byte(`
virtual_server fwmark 7 {
    lb_kind DR
    real_server 2001:db8::2 80 {
        TCP_CHECK {
        }
    }
}
virtual_server 2001:db8::1 53 {
    protocol UDP
    real_server 2001:db8::8 53 {
    }
}
`), Options{})
	require.NoError(t, err)
	cfgs = append(cfgs, cfg)
	for _, cfg := range cfgs {
		var want []director.RealRef
		for _, vs := range cfg.Director().Services {
			for _, rs := range vs.RealServers {
				want = append(want, director.RealRef{Service: vs.Service.Key, Real: rs.Key()})
			}
		}
		servers, err := HealthServers(cfg)
		require.NoError(t, err)
		var got []director.RealRef
		for _, s := range servers {
			got = append(got, s.Key)
		}
		assert.Equal(t, want, got)
	}
	servers, err := HealthServers(cfg)
	require.NoError(t, err)
	require.Len(t, servers, 2)
	assert.Equal(t, "FWM 7 IPv6 -> [2001:db8::2]:80", servers[0].Key.String())
	assert.Equal(t, "UDP [2001:db8::1]:53 -> [2001:db8::8]:53", servers[1].Key.String())
}
