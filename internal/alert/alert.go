// Package alert sends e-mail alerts the way keepalived 2.2.7 does
// (keepalived/core/smtp.c): one mail per event, to every
// notification_email address, through the smtp_server, with a subject
// "[router_id] …" that names what changed.
//
// A [Sender] owns a bounded queue and one goroutine ([Sender.Run]) that
// talks SMTP with the standard library's net/smtp. [Sender.Enqueue] never
// blocks: the VRRP runtime and the health checker hand it a message and go
// on; a full queue drops the message and counts it. Every read and write of
// the conversation has its own deadline (smtp_connect_timeout), as
// keepalived's timeouted threads have, so a dead mail server costs one
// slot of the queue for at most a few timeouts, never a stalled caller.
//
// The package knows nothing of IPVS or VRRP beyond the words of the
// messages (format.go); internal/app decides which events are mailed.
package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsctl/lvsctl/internal/clock"
)

// Config is where and how alerts are mailed; internal/config fills every
// field (keepalived's defaults included).
type Config struct {
	// Server is the mail server, host:port (smtp_server; port 25).
	Server string
	// HeloName is the name sent in HELO/EHLO (smtp_helo_name; the host name).
	HeloName string
	// From is the envelope sender and From header
	// (notification_email_from; user@hostname).
	From string
	// To are the recipients (notification_email).
	To []string
	// Timeout bounds the connect and every read and write after it
	// (smtp_connect_timeout; 30s).
	Timeout time.Duration
}

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("invalid alert configuration")

// Validate checks the invariants Sender relies on; defaults are the
// configuration loader's job.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if _, _, err := net.SplitHostPort(c.Server); err != nil {
		return bad("server %q: %v", c.Server, err)
	}
	if c.HeloName == "" || c.From == "" {
		return bad("empty HELO name or sender")
	}
	if len(c.To) == 0 {
		return bad("no recipient")
	}
	if c.Timeout <= 0 {
		return bad("timeout must be positive")
	}
	for _, a := range append([]string{c.HeloName, c.From}, c.To...) {
		if strings.ContainsAny(a, "\r\n<> \t") {
			return bad("%q has a space, a line break or an angle bracket", a)
		}
	}
	return nil
}

// Message is one alert: the subject and the one-line body keepalived
// sends (format.go builds them).
type Message struct {
	Subject string
	Body    string
}

// Counters are what a Sender did since it was made.
type Counters struct {
	// Sent mails were accepted by the server (250 after DATA).
	Sent uint64
	// Failed mails could not be delivered (connect, timeout, a refusal).
	Failed uint64
	// Dropped mails never left: the queue was full, or the sender stopped
	// with mails still queued.
	Dropped uint64
}

// DialFunc opens the connection to the mail server (net.Dialer.DialContext
// by default; tests dial inside a network namespace).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DefaultQueue is the queue's capacity when Options.Queue is 0: a VRRP
// flap or a whole farm going down at once fits; a storm beyond that is
// counted, not mailed.
const DefaultQueue = 256

// Options are a Sender's collaborators.
type Options struct {
	Dial   DialFunc
	Logger *slog.Logger
	// Clock dates the mails (clock.System by default).
	Clock clock.Clock
	// Queue is the queue's capacity (DefaultQueue when 0).
	Queue int
}

// Sender mails alerts from its own goroutine.
type Sender struct {
	log   *slog.Logger
	dial  DialFunc
	clock clock.Clock
	q     chan Message

	mu  sync.Mutex
	cfg Config

	sent, failed, dropped atomic.Uint64
	// busy counts the messages queued or being delivered (Flush).
	busy atomic.Int64

	// stop and done are Start's: they end its goroutine.
	stop context.CancelFunc
	done chan struct{}
}

// StopFlush is how long a stopping daemon waits for its last mails (the
// omega shutdown mails among them): keepalived 2.2.7's checker gives its
// children one second (check_daemon.c checker_terminate_phase1), and its
// SMTP threads get no more.
const StopFlush = time.Second

// Start runs the sender (Run) in its own goroutine until Stop: a daemon's
// last mails are queued after its other goroutines have stopped. Call it
// once.
func (s *Sender) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.Run(ctx)
	}()
}

