package healthcheck

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// replay feeds outcomes to a machine and renders each step as
// "step:ok->state/delay" with a "!" when the state changed.
func replay(s Spec, outcomes string) []string {
	m := newMachine(&s)
	var out []string
	for _, c := range outcomes {
		step := m.step()
		changed, d, _ := m.result(c == '+')
		mark := ""
		if changed {
			mark = "!"
		}
		out = append(out, fmt.Sprintf("%d%c%s%s/%g", step, c, mark, stateOf(m.up), d.Seconds()))
	}
	return out
}

func TestMachineHTTPAlphaNeedsFullPass(t *testing.T) {
	s := Spec{Kind: HTTPGet, Alpha: true, DelayLoop: 3 * time.Second, DelayBeforeRetry: time.Second, Retry: 1,
		HTTP: &HTTPSpec{URLs: []URL{{Path: "/a"}, {Path: "/b"}}}}
	assert.Equal(t, []string{"0+DOWN/3", "1+!UP/3"}, replay(s, "++"))
	// A failure before the first full pass: the failed URL, then all URLs.
	assert.Equal(t, []string{"0+DOWN/3", "1-DOWN/3", "1+DOWN/3", "0+DOWN/3", "1+!UP/3"}, replay(s, "+-+++"))
}

func TestMachineHTTPFall(t *testing.T) {
	s := Spec{Kind: HTTPGet, DelayLoop: 3 * time.Second, DelayBeforeRetry: time.Second, Retry: 1, Fall: 2,
		HTTP: &HTTPSpec{URLs: []URL{{Path: "/"}}}}
	// pass, then fail+retry (fall 1 of 2, wait a delay_loop), fail+retry: down.
	assert.Equal(t, []string{"0+UP/3", "0-UP/1", "0-UP/3", "0-UP/1", "0-!DOWN/3"}, replay(s, "+----"))
}

func TestMachineRetryZero(t *testing.T) {
	s := Spec{Kind: TCPCheck, DelayLoop: 2 * time.Second, DelayBeforeRetry: time.Second, Retry: 0}
	assert.Equal(t, []string{"0+UP/2", "0-!DOWN/2", "0-DOWN/2", "0+!UP/2"}, replay(s, "+--+"))
}

func TestMachineKeepsStateOnConfigure(t *testing.T) {
	s := Spec{Kind: TCPCheck, DelayLoop: 2 * time.Second, DelayBeforeRetry: time.Second, Retry: 3}
	m := newMachine(&s)
	m.result(true)
	m.result(false)
	m.result(false)
	s.Retry = 1 // fewer retries than already used: clamp, next failure is final
	m.configure(&s)
	changed, d, _ := m.result(false)
	assert.True(t, changed)
	assert.False(t, m.up)
	assert.Equal(t, 2*time.Second, d)
}
