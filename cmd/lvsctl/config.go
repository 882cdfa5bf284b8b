package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/internal/config"
)

// defaultConfigPath is where keepalived keeps its configuration.
const defaultConfigPath = "/etc/keepalived/keepalived.conf"

func configFileFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "file",
		Aliases: []string{"f"},
		Usage:   "keepalived.conf to read",
		Value:   defaultConfigPath,
		EnvVars: []string{"LVSCTL_CONFIG"},
	}
}

// configIDFlag selects the "@ID" lines of the file, as keepalived -i.
func configIDFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "config-id",
		Aliases: []string{"i"},
		Usage:   "config id for \"@ID\" lines (keepalived -i); default: the host name up to its first dot",
		EnvVars: []string{"LVSCTL_CONFIG_ID"},
	}
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "check or show a keepalived.conf as lvsctl reads it",
		Subcommands: []*cli.Command{
			{
				Name:  "check",
				Usage: "validate the configuration; print a summary, or every error as FILE:LINE:COL: message",
				Flags: []cli.Flag{configFileFlag(), configIDFlag()},
				Action: func(c *cli.Context) error {
					cfg, err := loadConfigID(c.String("file"), c.String("config-id"), c.App.ErrWriter)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintln(c.App.Writer, cfg.Summary())
					return err
				},
			},
			{
				Name:  "dump",
				Usage: "print the effective configuration with every default filled in",
				Flags: []cli.Flag{
					configFileFlag(),
					configIDFlag(),
					&cli.StringFlag{
						Name:    "output",
						Aliases: []string{"o"},
						Usage:   "output format: text (keepalived.conf syntax) or json",
						Value:   "text",
						EnvVars: []string{"LVSCTL_CONFIG_OUTPUT"},
					},
				},
				Action: func(c *cli.Context) error {
					format := c.String("output")
					if format != "text" && format != "json" {
						return cli.Exit(fmt.Sprintf("unknown output format %q (text or json)", format), 2)
					}
					cfg, err := loadConfigID(c.String("file"), c.String("config-id"), c.App.ErrWriter)
					if err != nil {
						return err
					}
					if format == "json" {
						enc := json.NewEncoder(c.App.Writer)
						enc.SetIndent("", "  ")
						return enc.Encode(cfg)
					}
					return config.WriteText(c.App.Writer, cfg)
				},
			},
		},
	}
}

// loadConfig loads path, printing warnings to stderr. On invalid
// configuration it prints every error and returns exit code 1 with no
// further message (the errors are the message).
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	return loadConfigID(path, "", stderr)
}

// loadConfigID is loadConfig with a config id for "@ID" lines ("": the
// host name, as keepalived).
func loadConfigID(path, id string, stderr io.Writer) (*config.Config, error) {
	cfg, warns, err := config.LoadWith(path, config.Options{InterfaceExists: config.HostInterfaceExists, ConfigID: id})
	for _, w := range warns {
		fmt.Fprintln(stderr, w)
	}
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, d := range list {
			fmt.Fprintln(stderr, d)
		}
		return nil, cli.Exit("", 1)
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}
