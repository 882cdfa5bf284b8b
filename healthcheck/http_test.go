package healthcheck

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/internal/testcert"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func addrOf(t *testing.T, hostport string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(hostport)
	require.NoError(t, err)
	return ap
}

func httpSpec(t *testing.T, url string, urls ...URL) *Spec {
	t.Helper()
	kind := HTTPGet
	if strings.HasPrefix(url, "https://") {
		kind = SSLGet
	}
	hostport := url[strings.Index(url, "//")+2:]
	return &Spec{
		Kind: kind, Addr: addrOf(t, hostport), ConnectTimeout: 2 * time.Second,
		DelayLoop: time.Second, DelayBeforeRetry: time.Second,
		HTTP: &HTTPSpec{URLs: urls},
	}
}

// serveRaw runs handle for every connection to a 127.0.0.1 listener.
func serveRaw(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// probeOnce probes with the built-in dialer and, to keep both paths
// honest, checks that an injected net.Dialer gives the same verdict.
func probeOnce(s *Spec, step int) Result {
	r := newProbe(s, nil)(context.Background(), step)
	if r2 := newProbe(s, DefaultDial)(context.Background(), step); r2.OK != r.OK {
		return Result{Reason: fmt.Sprintf("dialers disagree: %q vs %q", r.Reason, r2.Reason)}
	}
	return r
}

func TestHTTPStatusAndDigest(t *testing.T) {
	var hosts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.URL.Path, r.Host)
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, "hello")
		case "/500":
			w.WriteHeader(500)
		case "/404":
			w.WriteHeader(404)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/big":
			_, _ = w.Write(make([]byte, 3<<20))
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		url  URL
		ok   bool
		why  string
	}{
		{"200 default range", URL{Path: "/ok"}, true, "passed"},
		{"500 default range", URL{Path: "/500"}, false, "status 500"},
		{"404 accepted by list", URL{Path: "/404", Status: []StatusRange{{200, 200}, {400, 499}}}, true, "passed"},
		{"404 not in list", URL{Path: "/404", Status: []StatusRange{{200, 200}}}, false, "status 404"},
		{"redirect not followed", URL{Path: "/redirect"}, false, "status 302"},
		{"redirect accepted", URL{Path: "/redirect", Status: []StatusRange{{302, 302}}}, true, "passed"},
		{"digest match", URL{Path: "/ok", Digest: md5hex("hello")}, true, "passed"},
		{"digest mismatch", URL{Path: "/ok", Digest: md5hex("bye")}, false, "digest " + md5hex("hello")},
		{"big body, digest over limit", URL{Path: "/big", Digest: md5hex("x")}, false, "body too large"},
		{"big body, no digest: status decides", URL{Path: "/big"}, true, "passed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := httpSpec(t, srv.URL, tc.url)
			require.NoError(t, s.Validate())
			r := probeOnce(s, 0)
			assert.Equal(t, tc.ok, r.OK, r.Reason)
			assert.Contains(t, r.Reason, tc.why)
			assert.False(t, r.HasWeight, "no dynamic weight")
		})
	}
	host, _ := hosts.Load("/ok")
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), host, "Host defaults to the address:port")
}

func TestHTTPVirtualHost(t *testing.T) {
	got := make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Host }))
	t.Cleanup(srv.Close)
	s := httpSpec(t, srv.URL, URL{Path: "/"}, URL{Path: "/x", VirtualHost: "url.example"})
	s.HTTP.VirtualHost = "www.example"
	require.True(t, probeOnce(s, 0).OK)
	require.True(t, probeOnce(s, 1).OK)
	assert.Equal(t, "www.example", <-got)
	assert.Equal(t, "www.example", <-got, "injected dialer")
	assert.Equal(t, "url.example", <-got)
}

