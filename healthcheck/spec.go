package healthcheck

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsctl/lvsctl/internal/cmdline"
	"github.com/lvsctl/lvsctl/internal/script"
	"github.com/lvsctl/lvsctl/internal/trackfile"
)

// Kind is the type of a checker.
type Kind int

// Checker kinds, named after keepalived's keywords.
const (
	TCPCheck Kind = iota + 1
	HTTPGet
	SSLGet
	MiscCheck
	// PingCheck is PING_CHECK: one ICMP/ICMPv6 echo per check (ping.go).
	PingCheck
	// UDPCheck is UDP_CHECK: one datagram per check (udp.go).
	UDPCheck
	// DNSCheck is DNS_CHECK: one query over UDP per check (dns.go).
	DNSCheck
	// SMTPCheck is SMTP_CHECK: greeting, HELO, QUIT (smtp.go).
	SMTPCheck
	// FileCheck is FILE_CHECK: the value of a keepalived track file,
	// read when the file changes rather than polled (file.go).
	FileCheck
)

func (k Kind) String() string {
	switch k {
	case TCPCheck:
		return "TCP_CHECK"
	case HTTPGet:
		return "HTTP_GET"
	case SSLGet:
		return "SSL_GET"
	case MiscCheck:
		return "MISC_CHECK"
	case PingCheck:
		return "PING_CHECK"
	case UDPCheck:
		return "UDP_CHECK"
	case DNSCheck:
		return "DNS_CHECK"
	case SMTPCheck:
		return "SMTP_CHECK"
	case FileCheck:
		return "FILE_CHECK"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Limits applied to HTTP_GET/SSL_GET responses when the Spec leaves them 0.
// They exist so a broken or hostile server can never make the checker use
// unbounded memory or time.
const (
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxBodyBytes   = 1 << 20
	// DefaultTotalTimeoutFactor times ConnectTimeout bounds one URL fetch
	// from dial to last byte.
	DefaultTotalTimeoutFactor = 3
)

// Spec describes one checker of one real server. All durations are
// effective values: the adapter from the configuration resolves
// keepalived's inheritance and defaults before building a Spec.
type Spec struct {
	Kind Kind
	// Addr is where the checker connects (connect_ip/connect_port, else the
	// real server). Unused by MISC_CHECK.
	Addr netip.AddrPort
	// BindTo is the source address (and port, 0: any) of the check's
	// connection (bindto/bind_port); invalid: chosen by the kernel.
	BindTo netip.AddrPort
	// BindIf is the interface the check's sockets are bound to (bind_if:
	// SO_BINDTODEVICE); "": none. See Local.
	BindIf string
	// FWMark is the firewall mark of the check's packets (fwmark:
	// SO_MARK); 0: none. See Local.
	FWMark uint32

	ConnectTimeout   time.Duration
	DelayLoop        time.Duration
	DelayBeforeRetry time.Duration
	// Retry is how many failed attempts an up checker retries before it is
	// marked down (keepalived's retry / nb_get_retry).
	Retry int
	// Warmup is the window over which the first check is spread at random.
	Warmup time.Duration
	// Alpha starts the checker down until its first success. A
	// FILE_CHECK knows its state at once (keepalived clears alpha for
	// it): there Alpha only says the consumer starts the real server down,
	// so that the first read of the file is reported as a change.
	Alpha bool
	// Rise is the number of consecutive passed checks a down checker needs
	// to come up (0 or 1: keepalived's behaviour, one is enough).
	Rise int
	// Fall is the number of consecutive failed checks, each after its
	// retries, an up checker needs to go down (0 or 1: keepalived).
	Fall int

	HTTP *HTTPSpec
	Misc *MiscSpec
	UDP  *UDPSpec
	DNS  *DNSSpec
	SMTP *SMTPSpec
	File *FileSpec
}

// HTTPSpec is the HTTP_GET/SSL_GET part of a Spec.
type HTTPSpec struct {
	URLs []URL
	// VirtualHost is the Host header when a URL has none ("": Addr).
	VirtualHost string
	// FastRecovery checks the URLs of a recovering server back to back
	// instead of one per delay_loop (keepalived's fast_recovery).
	FastRecovery bool
	// SNI is the TLS server name sent by SSL_GET ("": none, keepalived's
	// default; enable_sni/sni_name set it).
	SNI string
	// Verify makes SSL_GET verify the server certificate against RootCAs
	// (nil: the system pool). keepalived never verifies.
	Verify  bool
	RootCAs *x509.CertPool
	// ClientCert is the certificate SSL_GET presents when the server
	// asks for one (keepalived's SSL block; nil: none).
	ClientCert *tls.Certificate `json:"-"`
	// MaxHeaderBytes, MaxBodyBytes and TotalTimeout bound one fetch (0: the
	// Default* constants).
	MaxHeaderBytes int
	MaxBodyBytes   int64
	TotalTimeout   time.Duration
}

// URL is one url block: one GET per check.
type URL struct {
	Path string
	// Status lists the accepted status codes (empty: 200-299).
	Status []StatusRange
	// Digest is the expected MD5 of the body as lower-case hex ("": none).
	Digest string
	// VirtualHost overrides HTTPSpec.VirtualHost for this URL.
	VirtualHost string
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// MiscSpec is the MISC_CHECK part of a Spec.
type MiscSpec struct {
	// Command is split into argv like a POSIX shell would (quotes and
	// backslashes) and run without a shell.
	Command string
	// Timeout kills the script's process group (0: DelayLoop).
	Timeout time.Duration
	// Dynamic turns exit codes 2..255 into success with weight code-2.
	Dynamic bool
	// As is the user the script runs as and whether its path must be
	// secure (MISC_CHECK "user", script_user, enable_script_security).
	As script.As
}

// FileSpec is the FILE_CHECK part of a Spec: one track_file block and the
// weight the real server's FILE_CHECK gives it (keepalived 2.2.7,
// keepalived/check/check_file.c). The timing fields of the Spec are not
// used: the file is read when the checker starts and whenever inotify
// reports it written, created, renamed or removed.
type FileSpec struct {
	// Name is the track_file block's name (for reasons and status).
	Name string
	// Path is the file as configured; the scheduler resolves symbolic
	// links once, when the checker starts (its directory must exist).
	Path string
	// Weight multiplies the file's value, and the product is added to the
	// real server's configured weight (a negative Weight, or Reverse,
	// subtracts). With Weight 0 the value is a state: non-zero is down
	// (with Reverse, zero is down).
	Weight  int
	Reverse bool
	// InitMode and InitValue are the block's init_file: written when the
	// checker starts (never over an existing file on a later Set).
	InitMode  trackfile.InitMode
	InitValue int
}

// ErrInvalidSpec is wrapped by every validation error of a Spec.
var ErrInvalidSpec = errors.New("invalid health check")

// Validate reports the first problem that would stop the checker from
// running as configured.
func (s *Spec) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, s.Kind, fmt.Sprintf(format, a...))
	}
	if s.DelayLoop <= 0 && s.Kind != FileCheck {
		return bad("delay_loop must be positive")
	}
	if s.Retry < 0 || s.Rise < 0 || s.Fall < 0 || s.DelayBeforeRetry < 0 || s.Warmup < 0 {
		return bad("negative retry, rise, fall, delay_before_retry or warmup")
	}
	if s.BindIf != "" && !ifNameValid(s.BindIf) {
		return bad("bind_if %q is not an interface name", s.BindIf)
	}
	switch s.Kind {
	case TCPCheck, HTTPGet, SSLGet:
		if !s.Addr.IsValid() || s.Addr.Port() == 0 {
			return bad("no address or port to connect to")
		}
		if s.ConnectTimeout <= 0 {
			return bad("connect_timeout must be positive")
		}
	case SMTPCheck:
		if !s.Addr.IsValid() || s.Addr.Port() == 0 {
			return bad("no address or port to connect to")
		}
		if s.ConnectTimeout <= 0 {
			return bad("connect_timeout must be positive")
		}
		if s.SMTP == nil || s.SMTP.HeloName == "" || strings.ContainsAny(s.SMTP.HeloName, " \t\r\n") {
			return bad("HELO name must be one word")
		}
	case DNSCheck:
		if !s.Addr.IsValid() || s.Addr.Port() == 0 {
			return bad("no address or port to query")
		}
		if s.ConnectTimeout <= 0 {
			return bad("connect_timeout must be positive")
		}
		if s.DNS == nil || s.DNS.Type == 0 {
			return bad("no query type")
		}
	case UDPCheck:
		if !s.Addr.IsValid() || s.Addr.Port() == 0 {
			return bad("no address or port to send to")
		}
		if s.ConnectTimeout <= 0 {
			return bad("connect_timeout must be positive")
		}
		if s.UDP == nil {
			return bad("no UDP settings")
		}
		if s.UDP.MinReply < 0 || s.UDP.MaxReply < s.UDP.MinReply || s.UDP.MaxReply > 65535 {
			return bad("reply length range %d..%d", s.UDP.MinReply, s.UDP.MaxReply)
		}
	case PingCheck:
		if !s.Addr.Addr().IsValid() {
			return bad("no address to ping")
		}
		if s.ConnectTimeout <= 0 {
			return bad("connect_timeout must be positive")
		}
	case MiscCheck:
		if s.Misc == nil {
			return bad("no misc_path")
		}
		argv, err := cmdline.Split(s.Misc.Command)
		if err != nil {
			return bad("misc_path: %v", err)
		}
		if len(argv) == 0 {
			return bad("empty misc_path")
		}
	case FileCheck:
		if s.File == nil || s.File.Path == "" {
			return bad("no track file")
		}
		if s.File.Weight < -math.MaxInt32 || s.File.Weight > math.MaxInt32 {
			return bad("weight %d out of range %d..%d", s.File.Weight, -math.MaxInt32, math.MaxInt32)
		}
	default:
		return bad("unknown kind")
	}
	if s.Kind == HTTPGet || s.Kind == SSLGet {
		if s.HTTP == nil || len(s.HTTP.URLs) == 0 {
			return bad("no url")
		}
		for _, u := range s.HTTP.URLs {
			if u.Path == "" {
				return bad("url without path")
			}
			if u.Digest != "" && !isMD5Hex(u.Digest) {
				return bad("digest %q is not 32 lower-case hex digits", u.Digest)
			}
			for _, r := range u.Status {
				if r.Min < 100 || r.Max > 999 || r.Min > r.Max {
					return bad("status_code range %d-%d", r.Min, r.Max)
				}
			}
		}
	}
	return nil
}

func isMD5Hex(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// steps is how many probes make one full check: one per URL for HTTP.
func (s *Spec) steps() int {
	if s.HTTP != nil && (s.Kind == HTTPGet || s.Kind == SSLGet) {
		return len(s.HTTP.URLs)
	}
	return 1
}
