package director

import (
	"context"
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

	svcConns, svcPktsIn, svcPktsOut, svcBytesIn, svcBytesOut *prometheus.Desc
	rsConns, rsPktsIn, rsPktsOut, rsBytesIn, rsBytesOut      *prometheus.Desc
	rsActive, rsInactive, rsWeight, rsUp, rsLatency          *prometheus.Desc
	quorum, scrapeErr                                        *prometheus.Desc
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
	return &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "reconcile_ops_total", Help: "IPVS edits applied, by operation."}, []string{"op"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "reconcile_errors_total", Help: "IPVS edits the kernel refused, by operation."}, []string{"op"}),
		drift: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "drift_total", Help: "IPVS entries found changed behind the director's back."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "director",
			Name: "reloads_total", Help: "Configuration reloads, by result."}, []string{"result"}),
		svcConns:    d("ipvs_service_connections_total", "Connections scheduled by the virtual service.", svc),
		svcPktsIn:   d("ipvs_service_packets_in_total", "Incoming packets of the virtual service.", svc),
		svcPktsOut:  d("ipvs_service_packets_out_total", "Outgoing packets of the virtual service.", svc),
		svcBytesIn:  d("ipvs_service_bytes_in_total", "Incoming bytes of the virtual service.", svc),
		svcBytesOut: d("ipvs_service_bytes_out_total", "Outgoing bytes of the virtual service.", svc),
		rsConns:     d("ipvs_realserver_connections_total", "Connections scheduled to the real server.", rs),
		rsPktsIn:    d("ipvs_realserver_packets_in_total", "Incoming packets forwarded to the real server.", rs),
		rsPktsOut:   d("ipvs_realserver_packets_out_total", "Outgoing packets of the real server (NAT only).", rs),
		rsBytesIn:   d("ipvs_realserver_bytes_in_total", "Incoming bytes forwarded to the real server.", rs),
		rsBytesOut:  d("ipvs_realserver_bytes_out_total", "Outgoing bytes of the real server (NAT only).", rs),
		rsActive:    d("ipvs_realserver_active_connections", "Active connections of the real server.", rs),
		rsInactive:  d("ipvs_realserver_inactive_connections", "Inactive connections of the real server.", rs),
		rsWeight:    d("ipvs_realserver_weight", "Weight of the real server in the kernel (-1: not in the table).", rs),
		rsUp:        d("realserver_up", "1 when the real server's health checks pass.", rs),
		rsLatency:   d("healthcheck_latency_seconds", "Duration of the real server's last reported check.", rs),
		quorum:      d("virtual_server_quorum_up", "1 when the virtual service has quorum.", svc),
		scrapeErr:   d("director_scrape_error", "1 when the IPVS table could not be read for this scrape.", nil),
	}
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
	for _, d := range []*prometheus.Desc{m.svcConns, m.svcPktsIn, m.svcPktsOut, m.svcBytesIn, m.svcBytesOut,
		m.rsConns, m.rsPktsIn, m.rsPktsOut, m.rsBytesIn, m.rsBytesOut, m.rsActive, m.rsInactive, m.rsWeight,
		m.rsUp, m.rsLatency, m.quorum, m.scrapeErr} {
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
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, s := range st.Services {
		counter(m.svcConns, s.Stats.Connections, s.Key)
		counter(m.svcPktsIn, s.Stats.PacketsIn, s.Key)
		counter(m.svcPktsOut, s.Stats.PacketsOut, s.Key)
		counter(m.svcBytesIn, s.Stats.BytesIn, s.Key)
		counter(m.svcBytesOut, s.Stats.BytesOut, s.Key)
		gauge(m.quorum, b(s.QuorumUp), s.Key)
		reals := s.Reals
		if s.Sorry != nil && !hasAddr(reals, s.Sorry.Addr) {
			reals = append(reals[:len(reals):len(reals)], *s.Sorry)
		}
		for _, r := range reals {
			counter(m.rsConns, r.Stats.Connections, s.Key, r.Addr)
			counter(m.rsPktsIn, r.Stats.PacketsIn, s.Key, r.Addr)
			counter(m.rsPktsOut, r.Stats.PacketsOut, s.Key, r.Addr)
			counter(m.rsBytesIn, r.Stats.BytesIn, s.Key, r.Addr)
			counter(m.rsBytesOut, r.Stats.BytesOut, s.Key, r.Addr)
			gauge(m.rsActive, float64(r.Active), s.Key, r.Addr)
			gauge(m.rsInactive, float64(r.Inactive), s.Key, r.Addr)
			if r.KernelWeight != nil {
				gauge(m.rsWeight, float64(*r.KernelWeight), s.Key, r.Addr)
			}
			gauge(m.rsUp, b(r.Up), s.Key, r.Addr)
			gauge(m.rsLatency, r.Latency.Seconds(), s.Key, r.Addr)
		}
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
