package daemon_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/daemon"
)

func TestLoadFile(t *testing.T) {
	l, err := daemon.LoadFile(filepath.Join("testdata", "seed-lvs-dr.conf"), nil)
	require.NoError(t, err)
	assert.NotEmpty(t, l.Director.Services)
	// Every check is keyed by a real server the director has.
	configured := map[director.RealRef]bool{}
	for _, vs := range l.Director.Services {
		for _, rs := range vs.RealServers {
			configured[director.RealRef{Service: vs.Service.Key, Real: rs.Key()}] = true
		}
	}
	assert.Len(t, configured, len(l.Checks))
	for _, c := range l.Checks {
		assert.True(t, configured[c.Key], c.Key.String())
	}

	// Every error alone, with its position.
	bad := filepath.Join(t.TempDir(), "k.conf")
	require.NoError(t, os.WriteFile(bad, []byte("virtual_server 10.0.0.1 80 {\n  lb_algoo rr\n  bogus 1\n}\n"), 0o644))
	_, err = daemon.LoadFile(bad, nil)
	require.Error(t, err)
	errs := daemon.Unjoin(err)
	require.GreaterOrEqual(t, len(errs), 2, "%v", err)
	for _, e := range errs {
		assert.Contains(t, e.Error(), "k.conf:")
	}
}

func TestUnjoin(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	assert.Equal(t, []error{a, b, c}, daemon.Unjoin(errors.Join(a, errors.Join(b, c))))
	w := fmt.Errorf("wrapped: %w", a)
	assert.Equal(t, []error{w}, daemon.Unjoin(w))
	assert.Nil(t, daemon.Unjoin(nil))
}
