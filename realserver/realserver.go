package realserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
)

// Sysctls reads and writes net.ipv4.conf.<iface>.<name>.
type Sysctls interface {
	Get(iface, name string) (string, error)
	Set(iface, name, value string) error
	// Interfaces lists the interfaces that have sysctls, with "all" and
	// "default".
	Interfaces() ([]string, error)
}

// Addrs lists the host's addresses and changes those on lo.
type Addrs interface {
	List() ([]Addr, error)
	// AddLo binds p to lo; an address already there is not an error.
	AddLo(p netip.Prefix, label string) error
	// DelLo removes p from lo; an address already gone is not an error.
	DelLo(p netip.Prefix) error
}

// Manager starts, stops and inspects the real-server setup of one host.
type Manager struct {
	sys   Sysctls
	addrs Addrs
	store stateStore
	log   *slog.Logger
}

// New returns a Manager keeping its state file in stateDir
// (DefaultStateDir when empty). log may be nil.
func New(sys Sysctls, addrs Addrs, stateDir string, log *slog.Logger) *Manager {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{sys: sys, addrs: addrs, store: stateStore{dir: stateDir}, log: log}
}

// StatePath is the path of the state file.
func (m *Manager) StatePath() string { return m.store.path() }

// StartOptions say what Start sets up.
type StartOptions struct {
	// VIPs to bind on lo (at least one, no duplicates; see ParseVIPs).
	VIPs []netip.Addr
	// Ifaces get the ARP sysctls too, besides "all" and "lo".
	Ifaces []string
}

// SysctlChange is one sysctl Start wrote or Stop restored.
type SysctlChange struct {
	SysctlKey
	From string `json:"from"`
	To   string `json:"to"`
}

// SysctlValue is a sysctl and its current value.
type SysctlValue struct {
	SysctlKey
	Value string `json:"value"`
}

// StartReport says what Start did.
type StartReport struct {
	// Set are the sysctls written by this run.
	Set []SysctlChange `json:"set"`
	// Kept are the sysctls whose value already did the job.
	Kept []SysctlValue `json:"kept"`
	// Added are the VIPs this run bound to lo.
	Added []netip.Prefix `json:"added"`
	// Present are VIPs lvsctl had added before and found still in place.
	Present []netip.Prefix `json:"present"`
	// Foreign are VIPs that were on lo already without lvsctl: left alone
	// and not recorded, so Stop will not remove them either.
	Foreign []netip.Prefix `json:"foreign"`
	// StatePath is the state file.
	StatePath string `json:"state_file"`
}

// Changed reports whether Start changed anything.
func (r *StartReport) Changed() bool { return len(r.Set) > 0 || len(r.Added) > 0 }

