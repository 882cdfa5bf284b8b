package main

import (
	"log/slog"
	"sync"

	"github.com/lvsctl/lvsctl/internal/alert"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/vrrp"
)

// vrrpMailer sends the e-mail alerts of `lvsctl vrrp run`: the VRRP mails
// keepalived's VRRP process sends (vrrp/vrrp_notify.c), chosen by
// alert.VRRPMails. The sender is made the first time a configuration asks
// for mail and kept after that, as in `director up`.
type vrrpMailer struct {
	log   *slog.Logger
	mails alert.VRRPMails

	// mu guards the sender: a reload may make it while the node mails.
	mu     sync.Mutex
	sender *alert.Sender
}

func newVRRPMailer(log *slog.Logger) *vrrpMailer { return &vrrpMailer{log: log} }

// apply takes the alert part of a loaded configuration.
func (m *vrrpMailer) apply(a config.Alerts) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.Mail != nil {
		if m.sender == nil {
			s, err := alert.New(*a.Mail, alert.Options{Logger: m.log})
			if err != nil {
				return err
			}
			s.Start()
			m.sender = s
		} else if err := m.sender.SetConfig(*a.Mail); err != nil {
			return err
		}
	}
	m.mails.SetPlan(a.VRRP())
	return nil
}

// transition is the node's transition hook: it never blocks.
func (m *vrrpMailer) transition(s vrrp.InstanceStatus) {
	msgs := m.mails.Transition(s.Name, alert.VRRPState(s.State))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sender == nil {
		return
	}
	for _, msg := range msgs {
		m.sender.Enqueue(msg)
	}
}

// stop gives the queued mails alert.StopFlush (keepalived's one-second
// backstop, as `director up`), then stops the sender.
func (m *vrrpMailer) stop() {
	m.mu.Lock()
	s := m.sender
	m.sender = nil
	m.mu.Unlock()
	if s == nil {
		return
	}
	if err := s.Stop(alert.StopFlush); err != nil {
		m.log.Warn("stopping with e-mail alerts unsent", "err", err)
	}
}
