package alert_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lvsctl/lvsctl/internal/alert"
)

func subjects(ms []alert.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

// TestVRRPMails: an instance is mailed on each change of state (not for a
// repeat, not for INIT/STOP, not FAULT with no_email_faults, not when its
// smtp_alert is off); a sync group once all its instances share a state,
// and not again for the same state (keepalived's last_email_state).
func TestVRRPMails(t *testing.T) {
	var v alert.VRRPMails
	assert.Empty(t, v.Transition("VI_1", alert.Master), "no plan: nothing")
	v.SetPlan(alert.VRRPPlan{RouterID: "lb1", NoFaults: true,
		Instances: map[string]bool{"VI_1": true, "VI_2": true}, Groups: map[string][]string{"G": {"VI_2", "VI_4"}}})
	assert.Empty(t, v.Transition("VI_1", alert.Master), "no change")
	assert.Equal(t, []string{"[lb1] VRRP Instance VI_1 - Entering BACKUP state"}, subjects(v.Transition("VI_1", alert.Backup)))
	assert.Empty(t, v.Transition("VI_1", alert.Fault), "no_email_faults")
	assert.Empty(t, v.Transition("VI_1", "STOP"), "STOP is not mailed")
	assert.Empty(t, v.Transition("VI_3", alert.Master), "smtp_alert off")

	assert.Equal(t, []string{"[lb1] VRRP Instance VI_2 - Entering MASTER state"}, subjects(v.Transition("VI_2", alert.Master)))
	assert.Empty(t, v.Transition("VI_4", alert.Backup), "the group's instances differ")
	assert.Equal(t, []string{"[lb1] VRRP Group G - Entering MASTER state"}, subjects(v.Transition("VI_4", alert.Master)))
	assert.Equal(t, []string{"[lb1] VRRP Instance VI_2 - Entering BACKUP state"}, subjects(v.Transition("VI_2", alert.Backup)))
	assert.Equal(t, []string{"[lb1] VRRP Group G - Entering BACKUP state"}, subjects(v.Transition("VI_4", alert.Backup)))
	assert.Empty(t, v.Transition("VI_4", alert.Backup), "the group's state was mailed")
}
