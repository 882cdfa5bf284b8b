package healthcheck

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
)

// httpProbe fetches one URL per probe over a raw connection with a minimal
// HTTP/1.0 client: it is cheaper than net/http at thousands of checks per
// second and makes every limit explicit.
type httpProbe struct {
	s        *Spec
	dial     DialFunc
	tls      *tls.Config
	requests [][]byte // pre-built request per URL
	maxHdr   int
	maxBody  int64
	total    time.Duration
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, DefaultMaxHeaderBytes); return &b }}

func newHTTPProbe(s *Spec, dial DialFunc) *httpProbe {
	h := &httpProbe{s: s, dial: dial, maxHdr: s.HTTP.MaxHeaderBytes, maxBody: s.HTTP.MaxBodyBytes, total: s.HTTP.TotalTimeout}
	if h.maxHdr <= 0 {
		h.maxHdr = DefaultMaxHeaderBytes
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.total <= 0 {
		h.total = DefaultTotalTimeoutFactor * s.ConnectTimeout
	}
	if s.Kind == SSLGet {
		// keepalived does not verify certificates; Verify opts in.
		h.tls = &tls.Config{
			InsecureSkipVerify: !s.HTTP.Verify, //nolint:gosec // keepalived's default, documented
			ServerName:         s.HTTP.SNI,
			RootCAs:            s.HTTP.RootCAs,
		}
		if c := s.HTTP.ClientCert; c != nil {
			h.tls.Certificates = []tls.Certificate{*c}
		}
		if s.HTTP.Verify && h.tls.ServerName == "" {
			h.tls.ServerName = s.HTTP.VirtualHost
			if h.tls.ServerName == "" {
				h.tls.ServerName = s.Addr.Addr().String()
			}
		}
	}
	for _, u := range s.HTTP.URLs {
		h.requests = append(h.requests, BuildRequest(u.Path, hostHeader(s, &u)))
	}
	return h
}

// hostHeader is the url's virtualhost, else the checker's, else the
// address it connects to with its port, as keepalived sends it.
func hostHeader(s *Spec, u *URL) string {
	if u.VirtualHost != "" {
		return u.VirtualHost
	}
	if s.HTTP.VirtualHost != "" {
		return s.HTTP.VirtualHost
	}
	return s.Addr.String()
}

// BuildRequest returns the GET request keepalived's checker sends
// (HTTP/1.0, so the server closes the connection and never chunks). The
// User-Agent is keepalived's too: web servers commonly filter their access
// logs on it.
func BuildRequest(path, host string) []byte {
	return []byte("GET " + path + " HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: " + host + "\r\n\r\n")
}

func (h *httpProbe) urlString(step int) string {
	scheme := "http://"
	if h.s.Kind == SSLGet {
		scheme = "https://"
	}
	return scheme + h.s.Addr.String() + h.s.HTTP.URLs[step].Path
}

func (h *httpProbe) probe(ctx context.Context, step int) Result {
	u := &h.s.HTTP.URLs[step]
	what := h.urlString(step)
	resp, err := Fetch(ctx, FetchRequest{
		Dial: h.dial, Local: h.s.Local(), Remote: h.s.Addr, TLS: h.tls,
		Request: h.requests[step], IdleTimeout: h.s.ConnectTimeout, TotalTimeout: h.total,
		MaxHeaderBytes: h.maxHdr, MaxBodyBytes: h.maxBody, Digest: u.Digest != "",
	})
	if err != nil {
		return fail(h.s, what, "%v", err)
	}
	if !statusOK(u.Status, resp.Status) {
		return fail(h.s, what, "status %d not accepted", resp.Status)
	}
	if u.Digest != "" && resp.Digest != u.Digest {
		return fail(h.s, what, "digest %s, want %s", resp.Digest, u.Digest)
	}
	return pass(h.s, what)
}

func statusOK(ranges []StatusRange, code int) bool {
	if len(ranges) == 0 {
		return code >= 200 && code <= 299
	}
	for _, r := range ranges {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

// FetchRequest is one bounded HTTP fetch over a fresh connection.
type FetchRequest struct {
	// Dial opens the connection (nil: the built-in raw dialer).
	Dial DialFunc
	// Local is where the connection leaves from (the zero value: the
	// kernel's choice); Remote is the server.
	Local   Local
	Remote  netip.AddrPort
	TLS     *tls.Config // nil: plain HTTP
	Request []byte
	// IdleTimeout bounds the connect and every read/write, like
	// keepalived's connect_timeout (0: 5s); TotalTimeout bounds the whole
	// fetch (0: DefaultTotalTimeoutFactor × IdleTimeout).
	IdleTimeout, TotalTimeout time.Duration
	MaxHeaderBytes            int
	MaxBodyBytes              int64
	// Digest asks for the MD5 of the body; a body over MaxBodyBytes is
	// then an error, otherwise reading simply stops there.
	Digest bool
}

// FetchResponse is what the checker needs of a response.
type FetchResponse struct {
	Status    int
	BodyBytes int64
	Digest    string // lower-case hex MD5 of the body when asked
}

// Errors of Fetch, for errors.Is.
var (
	ErrHeaderTooLarge = errors.New("response header too large")
	ErrBodyTooLarge   = errors.New("response body too large")
	ErrMalformed      = errors.New("malformed response")
	ErrClosedEarly    = errors.New("connection closed before the response header ended")
	ErrTotalTimeout   = errors.New("response took longer than the total timeout")
)

// Fetch sends r.Request and reads the response within r's limits.
func Fetch(ctx context.Context, r FetchRequest) (FetchResponse, error) {
	var resp FetchResponse
	if r.MaxHeaderBytes <= 0 {
		r.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if r.MaxBodyBytes <= 0 {
		r.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if r.IdleTimeout <= 0 {
		r.IdleTimeout = 5 * time.Second // keepalived's default connect_timeout
	}
	if r.TotalTimeout <= 0 {
		r.TotalTimeout = DefaultTotalTimeoutFactor * r.IdleTimeout
	}
	start := time.Now()
	end := start.Add(r.TotalTimeout)
	deadline := func() time.Time {
		d := time.Now().Add(r.IdleTimeout)
		if d.After(end) {
			return end
		}
		return d
	}
	raw, err := dialFor(ctx, r, deadline())
	if err != nil {
		return resp, err
	}
	var conn net.Conn = raw
	defer func() { _ = conn.Close() }()
	// Cancelling ctx must interrupt a blocked read at once, and no later
	// deadline may undo that: every deadline is set under cancelMu, and
	// none once cancelled.
	var cancelMu sync.Mutex
	cancelled := false
	stop := context.AfterFunc(ctx, func() {
		cancelMu.Lock()
		defer cancelMu.Unlock()
		cancelled = true
		_ = raw.SetDeadline(time.Unix(1, 0))
	})
	defer stop()
	setDeadline := func(set func(time.Time) error) {
		cancelMu.Lock()
		defer cancelMu.Unlock()
		if !cancelled {
			_ = set(deadline())
		}
	}
	if r.TLS != nil {
		tc := tls.Client(raw, r.TLS)
		conn = tc
		setDeadline(raw.SetDeadline)
		if err := tc.HandshakeContext(ctx); err != nil {
			return resp, fmt.Errorf("tls handshake: %w", wrapTimeout(err, end))
		}
	}
	setDeadline(conn.SetDeadline)
	if _, err := conn.Write(r.Request); err != nil {
		return resp, fmt.Errorf("send request: %w", wrapTimeout(err, end))
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	if r.MaxHeaderBytes > len(buf) {
		buf = make([]byte, r.MaxHeaderBytes)
	}
	buf = buf[:r.MaxHeaderBytes]
	n, hdrEnd := 0, -1
	for hdrEnd < 0 {
		if n == len(buf) {
			return resp, fmt.Errorf("%w: over %d bytes", ErrHeaderTooLarge, len(buf))
		}
		setDeadline(conn.SetReadDeadline)
		m, err := conn.Read(buf[n:])
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			hdrEnd = i + 4
		} else if i := bytes.Index(buf[:n], []byte("\n\n")); i >= 0 {
			hdrEnd = i + 2
		}
		if hdrEnd < 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return resp, ErrClosedEarly
			}
			return resp, fmt.Errorf("read header: %w", wrapTimeout(err, end))
		}
	}
	status, clen, err := parseHeader(buf[:hdrEnd])
	if err != nil {
		return resp, err
	}
	resp.Status = status
	var sum hash.Hash
	if r.Digest {
		sum = md5.New()
	}
	body := buf[hdrEnd:n]
	var rerr error
	for {
		if clen >= 0 && resp.BodyBytes+int64(len(body)) > clen {
			body = body[:clen-resp.BodyBytes]
		}
		if resp.BodyBytes+int64(len(body)) > r.MaxBodyBytes {
			if r.Digest {
				return resp, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, r.MaxBodyBytes)
			}
			break // the status is all that matters: stop reading
		}
		if sum != nil {
			sum.Write(body)
		}
		resp.BodyBytes += int64(len(body))
		if clen >= 0 && resp.BodyBytes >= clen {
			break
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break // like keepalived, EOF ends the body even if short
			}
			return resp, fmt.Errorf("read body: %w", wrapTimeout(rerr, end))
		}
		setDeadline(conn.SetReadDeadline)
		var m int
		m, rerr = conn.Read(buf)
		body = buf[:m]
	}
	if sum != nil {
		resp.Digest = hex.EncodeToString(sum.Sum(nil))
	}
	return resp, nil
}

// wrapTimeout tells a hit of the total bound from an idle timeout.
func wrapTimeout(err error, end time.Time) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(end) {
		return fmt.Errorf("%w: %w", ErrTotalTimeout, err)
	}
	return err
}

