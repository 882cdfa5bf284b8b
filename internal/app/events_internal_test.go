package app

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lvsctl/lvsctl/vrrp"
)

// The VRRP hook reports statuses; the log keeps transitions, with the
// state each instance left.
func TestVRRPTransitionsBecomeEvents(t *testing.T) {
	dm := &Daemon{ev: newEvents()}
	master := netip.MustParseAddr("10.16.8.10")
	dm.vrrpTransition(vrrp.InstanceStatus{Name: "VI_1", State: "BACKUP", EffectivePriority: 100})
	dm.vrrpTransition(vrrp.InstanceStatus{Name: "VI_1", State: "MASTER", EffectivePriority: 100, MasterAddr: master})
	dm.vrrpTransition(vrrp.InstanceStatus{Name: "VI_1", State: "MASTER", EffectivePriority: 100, MasterAddr: master})
	dm.vrrpTransition(vrrp.InstanceStatus{Name: "VI_2", State: "BACKUP", EffectivePriority: 95})
	ev, _ := dm.ev.log.Since(0)
	assert.Len(t, ev, 3, "a repeated state is no transition")
	type tr struct{ kind, subject, from, to string }
	var got []tr
	for _, e := range ev {
		got = append(got, tr{e.Kind, e.Subject, e.From, e.To})
	}
	assert.Equal(t, []tr{{"vrrp", "VI_1", "", "BACKUP"}, {"vrrp", "VI_1", "BACKUP", "MASTER"}, {"vrrp", "VI_2", "", "BACKUP"}}, got)
	assert.Equal(t, "priority 100, master 10.16.8.10", ev[1].Message)
}
