package app

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/vrrp"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// VRRPCollector exports the VRRP instances run next to the director:
// state (one series per state, 1 for the current one), priority,
// transitions, advert counters, drops by reason and VIP repairs, under
// lvsctl_vrrp_, and the node's packets that reached no instance
// (unmatched). The instance's name
// is the label vrrp_instance: "instance" is Prometheus's own target label,
// and a scrape would rename ours to exported_instance.
func VRRPCollector(status func() []vrrp.InstanceStatus, unmatched func() map[vrrp.DropReason]uint64) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("lvsctl", "vrrp", name), help, append([]string{"vrrp_instance"}, labels...), nil)
	}
	return &vrrpCollector{
		status:      status,
		unmatched:   unmatched,
		state:       d("state", "1 for the instance's current state.", "state"),
		priority:    d("effective_priority", "Priority after tracking adjustments."),
		transitions: d("transitions_total", "State transitions."),
		sent:        d("adverts_sent_total", "Adverts sent."),
		received:    d("adverts_received_total", "Valid adverts received (a MASTER receiving them sees another master: split brain)."),
		info:        d("instance_info", "1 per instance, labelled with its interface and VRID (join on vrrp_instance).", "interface", "vrid"),
		dropped:     d("adverts_dropped_total", "Received packets for the instance dropped, by reason (see docs/vrrp.md).", "reason"),
		repairs:     d("vip_repairs_total", "VIPs found wrong (on the interface while not master, missing while master) and repaired."),
		unmatchedD: prometheus.NewDesc("lvsctl_vrrp_unmatched_dropped_total",
			"Received VRRP packets that reached no instance (VRID not configured here, or too short), by reason.", []string{"reason"}, nil),
	}
}

type vrrpCollector struct {
	status                                             func() []vrrp.InstanceStatus
	unmatched                                          func() map[vrrp.DropReason]uint64
	state, priority, transitions, sent, received, info *prometheus.Desc
	dropped, repairs, unmatchedD                       *prometheus.Desc
}

func (c *vrrpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.priority, c.transitions, c.sent, c.received, c.info, c.dropped, c.repairs, c.unmatchedD} {
		ch <- d
	}
}

func (c *vrrpCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		for _, st := range fsm.States() {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, s.Name, st.String())
		}
		ch <- prometheus.MustNewConstMetric(c.priority, prometheus.GaugeValue, float64(s.EffectivePriority), s.Name)
		ch <- prometheus.MustNewConstMetric(c.transitions, prometheus.CounterValue, float64(s.Counters.Transitions), s.Name)
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(s.Counters.AdvertsSent), s.Name)
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(s.Counters.AdvertsReceived), s.Name)
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, s.Name, s.Interface, strconv.Itoa(int(s.VRID)))
		ch <- prometheus.MustNewConstMetric(c.repairs, prometheus.CounterValue, float64(s.Counters.VIPRepairs), s.Name)
		for r, n := range s.Counters.Drops {
			ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(n), s.Name, string(r))
		}
	}
	for r, n := range c.unmatched() {
		ch <- prometheus.MustNewConstMetric(c.unmatchedD, prometheus.CounterValue, float64(n), string(r))
	}
}