// parseHeader returns the status code and Content-Length (-1: none).
func parseHeader(h []byte) (int, int64, error) {
	line, rest, _ := bytes.Cut(h, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	if !bytes.HasPrefix(line, []byte("HTTP/")) {
		return 0, 0, fmt.Errorf("%w: status line %q", ErrMalformed, truncate(line))
	}
	_, after, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(after) < 3 {
		return 0, 0, fmt.Errorf("%w: status line %q", ErrMalformed, truncate(line))
	}
	code, err := strconv.Atoi(string(after[:3]))
	if err != nil || code < 100 || code > 999 {
		return 0, 0, fmt.Errorf("%w: status line %q", ErrMalformed, truncate(line))
	}
	clen := int64(-1)
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\n"))
		k, v, ok := bytes.Cut(bytes.TrimRight(l, "\r"), []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-Length")) {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil || n < 0 {
				return 0, 0, fmt.Errorf("%w: Content-Length %q", ErrMalformed, truncate(v))
			}
			clen = n
		}
	}
	return code, clen, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// dialFor opens r's connection with r.Dial, or rawDial when it is nil.
func dialFor(ctx context.Context, r FetchRequest, deadline time.Time) (net.Conn, error) {
	if r.Dial == nil {
		f, err := rawDial(ctx, r.Local, r.Remote, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		return fileConn{File: f, local: r.Local.Addr, remote: r.Remote}, nil
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := r.Dial(dctx, "tcp", r.Local, r.Remote)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}
