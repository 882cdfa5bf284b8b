package alert

import (
	"sync"
	"time"
)

// Mailer is the sender of a daemon whose configuration can gain, change or
// lose its mail settings on reload: the Sender is made (and started) the
// first time a configuration asks for mail and kept after that; while the
// configuration asks for none, nothing is sent. Safe for concurrent use;
// Send never blocks.
type Mailer struct {
	opts Options

	mu      sync.Mutex
	sender  *Sender
	enabled bool
}

// NewMailer returns a Mailer whose Sender, once made, has opts.
func NewMailer(opts Options) *Mailer { return &Mailer{opts: opts} }

// Apply takes the mail settings of a configuration (nil: it sends none).
func (m *Mailer) Apply(cfg *Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cfg == nil {
		m.enabled = false
		return nil
	}
	if m.sender == nil {
		s, err := New(*cfg, m.opts)
		if err != nil {
			return err
		}
		s.Start()
		m.sender = s
	} else if err := m.sender.SetConfig(*cfg); err != nil {
		return err
	}
	m.enabled = true
	return nil
}

// Send queues msg when the configuration asks for mail.
func (m *Mailer) Send(msg Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.enabled && m.sender != nil {
		m.sender.Enqueue(msg)
	}
}

// Counters are the sender's counts; false before any configuration asked
// for mail.
func (m *Mailer) Counters() (Counters, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sender == nil {
		return Counters{}, false
	}
	return m.sender.Counters(), true
}

// Stop gives the queued mails up to flush (StopFlush for a daemon that
// stops), then stops the sender; later Sends are dropped silently.
func (m *Mailer) Stop(flush time.Duration) error {
	m.mu.Lock()
	s := m.sender
	m.sender = nil
	m.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Stop(flush)
}
