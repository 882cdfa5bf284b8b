package app

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/alert"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/vrrp"
)

// maxEarlyQuorum bounds the quorum events kept from the director's start
// until the first plan is applied (one per service).
const maxEarlyQuorum = 65536

// alertState decides which transitions are mailed (the configuration's
// smtp_alert switches) and hands them to the sender, which never blocks.
type alertState struct {
	mu   sync.Mutex
	plan config.Alerts
	// next is the plan a reload is applying: the director's events during
	// the reload (a service it adds starts) are checked against both.
	next *config.Alerts
	// planned is set by the first plan; before it, the director's start
	// events wait in early.
	planned bool
	early   []director.QuorumEvent
	// mailer sends; nil until the first plan.
	mailer *alert.Mailer
	// vrrp decides the VRRP mails.
	vrrp alert.VRRPMails
}

// applyAlerts takes a new plan. The mailer's sender has its own lifetime,
// not the run's: the shutdown mails are queued after the run's goroutines
// stopped (stopAlerts).
func (dm *Daemon) applyAlerts(a config.Alerts) error {
	st := &dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mailer == nil {
		st.mailer = alert.NewMailer(alert.Options{Dial: alert.DialFunc(dm.o.AlertDial), Logger: dm.log})
	}
	if err := st.mailer.Apply(a.Mail); err != nil {
		return err
	}
	st.plan, st.next = a, nil
	st.vrrp.SetPlan(a.VRRP())
	if !st.planned {
		st.planned = true
		for _, e := range st.early {
			st.quorum(e)
		}
		st.early = nil
	}
	return nil
}

// expectAlerts tells the alerts of the plan a reload is about to apply
// (nil: the reload is over).
func (dm *Daemon) expectAlerts(a *config.Alerts) {
	st := &dm.alerts
	st.mu.Lock()
	st.next = a
	st.mu.Unlock()
}

// stopAlerts gives the queued mails alert.StopFlush, then stops the
// sender.
func (dm *Daemon) stopAlerts() {
	st := &dm.alerts
	st.mu.Lock()
	m := st.mailer
	st.mu.Unlock()
	if m == nil {
		return
	}
	if err := m.Stop(alert.StopFlush); err != nil {
		dm.log.Warn("stopping with e-mail alerts unsent", "err", err)
	}
}

// wants reports whether the running plan, or the one a reload applies,
// mails about what pick picks.
func (st *alertState) wants(pick func(config.Alerts) bool) bool {
	return pick(st.plan) || (st.next != nil && pick(*st.next))
}

// send queues m when the configuration mails at all.
func (st *alertState) send(m alert.Message) {
	if st.mailer != nil {
		st.mailer.Send(m)
	}
}

// alertHealth mails a real server's transition when its smtp_alert is on
// (keepalived mails from each checker, check/check_*.c; lvsctl's scheduler
// reports the real server, which is what no_checker_emails gives).
func (dm *Daemon) alertHealth(ev healthcheck.Event[director.RealRef]) {
	if ev.FirstDown {
		// No change: keepalived mails a failure only when the checker was
		// up (check/check_tcp.c, tcp_epilog: checker_was_up).
		return
	}
	st := &dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.plan.RealServers[ev.Key] {
		return
	}
	rs, vs := endpoints(ev.Key)
	st.send(alert.RealServer(st.plan.RouterID, rs, vs, ev.New == healthcheck.Up, ev.Reason))
}

// serviceEndpoint is a service as the mails name it.
func serviceEndpoint(svc director.ServiceKey) alert.Endpoint {
	return alert.Endpoint{Addr: svc.Addr, Port: svc.Port, Proto: strings.ToLower(svc.Protocol.String()), FWMark: svc.FWMark}
}

// endpoints are a real server and its service as the mails name them.
func endpoints(ref director.RealRef) (rs, vs alert.Endpoint) {
	vs = serviceEndpoint(ref.Service)
	proto := vs.Proto
	if ref.Service.FWMark != 0 {
		// A fwmark service has no protocol; keepalived prints the real
		// server as tcp then.
		proto = "tcp"
	}
	return alert.Endpoint{Addr: ref.Real.Addr, Port: ref.Real.Port, Proto: proto}, vs
}

