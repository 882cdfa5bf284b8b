package vrrp

import (
	"github.com/lvsctl/lvsctl/internal/netroute"
)

// Virtual routes and rules follow the addresses, as in keepalived v2.2.7
// (keepalived/vrrp/vrrp.c): vrrp_state_become_master adds the VIPs, then
// the virtual routes, then the virtual rules; vrrp_restore_interface
// (leaving MASTER, stopping) removes the rules, then the routes, then the
// VIPs; a reload (vrrp.c, clear_diff_vrrp_vroutes/vrules) removes the
// dropped ones and adds the new ones while the instance holds its
// addresses. Only what the instance added is removed (netroute.Owner).

// WithRouteKernel replaces the netlink side of virtual routes and rules
// (tests: netroutetest.Kernel).
func WithRouteKernel(k netroute.Kernel) Option { return func(o *options) { o.routes = k } }

// addRoutes moves the instance's routes and rules to its configuration; a
// failure is logged and leaves what it held before (Owner.Apply), and the
// next call (a reload, the next mastership) tries again.
func (n *Node) addRoutes(in *instance) {
	if len(in.cfg.Routes) == 0 && len(in.cfg.Rules) == 0 && in.routes == nil {
		return
	}
	if n.routes == nil {
		n.log.Error("cannot add virtual routes and rules: no route kernel", "instance", in.cfg.Name)
		return
	}
	if in.routes == nil {
		in.routes = netroute.NewOwner(n.routes, n.log.With("instance", in.cfg.Name))
	}
	if err := in.routes.Apply(netroute.Set{Routes: in.cfg.Routes, Rules: in.cfg.Rules}); err != nil {
		n.log.Error("cannot set the virtual routes and rules", "instance", in.cfg.Name, "err", err)
	}
}

// delRoutes removes every route and rule the instance added.
func (n *Node) delRoutes(in *instance) {
	if in.routes == nil {
		return
	}
	if err := in.routes.Clear(); err != nil {
		n.log.Error("cannot remove the virtual routes and rules", "instance", in.cfg.Name, "err", err)
	}
}
