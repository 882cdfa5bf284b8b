package netroute_test

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lvsctl/lvsctl/internal/netroute"
	"github.com/lvsctl/lvsctl/internal/netroute/netroutetest"
)

var (
	addrA  = netroute.Addr{Prefix: netip.MustParsePrefix("10.9.0.1/24"), Dev: "eth0"}
	route1 = netroute.Route{Dst: netip.MustParsePrefix("192.168.1.0/24"), Via: netip.MustParseAddr("10.0.0.1"), Dev: "eth0", Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived}
	route2 = netroute.Route{Dst: netip.MustParsePrefix("192.168.2.0/24"), Type: netroute.Blackhole, Table: 100, Protocol: netroute.ProtoKeepalived}
	rule1  = netroute.Rule{From: netip.MustParsePrefix("10.0.0.0/8"), Priority: 100, Action: netroute.ActionTable, Table: 100, Protocol: netroute.ProtoKeepalived}
	rule2  = netroute.Rule{MarkSet: true, Mark: 7, Priority: 200, Action: netroute.ActionTable, Table: 200, Protocol: netroute.ProtoKeepalived}
)

func ops(t *testing.T, k *netroutetest.Kernel) []string {
	t.Helper()
	var out []string
	for _, o := range k.Ops() {
		out = append(out, o.String())
	}
	return out
}

func same(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("calls:\n got  %q\n want %q", got, want)
	}
}

// Additions go addresses, routes, rules; removal the reverse.
func TestOwnerOrder(t *testing.T) {
	k := &netroutetest.Kernel{}
	o := netroute.NewOwner(k, nil)
	if err := o.Apply(netroute.Set{Rules: []netroute.Rule{rule1}, Routes: []netroute.Route{route1, route2}, Addrs: []netroute.Addr{addrA}}); err != nil {
		t.Fatal(err)
	}
	same(t, ops(t, k), "add addr "+addrA.String(), "add route "+route1.String(), "add route "+route2.String(), "add rule "+rule1.String())
	if err := o.Clear(); err != nil {
		t.Fatal(err)
	}
	same(t, ops(t, k), "del rule "+rule1.String(), "del route "+route2.String(), "del route "+route1.String(), "del addr "+addrA.String())
	if s := k.State(); !s.Empty() {
		t.Fatalf("kernel still holds %+v", s)
	}
	if h := o.Held(); !h.Empty() {
		t.Fatalf("owner still holds %+v", h)
	}
}

// A second Apply touches only the difference: new entries first, then
// the stale ones; unchanged ones are not touched.
func TestOwnerDiff(t *testing.T) {
	k := &netroutetest.Kernel{}
	o := netroute.NewOwner(k, nil)
	if err := o.Apply(netroute.Set{Routes: []netroute.Route{route1, route2}, Rules: []netroute.Rule{rule1}}); err != nil {
		t.Fatal(err)
	}
	k.Ops()
	if err := o.Apply(netroute.Set{Routes: []netroute.Route{route1}, Rules: []netroute.Rule{rule2}}); err != nil {
		t.Fatal(err)
	}
	same(t, ops(t, k), "add rule "+rule2.String(), "del rule "+rule1.String(), "del route "+route2.String())
	want := netroute.Set{Routes: []netroute.Route{route1}, Rules: []netroute.Rule{rule2}}
	if h := o.Held(); !reflect.DeepEqual(h, want) {
		t.Fatalf("held %+v, want %+v", h, want)
	}
	// The same set again: no call at all.
	if err := o.Apply(want); err != nil {
		t.Fatal(err)
	}
	same(t, ops(t, k))
}

// A route whose kernel key stays (same destination, metric, table) but
// whose gateway changes is removed before the new one is added.
func TestOwnerReplaceSameKey(t *testing.T) {
	k := &netroutetest.Kernel{}
	o := netroute.NewOwner(k, nil)
	if err := o.Apply(netroute.Set{Routes: []netroute.Route{route1}}); err != nil {
		t.Fatal(err)
	}
	k.Ops()
	moved := route1
	moved.Via = netip.MustParseAddr("10.0.0.2")
	if err := o.Apply(netroute.Set{Routes: []netroute.Route{moved}}); err != nil {
		t.Fatal(err)
	}
	same(t, ops(t, k), "del route "+route1.String(), "add route "+moved.String())
}

