package main

import (
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// systemdNotifier returns app.Options.Notify and Watchdog for a daemon
// started by systemd (NOTIFY_SOCKET set; nil and 0 otherwise). The
// watchdog is fed twice per WatchdogSec, as sd_watchdog_enabled(3) advises.
func systemdNotifier(log *slog.Logger) (notify func(string), watchdog time.Duration) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil, 0
	}
	if iv, err := daemon.SdWatchdogEnabled(false); err != nil {
		log.Warn("WATCHDOG_USEC set but unusable", "err", err)
	} else if iv > 0 {
		watchdog = iv / 2
	}
	return func(state string) {
		if strings.HasPrefix(state, "RELOADING=1") {
			// Type=notify-reload wants the reload's monotonic timestamp,
			// to tell this reload from an earlier one.
			state += "\n" + strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n")
		}
		if _, err := daemon.SdNotify(false, state); err != nil {
			log.Warn("sd_notify", "state", state, "err", err)
		}
	}, watchdog
}
