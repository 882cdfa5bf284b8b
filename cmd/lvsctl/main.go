// Command lvsctl runs LVS-DR load-balancing clusters: the director (IPVS,
// health checks, VRRP) and the real-server side, from one binary that reads
// keepalived.conf.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code. It is separate
// from main so tests can drive the whole CLI in-process.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app := newApp(stdout, stderr)
	if err := app.RunContext(ctx, args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(stderr, "lvsctl:", msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintln(stderr, "lvsctl:", err)
		return 1
	}
	return 0
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "lvsctl",
		Usage: "run LVS-DR load-balancing clusters (director, health checks, VRRP, real servers)",
		Description: "lvsctl replaces keepalived + rs.sh + ipvsadm for LVS-DR clusters. " +
			"Every flag can also be set with the LVSCTL_* environment variable shown in its help.",
		Version: version,
		Writer:  stdout,
		// Completion candidates come from these definitions (lvsctl completion).
		EnableBashCompletion: true,
		ErrWriter:            stderr,
		HideHelpCommand:      false,
		// Errors are printed once, by run, to stderr.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			versionCommand(),
			configCommand(),
			checkCommand(),
			genhashCommand(),
			vrrpCommand(),
			rsCommand(),
			directorCommand(),
			completionCommand(),
			manCommand(),
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the lvsctl version",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "lvsctl %s\n", version)
			return err
		},
	}
}
