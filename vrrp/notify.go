package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/lvsctl/lvsctl/internal/script"
	"github.com/lvsctl/lvsctl/vrrp/fsm"
)

// Notice is one line keepalived 2.2.7 writes to its notify FIFOs for VRRP
// (vrrp/vrrp_notify.c notify_fifo): `INSTANCE "VI_1" MASTER 100`,
// `GROUP "VG_1" BACKUP 0`. Nodes report them through WithNotices.
type Notice struct {
	// Group is set for a vrrp_sync_group, else it is a vrrp_instance.
	Group bool
	Name  string
	Event NoticeEvent
	// Priority is the instance's effective priority (0 for a group).
	Priority uint8
}

// NoticeEvent is a new state (MASTER, BACKUP, FAULT, STOP: the words of
// fsm.State) or an instance's new priority.
type NoticeEvent string

// The priority events of notify_priority_changes: the new effective
// priority of an instance that is MASTER, or in any other state
// (vrrp_notify.c send_instance_priority_notifies).
const (
	NoticeMasterPriority NoticeEvent = "MASTER_PRIORITY"
	NoticeBackupPriority NoticeEvent = "BACKUP_PRIORITY"
)

// notifiable reports whether keepalived names state in notifications
// (INIT is not reported).
func notifiable(s fsm.State) bool {
	return s == fsm.Master || s == fsm.Backup || s == fsm.Fault || s == fsm.Stopped
}

// notice reports x when a WithNotices function was given.
func (n *Node) notice(x Notice) {
	if n.notices != nil {
		n.notices(x)
	}
}

// notifySet is the parsed notify scripts of an instance or group.
type notifySet struct {
	master, backup, fault, stop, any *script.Command
	problems                         []string
}

func parseNotify(c NotifyConfig) (notifySet, error) {
	var s notifySet
	for _, e := range []struct {
		kw   string
		text string
		as   script.As
		dst  **script.Command
	}{
		{"notify_master", c.Master, c.As.Master, &s.master},
		{"notify_backup", c.Backup, c.As.Backup, &s.backup},
		{"notify_fault", c.Fault, c.As.Fault, &s.fault},
		{"notify_stop", c.Stop, c.As.Stop, &s.stop},
		{"notify", c.Any, c.As.Any, &s.any},
	} {
		if e.text == "" {
			continue
		}
		cmd, err := script.Parse(e.text)
		if err != nil {
			return s, fmt.Errorf("%s: %w", e.kw, err)
		}
		cmd.As = e.as
		if err := cmd.Check(); err != nil {
			s.problems = append(s.problems, fmt.Sprintf("%s %q: %v", e.kw, e.text, err))
		}
		*e.dst = &cmd
	}
	return s, nil
}

func (s *notifySet) run(nt *notifier, kind, name string, to fsm.State, prio uint8) {
	if nt == nil {
		return
	}
	var specific *script.Command
	switch to {
	case fsm.Master:
		specific = s.master
	case fsm.Backup:
		specific = s.backup
	case fsm.Fault:
		specific = s.fault
	case fsm.Stopped:
		specific = s.stop
	default:
		return
	}
	if specific != nil {
		nt.enqueue(*specific, nil)
	}
	if s.any != nil {
		nt.enqueue(*s.any, []string{kind, name, to.String(), strconv.Itoa(int(prio))})
	}
}

// notifier runs notify scripts one after the other, in transition order.
type notifier struct {
	run script.Runner
	log *slog.Logger
	// timeout is read and written on Run's goroutine only (enqueue, and a
	// reload changing it); each job carries its own copy to the loop.
	timeout time.Duration
	queue   chan notifyJob
}

type notifyJob struct {
	cmd     script.Command
	extra   []string
	timeout time.Duration
}

func newNotifier(run script.Runner, log *slog.Logger, timeout time.Duration) *notifier {
	return &notifier{run: run, log: log, timeout: timeout, queue: make(chan notifyJob, 256)}
}

func (nt *notifier) enqueue(c script.Command, extra []string) {
	select {
	case nt.queue <- notifyJob{cmd: c, extra: extra, timeout: nt.timeout}:
	default:
		nt.log.Error("notify queue full; script skipped", "script", c.Line)
	}
}

func (nt *notifier) loop() {
	for job := range nt.queue {
		if err := nt.run.Run(context.Background(), job.cmd, job.timeout, job.extra...); err != nil {
			nt.log.Warn("notify script failed", "script", job.cmd.Line, "args", job.extra, "err", err)
		}
	}
}

func (nt *notifier) close() { close(nt.queue) }
