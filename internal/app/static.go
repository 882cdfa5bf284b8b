package app

import (
	"fmt"

	"github.com/vishvananda/netlink"

	"github.com/lvsctl/lvsctl/internal/netroute"
)

// staticState holds static_ipaddress, static_routes and static_rules: as
// in keepalived v2.2.7 (keepalived/vrrp/vrrp_daemon.c: start_vrrp adds
// them, a reload removes the dropped ones and adds the new ones, stop_vrrp
// removes them), they are on the host while the daemon runs, whatever the
// VRRP states. Only what the daemon added is removed.
type staticState struct {
	owner *netroute.Owner
	close func()
}

// applyStatic moves the static set to want. The first non-empty set opens
// the kernel side (Options.Routes, else netlink in the daemon's namespace).
// On error the previous set stays (netroute.Owner.Apply).
func (dm *Daemon) applyStatic(want netroute.Set) error {
	st := &dm.static
	if st.owner == nil {
		if want.Empty() {
			return nil
		}
		k := dm.o.Routes
		st.close = func() {}
		if k == nil {
			h, err := netlink.NewHandle()
			if err != nil {
				return fmt.Errorf("static routes: netlink: %w", err)
			}
			k, st.close = netroute.NewNetlink(h), h.Close
		}
		st.owner = netroute.NewOwner(k, dm.log.With("part", "static"))
	}
	if err := st.owner.Apply(want); err != nil {
		return fmt.Errorf("static addresses, routes and rules: %w", err)
	}
	return nil
}

// clearStatic removes every static entry the daemon added (at stop).
func (dm *Daemon) clearStatic() {
	st := &dm.static
	if st.owner == nil {
		return
	}
	if err := st.owner.Clear(); err != nil {
		dm.log.Error("removing static addresses, routes and rules", "err", err)
	}
	st.close()
	st.owner = nil
}
