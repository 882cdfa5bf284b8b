package director_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
)

// hookedIPVS runs hooks before the fake's reads.
type hookedIPVS struct {
	*fakeipvs.IPVS
	mu             sync.Mutex
	beforeServices func()
	beforeDests    func(director.ServiceKey) error
}

func (h *hookedIPVS) GetServices(ctx context.Context) ([]director.Service, error) {
	h.mu.Lock()
	fn := h.beforeServices
	h.mu.Unlock()
	if fn != nil {
		fn()
	}
	return h.IPVS.GetServices(ctx)
}

func (h *hookedIPVS) GetDestinations(ctx context.Context, k director.ServiceKey) ([]director.Destination, error) {
	h.mu.Lock()
	fn := h.beforeDests
	h.mu.Unlock()
	if fn != nil {
		if err := fn(k); err != nil {
			return nil, err
		}
	}
	return h.IPVS.GetDestinations(ctx, k)
}

// A service deleted between GetServices and GetDestinations is gone, not
// a failed dump (which would fail Start and every resync).
func TestDumpServiceDeletedMeanwhile(t *testing.T) {
	for _, errno := range []error{unix.ESRCH, unix.ENOENT} {
		t.Run(errno.Error(), func(t *testing.T) {
			f := fakeipvs.New()
			newFixture(t, seedConfig(), f) // programs the table
			gone := vsKey("TCP 10.16.8.100:80")
			h := &hookedIPVS{IPVS: f, beforeDests: func(k director.ServiceKey) error {
				if k == gone {
					f.Mutate(func(t director.Table) { delete(t, k) })
					// as ipvs.Client wraps moby's error
					return &wrapped{errno}
				}
				return nil
			}}
			tb, err := director.Dump(context.Background(), h, nil)
			require.NoError(t, err)
			assert.NotContains(t, tb, gone)
			assert.Contains(t, tb, vsKey("TCP 10.16.8.101:80"))

			// The director's resync treats it as drift and puts it back.
			d, err := director.New(seedConfig(), director.Options{IPVS: h, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			require.NoError(t, d.Start(context.Background()))
			h.mu.Lock()
			h.beforeDests = nil
			h.mu.Unlock()
			_, err = d.Sync(context.Background())
			require.NoError(t, err)
			assert.Len(t, f.Table()[gone].Dests, 2)
		})
	}
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "list destinations: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// Status dumps without the director's lock: a slow (or stuck) dump must
// not hold up health transitions and drains.
func TestStatusDumpDoesNotBlockDirector(t *testing.T) {
	f := fakeipvs.New()
	h := &hookedIPVS{IPVS: f}
	d, err := director.New(seedConfig(), director.Options{IPVS: h, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))

	entered, release := make(chan struct{}), make(chan struct{})
	h.mu.Lock()
	h.beforeServices = func() {
		close(entered)
		<-release
	}
	h.mu.Unlock()
	stc := make(chan director.Status, 1)
	go func() {
		st, err := d.Status(context.Background())
		assert.NoError(t, err)
		stc <- st
	}()
	<-entered
	h.mu.Lock()
	h.beforeServices = nil
	h.mu.Unlock()

	drained := make(chan error, 1)
	go func() {
		drained <- d.Drain(context.Background(), vsKey("TCP 10.16.8.100:80"), realKey("10.16.8.8:80"), true)
	}()
	var derr error
	require.Eventually(t, func() bool {
		select {
		case derr = <-drained:
			return true
		default:
			return false
		}
	}, 10*time.Second, time.Millisecond, "Drain blocked behind a running status dump")
	require.NoError(t, derr)
	close(release)
	st := <-stc
	require.Len(t, st.Services, 2)
	assert.True(t, st.Services[0].Reals[0].Drained, "the merge sees the state after the dump")
	require.NotNil(t, st.Services[0].Reals[0].KernelWeight)
	assert.Equal(t, 0, *st.Services[0].Reals[0].KernelWeight)
}

func realKey(s string) director.DestKey {
	d := dst(s, 0)
	return d.Key()
}
