package app

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/config"
)

// suspender is the part of the health scheduler that ha_suspend needs
// (healthcheck.Scheduler.Suspend). A Health without it cannot suspend.
type suspender interface {
	Suspend(ctx context.Context, keys []director.RealRef) error
}

// AddrWatcher reports this host's addresses: update gets the complete set
// (with how many interfaces carry each) once at start and again after
// every change, until ctx ends.
type AddrWatcher func(ctx context.Context, update func(map[netip.Addr]int)) error

// haSuspendState is keepalived's ha_suspend (check/check_api.c:
// update_checker_activity, register_checkers_thread; check/check_daemon.c
// watches every address change through its netlink reflector, not only
// VRRP's): the checks of a virtual server with ha_suspend run only while
// its address is on some interface of this host, whoever put it there.
// Until the first address dump arrives every such server is suspended, as
// keepalived starts those checkers disabled when the address is absent.
type haSuspendState struct {
	mu      sync.Mutex
	rules   []config.HASuspend
	addrs   map[netip.Addr]int
	known   bool
	watched bool
}

// applyHASuspend installs the ha_suspend rules of a configuration (start
// and reload, before the checks are Set, so that a suspended server is
// never probed) and starts the address watch the first time one is needed.
func (dm *Daemon) applyHASuspend(ctx context.Context, rules []config.HASuspend) error {
	sus, ok := dm.o.Health.(suspender)
	if !ok {
		if len(rules) > 0 {
			dm.log.Warn("ha_suspend is configured but the health checker cannot suspend checks")
		}
		return nil
	}
	h := &dm.ha
	h.mu.Lock()
	h.rules = rules
	start := len(rules) > 0 && !h.watched
	if start {
		h.watched = true
	}
	keys := h.suspendedLocked()
	h.mu.Unlock()
	if err := sus.Suspend(ctx, keys); err != nil {
		return fmt.Errorf("ha_suspend: %w", err)
	}
	if start {
		watch := dm.o.WatchAddrs
		if watch == nil {
			watch = NetlinkAddrs
		}
		dm.spawn("ha_suspend address watch", func(ctx context.Context) error {
			return watch(ctx, func(addrs map[netip.Addr]int) {
				h.mu.Lock()
				h.addrs, h.known = addrs, true
				keys := h.suspendedLocked()
				h.mu.Unlock()
				if err := sus.Suspend(ctx, keys); err != nil && ctx.Err() == nil {
					dm.log.Error("ha_suspend: suspending checks", "err", err)
				}
			})
		})
	}
	return nil
}

// suspendedLocked lists the real servers whose checks must not run now.
func (h *haSuspendState) suspendedLocked() []director.RealRef {
	var keys []director.RealRef
	for _, r := range h.rules {
		if h.known && h.addrs[r.Addr] > 0 {
			continue
		}
		keys = append(keys, r.Servers...)
	}
	return keys
}

// NetlinkAddrs is the AddrWatcher of the daemon's network namespace: one
// dump, then every RTM_NEWADDR/RTM_DELADDR, counted per interface (an
// address on two interfaces is gone only when both dropped it, as
// keepalived counts ha_suspend_addr_count).
func NetlinkAddrs(ctx context.Context, update func(map[netip.Addr]int)) error {
	return watchAddrs(ctx, nil, update)
}

// NetlinkAddrsAt is NetlinkAddrs in the network namespace ns (tests).
func NetlinkAddrsAt(ns netns.NsHandle) AddrWatcher {
	return func(ctx context.Context, update func(map[netip.Addr]int)) error {
		return watchAddrs(ctx, &ns, update)
	}
}

func watchAddrs(ctx context.Context, ns *netns.NsHandle, update func(map[netip.Addr]int)) error {
	ch := make(chan netlink.AddrUpdate, 256)
	done := make(chan struct{})
	defer close(done)
	errc := make(chan error, 1)
	err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		Namespace:    ns,
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("subscribe to address changes: %w", err)
	}
	type key struct {
		addr  netip.Addr
		index int
	}
	present := map[key]bool{}
	snapshot := func() map[netip.Addr]int {
		out := make(map[netip.Addr]int, len(present))
		for k := range present {
			out[k.addr]++
		}
		return out
	}
	// ListExisting delivers the dump as updates; report once it is read
	// (the first lull), then on every change.
	reported := false
	for {
		var u netlink.AddrUpdate
		var ok bool
		if !reported {
			select {
			case u, ok = <-ch:
			case <-ctx.Done():
				return nil
			case err := <-errc:
				return fmt.Errorf("address changes: %w", err)
			default:
				update(snapshot())
				reported = true
				continue
			}
		} else {
			select {
			case u, ok = <-ch:
			case <-ctx.Done():
				return nil
			case err := <-errc:
				return fmt.Errorf("address changes: %w", err)
			}
		}
		if !ok {
			return fmt.Errorf("address changes: subscription closed")
		}
		a, aok := netip.AddrFromSlice(u.LinkAddress.IP)
		if !aok {
			continue
		}
		k := key{a.Unmap(), u.LinkIndex}
		if u.NewAddr {
			present[k] = true
		} else {
			delete(present, k)
		}
		if reported {
			update(snapshot())
		}
	}
}
