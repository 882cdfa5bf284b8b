package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lvsctl/lvsctl/internal/statuspage"
)

// serveMetrics listens on Options.MetricsListen and serves the director's
// and the VRRP instances' metrics (/metrics) and the status page (/) until
// Run's context ends.
func (dm *Daemon) serveMetrics() error {
	ln, err := net.Listen("tcp", dm.o.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	reg := prometheus.NewRegistry()
	// The Go runtime's and the process's own figures (heap, goroutines,
	// descriptors, RSS): what shows a leak in a daemon that runs for months.
	cs := append([]prometheus.Collector{dm.metrics, VRRPCollector(dm.vrrpStatus, dm.vrrpUnmatched), newOpsCollector(&dm.ops),
		syncCollector{dm}, newBGPCollector(dm), newAlertCollector(dm), newFIFOCollector(dm), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})},
		dm.o.Collectors...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			ln.Close()
			return fmt.Errorf("metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /{$}", statuspage.Handler(dm, statuspage.Options{Public: dm.o.StatusPagePublic, Logger: dm.log}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	dm.spawn("metrics", func(ctx context.Context) error {
		stop := context.AfterFunc(ctx, func() { hs.Close() })
		defer stop()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	dm.metricsAddr = ln.Addr().String()
	dm.log.Info("serving metrics", "addr", dm.metricsAddr)
	return nil
}
