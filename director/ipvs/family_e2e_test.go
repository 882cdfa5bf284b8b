//go:build e2e && !vm

package ipvs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director/ipvs"
	"github.com/lvsctl/lvsctl/e2e/lab"
)

// The host kernel of the namespace tier has no IPVS: opening a client must
// fail with the clear error, not hang or panic inside moby/ipvs.
func TestOpenWithoutIPVSFailsClearly(t *testing.T) {
	l := lab.New(t)
	h := l.Host("director")
	_, err := ipvs.Open(h.NSPath())
	require.ErrorIs(t, err, ipvs.ErrNoIPVS)
	require.Contains(t, err.Error(), "modprobe ip_vs")
	require.ErrorIs(t, ipvs.CheckFamily(""), ipvs.ErrNoIPVS)
}