// Stop gives the queued mails up to flush to be delivered, then ends the
// goroutine of Start (what is still queued is counted as dropped). The
// error says how many were left.
func (s *Sender) Stop(flush time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), flush)
	defer cancel()
	err := s.Flush(ctx)
	s.stop()
	<-s.done
	return err
}

// New makes a sender for cfg; Run must run for anything to be sent.
func New(cfg Config, o Options) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	return &Sender{log: o.Logger, dial: o.Dial, clock: o.Clock, q: make(chan Message, o.Queue), cfg: cfg}, nil
}

// SetConfig makes later mails use cfg (a reload); a mail being sent
// finishes with the old one.
func (s *Sender) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	return nil
}

func (s *Sender) config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cfg
	c.To = append([]string(nil), c.To...)
	return c
}

// Enqueue queues m and returns at once; false means the queue was full and
// m was dropped (and counted).
func (s *Sender) Enqueue(m Message) bool {
	s.busy.Add(1)
	select {
	case s.q <- m:
		return true
	default:
		s.busy.Add(-1)
		s.dropped.Add(1)
		s.log.Warn("e-mail alert dropped: the queue is full", "subject", m.Subject)
		return false
	}
}

// Flush waits until every queued message has been delivered (or has
// failed), or ctx ends: a stopping daemon gives its last alerts (the
// shutdown mails) a bounded time. Run must be running.
func (s *Sender) Flush(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.busy.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("e-mail alerts: %d not sent: %w", s.busy.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Counters returns the counts so far.
func (s *Sender) Counters() Counters {
	return Counters{Sent: s.sent.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load()}
}

// Run mails queued messages one at a time until ctx ends; what is still
// queued then is counted as dropped.
func (s *Sender) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case m := <-s.q:
					s.busy.Add(-1)
					s.dropped.Add(1)
					s.log.Warn("e-mail alert dropped: stopping", "subject", m.Subject)
				default:
					return nil
				}
			}
		case m := <-s.q:
			cfg := s.config()
			err := s.deliver(ctx, cfg, m)
			s.busy.Add(-1)
			if err != nil {
				s.failed.Add(1)
				s.log.Error("e-mail alert not sent", "server", cfg.Server, "subject", m.Subject, "err", err)
				continue
			}
			s.sent.Add(1)
			s.log.Info("e-mail alert sent", "server", cfg.Server, "subject", m.Subject, "to", strings.Join(cfg.To, ","))
		}
	}
}

// deliver runs one SMTP conversation: (E)HELO, MAIL, one RCPT per
// recipient, DATA, QUIT (keepalived's smtp.c FSM, which sends HELO; net/smtp
// tries EHLO first and falls back to HELO).
func (s *Sender) deliver(ctx context.Context, cfg Config, m Message) error {
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	conn, err := s.dial(dctx, "tcp", cfg.Server)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// Every read and write gets the timeout again, so a server that
	// answers slowly but steadily is served and a silent one is left.
	tc := &timeoutConn{Conn: conn, ctx: ctx, timeout: cfg.Timeout}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	host, _, _ := net.SplitHostPort(cfg.Server)
	c, err := smtp.NewClient(tc, host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(cfg.HeloName); err != nil {
		return fmt.Errorf("HELO: %w", err)
	}
	if err := c.Mail(cfg.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, to := range cfg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(Render(cfg, m, s.clock.Now())); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The mail is accepted; a QUIT that fails changes nothing.
	_ = c.Quit()
	return nil
}

// Render is the text sent after DATA: keepalived's headers (Date, From,
// Subject, X-Mailer, To) and the body.
func Render(cfg Config, m Message, now time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	fmt.Fprintf(&b, "From: %s\r\n", cfg.From)
	fmt.Fprintf(&b, "Subject: %s\r\n", oneLine(m.Subject))
	b.WriteString("X-Mailer: lvsctl\r\n")
	fmt.Fprintf(&b, "To: %s\r\n\r\n", strings.Join(cfg.To, ", "))
	b.WriteString(oneLine(m.Body))
	b.WriteString("\r\n")
	return []byte(b.String())
}

// oneLine keeps a subject or body from starting new headers or lines.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

// timeoutConn gives every Read and Write its own deadline.
// A cancelled ctx fails the next call (an AfterFunc interrupts one in
// flight).
type timeoutConn struct {
	net.Conn
	ctx     context.Context
	timeout time.Duration
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c *timeoutConn) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}
