package syncd

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is a Prometheus collector that reads Runtime.Status on every
// scrape (lvsctl_sync_*, lvsctl_ipvs_connection_entries).
type Metrics struct {
	r                            *Runtime
	timeout                      time.Duration
	up, wanted, info, conns, err *prometheus.Desc
}

// NewMetrics returns the collector for r; one scrape waits for the kernel
// at most timeout (counting a large connection table takes a while).
func NewMetrics(r *Runtime, timeout time.Duration) *Metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("lvsctl", "", name), help, labels, nil)
	}
	return &Metrics{r: r, timeout: timeout,
		up:     d("sync_daemon_running", "1 when the kernel runs the sync daemon of this role.", "role"),
		wanted: d("sync_daemon_wanted", "1 when the state table wants the sync daemon of this role.", "role"),
		info: d("sync_daemon_info", "Settings of a running sync daemon, as the kernel reports them.",
			"role", "interface", "sync_id", "maxlen", "group", "port"),
		conns: d("ipvs_connection_entries", "Entries in the kernel's IPVS connection table (on a backup: the synced connections), all or TCP ESTABLISHED only.", "state"),
		err:   d("sync_error", "1 when the last sync-daemon change or this scrape failed."),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.up, m.wanted, m.info, m.conns, m.err} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	st, err := m.r.Status(ctx)
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	ch <- prometheus.MustNewConstMetric(m.err, prometheus.GaugeValue, b(err != nil || st.LastError != ""))
	if !st.Configured {
		return
	}
	for _, role := range []Role{Master, Backup} {
		d, ok := st.Running(role)
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, b(ok), role.String())
		want := role == Master && st.WantMaster || role == Backup && st.WantBackup
		ch <- prometheus.MustNewConstMetric(m.wanted, prometheus.GaugeValue, b(want), role.String())
		if ok {
			ch <- prometheus.MustNewConstMetric(m.info, prometheus.GaugeValue, 1, role.String(), d.Interface,
				strconv.Itoa(int(d.SyncID)), strconv.Itoa(int(d.MaxLen)), d.Group.String(), strconv.Itoa(int(d.Port)))
		}
	}
	if err == nil {
		ch <- prometheus.MustNewConstMetric(m.conns, prometheus.GaugeValue, float64(st.Connections.Total), "all")
		ch <- prometheus.MustNewConstMetric(m.conns, prometheus.GaugeValue, float64(st.Connections.Established), "established")
	}
}
