package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
	"github.com/lvsctl/lvsctl/director/fakeipvs"
	"github.com/lvsctl/lvsctl/healthcheck"
	"github.com/lvsctl/lvsctl/internal/app"
	"github.com/lvsctl/lvsctl/internal/config"
)

// TestFileCheckDrivesKernelWeight: a keepalived.conf with FILE_CHECK, the
// real health scheduler and the director over the fake kernel table: the
// weight in the table follows the track file (configured weight + value ×
// weight, 0 at or below 0), and a server whose weight-0 FILE_CHECK reads
// non-zero leaves the table. keepalived 2.2.7: check/check_file.c,
// trackers/track_file.c.
func TestFileCheckDrivesKernelWeight(t *testing.T) {
	dir := t.TempDir()
	tf := filepath.Join(dir, "weight")
	drain := filepath.Join(dir, "drain")
	require.NoError(t, os.WriteFile(tf, []byte("3\n"), 0o644))
	conf := filepath.Join(dir, "keepalived.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`track_file weight {
    file %s
}
track_file drain {
    file %s
    init_file 0
}
virtual_server 10.16.8.100 80 {
    protocol TCP
    lb_kind DR
    real_server 10.16.8.8 80 {
        weight 10
        FILE_CHECK {
            track_file weight
            weight 5
        }
    }
    real_server 10.16.8.9 80 {
        weight 7
        FILE_CHECK {
            track_file drain
            weight 0
        }
    }
}
`, tf, drain)), 0o644))
	ipvs := fakeipvs.New()
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() {
		done <- app.Run(ctx, app.Options{
			Load: func() (*config.Desired, error) {
				c, _, err := config.Load(conf)
				if err != nil {
					return nil, err
				}
				return c.Desired()
			},
			IPVS: ipvs, Health: healthcheck.New[director.RealRef](healthcheck.Options{}),
			Logger: slog.New(slog.DiscardHandler),
			Ready:  func(*app.Daemon) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })

	svc := key("10.16.8.100:80")
	// weights returns the table's weight of each real server (-1: absent).
	weights := func() [2]int {
		out := [2]int{-1, -1}
		ts := ipvs.Table()[svc]
		if ts == nil {
			return out
		}
		for i, r := range []string{"10.16.8.8:80", "10.16.8.9:80"} {
			if d, ok := ts.Dests[real(r)]; ok {
				out[i] = d.Weight
			}
		}
		return out
	}
	eventually := func(want [2]int, what string) {
		t.Helper()
		require.Eventually(t, func() bool { return weights() == want }, 5*time.Second, 5*time.Millisecond,
			"%s: table weights %v, want %v", what, weights(), want)
	}
	eventually([2]int{25, 7}, "start: 10 + 3×5; init_file wrote 0 to drain")
	require.NoError(t, os.WriteFile(tf, []byte("-1"), 0o644))
	eventually([2]int{5, 7}, "10 - 5")
	require.NoError(t, os.WriteFile(tf, []byte("-4"), 0o644))
	eventually([2]int{0, 7}, "10 - 20 is weight 0, still in the table")
	require.NoError(t, os.WriteFile(drain, []byte("1"), 0o644))
	eventually([2]int{0, -1}, "weight 0 and a non-zero value: down, removed")
	require.NoError(t, os.Remove(drain))
	require.NoError(t, os.Remove(tf))
	eventually([2]int{10, 7}, "files removed: value 0")
}
