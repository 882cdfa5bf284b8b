package director

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports the director's work and the IPVS counters to Prometheus
// under the lvsctl_ namespace. It is an Observer for Options.Observer and
// a Collector that reads Status on every scrape.
type Metrics struct {
	status  func(context.Context) (Status, error)
	ops     *prometheus.CounterVec
	errs    *prometheus.CounterVec
	drift   prometheus.Counter
	reloads *prometheus.CounterVec
	// opCounters caches ops' children by kind: a cold start counts
	// thousands of edits, and a child lookup hashes its label each time.
	// A child appears on first use, as with WithLabelValues.
	opMu       sync.Mutex
	opCounters [OpDelService + 1]prometheus.Counter

	// svc and rs are the per-service and per-real-server traffic
	// figures, one Desc per Stats field (trafficFields).
	svc, rs                                         []*prometheus.Desc
	svcActive, svcInactive                          *prometheus.Desc
	rsActive, rsInactive, rsWeight, rsUp, rsLatency *prometheus.Desc
	rsCheckAge                                      *prometheus.Desc
	quorum, scrapeErr                               *prometheus.Desc
	fingerprint                                     *prometheus.Desc
}

// NewMetrics creates the metrics; SetSource must be called before scrapes
// produce IPVS figures.
func NewMetrics() *Metrics {
	const ns = "lvsctl"
	svc := []string{"vs"}
	rs := []string{"vs", "rs"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
	}
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "reconcile_ops_total", Help: "IPVS edits applied, by operation."}, []string{"op"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "reconcile_errors_total", Help: "IPVS edits the kernel refused, by operation."}, []string{"op"}),
		drift: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "drift_total", Help: "IPVS entries found changed behind the director's back."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "reloads_total", Help: "Configuration reloads, by result."}, []string{"result"}),
		svc:         trafficDescs(ns, "ipvs_service_", "the virtual service", svc),
		rs:          trafficDescs(ns, "ipvs_backend_", "the real server", rs),
		svcActive:   d("ipvs_service_connections_active", "Active connections of the virtual service (sum of its real servers).", svc),
		svcInactive: d("ipvs_service_connections_inactive", "Inactive connections of the virtual service (sum of its real servers).", svc),
		rsActive:    d("ipvs_backend_connections_active", "Active connections of the real server.", rs),
		rsInactive:  d("ipvs_backend_connections_inactive", "Inactive connections of the real server.", rs),
		rsWeight:    d("ipvs_backend_weight", "Weight of the real server in the kernel (absent: not in the table).", rs),
		rsUp:        d("realserver_up", "1 when the real server's health checks pass.", rs),
		rsLatency:   d("healthcheck_latency_seconds", "Duration of the real server's last reported check.", rs),
		rsCheckAge: d("healthcheck_last_check_age_seconds",
			"Seconds since the real server's last completed check (absent until the first one): a growing value means stalled checks.", rs),
		quorum: d("virtual_server_quorum_up", "1 when the virtual service has quorum.", svc),
		fingerprint: d("virtual_server_fingerprint_info",
			"Always 1; fingerprint identifies the scheduler's hash inputs (destinations, weights, flags): directors sharing a VIP must agree.",
			[]string{"vs", "fingerprint"}),
		scrapeErr: d("director_scrape_error", "1 when the IPVS table could not be read for this scrape.", nil),
	}
	// Every kind starts at 0, so rate() and increase() see the first edit
	// or error instead of a series appearing out of nowhere.
	for k := OpNewService; k <= OpDelService; k++ {
		m.ops.WithLabelValues(k.String())
		m.errs.WithLabelValues(k.String())
	}
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// SetSource sets where scrapes read the status from (Director.Status).
func (m *Metrics) SetSource(fn func(context.Context) (Status, error)) { m.status = fn }

// Reload counts a reload ("ok" or "error").
func (m *Metrics) Reload(result string) { m.reloads.WithLabelValues(result).Inc() }

// OpApplied implements Observer.
func (m *Metrics) OpApplied(op Op) {
	if op.Kind > OpDelService {
		m.ops.WithLabelValues(op.Kind.String()).Inc()
		return
	}
	m.opMu.Lock()
	c := m.opCounters[op.Kind]
	if c == nil {
		c = m.ops.WithLabelValues(op.Kind.String())
		m.opCounters[op.Kind] = c
	}
	m.opMu.Unlock()
	c.Inc()
}

// OpFailed implements Observer.
func (m *Metrics) OpFailed(op Op, _ error) { m.errs.WithLabelValues(op.Kind.String()).Inc() }

