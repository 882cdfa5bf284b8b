package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/testcert"
)

const sslVS = `virtual_server 192.0.2.1 443 {
    protocol TCP
    real_server 192.0.2.2 443 {
        SSL_GET {
            url {
                path /
                status_code 200
            }
        }
    }
}
`

// The SSL block (keepalived 2.2.7 check_parser.c, check_ssl.c): the
// certificate and key, decrypted with password, reach every SSL_GET; ca
// is read and, as in keepalived, changes nothing.
func TestSSLBlock(t *testing.T) {
	certPEM, keyPEM, err := testcert.SelfSigned("lvsctl-check")
	require.NoError(t, err)
	encPEM, err := testcert.EncryptLegacy(keyPEM, "s3cret")
	require.NoError(t, err)
	fs := memFS{
		"/etc/keepalived/c.pem": string(certPEM), "/etc/keepalived/k.pem": string(keyPEM),
		"/etc/keepalived/enc.pem": string(encPEM), "/etc/keepalived/ca.pem": string(certPEM),
		"/etc/keepalived/p8.pem": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
	}
	parse := func(block string) (*Config, []Diagnostic, error) {
		return Parse("/etc/keepalived/t.conf", []byte(block+sslVS), Options{FS: fs})
	}
	for _, key := range []string{"key /etc/keepalived/k.pem", "key /etc/keepalived/enc.pem\n password s3cret"} {
		cfg, warns, err := parse("SSL {\n certificate /etc/keepalived/c.pem\n ca /etc/keepalived/ca.pem\n " + key + "\n}\n")
		require.NoError(t, err, key)
		require.NotNil(t, cfg.SSL.ClientCert, key)
		var msgs []string
		for _, w := range warns {
			msgs = append(msgs, w.String())
		}
		assert.Contains(t, strings.Join(msgs, "\n"), "t.conf:3:5: warning: SSL ca: keepalived loads it but never verifies the server's certificate")
		checks, err := HealthServers(cfg)
		require.NoError(t, err)
		require.Len(t, checks, 1)
		spec := checks[0].Checks[0]
		assert.Equal(t, healthcheck.SSLGet, spec.Kind)
		assert.Same(t, cfg.SSL.ClientCert, spec.HTTP.ClientCert)

		var b strings.Builder
		require.NoError(t, WriteText(&b, cfg))
		again, _, err := Parse("/etc/keepalived/t.conf", []byte(b.String()), Options{FS: fs})
		require.NoError(t, err, b.String())
		assert.Equal(t, cfg.SSL.ClientCert.Certificate, again.SSL.ClientCert.Certificate)
	}

	for _, tc := range []struct{ block, want string }{
		{"SSL {\n certificate /etc/keepalived/c.pem\n key /etc/keepalived/enc.pem\n}\n", "t.conf:3:6: SSL key /etc/keepalived/enc.pem: the key is encrypted and the SSL block has no password"},
		{"SSL {\n certificate /etc/keepalived/c.pem\n key /etc/keepalived/enc.pem\n password nope\n}\n", "t.conf:3:6: SSL key /etc/keepalived/enc.pem: decrypting with the SSL password"},
		{"SSL {\n certificate /etc/keepalived/c.pem\n key /etc/keepalived/p8.pem\n}\n", "t.conf:3:6: SSL key /etc/keepalived/p8.pem: an encrypted PKCS#8 key"},
		{"SSL {\n certificate /etc/keepalived/none.pem\n key /etc/keepalived/k.pem\n}\n", "t.conf:2:14: SSL certificate: open /etc/keepalived/none.pem"},
		{"SSL {\n certificate /etc/keepalived/k.pem\n key /etc/keepalived/k.pem\n}\n", "t.conf:2:14: SSL certificate /etc/keepalived/k.pem and key /etc/keepalived/k.pem"},
		{"SSL {\n}\nSSL {\n}\n", "t.conf:3:1: SSL given twice (first at 1:1)"},
	} {
		_, _, err := parse(tc.block)
		require.Error(t, err, tc.block)
		assert.Contains(t, err.Error(), tc.want)
	}
	// Half a pair: no client certificate, as OpenSSL sends none.
	cfg, warns, err := parse("SSL {\n certificate /etc/keepalived/c.pem\n}\n")
	require.NoError(t, err)
	assert.Nil(t, cfg.SSL.ClientCert)
	require.NotEmpty(t, warns)
	assert.Contains(t, warns[0].String(), "t.conf:2:14: warning: SSL certificate without key: no client certificate is sent")
}
