// Package eventlog is the daemon's ordered record of what happened: health
// transitions, VRRP transitions, reloads, drift repairs and drains, each
// with a sequence number and a time. It keeps a bounded ring of the latest
// events, so a reader that falls behind (a slow `lvsctl director events`
// client) loses the oldest events, and is told how many, instead of making
// the daemon's memory grow.
package eventlog

import (
	"sync"
	"time"
)

// Kinds of events.
const (
	KindHealth = "health"
	KindVRRP   = "vrrp"
	KindReload = "reload"
	KindDrift  = "drift"
	KindDrain  = "drain"
	// KindBGP is a VIP route announced or withdrawn, and why.
	KindBGP = "bgp"
)

// Event is one thing that happened.
type Event struct {
	// Seq numbers the events of one daemon from 1, without gaps.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Subject is what the event is about: a real server
	// ("TCP 10.16.8.100:80 10.16.8.8:80"), a VRRP instance, the file.
	Subject string `json:"subject,omitempty"`
	// From and To are the states of a transition (health up/down, VRRP
	// states, drain on/off).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Message says why or what, for people.
	Message string `json:"message,omitempty"`
}

// DefaultCapacity is how many events a Log keeps unless told otherwise:
// enough for a flapping cluster's last minutes, small enough (~100 KiB)
// never to matter.
const DefaultCapacity = 1024

// Log is a bounded, ordered event log, safe for concurrent use.
type Log struct {
	now func() time.Time

	mu   sync.Mutex
	ring []Event
	// next is the sequence number the next event gets.
	next uint64
	// changed is closed (and replaced) by every Append: the broadcast
	// that wakes followers.
	changed chan struct{}
}

// New returns a log keeping the last capacity events (DefaultCapacity
// when capacity <= 0). now stamps the events (time.Now when nil).
func New(capacity int, now func() time.Time) *Log {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	if now == nil {
		now = time.Now
	}
	return &Log{now: now, ring: make([]Event, 0, capacity), next: 1, changed: make(chan struct{})}
}

// Append records e, stamping its Seq and (unless set) its Time, and
// returns it.
func (l *Log) Append(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = l.next
	l.next++
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, e)
	} else {
		l.ring[int((e.Seq-1)%uint64(cap(l.ring)))] = e
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return e
}

// Since returns the events after seq that the ring still holds, oldest
// first, and how many events after seq it no longer holds (missed).
// Since(0) is the whole ring.
func (l *Log) Since(seq uint64) (events []Event, missed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.next - 1
	if seq >= last {
		return nil, 0
	}
	oldest := l.next - uint64(len(l.ring))
	if seq+1 < oldest {
		missed = oldest - seq - 1
		seq = oldest - 1
	}
	events = make([]Event, 0, last-seq)
	for s := seq + 1; s <= last; s++ {
		events = append(events, l.ring[int((s-1)%uint64(cap(l.ring)))])
	}
	return events, missed
}

// Last returns the sequence number of the newest event (0: none yet).
func (l *Log) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// Changed returns a channel closed by the next Append. Followers call it
// before Since, so no event slips between the two.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}
