package app

import (
	"context"
	"fmt"
	"time"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/config"
)

// timeoutSetter is the part of the IPVS client lvs_timeouts needs
// (director/ipvs.Client has it; a client without it cannot honour the
// keyword, which is then an error).
type timeoutSetter interface {
	Timeouts(ctx context.Context) (tcp, tcpFin, udp time.Duration, err error)
	SetTimeouts(ctx context.Context, tcp, tcpFin, udp time.Duration) error
}

// timeoutState remembers the kernel's timeouts from before lvsctl first
// set them, so a reload that drops lvs_timeouts puts them back, as
// keepalived does (keepalived/check/check_daemon.c).
type timeoutState struct {
	applied *config.LVSTimeouts
	saved   [3]time.Duration
	hasSave bool
}

// applyTimeouts makes the kernel's IPVS timeouts what want says (nil:
// the ones found before lvsctl changed them).
func (dm *Daemon) applyTimeouts(ctx context.Context, client director.IPVS, want *config.LVSTimeouts) error {
	st := &dm.timeouts
	if want == nil && st.applied == nil {
		return nil
	}
	if want != nil && st.applied != nil && *want == *st.applied {
		return nil
	}
	ts, ok := client.(timeoutSetter)
	if !ok {
		return fmt.Errorf("lvs_timeouts: the IPVS client cannot set timeouts")
	}
	if !st.hasSave {
		tcp, fin, udp, err := ts.Timeouts(ctx)
		if err != nil {
			return fmt.Errorf("lvs_timeouts: %w", err)
		}
		st.saved, st.hasSave = [3]time.Duration{tcp, fin, udp}, true
	}
	tcp, fin, udp := st.saved[0], st.saved[1], st.saved[2]
	if want != nil {
		// 0 keeps the value found before lvsctl set any.
		tcp, fin, udp = orSaved(want.TCP, tcp), orSaved(want.TCPFin, fin), orSaved(want.UDP, udp)
	}
	if err := ts.SetTimeouts(ctx, tcp, fin, udp); err != nil {
		return fmt.Errorf("lvs_timeouts: %w", err)
	}
	st.applied = want
	dm.log.Info("IPVS timeouts set", "tcp", tcp.String(), "tcpfin", fin.String(), "udp", udp.String())
	return nil
}

func orSaved(v, saved time.Duration) time.Duration {
	if v == 0 {
		return saved
	}
	return v
}
