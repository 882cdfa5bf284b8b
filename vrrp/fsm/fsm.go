// Package fsm is the VRRP state machine (RFC 3768 / RFC 5798) as a pure step
// function: it is fed events together with the current time and answers
// with the actions the runtime must perform (send an advert, add or remove
// the virtual addresses, send gratuitous ARPs). It owns no timers and no
// sockets; Deadline tells the runtime when to call Step with a Tick next, so
// every timing rule can be tested with a fake clock.
//
// On top of the RFC it implements make-before-break handover: a master that
// shuts down sends a priority-0 advert but keeps its addresses until it sees
// the new master's advert (bounded by the master-down interval), and a
// master that is preempted keeps them for a short release grace, so clients
// whose ARP cache still points at it are served until the new master's
// gratuitous ARP has reached them.
package fsm

import (
	"fmt"
	"net/netip"
	"time"
)

// State is a VRRP state. Its value is the name keepalived uses (and the
// status file, the control socket and the metrics print), so it marshals
// as text without a lookup table.
type State string

// VRRP states. Stopped is entered after a shutdown has completed.
const (
	Init    State = "INIT"
	Backup  State = "BACKUP"
	Master  State = "MASTER"
	Fault   State = "FAULT"
	Stopped State = "STOP"
)

// States lists every state in lifecycle order (for metrics that export one
// series per state).
func States() []State { return []State{Init, Backup, Master, Fault, Stopped} }

