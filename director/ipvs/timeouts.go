package ipvs

import (
	"context"
	"time"

	moby "github.com/moby/ipvs"
)

// Timeouts reads the kernel's IPVS connection timeouts (ipvsadm -L
// --timeout): TCP established, TCP after FIN, UDP.
func (c *Client) Timeouts(ctx context.Context) (tcp, tcpFin, udp time.Duration, err error) {
	err = c.do(ctx, func(h *moby.Handle) error {
		cfg, err := h.GetConfig()
		if err != nil {
			return err
		}
		tcp, tcpFin, udp = cfg.TimeoutTCP, cfg.TimeoutTCPFin, cfg.TimeoutUDP
		return nil
	}, func() string { return "read IPVS timeouts" })
	return tcp, tcpFin, udp, err
}

// SetTimeouts sets them (keepalived's lvs_timeouts, ipvsadm --set), in
// whole seconds; 0 leaves that timeout unchanged (the kernel's
// ip_vs_set_timeout ignores zeros). To undo lvs_timeouts, as keepalived
// does on a reload without it (check_daemon.c, libipvs.c ipvs_set_timeout),
// read Timeouts before the first change and set them back.
func (c *Client) SetTimeouts(ctx context.Context, tcp, tcpFin, udp time.Duration) error {
	return c.do(ctx, func(h *moby.Handle) error {
		return h.SetConfig(&moby.Config{TimeoutTCP: tcp, TimeoutTCPFin: tcpFin, TimeoutUDP: udp})
	}, func() string { return "set IPVS timeouts" })
}
