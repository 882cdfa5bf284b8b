package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/internal/notifyfifo"
	"github.com/lvsctl/lvsctl/vrrp"
)

// applyFIFOs opens, keeps or closes the notify FIFOs of d (a diff: an
// unchanged FIFO and its script are not touched), those of the parts of d
// this daemon runs (notifyfifo.Config.Only). A FIFO that cannot be opened
// changes nothing and fails the start or the reload.
func (dm *Daemon) applyFIFOs(d *config.Desired) error {
	vrrpRuns := !dm.o.NoVRRP && len(d.VRRP.Instances) > 0
	lvsRuns := len(d.Director.Services) > 0
	return dm.fifos.Apply(d.FIFOs.Only(vrrpRuns, lvsRuns))
}

// stopFIFOs closes the FIFOs once the last lines (the instances' STOP,
// omega's DOWN) are queued, and stops their scripts.
func (dm *Daemon) stopFIFOs() { dm.fifos.Close() }

// vrrpNotice writes a VRRP node's notice (vrrp.WithNotices) to the FIFOs.
// It runs on the node's goroutine: the Hub never blocks.
func (dm *Daemon) vrrpNotice(n vrrp.Notice) { dm.fifos.VRRP(VRRPLine(n)) }

// VRRPLine is the notify FIFO line of a VRRP node's notice.
func VRRPLine(n vrrp.Notice) notifyfifo.VRRPLine {
	if n.Group {
		return notifyfifo.Group{Name: n.Name, State: notifyfifo.VRRPState(n.Event)}
	}
	return notifyfifo.Instance{Name: n.Name, State: notifyfifo.VRRPState(n.Event), Priority: n.Priority}
}

// fifoService is a service as keepalived's FIFO lines name it.
func fifoService(k director.ServiceKey) notifyfifo.Service {
	if k.FWMark != 0 {
		return notifyfifo.Service{FWMark: k.FWMark}
	}
	return notifyfifo.Service{Endpoint: notifyfifo.Endpoint{Addr: k.Addr, Port: k.Port, Proto: fifoProto(k)}}
}

// fifoProto is the protocol keepalived prints for a service and its real
// servers: none for a firewall-mark service (check/check_data.c clears
// it), tcp, udp or sctp otherwise.
func fifoProto(k director.ServiceKey) notifyfifo.Proto {
	switch {
	case k.FWMark != 0:
		return notifyfifo.NoProt
	case k.Protocol == director.UDP:
		return notifyfifo.UDP
	case k.Protocol == director.SCTP:
		return notifyfifo.SCTP
	}
	return notifyfifo.TCP
}

// fifoRealServer is a real server's line.
func fifoRealServer(ref director.RealRef, up bool) notifyfifo.RealServer {
	return notifyfifo.RealServer{
		Real:    notifyfifo.Endpoint{Addr: ref.Real.Addr, Port: ref.Real.Port, Proto: fifoProto(ref.Service)},
		Service: fifoService(ref.Service), Up: up,
	}
}

// fifoCollector exports the FIFOs' counters.
type fifoCollector struct {
	dm    *Daemon
	lines *prometheus.Desc
}

func newFIFOCollector(dm *Daemon) *fifoCollector {
	return &fifoCollector{dm: dm, lines: prometheus.NewDesc("lvsctl_notify_fifo_lines_total",
		"Lines for the notify FIFOs by FIFO and result: written, or dropped (the FIFO is not read fast enough, or not at all).",
		[]string{"fifo", "result"}, nil)}
}

func (c *fifoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.lines }

func (c *fifoCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.dm.fifos.Counters() {
		ch <- prometheus.MustNewConstMetric(c.lines, prometheus.CounterValue, float64(f.Written), f.Path, "written")
		ch <- prometheus.MustNewConstMetric(c.lines, prometheus.CounterValue, float64(f.Dropped), f.Path, "dropped")
	}
}
