package app_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/internal/app"
)

func TestLoadFile(t *testing.T) {
	l, err := app.LoadFile(filepath.Join("testdata", "seed-lvs-dr.conf"), nil)
	require.NoError(t, err)
	assert.NotEmpty(t, l.Director.Services)
	// One health-check server per real server, keyed by its identity.
	var refs []director.RealRef
	for _, vs := range l.Director.Services {
		for _, rs := range vs.RealServers {
			refs = append(refs, director.RealRef{Service: vs.Service.Key, Real: rs.Key()})
		}
	}
	var keys []director.RealRef
	for _, c := range l.Checks {
		keys = append(keys, c.Key)
	}
	assert.Equal(t, refs, keys)

	// Every error alone, with its position.
	bad := filepath.Join(t.TempDir(), "k.conf")
	require.NoError(t, os.WriteFile(bad, []byte("virtual_server 10.0.0.1 80 {\n  lb_algoo rr\n  bogus 1\n}\n"), 0o644))
	_, err = app.LoadFile(bad, nil)
	require.Error(t, err)
	errs := app.Unjoin(err)
	require.GreaterOrEqual(t, len(errs), 2, "%v", err)
	for _, e := range errs {
		assert.Contains(t, e.Error(), "k.conf:")
	}
}

func TestUnjoin(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	assert.Equal(t, []error{a, b, c}, app.Unjoin(errors.Join(a, errors.Join(b, c))))
	w := fmt.Errorf("wrapped: %w", a)
	assert.Equal(t, []error{w}, app.Unjoin(w))
	assert.Nil(t, app.Unjoin(nil))
}