// directorEvents hands the director's quorum changes and removals to the
// alerts (director.Events). The director calls it under its lock: nothing
// here blocks.
type directorEvents struct{ dm *Daemon }

// Quorum mails a service's quorum change when its smtp_alert is on
// (keepalived 2.2.7 check/ipwrapper.c do_vs_notifies). At start it comes
// before the first plan, and waits for it.
func (e directorEvents) Quorum(q director.QuorumEvent) {
	// The FIFOs first: they are open before the director starts.
	e.dm.fifos.LVS(notifyfifo.VirtualServer{Service: fifoService(q.Service), Up: q.Up})
	st := &e.dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.planned {
		if len(st.early) < maxEarlyQuorum {
			st.early = append(st.early, q)
		}
		return
	}
	st.quorum(q)
}

func (st *alertState) quorum(q director.QuorumEvent) {
	if !st.wants(func(p config.Alerts) bool { return p.Services[q.Service] }) {
		return
	}
	body := alert.Body(alert.ShuttingDown)
	if !q.Stopping {
		body = alert.QuorumBody(q.Up, q.Init, q.Quorum, q.Hysteresis, q.Threshold, q.Weight)
	}
	st.send(alert.VirtualServer(st.plan.RouterID, serviceEndpoint(q.Service), q.Up, body))
}

// RealServerGone mails a real server a reload took out while up
// ("Removing"), or one an omega stop took out ("Shutting down"), when its
// smtp_alert is on (check/ipwrapper.c clear_service_rs).
func (e directorEvents) RealServerGone(ref director.RealRef, stopping bool) {
	e.dm.fifos.LVS(fifoRealServer(ref, false))
	st := &e.dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.wants(func(p config.Alerts) bool { return p.RealServers[ref] }) {
		return
	}
	detail := alert.Removing
	if stopping {
		detail = alert.ShuttingDown
	}
	rs, vs := endpoints(ref)
	st.send(alert.RealServer(st.plan.RouterID, rs, vs, false, detail))
}

// RealServerChanged writes a real server's line to the notify FIFOs
// where its notify_up / notify_down runs (check/ipwrapper.c
// do_rs_notifies); its mail comes from the health event (alertHealth).
func (e directorEvents) RealServerChanged(ref director.RealRef, up bool) {
	e.dm.fifos.LVS(fifoRealServer(ref, up))
}

// alertVRRP mails an instance's new state, and its sync group's once all
// of the group's instances share it (alert.VRRPMails). It runs in the VRRP
// node's goroutine: Enqueue does not block.
func (dm *Daemon) alertVRRP(s vrrp.InstanceStatus) {
	st := &dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.vrrp.Transition(s.Name, alert.VRRPState(s.State)) {
		st.send(m)
	}
}

func (dm *Daemon) alertCounters() (alert.Counters, bool) {
	st := &dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mailer == nil {
		return alert.Counters{}, false
	}
	return st.mailer.Counters()
}

// alertCollector exports the sender's counters (lvsctl_alert_mails_total).
type alertCollector struct {
	dm    *Daemon
	mails *prometheus.Desc
}

func newAlertCollector(dm *Daemon) *alertCollector {
	return &alertCollector{dm: dm, mails: prometheus.NewDesc("lvsctl_alert_mails_total",
		"E-mail alerts by result: sent (accepted by the smtp_server), failed (not delivered), dropped (queue full or stopping).",
		[]string{"result"}, nil)}
}

func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.mails }

func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	n, ok := c.dm.alertCounters()
	if !ok {
		return
	}
	for _, r := range []struct {
		name string
		v    uint64
	}{{"sent", n.Sent}, {"failed", n.Failed}, {"dropped", n.Dropped}} {
		ch <- prometheus.MustNewConstMetric(c.mails, prometheus.CounterValue, float64(r.v), r.name)
	}
}
