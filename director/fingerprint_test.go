package director_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lvsctl/lvsctl/director"
)

func mhService(dests ...director.Destination) *director.TableService {
	svc := director.Service{Key: director.ServiceKey{Family: director.IPv4, Protocol: director.TCP,
		Addr: netip.MustParseAddr("10.16.8.100"), Port: 80}, Scheduler: "mh", Flags: director.FlagSched2, Netmask: 0xffffffff}
	ts := &director.TableService{Service: svc, Dests: map[director.DestKey]director.Destination{}}
	for _, d := range dests {
		ts.Dests[d.Key()] = d
	}
	return ts
}

func dest(addr string, w int) director.Destination {
	return director.Destination{Addr: netip.MustParseAddr(addr), Port: 80, Weight: w, Forward: director.DirectRoute}
}

func TestFingerprint(t *testing.T) {
	a := mhService(dest("10.0.0.1", 1), dest("10.0.0.2", 1), dest("10.0.0.3", 1))
	rotated := mhService(dest("10.0.0.3", 1), dest("10.0.0.1", 1), dest("10.0.0.2", 1))
	assert.Equal(t, director.Fingerprint(a), director.Fingerprint(rotated), "insertion order is not a hash input")
	assert.Len(t, director.Fingerprint(a), 16)

	withKernelFlag := mhService(dest("10.0.0.1", 1), dest("10.0.0.2", 1), dest("10.0.0.3", 1))
	withKernelFlag.Service.Flags |= director.FlagHashed
	assert.Equal(t, director.Fingerprint(a), director.Fingerprint(withKernelFlag), "HASHED is the kernel's, not an input")

	for name, other := range map[string]*director.TableService{
		"one real server missing": mhService(dest("10.0.0.1", 1), dest("10.0.0.2", 1)),
		"another weight":          mhService(dest("10.0.0.1", 1), dest("10.0.0.2", 2), dest("10.0.0.3", 1)),
		"drained (weight 0)":      mhService(dest("10.0.0.1", 1), dest("10.0.0.2", 0), dest("10.0.0.3", 1)),
	} {
		assert.NotEqual(t, director.Fingerprint(a), director.Fingerprint(other), name)
	}
	noPort := mhService(dest("10.0.0.1", 1), dest("10.0.0.2", 1), dest("10.0.0.3", 1))
	noPort.Service.Flags = 0
	assert.NotEqual(t, director.Fingerprint(a), director.Fingerprint(noPort), "mh-port is an input")
}

// TestMHAddsAreCanonical: every director adds the destinations of a new
// service, and new destinations of an existing one, sorted by address and
// port, whatever order the configuration lists them in, so the kernel's mh
// tables are built from the same sequence everywhere.
func TestMHAddsAreCanonical(t *testing.T) {
	want := mhService(dest("10.0.0.3", 1), dest("10.0.0.10", 1), dest("10.0.0.1", 1), dest("10.0.0.2", 1))
	var adds []string
	for _, op := range director.DiffService(nil, want, nil) {
		if op.Kind == director.OpNewDest {
			adds = append(adds, op.Dest.Addr.String())
		}
	}
	assert.Equal(t, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.10"}, adds)

	have := mhService(dest("10.0.0.2", 1))
	adds = nil
	for _, op := range director.DiffService(nil, want, have) {
		if op.Kind == director.OpNewDest {
			adds = append(adds, op.Dest.Addr.String())
		}
	}
	assert.Equal(t, []string{"10.0.0.1", "10.0.0.3", "10.0.0.10"}, adds)
}
