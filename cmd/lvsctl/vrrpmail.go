package main

import (
	"log/slog"

	"github.com/lvsctl/lvsctl/internal/alert"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/vrrp"
)

// vrrpMailer sends the e-mail alerts of `lvsctl vrrp run`: the VRRP mails
// keepalived's VRRP process sends (vrrp/vrrp_notify.c), chosen by
// alert.VRRPMails and sent by an alert.Mailer, as in `director up`.
type vrrpMailer struct {
	log    *slog.Logger
	mails  alert.VRRPMails
	mailer *alert.Mailer
}

func newVRRPMailer(log *slog.Logger) *vrrpMailer {
	return &vrrpMailer{log: log, mailer: alert.NewMailer(alert.Options{Logger: log})}
}

// apply takes the alert part of a loaded configuration.
func (m *vrrpMailer) apply(a config.Alerts) error {
	if err := m.mailer.Apply(a.Mail); err != nil {
		return err
	}
	m.mails.SetPlan(a.VRRP())
	return nil
}

// transition is the node's transition hook: it never blocks.
func (m *vrrpMailer) transition(s vrrp.InstanceStatus) {
	for _, msg := range m.mails.Transition(s.Name, alert.VRRPState(s.State)) {
		m.mailer.Send(msg)
	}
}

// stop gives the queued mails alert.StopFlush (keepalived's one-second
// backstop, as `director up`), then stops the sender.
func (m *vrrpMailer) stop() {
	if err := m.mailer.Stop(alert.StopFlush); err != nil {
		m.log.Warn("stopping with e-mail alerts unsent", "err", err)
	}
}
