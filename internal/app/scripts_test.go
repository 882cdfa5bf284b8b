package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lvsctl/lvsctl/director"
)

// Notify scripts follow the VRRP rule: a plain line runs directly (its
// quoted words kept whole), a line with shell syntax runs under /bin/sh.
func TestExecScriptsRunsDirectlyOrUnderShell(t *testing.T) {
	dir := t.TempDir()
	direct := filepath.Join(dir, "direct")
	viaShell := filepath.Join(dir, "shell")
	s := ExecScripts{Timeout: 10 * time.Second}
	s.Run(context.Background(), director.Script{Line: `touch '` + direct + `'`})
	s.Run(context.Background(), director.Script{Line: `echo up > '` + viaShell + `'`})
	require.Eventually(t, func() bool {
		_, errDirect := os.Stat(direct)
		b, errShell := os.ReadFile(viaShell)
		return errDirect == nil && errShell == nil && string(b) == "up\n"
	}, 10*time.Second, 20*time.Millisecond)
}