// A failed addition leaves the kernel and the owner as before the call,
// and the error names the entry.
func TestOwnerFailureRollsBack(t *testing.T) {
	k := &netroutetest.Kernel{}
	o := netroute.NewOwner(k, nil)
	before := netroute.Set{Routes: []netroute.Route{route1}, Rules: []netroute.Rule{rule1}}
	if err := o.Apply(before); err != nil {
		t.Fatal(err)
	}
	k.Ops()
	boom := errors.New("boom")
	k.Fail(netroutetest.Op{Verb: "add", Kind: "rule", Rule: rule2}, boom)
	moved := route1
	moved.Via = netip.MustParseAddr("10.0.0.2")
	err := o.Apply(netroute.Set{Routes: []netroute.Route{moved, route2}, Rules: []netroute.Rule{rule2}})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "add rule "+rule2.String()) {
		t.Fatalf("err = %v, want the failed rule and boom", err)
	}
	same(t, ops(t, k),
		"del route "+route1.String(), // in the way of moved
		"add route "+moved.String(), "add route "+route2.String(), "add rule "+rule2.String(),
		"del route "+route2.String(), "del route "+moved.String(), // roll back
		"add route "+route1.String()) // put back
	if h := o.Held(); !reflect.DeepEqual(h, before) {
		t.Fatalf("held %+v, want %+v", h, before)
	}
	st := k.State()
	if !reflect.DeepEqual(st.Routes, before.Routes) || !reflect.DeepEqual(st.Rules, before.Rules) {
		t.Fatalf("kernel %+v, want %+v", st, before)
	}
}

// A failed removal keeps the entry held so Clear tries it again.
func TestOwnerFailedRemovalStaysHeld(t *testing.T) {
	k := &netroutetest.Kernel{}
	o := netroute.NewOwner(k, nil)
	if err := o.Apply(netroute.Set{Routes: []netroute.Route{route1, route2}}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	k.Fail(netroutetest.Op{Verb: "del", Kind: "route", Route: route2}, boom)
	if err := o.Apply(netroute.Set{Routes: []netroute.Route{route1}}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if h := o.Held(); len(h.Routes) != 2 {
		t.Fatalf("held %+v, want both routes", h)
	}
	k.Fail(netroutetest.Op{Verb: "del", Kind: "route", Route: route2}, nil)
	k.Ops()
	if err := o.Clear(); err != nil {
		t.Fatal(err)
	}
	same(t, ops(t, k), "del route "+route2.String(), "del route "+route1.String())
}

// The owner removes only what it added: an entry the kernel had before is
// not removed by Clear when the owner never held it.
func TestOwnerRemovesOnlyItsOwn(t *testing.T) {
	k := &netroutetest.Kernel{}
	if err := k.AddRoute(route2); err != nil { // someone else's
		t.Fatal(err)
	}
	o := netroute.NewOwner(k, nil)
	if err := o.Apply(netroute.Set{Routes: []netroute.Route{route1}}); err != nil {
		t.Fatal(err)
	}
	if err := o.Clear(); err != nil {
		t.Fatal(err)
	}
	if st := k.State(); !reflect.DeepEqual(st.Routes, []netroute.Route{route2}) {
		t.Fatalf("kernel routes %v, want only the foreign one", st.Routes)
	}
}

func TestSetValidate(t *testing.T) {
	good := netroute.Set{Routes: []netroute.Route{route1}, Rules: []netroute.Rule{rule1}, Addrs: []netroute.Addr{addrA}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	mixed := route1
	mixed.Via = netip.MustParseAddr("fe80::1")
	noAction := rule1
	noAction.Action = 0
	mp := netroute.Route{Dst: route1.Dst, Table: netroute.TableMain, Protocol: netroute.ProtoKeepalived}
	mp.NextHops[0] = netroute.NextHop{Via: netip.MustParseAddr("10.0.0.1"), Weight: 1}
	mp.NextHops[1] = netroute.NextHop{Dev: "eth1", Weight: 256}
	if err := (netroute.Set{Routes: []netroute.Route{mp}}).Validate(); err != nil {
		t.Fatal(err)
	}
	if got := mp.String(); got != "192.168.1.0/24 nexthop via 10.0.0.1 nexthop dev eth1 weight 256" {
		t.Errorf("String: %s", got)
	}
	hopWith := func(f func(*netroute.Route)) netroute.Route { r := mp; f(&r); return r }
	for name, s := range map[string]netroute.Set{
		"no dst":         {Routes: []netroute.Route{{Table: netroute.TableMain}}},
		"mixed":          {Routes: []netroute.Route{mixed}},
		"hops and via":   {Routes: []netroute.Route{hopWith(func(r *netroute.Route) { r.Via = route1.Via })}},
		"hops blackhole": {Routes: []netroute.Route{hopWith(func(r *netroute.Route) { r.Type = netroute.Blackhole })}},
		"hop weight 0":   {Routes: []netroute.Route{hopWith(func(r *netroute.Route) { r.NextHops[1].Weight = 0 })}},
		"hop v6":         {Routes: []netroute.Route{hopWith(func(r *netroute.Route) { r.NextHops[1].Via = netip.MustParseAddr("fe80::1") })}},
		"hop no way":     {Routes: []netroute.Route{hopWith(func(r *netroute.Route) { r.NextHops[1] = netroute.NextHop{Weight: 1} })}},
		"hop after gap":  {Routes: []netroute.Route{hopWith(func(r *netroute.Route) { r.NextHops[3] = r.NextHops[0] })}},
		"no action":      {Rules: []netroute.Rule{noAction}},
		"no dev":         {Addrs: []netroute.Addr{{Prefix: addrA.Prefix}}},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
