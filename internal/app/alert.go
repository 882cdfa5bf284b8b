package app

import (
	"context"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/alert"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/vrrp"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// alertSender is the part of *alert.Sender the daemon uses.
type alertSender interface {
	Enqueue(m alert.Message) bool
	SetConfig(cfg alert.Config) error
	Counters() alert.Counters
	Run(ctx context.Context) error
}

// alertState decides which transitions are mailed (the configuration's
// smtp_alert switches) and hands them to the sender, which never blocks.
type alertState struct {
	mu     sync.Mutex
	plan   config.Alerts
	sender alertSender
	// vrrp is every instance's last state and sync group; groupMailed is
	// the state last mailed per sync group (keepalived's
	// last_email_state, vrrp_notify.c).
	vrrp        map[string]vrrp.InstanceStatus
	groupMailed map[string]fsm.State
}

// applyAlerts takes a new plan; the sender is made (and started) the first
// time a configuration asks for mail, and kept after that.
func (dm *Daemon) applyAlerts(a config.Alerts) error {
	st := &dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if a.Mail != nil {
		if st.sender == nil {
			s, err := alert.New(*a.Mail, alert.Options{Dial: alert.DialFunc(dm.o.AlertDial), Logger: dm.log})
			if err != nil {
				return err
			}
			st.sender = s
			dm.spawn("e-mail alerts", s.Run)
		} else if err := st.sender.SetConfig(*a.Mail); err != nil {
			return err
		}
	}
	st.plan = a
	return nil
}

// send queues m when the configuration mails at all.
func (st *alertState) send(m alert.Message) {
	if st.plan.Mail != nil && st.sender != nil {
		st.sender.Enqueue(m)
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
	svc := ev.Key.Service
	vs := alert.Endpoint{Addr: svc.Addr, Port: svc.Port, Proto: strings.ToLower(svc.Protocol.String()), FWMark: svc.FWMark}
	proto := vs.Proto
	if svc.FWMark != 0 {
		// A fwmark service has no protocol; keepalived prints the real
		// server as tcp then.
		proto = "tcp"
	}
	rs := alert.Endpoint{Addr: ev.Key.Real.Addr, Port: ev.Key.Real.Port, Proto: proto}
	st.send(alert.RealServer(st.plan.RouterID, rs, vs, ev.New == healthcheck.Up, ev.Reason))
}

// alertVRRP mails an instance's new state, and its sync group's once all
// of the group's instances share it (vrrp_notify.c vrrp_smtp_notifier,
// vrrp_sync_smtp_notifier). It runs in the VRRP node's goroutine: Enqueue
// does not block.
func (dm *Daemon) alertVRRP(s vrrp.InstanceStatus, from fsm.State) {
	st := &dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.vrrp == nil {
		st.vrrp, st.groupMailed = map[string]vrrp.InstanceStatus{}, map[string]fsm.State{}
	}
	st.vrrp[s.Name] = s
	faultOK := !st.plan.NoFaults || s.State != fsm.Fault
	if from != s.State && faultOK && st.plan.Instances[s.Name] {
		if m, ok := alert.VRRPInstance(st.plan.RouterID, s.Name, alert.VRRPState(s.State)); ok {
			st.send(m)
		}
	}
	g := s.SyncGroup
	if g == "" || !st.plan.Groups[g] || !faultOK || st.groupMailed[g] == s.State {
		return
	}
	for _, o := range st.vrrp {
		if o.SyncGroup == g && o.State != s.State {
			return
		}
	}
	if m, ok := alert.VRRPGroup(st.plan.RouterID, g, alert.VRRPState(s.State)); ok {
		st.groupMailed[g] = s.State
		st.send(m)
	}
}

func (dm *Daemon) alertCounters() (alert.Counters, bool) {
	st := &dm.alerts
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sender == nil {
		return alert.Counters{}, false
	}
	return st.sender.Counters(), true
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
