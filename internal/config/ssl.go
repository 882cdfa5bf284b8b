package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// SSL is the SSL block: the client certificate SSL_GET checks present.
// keepalived 2.2.7 (check/check_parser.c, check/check_ssl.c
// build_ssl_ctx) loads certificate (a PEM chain) and key (PEM, decrypted
// with password) into the one TLS context of every SSL_GET, and loads ca
// as trusted roots without ever asking OpenSSL to verify the server: ca
// changes nothing, in keepalived as in lvsctl.
type SSL struct {
	Pos         Position `json:"pos"`
	Password    string   `json:"-"`
	CA          string   `json:"ca,omitempty"`
	Certificate string   `json:"certificate,omitempty"`
	Key         string   `json:"key,omitempty"`
	// Positions of the lines, for the errors of loadSSL.
	PasswordPos, CAPos, CertificatePos, KeyPos Position `json:"-"`
	// ClientCert is the loaded certificate and key (nil: none).
	ClientCert *tls.Certificate `json:"-"`
}

// sslBlock reads SSL { password, ca, certificate, key }. keepalived takes
// the last of two blocks or of two lines ("already specified -
// replacing"): lvsctl refuses the second (rule 1).
func (d *decoder) sslBlock(n *node, cfg *Config) {
	if cfg.SSL != nil {
		d.diag.errorf(n.pos(), "SSL given twice (first at %d:%d); keepalived would replace the first block: merge them", cfg.SSL.Pos.Line, cfg.SSL.Pos.Col)
		return
	}
	s := &SSL{Pos: n.pos()}
	file := func(dst *string, pos *Position) func(*node) {
		return func(n *node) {
			if t, ok := d.value(n); ok {
				*dst, *pos = t.text, t.pos()
			}
		}
	}
	d.walk(n, "SSL", "SSL", map[string]kw{
		"password":    {fn: file(&s.Password, &s.PasswordPos)},
		"ca":          {fn: file(&s.CA, &s.CAPos)},
		"certificate": {fn: file(&s.Certificate, &s.CertificatePos)},
		"key":         {fn: file(&s.Key, &s.KeyPos)},
	})
	cfg.SSL = s
}

// loadSSL reads the SSL block's files through fs: every problem is an
// error at its line (keepalived stops its checker when the context cannot
// be built), and the half of a pair alone is a warning (OpenSSL then
// sends no client certificate, keepalived's as lvsctl's).
func loadSSL(s *SSL, diag *diagnostics, fs FileSystem) {
	if s == nil {
		return
	}
	if s.CA != "" {
		if _, err := fs.ReadFile(s.CA); err != nil {
			diag.errorf(s.CAPos, "SSL ca: %v", err)
		} else {
			diag.warnf(s.CAPos, "SSL ca: keepalived loads it but never verifies the server's certificate, and neither does lvsctl")
		}
	}
	switch {
	case s.Certificate == "" && s.Key == "":
		return
	case s.Key == "":
		diag.warnf(s.CertificatePos, "SSL certificate without key: no client certificate is sent (keepalived sends none either)")
		return
	case s.Certificate == "":
		diag.warnf(s.KeyPos, "SSL key without certificate: no client certificate is sent (keepalived sends none either)")
		return
	}
	certPEM, err := fs.ReadFile(s.Certificate)
	if err != nil {
		diag.errorf(s.CertificatePos, "SSL certificate: %v", err)
		return
	}
	keyPEM, err := fs.ReadFile(s.Key)
	if err != nil {
		diag.errorf(s.KeyPos, "SSL key: %v", err)
		return
	}
	keyPEM, err = decryptKey(keyPEM, s.Password)
	if err != nil {
		diag.errorf(s.KeyPos, "SSL key %s: %v", s.Key, err)
		return
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		diag.errorf(s.CertificatePos, "SSL certificate %s and key %s: %v", s.Certificate, s.Key, err)
		return
	}
	s.ClientCert = &cert
}

// decryptKey returns keyPEM with its first private key decrypted when it
// is encrypted the OpenSSL way (Proc-Type: 4,ENCRYPTED), which OpenSSL's
// PEM reader decrypts with keepalived's password callback.
func decryptKey(keyPEM []byte, password string) ([]byte, error) {
	rest := keyPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return keyPEM, nil // tls.X509KeyPair says what is wrong
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("an encrypted PKCS#8 key, which lvsctl cannot read: write it without encryption (openssl pkey) or with the traditional PEM encryption (openssl pkey -traditional -aes256)")
		}
		//lint:ignore SA1019 the legacy PEM encryption is what keepalived's OpenSSL reads with its password callback.
		if !x509.IsEncryptedPEMBlock(b) {
			continue
		}
		if password == "" {
			return nil, errors.New("the key is encrypted and the SSL block has no password (keepalived's OpenSSL would ask on a terminal)")
		}
		//lint:ignore SA1019 as above.
		der, err := x509.DecryptPEMBlock(b, []byte(password))
		if err != nil {
			return nil, fmt.Errorf("decrypting with the SSL password: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: der}), nil
	}
}
