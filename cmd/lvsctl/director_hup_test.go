package main

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The SIGHUP forwarder ends with the command (signal.Stop does not close
// its channel), and signals coalesce into one pending reload.
func TestForwardHUPEndsWithContext(t *testing.T) {
	hup := make(chan os.Signal)
	reload := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		forwardHUP(ctx, hup, reload)
		close(done)
	}()
	hup <- syscall.SIGHUP
	hup <- syscall.SIGHUP // coalesced, does not block
	assert.Len(t, reload, 1)
	cancel()
	<-done
}
