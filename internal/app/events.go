package app

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/lvsctl/lvsctl/internal/control"
	"github.com/lvsctl/lvsctl/internal/eventlog"
	"github.com/lvsctl/lvsctl/vrrp"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// events is the daemon's event log and what the producers need to turn
// observations into transitions.
type events struct {
	log *eventlog.Log
	mu  sync.Mutex
	// vrrpState is each VRRP instance's last state: the node's hook
	// reports the new status only.
	vrrpState map[string]fsm.State
}

func newEvents() *events {
	return &events{log: eventlog.New(eventlog.DefaultCapacity, nil), vrrpState: map[string]fsm.State{}}
}

// Events implements control.EventDaemon.
func (dm *Daemon) Events() control.EventSource { return dm.ev.log }

// EventLog is the daemon's event log (the status page reads it).
func (dm *Daemon) EventLog() *eventlog.Log { return dm.ev.log }

func (dm *Daemon) record(e eventlog.Event) { dm.ev.log.Append(e) }

// vrrpTransition is the VRRP node's transition hook: it runs in the node's
// goroutine and must not block (Append only takes a short lock).
func (dm *Daemon) vrrpTransition(s vrrp.InstanceStatus) {
	// The sync daemons follow their instance (SetVRRPState never waits
	// for the kernel).
	if rt := dm.syncRuntime(); rt != nil {
		rt.SetVRRPState(s.Name, s.State)
	}
	dm.ev.mu.Lock()
	from := dm.ev.vrrpState[s.Name]
	dm.ev.vrrpState[s.Name] = s.State
	dm.ev.mu.Unlock()
	if from == s.State {
		return
	}
	dm.alertVRRP(s)
	msg := fmt.Sprintf("priority %d", s.EffectivePriority)
	if s.MasterAddr.IsValid() {
		msg += ", master " + s.MasterAddr.String()
	}
	dm.record(eventlog.Event{Kind: eventlog.KindVRRP, Subject: s.Name, From: from.String(), To: s.State.String(), Message: msg})
}

// newVRRPWithEvents is the default Options.NewVRRP: vrrp.New in the calling
// thread's network namespace, with the transitions recorded in the event log
// and the notify FIFO lines written.
func (dm *Daemon) newVRRPWithEvents(cfg vrrp.Config, log *slog.Logger) (VRRP, error) {
	n, err := vrrp.New(cfg, vrrp.WithLogger(log), vrrp.WithTransitionHook(dm.vrrpTransition), vrrp.WithNotices(dm.vrrpNotice))
	if err != nil {
		return nil, err
	}
	return n, nil
}
