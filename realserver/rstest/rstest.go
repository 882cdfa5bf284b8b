// Package rstest has recording fakes of the kernel side of package
// realserver, for tests that must not touch the host (no root needed).
package rstest

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"github.com/lvsctl/lvsctl/realserver"
)

// Sysctls is an in-memory realserver.Sysctls that records every write.
type Sysctls struct {
	mu     sync.Mutex
	values map[realserver.SysctlKey]string
	// Writes lists every successful Set as "iface.name=value", in order.
	Writes []string
	// FailSet makes Set of that key fail with the error.
	FailSet map[realserver.SysctlKey]error
}

// NewSysctls returns fake sysctls for ifaces (plus "all", "default" and
// "lo"), every ARP setting 0 as in a fresh namespace.
func NewSysctls(ifaces ...string) *Sysctls {
	s := &Sysctls{values: map[realserver.SysctlKey]string{}, FailSet: map[realserver.SysctlKey]error{}}
	for _, i := range append([]string{"all", "default", "lo"}, ifaces...) {
		s.values[realserver.SysctlKey{Iface: i, Name: "arp_ignore"}] = "0"
		s.values[realserver.SysctlKey{Iface: i, Name: "arp_announce"}] = "0"
	}
	return s
}

// Put sets a value without recording it (test setup).
func (s *Sysctls) Put(iface, name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[realserver.SysctlKey{Iface: iface, Name: name}] = value
}

// Value returns a value ("" when the key does not exist).
func (s *Sysctls) Value(iface, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[realserver.SysctlKey{Iface: iface, Name: name}]
}

// Snapshot copies all values.
func (s *Sysctls) Snapshot() map[realserver.SysctlKey]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[realserver.SysctlKey]string, len(s.values))
	for k, v := range s.values {
		out[k] = v
	}
	return out
}

// Get implements realserver.Sysctls.
func (s *Sysctls) Get(iface, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[realserver.SysctlKey{Iface: iface, Name: name}]
	if !ok {
		return "", fmt.Errorf("%w: %s", realserver.ErrNoInterface, iface)
	}
	return v, nil
}

// Set implements realserver.Sysctls.
func (s *Sysctls) Set(iface, name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := realserver.SysctlKey{Iface: iface, Name: name}
	if err := s.FailSet[k]; err != nil {
		return err
	}
	if _, ok := s.values[k]; !ok {
		return fmt.Errorf("%w: %s", realserver.ErrNoInterface, iface)
	}
	s.values[k] = value
	s.Writes = append(s.Writes, fmt.Sprintf("%s.%s=%s", iface, name, value))
	return nil
}

// Interfaces implements realserver.Sysctls.
func (s *Sysctls) Interfaces() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.values {
		if !slices.Contains(out, k.Iface) {
			out = append(out, k.Iface)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Addrs is an in-memory realserver.Addrs that records every change.
type Addrs struct {
	mu    sync.Mutex
	addrs []realserver.Addr
	// Calls lists every successful change as "add 10.0.0.1/32 lo:lvsctl"
	// or "del 10.0.0.1/32", in order.
	Calls []string
	// FailAdd makes AddLo of that prefix fail with the error.
	FailAdd map[netip.Prefix]error
}

// NewAddrs returns fake addresses: lo with 127.0.0.1/8 and ::1/128, plus
// the given ones.
func NewAddrs(extra ...realserver.Addr) *Addrs {
	a := &Addrs{FailAdd: map[netip.Prefix]error{}}
	a.addrs = append(a.addrs,
		realserver.Addr{Link: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8"), Label: "lo"},
		realserver.Addr{Link: "lo", Prefix: netip.MustParsePrefix("::1/128")})
	a.addrs = append(a.addrs, extra...)
	return a
}

// Put adds an address without recording it (test setup).
func (a *Addrs) Put(link, prefix, label string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addrs = append(a.addrs, realserver.Addr{Link: link, Prefix: netip.MustParsePrefix(prefix), Label: label})
}

// List implements realserver.Addrs.
func (a *Addrs) List() ([]realserver.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.addrs), nil
}

// OnLo lists the prefixes on lo as strings.
func (a *Addrs) OnLo() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, x := range a.addrs {
		if x.Link == "lo" {
			out = append(out, x.Prefix.String())
		}
	}
	return out
}

// AddLo implements realserver.Addrs.
func (a *Addrs) AddLo(p netip.Prefix, label string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.FailAdd[p]; err != nil {
		return err
	}
	if !slices.ContainsFunc(a.addrs, func(x realserver.Addr) bool { return x.Link == "lo" && x.Prefix == p }) {
		a.addrs = append(a.addrs, realserver.Addr{Link: "lo", Prefix: p, Label: label})
	}
	a.Calls = append(a.Calls, fmt.Sprintf("add %s %s", p, label))
	return nil
}

// DelLo implements realserver.Addrs.
func (a *Addrs) DelLo(p netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addrs = slices.DeleteFunc(a.addrs, func(x realserver.Addr) bool { return x.Link == "lo" && x.Prefix == p })
	a.Calls = append(a.Calls, "del "+p.String())
	return nil
}
