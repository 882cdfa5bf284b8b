package healthcheck

import (
	"context"
	"fmt"
	"time"
)

// Result is the outcome of one probe (one connect, one URL, one script run).
type Result struct {
	OK     bool
	Reason string
	// Weight is the misc_dynamic weight of a passed probe, when HasWeight.
	Weight    int
	HasWeight bool
}

type probeFunc func(ctx context.Context, step int) Result

// newProbe builds the probe of s. A nil dial means the built-in dialer,
// which lets TCP_CHECK use its cheaper connect-only path.
func newProbe(s *Spec, dial DialFunc) probeFunc {
	switch s.Kind {
	case TCPCheck:
		ok := pass(s, "")
		return func(ctx context.Context, _ int) Result { return probeTCP(ctx, s, dial, ok) }
	case HTTPGet, SSLGet:
		h := newHTTPProbe(s, dial)
		return h.probe
	case MiscCheck:
		return newMiscProbe(s)
	case PingCheck:
		return func(ctx context.Context, _ int) Result { return probePing(ctx, s) }
	case UDPCheck:
		return func(ctx context.Context, _ int) Result { return probeUDP(ctx, s) }
	case DNSCheck:
		return func(ctx context.Context, _ int) Result { return probeDNS(ctx, s) }
	case SMTPCheck:
		return func(ctx context.Context, _ int) Result { return probeSMTP(ctx, s, dial) }
	case FileCheck:
		return func(context.Context, int) Result { return probeFile(s) }
	}
	return func(context.Context, int) Result { return fail(s, "", "unknown checker kind") }
}

// Target names what a checker checks (its address, the MISC_CHECK
// command, or the FILE_CHECK's file), as reasons and status output show it.
func (s *Spec) Target() string {
	if s.Kind == MiscCheck && s.Misc != nil {
		return s.Misc.Command
	}
	if s.Kind == PingCheck {
		return s.Addr.Addr().String()
	}
	if s.Kind == FileCheck && s.File != nil {
		return s.File.Path
	}
	return s.Addr.String()
}

func pass(s *Spec, what string) Result {
	if what == "" {
		what = s.Target()
	}
	return Result{OK: true, Reason: fmt.Sprintf("%s %s passed", s.Kind, what)}
}

func fail(s *Spec, what, format string, a ...any) Result {
	if what == "" {
		what = s.Target()
	}
	return Result{Reason: fmt.Sprintf("%s %s: %s", s.Kind, what, fmt.Sprintf(format, a...))}
}

func probeTCP(ctx context.Context, s *Spec, dial DialFunc, ok Result) Result {
	if dial == nil {
		if err := connectOnly(ctx, s.Local(), s.Addr, s.ConnectTimeout); err != nil {
			return fail(s, "", "%v", err)
		}
		return ok
	}
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	conn, err := dial(ctx, "tcp", s.Local(), s.Addr)
	if err != nil {
		return fail(s, "", "connect: %v", err)
	}
	// keepalived closes right after the handshake, without linger tricks.
	_ = conn.Close()
	return ok
}

// CheckOnce runs one full check of s outside a scheduler, the way a
// scheduled check that ends up deciding the state would: every URL once,
// each failed probe retried up to s.Retry times after s.DelayBeforeRetry.
// It is what `lvsctl check --once` runs.
func CheckOnce(ctx context.Context, s *Spec, dial DialFunc) Result {
	if err := s.Validate(); err != nil {
		return Result{Reason: err.Error()}
	}
	probe := newProbe(s, dial)
	var last Result
	for step := 0; step < s.steps(); step++ {
		for attempt := 0; ; attempt++ {
			last = probe(ctx, step)
			if last.OK || attempt >= s.Retry || ctx.Err() != nil {
				break
			}
			t := time.NewTimer(s.DelayBeforeRetry)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if !last.OK {
			return last
		}
	}
	return last
}