func TestHTTPHostileServers(t *testing.T) {
	tests := []struct {
		name   string
		digest bool
		handle func(net.Conn)
		ok     bool
		is     error
	}{
		{"accepts, never answers", false, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, false, os.ErrDeadlineExceeded},
		{"closes before header", false, func(c net.Conn) { readReq(c); _, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-") }, false, ErrClosedEarly},
		{"closes without a byte", false, func(c net.Conn) { readReq(c) }, false, ErrClosedEarly},
		{"huge header", false, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n")
			for {
				if _, err := io.WriteString(c, "X-Junk: "+strings.Repeat("a", 1000)+"\r\n"); err != nil {
					return
				}
			}
		}, false, ErrHeaderTooLarge},
		{"endless body with digest", true, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n")
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}, false, ErrBodyTooLarge},
		{"endless body without digest", false, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n")
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}, true, nil},
		{"header then silence", false, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\npartial")
			_, _ = io.Copy(io.Discard, c)
		}, false, os.ErrDeadlineExceeded},
		{"trickle never ends the header", false, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n")
			for {
				time.Sleep(50 * time.Millisecond)
				if _, err := io.WriteString(c, "X: y\r\n"); err != nil {
					return
				}
			}
		}, false, ErrTotalTimeout},
		{"closes mid body (Content-Length), no digest", false, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nshort")
		}, true, nil},
		{"closes mid body, digest", true, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nshort")
		}, false, nil},
		{"content-length stops reading", true, func(c net.Conn) {
			readReq(c)
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
			_, _ = io.Copy(io.Discard, c) // keeps the connection open
		}, true, nil},
		{"garbage status line", false, func(c net.Conn) { readReq(c); _, _ = io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n") }, false, ErrMalformed},
		{"bare LF header", false, func(c net.Conn) { readReq(c); _, _ = io.WriteString(c, "HTTP/1.0 204 No\n\n") }, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveRaw(t, tc.handle)
			req := FetchRequest{
				Remote: addrOf(t, addr), Request: BuildRequest("/", addr),
				IdleTimeout: 300 * time.Millisecond, TotalTimeout: time.Second,
				MaxHeaderBytes: 4096, MaxBodyBytes: 1 << 20, Digest: tc.digest,
			}
			resp, err := Fetch(context.Background(), req)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			ok := err == nil && (resp.Status == 200 || resp.Status == 204)
			if tc.digest && err == nil {
				ok = ok && resp.Digest == md5hex("hello")
			}
			assert.Equal(t, tc.ok, ok, "resp %+v err %v", resp, err)
		})
	}
}

// readReq consumes the request header so closing does not reset.
func readReq(c net.Conn) {
	buf := make([]byte, 4096)
	n := 0
	for !strings.Contains(string(buf[:n]), "\r\n\r\n") && n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return
		}
	}
}

func TestHTTPConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	r := probeOnce(httpSpec(t, "http://"+addr, URL{Path: "/"}), 0)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "connect:")
}

func TestFetchCancelled(t *testing.T) {
	addr := serveRaw(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := Fetch(ctx, FetchRequest{Remote: addrOf(t, addr), Request: BuildRequest("/", addr),
			IdleTimeout: time.Hour, TotalTimeout: time.Hour})
		done <- err
	}()
	cancel()
	require.Error(t, <-done, "cancelling the context ends a fetch blocked on read")
}

func TestSSLGet(t *testing.T) {
	var sni sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "secure")
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store("name", h.ServerName)
		return nil, nil
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	s := httpSpec(t, srv.URL, URL{Path: "/", Digest: md5hex("secure")})
	r := probeOnce(s, 0)
	assert.True(t, r.OK, "no verification by default, like keepalived: %s", r.Reason)
	name, _ := sni.Load("name")
	assert.Equal(t, "", name, "no SNI by default")

	s.HTTP.SNI = "example.com"
	require.True(t, probeOnce(s, 0).OK)
	name, _ = sni.Load("name")
	assert.Equal(t, "example.com", name)

	s.HTTP.Verify = true
	s.HTTP.SNI = ""
	r = probeOnce(s, 0)
	assert.False(t, r.OK, "self-signed certificate fails verification")
	assert.Contains(t, r.Reason, "tls handshake")

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	s.HTTP.RootCAs = pool
	s.HTTP.SNI = "example.com" // httptest's certificate is for example.com and 127.0.0.1
	r = probeOnce(s, 0)
	assert.True(t, r.OK, r.Reason)
}

