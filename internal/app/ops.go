package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/control"
)

// opsState is what an operator asks of the daemon itself rather than of
// IPVS or VRRP: which configuration runs (generation and hash), and how
// the last reload went.
type opsState struct {
	mu         sync.Mutex
	generation uint64
	hash       string
	lastReload time.Time
	reloadOK   bool
}

// loaded records that d now runs.
func (o *opsState) loaded(d *config.Desired) {
	h := configHash(d)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.generation++
	o.hash = h
}

func (o *opsState) reloaded(ok bool, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastReload, o.reloadOK = at, ok
}

func (o *opsState) info() control.DaemonInfo {
	o.mu.Lock()
	defer o.mu.Unlock()
	return control.DaemonInfo{Generation: o.generation, Hash: o.hash, LastReload: o.lastReload, ReloadOK: o.reloadOK}
}

// configHash identifies the effective configuration (every default
// applied), so two directors, or one before and after a reload, can be
// compared: the same hash means the same desired state, whatever the
// formatting or the include layout of the files.
func configHash(d *config.Desired) string {
	b, err := json.Marshal(d)
	if err != nil {
		return "unknown"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// opsCollector exports opsState under lvsctl_config_ and
// lvsctl_director_last_reload_.
type opsCollector struct {
	st                               *opsState
	generation, info, reloadAt, okay *prometheus.Desc
}

func newOpsCollector(st *opsState) *opsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("lvsctl_"+name, help, labels, nil)
	}
	return &opsCollector{st: st,
		generation: d("config_generation", "Configurations loaded since the start (1 after the start, +1 per successful reload)."),
		info:       d("config_info", "1, labelled with the running configuration's hash (the effective, defaulted configuration).", "hash"),
		reloadAt:   d("director_last_reload_timestamp_seconds", "When the last reload finished (absent before the first)."),
		okay:       d("director_last_reload_success", "1 when the last reload was applied, 0 when it was refused."),
	}
}

func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.generation, c.info, c.reloadAt, c.okay} {
		ch <- d
	}
}

func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	i := c.st.info()
	ch <- prometheus.MustNewConstMetric(c.generation, prometheus.GaugeValue, float64(i.Generation))
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, i.Hash)
	if i.LastReload.IsZero() {
		return
	}
	ok := 0.0
	if i.ReloadOK {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(c.reloadAt, prometheus.GaugeValue, float64(i.LastReload.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.okay, prometheus.GaugeValue, ok)
}