// Start makes the host a DR real server for opts.VIPs. It validates
// everything and records the original values in the state file before it
// changes anything; when a step fails it undoes what this run did and
// returns the error. Running it again only adds what is missing.
func (m *Manager) Start(ctx context.Context, opts StartOptions) (*StartReport, error) {
	if len(opts.VIPs) == 0 {
		return nil, ErrNoVIPs
	}
	if err := checkVIPList(opts.VIPs); err != nil {
		return nil, err
	}
	ifaces, err := sysctlIfaces(opts.Ifaces)
	if err != nil {
		return nil, err
	}
	unlock, err := m.store.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, existed, err := m.store.load()
	if err != nil {
		return nil, err
	}
	hostAddrs, err := m.addrs.List()
	if err != nil {
		return nil, err
	}
	rep := &StartReport{StatePath: m.store.path()}
	var toAdd []netip.Prefix
	var bad []error
	for _, vip := range opts.VIPs {
		if err := checkAgainstHost(vip, hostAddrs); err != nil {
			bad = append(bad, err)
			continue
		}
		p := hostPrefix(vip)
		switch {
		case !onLo(vip, hostAddrs):
			toAdd = append(toAdd, p)
		case old.hasVIP(vip):
			rep.Present = append(rep.Present, p)
		default:
			rep.Foreign = append(rep.Foreign, p)
		}
	}
	if len(bad) > 0 {
		return nil, errors.Join(bad...)
	}

	// IPv6 has no ARP: the sysctls only matter once an IPv4 VIP is served.
	needARP := slices.ContainsFunc(opts.VIPs, netip.Addr.Is4) ||
		slices.ContainsFunc(old.VIPs, func(v VIPRecord) bool { return v.Prefix.Addr().Is4() })
	var toSet []SysctlChange
	if needARP {
		toSet, rep.Kept, err = m.planSysctls(ifaces, &old)
		if err != nil {
			return nil, err
		}
	}
	if len(toSet) == 0 && len(toAdd) == 0 {
		return rep, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Record first: if lvsctl dies half way, stop still knows the originals.
	next := old.clone()
	for _, c := range toSet {
		if _, ok := next.sysctl(c.SysctlKey); !ok {
			next.Sysctls = append(next.Sysctls, SysctlRecord{SysctlKey: c.SysctlKey, Original: c.From, Value: c.To})
		}
	}
	for _, p := range toAdd {
		if !next.hasVIP(p.Addr()) {
			next.VIPs = append(next.VIPs, VIPRecord{Prefix: p, Label: labelFor(p)})
		}
	}
	if err := m.store.save(next); err != nil {
		return nil, err
	}

	var done []SysctlChange
	var added []netip.Prefix
	fail := func(err error) (*StartReport, error) {
		if rbErr := m.rollback(done, added, old, existed); rbErr != nil {
			return nil, errors.Join(err, rbErr)
		}
		return nil, fmt.Errorf("%w (rolled back: nothing changed)", err)
	}
	for _, c := range toSet {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if err := m.sys.Set(c.Iface, c.Name, c.To); err != nil {
			return fail(fmt.Errorf("set %s=%s: %w", c.SysctlKey, c.To, err))
		}
		done = append(done, c)
		m.log.Info("sysctl set", "key", c.SysctlKey.String(), "from", c.From, "to", c.To)
	}
	for _, p := range toAdd {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if err := m.addrs.AddLo(p, labelFor(p)); err != nil {
			return fail(err)
		}
		added = append(added, p)
		m.log.Info("VIP added", "vip", p.String(), "dev", Loopback)
	}
	rep.Set, rep.Added = done, added
	return rep, nil
}

// planSysctls reads every sysctl of the table on ifaces and returns those
// to write. It changes nothing, so a missing interface fails before any
// change.
func (m *Manager) planSysctls(ifaces []string, st *State) (set []SysctlChange, kept []SysctlValue, err error) {
	for _, iface := range ifaces {
		for _, s := range arpSettings() {
			k := SysctlKey{Iface: iface, Name: s.name}
			cur, err := m.sys.Get(iface, s.name)
			if err != nil {
				return nil, nil, fmt.Errorf("read %s: %w", k, err)
			}
			rec, recorded := st.sysctl(k)
			switch {
			case recorded && cur == rec.Value, s.acceptable(cur):
				kept = append(kept, SysctlValue{SysctlKey: k, Value: cur})
			case recorded:
				// Someone changed it since; set it again, keep the original.
				set = append(set, SysctlChange{SysctlKey: k, From: cur, To: rec.Value})
			default:
				set = append(set, SysctlChange{SysctlKey: k, From: cur, To: s.want})
			}
		}
	}
	return set, kept, nil
}

// rollback undoes one Start run: the VIPs it added, the sysctls it wrote,
// and its state file update.
func (m *Manager) rollback(done []SysctlChange, added []netip.Prefix, old State, existed bool) error {
	var errs []error
	for i := len(added) - 1; i >= 0; i-- {
		if err := m.addrs.DelLo(added[i]); err != nil {
			errs = append(errs, fmt.Errorf("rollback: %w", err))
		}
	}
	for i := len(done) - 1; i >= 0; i-- {
		c := done[i]
		if err := m.sys.Set(c.Iface, c.Name, c.From); err != nil {
			errs = append(errs, fmt.Errorf("rollback: restore %s=%s: %w", c.SysctlKey, c.From, err))
		}
	}
	if len(errs) > 0 {
		// Keep the state file as written: it still names what is left to undo.
		return errors.Join(errs...)
	}
	if err := m.store.restore(old, existed); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	m.log.Warn("start failed, rolled back", "sysctls", len(done), "vips", len(added))
	return nil
}

// StopOptions limit what Stop undoes.
type StopOptions struct {
	// VIPs to remove; empty means all VIPs lvsctl added. The sysctls are
	// restored only when no IPv4 VIP of lvsctl is left.
	VIPs []netip.Addr
}

// StopReport says what Stop did.
type StopReport struct {
	// NothingToUndo is true when there was no state file.
	NothingToUndo bool `json:"nothing_to_undo"`
	// Removed are the VIPs removed from lo.
	Removed []netip.Prefix `json:"removed"`
	// Gone are VIPs lvsctl had added that someone already removed.
	Gone []netip.Prefix `json:"gone"`
	// NotOurs are requested VIPs lvsctl did not add: left alone.
	NotOurs []netip.Addr `json:"not_ours"`
	// Remaining are lvsctl's VIPs still bound (stop limited by VIPs).
	Remaining []netip.Prefix `json:"remaining"`
	// SysctlsKept is true when the sysctls stay because an IPv4 VIP of
	// lvsctl remains.
	SysctlsKept bool `json:"sysctls_kept"`
	// Restored are sysctls put back to their original value.
	Restored []SysctlChange `json:"restored"`
	// Untouched are sysctls someone changed after Start: left as they are.
	Untouched []SysctlChange `json:"untouched"`
	StatePath string         `json:"state_file"`
}

// Stop removes the VIPs lvsctl added and, once no IPv4 VIP of lvsctl is
// left, restores the sysctls it wrote; with nothing left it removes the
// state file. It carries on past a failing
// step and keeps whatever it could not undo in the state file, so running it
// again retries.
func (m *Manager) Stop(ctx context.Context, opts StopOptions) (*StopReport, error) {
	unlock, err := m.store.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, existed, err := m.store.load()
	if err != nil {
		return nil, err
	}
	rep := &StopReport{StatePath: m.store.path()}
	if !existed {
		rep.NothingToUndo = true
		rep.NotOurs = opts.VIPs
		return rep, nil
	}
	hostAddrs, err := m.addrs.List()
	if err != nil {
		return nil, err
	}
	selected := func(p netip.Prefix) bool {
		return len(opts.VIPs) == 0 || slices.Contains(opts.VIPs, p.Addr())
	}
	for _, a := range opts.VIPs {
		if !st.hasVIP(a) {
			rep.NotOurs = append(rep.NotOurs, a)
		}
	}
	var errs []error
	var keep []VIPRecord
	for _, v := range st.VIPs {
		if !selected(v.Prefix) {
			keep = append(keep, v)
			rep.Remaining = append(rep.Remaining, v.Prefix)
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			keep = append(keep, v)
			continue
		}
		if !onLo(v.Prefix.Addr(), hostAddrs) {
			rep.Gone = append(rep.Gone, v.Prefix)
			continue
		}
		if err := m.addrs.DelLo(v.Prefix); err != nil {
			errs = append(errs, err)
			keep = append(keep, v)
			continue
		}
		rep.Removed = append(rep.Removed, v.Prefix)
		m.log.Info("VIP removed", "vip", v.Prefix.String(), "dev", Loopback)
	}
	st.VIPs = keep

	// Mirror of Start: the ARP sysctls serve IPv4 VIPs only.
	rep.SysctlsKept = slices.ContainsFunc(st.VIPs, func(v VIPRecord) bool { return v.Prefix.Addr().Is4() })
	if !rep.SysctlsKept {
		var left []SysctlRecord
		for _, r := range st.Sysctls {
			if err := ctx.Err(); err != nil {
				errs = append(errs, err)
				left = append(left, r)
				continue
			}
			c, err := m.restoreSysctl(r)
			switch {
			case err != nil:
				errs = append(errs, err)
				left = append(left, r)
			case c == nil:
			case c.To == r.Original:
				rep.Restored = append(rep.Restored, *c)
			default:
				rep.Untouched = append(rep.Untouched, *c)
			}
		}
		st.Sysctls = left
	}
	if st.empty() {
		errs = append(errs, m.store.remove())
	} else {
		errs = append(errs, m.store.save(st))
	}
	return rep, errors.Join(errs...)
}

// restoreSysctl puts r back to its original value unless someone changed
// it after lvsctl did: then that newer choice wins and is returned with
// From == To. It returns nil when the value is the original already.
func (m *Manager) restoreSysctl(r SysctlRecord) (*SysctlChange, error) {
	cur, err := m.sys.Get(r.Iface, r.Name)
	if errors.Is(err, ErrNoInterface) && r.Iface != "all" && r.Iface != Loopback {
		// The interface is gone, and with it the value lvsctl set.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.SysctlKey, err)
	}
	switch cur {
	case r.Original:
		return nil, nil
	case r.Value:
		if err := m.sys.Set(r.Iface, r.Name, r.Original); err != nil {
			return nil, fmt.Errorf("restore %s=%s: %w", r.SysctlKey, r.Original, err)
		}
		m.log.Info("sysctl restored", "key", r.SysctlKey.String(), "from", cur, "to", r.Original)
		return &SysctlChange{SysctlKey: r.SysctlKey, From: cur, To: r.Original}, nil
	default:
		m.log.Warn("sysctl changed by someone else since start, left as is",
			"key", r.SysctlKey.String(), "value", cur, "original", r.Original)
		return &SysctlChange{SysctlKey: r.SysctlKey, From: cur, To: cur}, nil
	}
}

// checkVIPList refuses duplicates and unusable addresses (for callers that
// did not use ParseVIPs).
func checkVIPList(vips []netip.Addr) error {
	seen := map[netip.Addr]bool{}
	for _, v := range vips {
		if !v.IsValid() || v.Zone() != "" || v.Is4In6() {
			return fmt.Errorf("%w: %s", ErrBadVIP, v)
		}
		if reason := unusable(v); reason != "" {
			return fmt.Errorf("%w: %s is %s", ErrBadVIP, v, reason)
		}
		if seen[v] {
			return fmt.Errorf("%w: %s given twice", ErrBadVIP, v)
		}
		seen[v] = true
	}
	return nil
}

// sysctlIfaces is "all", "lo" and the extra interfaces, without repeats.
func sysctlIfaces(extra []string) ([]string, error) {
	out := []string{"all", Loopback}
	for _, i := range extra {
		if i == "" || i == "." || i == ".." || len(i) > 15 || filepath.Base(i) != i {
			return nil, fmt.Errorf("%w: invalid interface name %q", ErrNoInterface, i)
		}
		if !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out, nil
}

// checkAgainstHost refuses a VIP the host already owns on another
// interface, or that is the network or broadcast address of one of its
// subnets (the host itself would treat it as such).
func checkAgainstHost(vip netip.Addr, host []Addr) error {
	for _, a := range host {
		if a.Link != Loopback && a.Prefix.Addr() == vip {
			return fmt.Errorf("%w: %s is already an address of %s; a VIP of this real server must only be on %s",
				ErrBadVIP, vip, a.Link, Loopback)
		}
		if a.Prefix.Addr().BitLen() != vip.BitLen() || a.Prefix.Bits() > vip.BitLen()-2 {
			continue
		}
		network := a.Prefix.Masked()
		if network.Addr() == vip {
			return fmt.Errorf("%w: %s is the network address of %s (on %s)", ErrBadVIP, vip, network, a.Link)
		}
		if vip.Is4() && network.Contains(vip) && lastAddr(network) == vip {
			return fmt.Errorf("%w: %s is the broadcast address of %s (on %s)", ErrBadVIP, vip, network, a.Link)
		}
	}
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func onLo(vip netip.Addr, host []Addr) bool {
	return slices.ContainsFunc(host, func(a Addr) bool { return a.Link == Loopback && a.Prefix.Addr() == vip })
}

func labelFor(p netip.Prefix) string {
	if p.Addr().Is4() {
		return Label
	}
	return ""
}