func (s State) String() string { return string(s) }

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts only the
// names of States.
func (s *State) UnmarshalText(b []byte) error {
	for _, st := range States() {
		if string(b) == string(st) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("unknown VRRP state %q", b)
}

// Cause says why a transition happened.
type Cause uint8

// Causes of transitions.
const (
	CauseNone Cause = iota
	// CauseStart: leaving INIT as BACKUP.
	CauseStart
	// CauseFaultAtStart: leaving INIT while faulty.
	CauseFaultAtStart
	// CauseOwner: priority 255 leaves INIT as MASTER at once.
	CauseOwner
	// CauseHigherPriority: a master heard a better master.
	CauseHigherPriority
	// CauseMasterDown: a backup's master-down timer ran out.
	CauseMasterDown
	// CauseFault and CauseFaultCleared: tracking changed.
	CauseFault
	CauseFaultCleared
	// CauseSyncGroup: another member of the sync group moved this one.
	CauseSyncGroup
	// CauseShutdown: stopped without having to hand over.
	CauseShutdown
	// CauseHandedOver: a leaving master heard its successor.
	CauseHandedOver
	// CauseNoNewMaster: a leaving master gave up waiting for a successor.
	CauseNoNewMaster
	// CauseFaultWhileLeaving: a fault cut a handover short.
	CauseFaultWhileLeaving
)

func (c Cause) String() string {
	switch c {
	case CauseNone:
		return "none"
	case CauseStart:
		return "start"
	case CauseFaultAtStart:
		return "fault at start"
	case CauseOwner:
		return "address owner"
	case CauseHigherPriority:
		return "higher priority advert"
	case CauseMasterDown:
		return "master down"
	case CauseFault:
		return "fault"
	case CauseFaultCleared:
		return "fault cleared"
	case CauseSyncGroup:
		return "sync group"
	case CauseShutdown:
		return "shutdown"
	case CauseHandedOver:
		return "handed over"
	case CauseNoNewMaster:
		return "no new master seen"
	case CauseFaultWhileLeaving:
		return "fault while leaving"
	}
	return fmt.Sprintf("Cause(%d)", uint8(c))
}

// PriorityOwner is the priority of the address owner; PriorityStop is sent
// by a master that leaves.
const (
	PriorityOwner = 255
	PriorityStop  = 0
)

// LowerPriorityAnswerGap is the least time between two answers (an advert
// and the garp_lower_prio_repeat burst) of a MASTER to lower-priority
// adverts. A real lower-priority master sends one per advert interval and
// hears the first answer; more only reflect a flood, 1:1 in adverts and
// 1:garp_lower_prio_repeat in ARPs.
const LowerPriorityAnswerGap = 100 * time.Millisecond

// Config holds the timing and election parameters of one virtual router.
type Config struct {
	Version   uint8         // 2 or 3
	Priority  uint8         // base priority, 1..255
	AdvertInt time.Duration // our advertisement interval
	// Nopreempt keeps a higher-priority backup from taking over from a live master.
	Nopreempt bool
	// PreemptDelay is how long a backup keeps accepting a lower-priority
	// master's adverts after it first sees one.
	PreemptDelay time.Duration
	// LocalAddr is our primary address, the tie-breaker at equal priority.
	LocalAddr netip.Addr
	// DownAdverts is the number of missed adverts before the master is
	// declared down (0: DefaultDownAdverts, the RFC's 3; keepalived's
	// down_timer_adverts).
	DownAdverts int
	// LowerPrioNoAdvert: a MASTER does not answer a lower-priority advert
	// with an advert of its own (its gratuitous ARPs still go out), and
	// HigherPrioSendAdvert: it sends one advert before yielding to a
	// higher priority. keepalived 2.2.7 lower_prio_no_advert and
	// higher_prio_send_advert (vrrp.c, vrrp_state_master_rx).
	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	// GARP bursts: GARPRepeat at once on becoming master and again after
	// GARPDelay (if non-zero), then GARPRefreshRepeat every GARPRefresh
	// (if non-zero).
	GARPRepeat        int
	GARPDelay         time.Duration
	GARPRefresh       time.Duration
	GARPRefreshRepeat int
	// GARPLowerPrioRepeat bursts go out when a MASTER receives an advert
	// of a lower priority (a router that thinks it is master, e.g. after
	// both timers expired together), again after GARPLowerPrioDelay (if
	// non-zero): keepalived 2.2.7's garp_lower_prio_repeat/delay
	// (vrrp/vrrp.c, vrrp_state_master_rx). 0: none.
	GARPLowerPrioRepeat int
	GARPLowerPrioDelay  time.Duration
	// ReleaseGrace is how long a master that has seen a new master keeps
	// its addresses before removing them.
	ReleaseGrace time.Duration
}

// DefaultDownAdverts is the RFC's number of missed adverts before a backup
// declares the master down. It is protocol, not configuration.
const DefaultDownAdverts = 3

// setDefaults fills in the protocol constant only: every configurable value
// arrives from the loader.
func (c *Config) setDefaults() {
	if c.DownAdverts <= 0 {
		c.DownAdverts = DefaultDownAdverts
	}
}

// ActionKind says what the runtime must do.
type ActionKind uint8

// Actions.
const (
	// SendAdvert: send one advertisement with Action.Priority.
	SendAdvert ActionKind = iota + 1
	// AddVIPs: install the virtual addresses.
	AddVIPs
	// RemoveVIPs: remove the virtual addresses.
	RemoveVIPs
	// SendGARP: send Action.Count gratuitous ARP bursts for every address.
	SendGARP
	// Transition: the state changed from Action.From to Action.To (run
	// notify scripts, count it, tell the sync group).
	Transition
)

func (k ActionKind) String() string {
	switch k {
	case SendAdvert:
		return "SendAdvert"
	case AddVIPs:
		return "AddVIPs"
	case RemoveVIPs:
		return "RemoveVIPs"
	case SendGARP:
		return "SendGARP"
	case Transition:
		return "Transition"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is one thing for the runtime to do, in order.
type Action struct {
	Kind     ActionKind
	Priority uint8 // SendAdvert
	Count    int   // SendGARP
	From, To State // Transition
	Cause    Cause // Transition: why
}

func (a Action) String() string {
	switch a.Kind {
	case SendAdvert:
		return fmt.Sprintf("SendAdvert(%d)", a.Priority)
	case SendGARP:
		return fmt.Sprintf("SendGARP(%d)", a.Count)
	case Transition:
		return fmt.Sprintf("Transition(%s->%s)", a.From, a.To)
	}
	return a.Kind.String()
}

// Event is an input of the machine: one of Start, Advert, Tick, SetFault,
// SetPriority, Force and Shutdown.
type Event interface{ isEvent() }

// Start leaves INIT. With a Delay (keepalived's vrrp_startup_delay), a
// backup's master-down timer does not run out before Delay plus the
// master-down interval (keepalived 2.2.7 vrrp_scheduler.c,
// vrrp_init_instance_sands): a router that has just booted leaves the
// current master alone while its own services come up.
type Start struct{ Delay time.Duration }

// Advert is a received advertisement that passed validation.
type Advert struct {
	Src      netip.Addr
	Priority uint8
	// AdvertInt is the interval the sender advertises (used by VRRPv3
	// backups as Master_Adver_Interval).
	AdvertInt time.Duration
}

// Tick fires every timer that is due.
type Tick struct{}

// SetFault reports whether the router is faulty (interface down, a tracked
// interface or a weight-0 script failing, a sync-group member faulty).
type SetFault struct{ Fault bool }

// SetPriority sets the effective priority (base plus tracking weights).
type SetPriority struct{ Priority uint8 }

// Force moves a BACKUP to MASTER or a MASTER to BACKUP because its sync
// group did; other combinations are ignored.
type Force struct{ To State }

// Shutdown starts leaving: a master hands over, everything else stops.
type Shutdown struct{}

func (Start) isEvent()       {}
func (Advert) isEvent()      {}
func (Tick) isEvent()        {}
func (SetFault) isEvent()    {}
func (SetPriority) isEvent() {}
func (Force) isEvent()       {}
func (Shutdown) isEvent()    {}

// Machine is one virtual router's state. It is not safe for concurrent use.
type Machine struct {
	cfg             Config
	state           State
	effPrio         uint8
	fault           bool
	masterAdvertInt time.Duration
	masterAddr      netip.Addr
	masterPrio      uint8
	vipsHeld        bool
	leaving         bool

	advertAt    time.Time // MASTER: next advert
	downAt      time.Time // BACKUP: master down
	garpAt      time.Time // MASTER: delayed GARP burst
	refreshAt   time.Time // MASTER: periodic GARP
	lowerGarpAt time.Time // MASTER: delayed burst after a lower-priority advert
	lowerSeenAt time.Time // MASTER: last lower-priority advert answered
	contestAt   time.Time // MASTER: burst after a contested mastership
	// otherClaimAt is when a BACKUP last heard a lower-priority router
	// advertise as master (its timer expired with ours, or before).
	otherClaimAt time.Time
	releaseAt    time.Time // remove addresses after the release grace
	leaveAt      time.Time // leaving: give up waiting for a new master
	resendZeroAt time.Time // leaving: repeat the priority-0 advert
	preemptAt    time.Time // BACKUP: preempt delay running until
	// holdUntil is the end of the startup delay: the master-down timer
	// runs from then at the earliest.
	holdUntil time.Time
}

// New returns a machine in INIT.
func New(cfg Config) *Machine {
	cfg.setDefaults()
	return &Machine{cfg: cfg, state: Init, effPrio: cfg.Priority, masterAdvertInt: cfg.AdvertInt}
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// Leaving reports whether a shutdown handover is in progress.
func (m *Machine) Leaving() bool { return m.leaving }

// HoldsVIPs reports whether the addresses are (to be) installed.
func (m *Machine) HoldsVIPs() bool { return m.vipsHeld }

// EffectivePriority is the priority currently advertised.
func (m *Machine) EffectivePriority() uint8 { return m.effPrio }

// MasterAddr is the address of the master we last accepted (ours when
// MASTER, the successor's once a leaving master has heard it).
func (m *Machine) MasterAddr() netip.Addr {
	if m.state == Master && !m.leaving {
		return m.cfg.LocalAddr
	}
	return m.masterAddr
}

// MasterAdvertInt is Master_Adver_Interval.
func (m *Machine) MasterAdvertInt() time.Duration { return m.masterAdvertInt }

// Skew is Skew_Time as keepalived computes it: (256-priority)/256 s for
// VRRPv2, (256-priority)×Master_Adver_Interval/256 for VRRPv3, truncated to
// microseconds.
func (m *Machine) Skew() time.Duration {
	p := 256 - int64(m.effPrio)
	if m.cfg.Version == 3 {
		cs := int64(m.masterAdvertInt / (10 * time.Millisecond))
		return time.Duration(p*cs*625/16) * time.Microsecond
	}
	return time.Duration(p*1000000/256) * time.Microsecond
}

// MasterDownInterval is DownAdverts × Master_Adver_Interval + Skew_Time.
func (m *Machine) MasterDownInterval() time.Duration {
	iv := m.cfg.AdvertInt
	if m.cfg.Version == 3 {
		iv = m.masterAdvertInt
	}
	return time.Duration(m.cfg.DownAdverts)*iv + m.Skew()
}

// Deadline is the earliest time Step must be called with Tick.
func (m *Machine) Deadline() (time.Time, bool) {
	var d time.Time
	for _, t := range m.timers() {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d, !d.IsZero()
}

func (m *Machine) timers() []time.Time {
	return []time.Time{m.advertAt, m.downAt, m.garpAt, m.refreshAt, m.lowerGarpAt, m.contestAt, m.releaseAt, m.leaveAt, m.resendZeroAt}
}

func (m *Machine) clearTimers() {
	m.advertAt, m.downAt, m.garpAt, m.refreshAt, m.lowerGarpAt, m.contestAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	m.leaveAt, m.resendZeroAt = time.Time{}, time.Time{}
}

// Step feeds one event at time now and returns the actions to perform.
func (m *Machine) Step(now time.Time, ev Event) []Action {
	if m.state == Stopped {
		return nil
	}
	switch e := ev.(type) {
	case Start:
		if e.Delay > 0 && m.state == Init {
			m.holdUntil = now.Add(e.Delay)
		}
		return m.start(now)
	case Advert:
		return m.advert(now, e)
	case Tick:
		return m.tick(now)
	case SetFault:
		return m.setFault(now, e.Fault)
	case SetPriority:
		return m.setPriority(e.Priority)
	case Force:
		return m.force(now, e.To)
	case Shutdown:
		return m.shutdown(now)
	}
	return nil
}

func (m *Machine) start(now time.Time) []Action {
	if m.state != Init {
		return nil
	}
	switch {
	case m.fault:
		return m.toFault(now, CauseFaultAtStart)
	case m.cfg.Priority == PriorityOwner:
		return m.toMaster(now, CauseOwner)
	}
	return m.toBackup(now, CauseStart)
}

func (m *Machine) transition(to State, cause Cause) Action {
	a := Action{Kind: Transition, From: m.state, To: to, Cause: cause}
	m.state = to
	return a
}

func (m *Machine) toMaster(now time.Time, cause Cause) []Action {
	acts := []Action{m.transition(Master, cause)}
	m.clearTimers()
	m.preemptAt = time.Time{}
	m.masterAdvertInt = m.cfg.AdvertInt
	m.masterAddr = m.cfg.LocalAddr
	// The advert goes first so that the old master starts releasing and
	// other backups stop their timers as early as possible.
	acts = append(acts, Action{Kind: SendAdvert, Priority: m.effPrio})
	if !m.vipsHeld {
		acts = append(acts, Action{Kind: AddVIPs})
		m.vipsHeld = true
	}
	m.releaseAt = time.Time{}
	acts = append(acts, Action{Kind: SendGARP, Count: m.cfg.GARPRepeat})
	m.advertAt = now.Add(m.cfg.AdvertInt)
	if m.cfg.GARPDelay > 0 {
		m.garpAt = now.Add(m.cfg.GARPDelay)
	}
	if m.cfg.GARPRefresh > 0 {
		m.refreshAt = now.Add(m.cfg.GARPDelay + m.cfg.GARPRefresh)
	}
	if !m.otherClaimAt.IsZero() && now.Sub(m.otherClaimAt) < m.MasterDownInterval() {
		// A lower-priority router took over at about the same moment and
		// sent its gratuitous ARPs, maybe after ours: it steps down on our
		// advert, but the neighbours keep its MAC until our next burst.
		m.contestAt = now.Add(m.cfg.AdvertInt)
	}
	m.otherClaimAt = time.Time{}
	return acts
}

// downBase is when a master-down interval armed now starts: the end of
// the startup delay while it is ahead.
func (m *Machine) downBase(now time.Time) time.Time {
	if now.Before(m.holdUntil) {
		return m.holdUntil
	}
	return now
}

// toBackup enters BACKUP; a master keeps its addresses for the release
// grace so that no packet is lost while clients learn the new master.
func (m *Machine) toBackup(now time.Time, cause Cause) []Action {
	acts := []Action{m.transition(Backup, cause)}
	m.clearTimers()
	acts = append(acts, m.release(now)...)
	m.downAt = m.downBase(now).Add(m.MasterDownInterval())
	return acts
}

func (m *Machine) release(now time.Time) []Action {
	if !m.vipsHeld || !m.releaseAt.IsZero() {
		return nil
	}
	if m.cfg.ReleaseGrace > 0 {
		m.releaseAt = now.Add(m.cfg.ReleaseGrace)
		return nil
	}
	m.vipsHeld = false
	return []Action{{Kind: RemoveVIPs}}
}

func (m *Machine) removeNow() []Action {
	m.releaseAt = time.Time{}
	if !m.vipsHeld {
		return nil
	}
	m.vipsHeld = false
	return []Action{{Kind: RemoveVIPs}}
}

func (m *Machine) toFault(now time.Time, cause Cause) []Action {
	var acts []Action
	if m.state == Master && !m.leaving {
		// Tell the peers at once; the link may be down, in which case the
		// runtime just counts the failed send.
		acts = append(acts, Action{Kind: SendAdvert, Priority: PriorityStop})
	}
	acts = append(acts, m.transition(Fault, cause))
	m.clearTimers()
	m.leaving = false
	acts = append(acts, m.removeNow()...)
	m.masterAdvertInt = m.cfg.AdvertInt
	return acts
}

func (m *Machine) higherThanUs(a Advert) bool {
	return a.Priority > m.effPrio || (a.Priority == m.effPrio && addrGreater(a.Src, m.cfg.LocalAddr))
}

func addrGreater(a, b netip.Addr) bool { return a.Compare(b) > 0 }

func (m *Machine) advert(now time.Time, a Advert) []Action {
	switch m.state {
	case Backup:
		return m.backupAdvert(now, a)
	case Master:
		if m.leaving {
			if a.Priority != PriorityStop && a.Src != m.cfg.LocalAddr {
				// A new master is live: hand over after the grace.
				m.masterAddr = a.Src
				m.leaveAt = time.Time{}
				m.resendZeroAt = time.Time{}
				if m.releaseAt.IsZero() {
					m.releaseAt = now.Add(m.cfg.ReleaseGrace)
				}
			}
			return nil
		}
		return m.masterAdvert(now, a)
	}
	return nil
}

func (m *Machine) backupAdvert(now time.Time, a Advert) []Action {
	if a.Priority == PriorityStop {
		m.downAt = now.Add(m.Skew())
		return nil
	}
	delaying := m.cfg.PreemptDelay > 0 && (m.preemptAt.IsZero() || now.Before(m.preemptAt))
	if !m.cfg.Nopreempt && a.Priority < m.effPrio && !delaying {
		// A lower-priority master: let the down timer run out and preempt.
		if a.Src != m.cfg.LocalAddr {
			m.otherClaimAt = now
		}
		return nil
	}
	if m.cfg.Version == 3 && a.AdvertInt > 0 {
		m.masterAdvertInt = a.AdvertInt
	}
	m.masterAddr = a.Src
	m.masterPrio = a.Priority
	m.downAt = m.downBase(now).Add(m.MasterDownInterval())
	if m.cfg.PreemptDelay > 0 {
		if a.Priority >= m.effPrio {
			m.preemptAt = time.Time{}
		} else if m.preemptAt.IsZero() {
			m.preemptAt = now.Add(m.cfg.PreemptDelay)
		}
	}
	return nil
}

func (m *Machine) masterAdvert(now time.Time, a Advert) []Action {
	if a.Src == m.cfg.LocalAddr {
		return nil
	}
	if a.Priority == PriorityStop {
		// Another master leaves: show we are here at once.
		m.advertAt = now.Add(m.cfg.AdvertInt)
		return []Action{{Kind: SendAdvert, Priority: m.effPrio}}
	}
	if m.higherThanUs(a) {
		var acts []Action
		if m.cfg.HigherPrioSendAdvert {
			acts = append(acts, Action{Kind: SendAdvert, Priority: m.effPrio})
		}
		acts = append(acts, m.toBackup(now, CauseHigherPriority)...)
		if m.cfg.Version == 3 && a.AdvertInt > 0 {
			m.masterAdvertInt = a.AdvertInt
			m.downAt = m.downBase(now).Add(m.MasterDownInterval())
		}
		m.masterAddr = a.Src
		m.masterPrio = a.Priority
		return acts
	}
	// A lower-priority router thinks it is master: force a new election,
	// and refresh the neighbours' ARP caches, which its gratuitous ARPs
	// may have pointed at it. Once per LowerPriorityAnswerGap: keepalived
	// 2.2.7 answers every such advert (vrrp.c vrrp_state_master_rx), so a
	// flood of them makes it send an advert and garp_lower_prio_repeat
	// ARPs per VIP for each packet received.
	if !m.lowerSeenAt.IsZero() && now.Sub(m.lowerSeenAt) < LowerPriorityAnswerGap {
		return nil
	}
	m.lowerSeenAt = now
	var acts []Action
	if !m.cfg.LowerPrioNoAdvert {
		acts = append(acts, Action{Kind: SendAdvert, Priority: m.effPrio})
	}
	if m.cfg.GARPLowerPrioRepeat > 0 {
		acts = append(acts, Action{Kind: SendGARP, Count: m.cfg.GARPLowerPrioRepeat})
		if m.cfg.GARPLowerPrioDelay > 0 {
			m.lowerGarpAt = now.Add(m.cfg.GARPLowerPrioDelay)
		}
		// The other router sends its gratuitous ARPs after its advert,
		// maybe after these: again once it has stepped down.
		m.contestAt = now.Add(m.cfg.AdvertInt)
	}
	return acts
}

func due(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

func (m *Machine) tick(now time.Time) []Action {
	var acts []Action
	if due(m.releaseAt, now) {
		acts = append(acts, m.removeNow()...)
		if m.leaving {
			return append(acts, m.stop(CauseHandedOver)...)
		}
	}
	if due(m.leaveAt, now) {
		acts = append(acts, m.removeNow()...)
		return append(acts, m.stop(CauseNoNewMaster)...)
	}
	switch m.state {
	case Master:
		if due(m.resendZeroAt, now) {
			acts = append(acts, Action{Kind: SendAdvert, Priority: PriorityStop})
			m.resendZeroAt = now.Add(m.cfg.AdvertInt)
		}
		if due(m.advertAt, now) {
			acts = append(acts, Action{Kind: SendAdvert, Priority: m.effPrio})
			m.advertAt = m.advertAt.Add(m.cfg.AdvertInt)
			if !m.advertAt.After(now) {
				m.advertAt = now.Add(m.cfg.AdvertInt)
			}
		}
		if due(m.garpAt, now) {
			acts = append(acts, Action{Kind: SendGARP, Count: m.cfg.GARPRepeat})
			m.garpAt = time.Time{}
		}
		if due(m.refreshAt, now) {
			acts = append(acts, Action{Kind: SendGARP, Count: m.cfg.GARPRefreshRepeat})
			m.refreshAt = now.Add(m.cfg.GARPRefresh)
		}
		if due(m.lowerGarpAt, now) {
			acts = append(acts, Action{Kind: SendGARP, Count: m.cfg.GARPLowerPrioRepeat})
			m.lowerGarpAt = time.Time{}
		}
		if due(m.contestAt, now) {
			acts = append(acts, Action{Kind: SendGARP, Count: max(m.cfg.GARPRepeat, m.cfg.GARPLowerPrioRepeat)})
			m.contestAt = time.Time{}
		}
	case Backup:
		if due(m.downAt, now) {
			acts = append(acts, m.toMaster(now, CauseMasterDown)...)
		}
	}
	return acts
}

func (m *Machine) stop(cause Cause) []Action {
	acts := m.removeNow()
	acts = append(acts, m.transition(Stopped, cause))
	m.clearTimers()
	m.releaseAt = time.Time{}
	m.leaving = false
	return acts
}

func (m *Machine) setFault(now time.Time, fault bool) []Action {
	m.fault = fault
	switch {
	case fault && m.leaving:
		return m.stop(CauseFaultWhileLeaving)
	case fault && m.state != Fault && m.state != Init:
		return m.toFault(now, CauseFault)
	case !fault && m.state == Fault:
		if m.cfg.Priority == PriorityOwner {
			return m.toMaster(now, CauseFaultCleared)
		}
		return m.toBackup(now, CauseFaultCleared)
	}
	return nil
}

func (m *Machine) setPriority(p uint8) []Action {
	if m.cfg.Priority == PriorityOwner {
		return nil
	}
	if p == 0 {
		p = 1
	}
	if p == PriorityOwner {
		p = PriorityOwner - 1
	}
	m.effPrio = p
	return nil
}

func (m *Machine) force(now time.Time, to State) []Action {
	switch {
	case to == Master && m.state == Backup:
		return m.toMaster(now, CauseSyncGroup)
	case to == Backup && m.state == Master && !m.leaving:
		return m.toBackup(now, CauseSyncGroup)
	}
	return nil
}

func (m *Machine) shutdown(now time.Time) []Action {
	if m.state == Master && !m.leaving {
		m.leaving = true
		m.clearTimers()
		m.leaveAt = now.Add(m.MasterDownInterval())
		m.resendZeroAt = now.Add(m.cfg.AdvertInt)
		return []Action{{Kind: SendAdvert, Priority: PriorityStop}}
	}
	if m.leaving {
		return nil
	}
	return m.stop(CauseShutdown)
}

// Reconfigure applies a new configuration of the same virtual router (same
// VRID and version) without leaving the current state: a reload must not
// flap a master or restart a backup's election. Timers already running keep
// their deadlines, except that a master whose advert interval shrank sends
// its next advert no later than one new interval from now. The effective
// priority follows with the next SetPriority (the runtime sends it after
// every reload); only the address owner's is fixed here. A backup that
// becomes the address owner takes over at once, as it would at start.
func (m *Machine) Reconfigure(now time.Time, cfg Config) []Action {
	cfg.setDefaults()
	old := m.cfg
	m.cfg = cfg
	if m.state == Stopped {
		return nil
	}
	switch {
	case cfg.Priority == PriorityOwner:
		m.effPrio = PriorityOwner
	case old.Priority == PriorityOwner:
		m.effPrio = cfg.Priority
	}
	if cfg.PreemptDelay == 0 {
		m.preemptAt = time.Time{}
	}
	if m.state != Backup || cfg.Version == 2 {
		// A VRRPv3 backup keeps the interval it learned from the master.
		m.masterAdvertInt = cfg.AdvertInt
	}
	switch m.state {
	case Master:
		if m.leaving {
			return nil
		}
		if next := now.Add(cfg.AdvertInt); cfg.AdvertInt != old.AdvertInt && next.Before(m.advertAt) {
			m.advertAt = next
		}
		if cfg.GARPRefresh != old.GARPRefresh {
			m.refreshAt = time.Time{}
			if cfg.GARPRefresh > 0 {
				m.refreshAt = now.Add(cfg.GARPRefresh)
			}
		}
		m.masterAddr = cfg.LocalAddr
	case Backup:
		if cfg.Priority == PriorityOwner && old.Priority != PriorityOwner {
			return m.toMaster(now, CauseOwner)
		}
	}
	return nil
}
