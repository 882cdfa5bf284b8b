// Package fakespeaker is a recording bgp.Speaker for tests: it keeps the
// peers and the announced paths as a router would see them, records every
// call in order, and fails the calls a test chooses.
package fakespeaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/lvsctl/lvsctl/bgp"
)

// Speaker is the fake. The zero value is ready to use.
type Speaker struct {
	mu      sync.Mutex
	running bool
	cfg     bgp.Config
	peers   map[netip.Addr]bgp.Neighbor
	paths   map[netip.Prefix]bgp.Path
	calls   []string
	// Fail, when set, is asked before every call with the call's text;
	// a non-nil error fails it.
	Fail func(call string) error
}

var _ bgp.Speaker = (*Speaker)(nil)

func (s *Speaker) record(call string) error {
	s.calls = append(s.calls, call)
	if s.Fail != nil {
		return s.Fail(call)
	}
	return nil
}

// Calls returns the calls so far ("start 10.0.0.1 65010",
// "announce 10.16.8.100/32", "announce 10.16.8.100/32 gshut",
// "withdraw 10.16.8.100/32", "add-peer 10.0.0.1", "update-peer …",
// "delete-peer …", "stop") and forgets them.
func (s *Speaker) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

// Paths returns the announced paths.
func (s *Speaker) Paths() map[netip.Prefix]bgp.Path {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[netip.Prefix]bgp.Path, len(s.paths))
	for k, v := range s.paths {
		out[k] = v
	}
	return out
}

// Start implements bgp.Speaker.
func (s *Speaker) Start(_ context.Context, cfg bgp.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record(fmt.Sprintf("start %s %d", cfg.RouterID, cfg.LocalAS)); err != nil {
		return err
	}
	if s.running {
		return errors.New("already running")
	}
	s.running, s.cfg = true, cfg
	s.peers, s.paths = map[netip.Addr]bgp.Neighbor{}, map[netip.Prefix]bgp.Path{}
	return nil
}

// Stop implements bgp.Speaker.
func (s *Speaker) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record("stop"); err != nil {
		return err
	}
	s.running = false
	s.peers, s.paths = nil, nil
	return nil
}

// AddPeer implements bgp.Speaker.
func (s *Speaker) AddPeer(_ context.Context, n bgp.Neighbor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record("add-peer " + n.Addr.String()); err != nil {
		return err
	}
	if _, ok := s.peers[n.Addr]; ok {
		return errors.New("peer exists")
	}
	s.peers[n.Addr] = n
	return nil
}

// UpdatePeer implements bgp.Speaker.
func (s *Speaker) UpdatePeer(_ context.Context, n bgp.Neighbor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record("update-peer " + n.Addr.String()); err != nil {
		return err
	}
	if _, ok := s.peers[n.Addr]; !ok {
		return errors.New("no such peer")
	}
	s.peers[n.Addr] = n
	return nil
}

// DeletePeer implements bgp.Speaker.
func (s *Speaker) DeletePeer(_ context.Context, addr netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record("delete-peer " + addr.String()); err != nil {
		return err
	}
	if _, ok := s.peers[addr]; !ok {
		return errors.New("no such peer")
	}
	delete(s.peers, addr)
	return nil
}

// Announce implements bgp.Speaker.
func (s *Speaker) Announce(_ context.Context, p bgp.Path) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	call := "announce " + p.Prefix.String()
	if p.GracefulShutdown {
		call += " gshut"
	}
	if err := s.record(call); err != nil {
		return err
	}
	if !s.running {
		return errors.New("not running")
	}
	s.paths[p.Prefix] = p
	return nil
}

// Withdraw implements bgp.Speaker.
func (s *Speaker) Withdraw(_ context.Context, prefix netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record("withdraw " + prefix.String()); err != nil {
		return err
	}
	if !s.running {
		return errors.New("not running")
	}
	delete(s.paths, prefix)
	return nil
}

// Peers implements bgp.Speaker: every peer is established.
func (s *Speaker) Peers(context.Context) ([]bgp.PeerState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bgp.PeerState
	for _, n := range s.peers {
		out = append(out, bgp.PeerState{Addr: n.Addr, RemoteAS: n.RemoteAS, State: "established", Established: true})
	}
	return out, nil
}