// The SSL block's client certificate: a server that requires one accepts
// SSL_GET with it and refuses the same check without it.
func TestSSLGetClientCertificate(t *testing.T) {
	certPEM, keyPEM, err := testcert.SelfSigned("lvsctl-check")
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "secure")
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	s := httpSpec(t, srv.URL, URL{Path: "/", Digest: md5hex("secure")})
	r := probeOnce(s, 0)
	assert.False(t, r.OK, "no client certificate: refused")
	s = httpSpec(t, srv.URL, URL{Path: "/", Digest: md5hex("secure")})
	s.HTTP.ClientCert = &cert
	r = probeOnce(s, 0)
	assert.True(t, r.OK, r.Reason)
}

func TestTCPCheck(t *testing.T) {
	addr := serveRaw(t, func(net.Conn) {})
	s := &Spec{Kind: TCPCheck, Addr: addrOf(t, addr), ConnectTimeout: time.Second, DelayLoop: time.Second}
	r := probeOnce(s, 0)
	assert.True(t, r.OK, r.Reason)
	assert.Equal(t, fmt.Sprintf("TCP_CHECK %s passed", addr), r.Reason)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	s.Addr = addrOf(t, closed)
	r = probeOnce(s, 0)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "connection refused")
}

func TestTCPCheckBindTo(t *testing.T) {
	var mu sync.Mutex
	var from string
	addr := serveRaw(t, func(c net.Conn) { mu.Lock(); from = c.RemoteAddr().String(); mu.Unlock() })
	s := &Spec{Kind: TCPCheck, Addr: addrOf(t, addr), BindTo: netip.MustParseAddrPort("127.0.0.2:0"),
		ConnectTimeout: time.Second, DelayLoop: time.Second}
	require.True(t, probeOnce(s, 0).OK)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return from != "" }, 5*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.True(t, strings.HasPrefix(from, "127.0.0.2:"), from)
}

func TestInjectedDialer(t *testing.T) {
	addr := serveRaw(t, func(c net.Conn) { readReq(c); _, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n") })
	var dialed []string
	dial := func(ctx context.Context, network string, local Local, remote netip.AddrPort) (net.Conn, error) {
		dialed = append(dialed, network+" "+remote.String())
		return DefaultDial(ctx, network, local, remote)
	}
	s := httpSpec(t, "http://"+addr, URL{Path: "/"})
	require.True(t, newProbe(s, dial)(context.Background(), 0).OK)
	assert.Equal(t, []string{"tcp " + addr}, dialed)
}

func TestCheckOnceRetries(t *testing.T) {
	var mu sync.Mutex
	n := 0
	addr := serveRaw(t, func(c net.Conn) {
		readReq(c)
		mu.Lock()
		n++
		code := 500
		if n == 3 {
			code = 200
		}
		mu.Unlock()
		_, _ = fmt.Fprintf(c, "HTTP/1.0 %d X\r\n\r\n", code)
	})
	s := httpSpec(t, "http://"+addr, URL{Path: "/"})
	s.Retry, s.DelayBeforeRetry = 2, time.Millisecond
	r := CheckOnce(context.Background(), s, nil)
	assert.True(t, r.OK, r.Reason)
	s.Retry = 0
	r = CheckOnce(context.Background(), s, nil)
	assert.False(t, r.OK)
	assert.Contains(t, r.Reason, "status 500")
}

func TestIPv6(t *testing.T) {
	hosts := make(chan string, 4)
	ln, err := net.Listen("tcp", "[::1]:0")
	require.NoError(t, err, "this test needs ::1 on lo")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hosts <- r.Host }), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	ap := addrOf(t, ln.Addr().String())
	tcp := &Spec{Kind: TCPCheck, Addr: ap, ConnectTimeout: time.Second, DelayLoop: time.Second}
	assert.True(t, probeOnce(tcp, 0).OK)
	h := httpSpec(t, "http://"+ap.String(), URL{Path: "/"})
	r := probeOnce(h, 0)
	assert.True(t, r.OK, r.Reason)
	assert.Equal(t, ap.String(), <-hosts, "Host is [addr]:port for IPv6")
}