// Drift implements Observer.
func (m *Metrics) Drift(n int) { m.drift.Add(float64(n)) }

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.ops.Describe(ch)
	m.errs.Describe(ch)
	m.drift.Describe(ch)
	m.reloads.Describe(ch)
	descs := append([]*prometheus.Desc{m.svcActive, m.svcInactive, m.rsActive, m.rsInactive, m.rsWeight,
		m.rsUp, m.rsLatency, m.rsCheckAge, m.quorum, m.scrapeErr, m.fingerprint}, m.svc...)
	for _, d := range append(descs, m.rs...) {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.ops.Collect(ch)
	m.errs.Collect(ch)
	m.drift.Collect(ch)
	m.reloads.Collect(ch)
	if m.status == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := m.status(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(m.scrapeErr, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.scrapeErr, prometheus.GaugeValue, 0)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	now := time.Now()
	for _, s := range st.Services {
		traffic(ch, m.svc, s.Stats, s.Key)
		gauge(m.quorum, b(s.QuorumUp), s.Key)
		gauge(m.fingerprint, 1, s.Key, s.Fingerprint)
		reals := s.Reals
		if s.Sorry != nil && !hasAddr(reals, s.Sorry.Addr) {
			reals = append(reals[:len(reals):len(reals)], *s.Sorry)
		}
		var active, inactive uint64
		for _, r := range reals {
			traffic(ch, m.rs, r.Stats, s.Key, r.Addr)
			active, inactive = active+uint64(r.Active), inactive+uint64(r.Inactive)
			gauge(m.rsActive, float64(r.Active), s.Key, r.Addr)
			gauge(m.rsInactive, float64(r.Inactive), s.Key, r.Addr)
			if r.KernelWeight != nil {
				gauge(m.rsWeight, float64(*r.KernelWeight), s.Key, r.Addr)
			}
			gauge(m.rsUp, b(r.Up), s.Key, r.Addr)
			gauge(m.rsLatency, r.Latency.Seconds(), s.Key, r.Addr)
			if !r.LastCheck.IsZero() {
				gauge(m.rsCheckAge, max(now.Sub(r.LastCheck).Seconds(), 0), s.Key, r.Addr)
			}
		}
		gauge(m.svcActive, float64(active), s.Key)
		gauge(m.svcInactive, float64(inactive), s.Key)
	}
}

// trafficField is one Stats field as a metric: counters named like
// node_exporter's IPVS collector (incoming/outgoing, _total), rates with
// _per_second.
type trafficField struct {
	name, help string
	counter    bool
	get        func(Stats) uint64
}

// trafficFields is a function, not a variable: no package-level state.
func trafficFields() []trafficField {
	return []trafficField{
		{"connections_total", "Connections scheduled to %s.", true, func(s Stats) uint64 { return s.Connections }},
		{"incoming_packets_total", "Incoming packets of %s.", true, func(s Stats) uint64 { return s.PacketsIn }},
		{"outgoing_packets_total", "Outgoing packets of %s (NAT only: DR replies bypass the director).", true, func(s Stats) uint64 { return s.PacketsOut }},
		{"incoming_bytes_total", "Incoming bytes of %s.", true, func(s Stats) uint64 { return s.BytesIn }},
		{"outgoing_bytes_total", "Outgoing bytes of %s (NAT only).", true, func(s Stats) uint64 { return s.BytesOut }},
		{"connections_per_second", "Connections per second to %s (the kernel's estimate).", false, func(s Stats) uint64 { return s.CPS }},
		{"incoming_packets_per_second", "Incoming packets per second of %s (the kernel's estimate).", false, func(s Stats) uint64 { return s.PPSIn }},
		{"outgoing_packets_per_second", "Outgoing packets per second of %s (the kernel's estimate).", false, func(s Stats) uint64 { return s.PPSOut }},
		{"incoming_bytes_per_second", "Incoming bytes per second of %s (the kernel's estimate).", false, func(s Stats) uint64 { return s.BPSIn }},
		{"outgoing_bytes_per_second", "Outgoing bytes per second of %s (the kernel's estimate).", false, func(s Stats) uint64 { return s.BPSOut }},
	}
}

func trafficDescs(ns, prefix, what string, labels []string) []*prometheus.Desc {
	fields := trafficFields()
	out := make([]*prometheus.Desc, len(fields))
	for i, f := range fields {
		out[i] = prometheus.NewDesc(prometheus.BuildFQName(ns, "", prefix+f.name), fmt.Sprintf(f.help, what), labels, nil)
	}
	return out
}

func traffic(ch chan<- prometheus.Metric, descs []*prometheus.Desc, s Stats, labels ...string) {
	for i, f := range trafficFields() {
		t := prometheus.GaugeValue
		if f.counter {
			t = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(descs[i], t, float64(f.get(s)), labels...)
	}
}

var (
	_ Observer             = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

func hasAddr(rs []RealStatus, addr string) bool {
	for _, r := range rs {
		if r.Addr == addr {
			return true
		}
	}
	return false
}
