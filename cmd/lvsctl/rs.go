package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsctl/lvsctl/internal/config"
	"github.com/lvsctl/lvsctl/realserver"
)

// rsNotReadyExit is the exit code of `rs status` when a VIP is not ready.
const rsNotReadyExit = 2

// rsEnv is what the rs commands take from the machine; tests replace it so
// they never touch the host.
type rsEnv struct {
	geteuid func() int
	// kernel opens the sysctls and addresses of the current network
	// namespace; close releases them.
	kernel func() (sys realserver.Sysctls, addrs realserver.Addrs, close func(), err error)
}

func hostRSEnv() rsEnv {
	return rsEnv{
		geteuid: os.Geteuid,
		kernel: func() (realserver.Sysctls, realserver.Addrs, func(), error) {
			h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("open netlink: %w", err)
			}
			return realserver.NewProcSysctls(), realserver.NewNetlinkAddrs(h), h.Close, nil
		},
	}
}

func rsCommand() *cli.Command { return rsCommandWith(hostRSEnv()) }

func rsCommandWith(env rsEnv) *cli.Command {
	vipFlag := func(usage string) cli.Flag {
		return &cli.StringSliceFlag{Name: "vip", Usage: usage, EnvVars: []string{"LVSCTL_VIPS"}}
	}
	fileFlag := func(usage string) cli.Flag {
		return &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: usage, EnvVars: []string{"LVSCTL_CONFIG"}}
	}
	stateFlag := &cli.StringFlag{
		Name: "state-dir", Usage: "directory of the state file (what lvsctl changed, to undo it)",
		Value: realserver.DefaultStateDir, EnvVars: []string{"LVSCTL_STATE_DIR"},
	}
	outputFlag := &cli.StringFlag{
		Name: "output", Aliases: []string{"o"}, Usage: "output format: text or json",
		Value: "text", EnvVars: []string{"LVSCTL_RS_OUTPUT"},
	}
	return &cli.Command{
		Name:  "rs",
		Usage: "make this host an LVS-DR real server and back (replaces rs.sh)",
		Subcommands: []*cli.Command{
			{
				Name:      "start",
				Usage:     "bind the VIPs on lo and set the ARP sysctls, recording what was there before",
				UsageText: "lvsctl rs start --vip 10.16.8.100 [--vip ...] | -f keepalived.conf [--iface eth0]",
				Flags: []cli.Flag{
					vipFlag("VIP to bind on lo (repeatable, or comma-separated)"),
					fileFlag("keepalived.conf whose virtual_server addresses are the VIPs"),
					&cli.StringSliceFlag{
						Name:    "iface",
						Usage:   "also set the ARP sysctls on this interface (repeatable)",
						EnvVars: []string{"LVSCTL_IFACES"},
					},
					stateFlag, outputFlag,
				},
				Action: func(c *cli.Context) error { return rsStart(c, env) },
			},
			{
				Name:  "stop",
				Usage: "remove the VIPs lvsctl added and restore the sysctls it changed",
				Flags: []cli.Flag{
					vipFlag("only remove this VIP (repeatable); sysctls are restored with the last VIP"),
					stateFlag, outputFlag,
				},
				Action: func(c *cli.Context) error { return rsStop(c, env) },
			},
			{
				Name: "status",
				Usage: "show the VIPs on lo, the effective ARP sysctls and whether each VIP is ready for DR " +
					"(exit status 2 when one is not)",
				Flags: []cli.Flag{
					vipFlag("also judge this VIP when it is not on lo (repeatable)"),
					fileFlag("also judge the virtual_server addresses of this keepalived.conf"),
					stateFlag, outputFlag,
				},
				Action: func(c *cli.Context) error { return rsStatus(c, env) },
			},
		},
	}
}

func rsOutputFormat(c *cli.Context) (string, error) {
	f := c.String("output")
	if f != "text" && f != "json" {
		return "", cli.Exit(fmt.Sprintf("unknown output format %q (text or json)", f), 2)
	}
	return f, nil
}

// rsVIPs reads the VIPs from --vip or -f (not both). required says whether
// none at all is an error.
func rsVIPs(c *cli.Context, required bool) ([]netip.Addr, error) {
	list, file := c.StringSlice("vip"), c.String("file")
	switch {
	case len(list) > 0 && file != "":
		return nil, errors.New("give the VIPs either with --vip (LVSCTL_VIPS) or with -f (LVSCTL_CONFIG), not both")
	case file != "":
		return rsConfigVIPs(file, c.App.ErrWriter)
	case len(list) > 0:
		return realserver.ParseVIPs(list)
	case required:
		return nil, errors.New("no VIPs: give --vip ADDR (or LVSCTL_VIPS) or -f keepalived.conf")
	}
	return nil, nil
}

// rsConfigVIPs loads a keepalived.conf and returns the distinct addresses of
// its virtual_server blocks. Interface names are not checked: they are the
// director's, not this host's.
func rsConfigVIPs(path string, stderr io.Writer) ([]netip.Addr, error) {
	cfg, warns, err := config.LoadWith(path, config.Options{})
	for _, w := range warns {
		fmt.Fprintln(stderr, w)
	}
	var list config.ErrorList
	if errors.As(err, &list) {
		for _, d := range list {
			fmt.Fprintln(stderr, d)
		}
		return nil, cli.Exit(fmt.Sprintf("%s is invalid (%d errors): nothing changed", path, len(list)), 1)
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return rsVIPsOfConfig(path, cfg, stderr)
}

func rsVIPsOfConfig(path string, cfg *config.Config, stderr io.Writer) ([]netip.Addr, error) {
	var out []netip.Addr
	var errs []error
	for _, vs := range cfg.VirtualServers {
		if vs.IsFWMark() {
			fmt.Fprintf(stderr, "%s: warning: virtual_server fwmark %d has no address; give its VIPs with --vip\n",
				vs.Pos, vs.FWMark)
			continue
		}
		a, err := realserver.ParseVIP(vs.Addr.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: virtual_server %s: %w", vs.Pos, vs.Addr, err))
			continue
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no virtual_server with an address: no VIP to bind", path)
	}
	return out, nil
}

func rsRequireRoot(env rsEnv, what string) error {
	if env.geteuid() != 0 {
		return cli.Exit(fmt.Sprintf("rs %s must run as root: it writes /proc/sys/net/ipv4/conf "+
			"and changes the addresses of lo (nothing changed)", what), 1)
	}
	return nil
}

func rsOpenManager(c *cli.Context, env rsEnv) (*realserver.Manager, func(), error) {
	sys, addrs, closeFn, err := env.kernel()
	if err != nil {
		return nil, nil, err
	}
	return realserver.New(sys, addrs, c.String("state-dir"), nil), closeFn, nil
}

func rsStart(c *cli.Context, env rsEnv) error {
	format, err := rsOutputFormat(c)
	if err != nil {
		return err
	}
	vips, err := rsVIPs(c, true)
	if err != nil {
		return fmt.Errorf("rs start: %w", err)
	}
	if err := rsRequireRoot(env, "start"); err != nil {
		return err
	}
	m, closeFn, err := rsOpenManager(c, env)
	if err != nil {
		return err
	}
	defer closeFn()
	rep, err := m.Start(c.Context, realserver.StartOptions{VIPs: vips, Ifaces: c.StringSlice("iface")})
	if err != nil {
		return fmt.Errorf("rs start: %w", err)
	}
	if format == "json" {
		return rsWriteJSON(c.App.Writer, rep)
	}
	return rsPrintStart(c.App.Writer, vips, rep)
}

func rsPrintStart(w io.Writer, vips []netip.Addr, rep *realserver.StartReport) error {
	var b strings.Builder
	if !rep.Changed() {
		fmt.Fprintf(&b, "nothing to do: already a real server for %s\n", rsJoinAddrs(vips))
	}
	for _, c := range rep.Set {
		fmt.Fprintf(&b, "set      %s=%s (was %s)\n", c.SysctlKey, c.To, c.From)
	}
	for _, p := range rep.Added {
		label := realserver.Label
		if !p.Addr().Is4() {
			label = "no label: IPv6"
		}
		fmt.Fprintf(&b, "added    %s on lo (%s)\n", p, label)
	}
	for _, p := range rep.Present {
		fmt.Fprintf(&b, "present  %s on lo (added by lvsctl before)\n", p)
	}
	for _, p := range rep.Foreign {
		fmt.Fprintf(&b, "left     %s on lo alone: it was there before lvsctl, rs stop will not remove it\n", p)
	}
	if rep.Changed() {
		fmt.Fprintf(&b, "real server ready for %s; undo with `lvsctl rs stop` (state: %s)\n", rsJoinAddrs(vips), rep.StatePath)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func rsStop(c *cli.Context, env rsEnv) error {
	format, err := rsOutputFormat(c)
	if err != nil {
		return err
	}
	vips, err := rsVIPs(c, false)
	if err != nil {
		return fmt.Errorf("rs stop: %w", err)
	}
	if err := rsRequireRoot(env, "stop"); err != nil {
		return err
	}
	m, closeFn, err := rsOpenManager(c, env)
	if err != nil {
		return err
	}
	defer closeFn()
	rep, stopErr := m.Stop(c.Context, realserver.StopOptions{VIPs: vips})
	if rep != nil {
		if format == "json" {
			if err := rsWriteJSON(c.App.Writer, rep); err != nil {
				return err
			}
		} else if err := rsPrintStop(c.App.Writer, rep); err != nil {
			return err
		}
	}
	if stopErr != nil {
		return fmt.Errorf("rs stop: %w (what is left stays recorded; run rs stop again)", stopErr)
	}
	return nil
}

func rsPrintStop(w io.Writer, rep *realserver.StopReport) error {
	var b strings.Builder
	if rep.NothingToUndo {
		fmt.Fprintf(&b, "nothing to undo: no state file %s\n", rep.StatePath)
	}
	for _, p := range rep.Removed {
		fmt.Fprintf(&b, "removed  %s from lo\n", p)
	}
	for _, p := range rep.Gone {
		fmt.Fprintf(&b, "gone     %s was already removed from lo\n", p)
	}
	for _, a := range rep.NotOurs {
		if !rep.NothingToUndo {
			fmt.Fprintf(&b, "left     %s: not added by lvsctl\n", a)
		}
	}
	for _, c := range rep.Restored {
		fmt.Fprintf(&b, "restored %s=%s (was %s)\n", c.SysctlKey, c.To, c.From)
	}
	for _, c := range rep.Untouched {
		fmt.Fprintf(&b, "left     %s=%s: changed by someone else after rs start\n", c.SysctlKey, c.To)
	}
	if len(rep.Remaining) > 0 {
		fmt.Fprintf(&b, "still bound: %s\n", rsJoinPrefixes(rep.Remaining))
	}
	if rep.SysctlsKept {
		fmt.Fprintln(&b, "the ARP sysctls stay while an IPv4 VIP of lvsctl is bound")
	}
	if len(rep.Remaining) == 0 && !rep.NothingToUndo {
		fmt.Fprintf(&b, "state file %s removed\n", rep.StatePath)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func rsStatus(c *cli.Context, env rsEnv) error {
	format, err := rsOutputFormat(c)
	if err != nil {
		return err
	}
	vips, err := rsVIPs(c, false)
	if err != nil {
		return fmt.Errorf("rs status: %w", err)
	}
	m, closeFn, err := rsOpenManager(c, env)
	if err != nil {
		return err
	}
	defer closeFn()
	st, err := m.Status(c.Context, realserver.StatusOptions{VIPs: vips})
	if err != nil {
		return fmt.Errorf("rs status: %w", err)
	}
	if format == "json" {
		err = rsWriteJSON(c.App.Writer, st)
	} else {
		err = rsPrintStatus(c.App.Writer, st)
	}
	if err != nil {
		return err
	}
	if !st.Ready() {
		return cli.Exit("", rsNotReadyExit)
	}
	return nil
}

func rsPrintStatus(w io.Writer, st *realserver.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.VIPs) == 0 {
		fmt.Fprintln(tw, "no VIP on lo: not a real server")
	} else {
		fmt.Fprintln(tw, "VIP\tON LO\tLABEL\tBY LVSCTL\tVERDICT")
	}
	for _, v := range st.VIPs {
		label := v.Label
		if label == "" {
			label = "-"
		}
		verdict := "ready"
		if !v.Ready {
			verdict = "NOT READY: " + v.Reasons[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Addr, rsYesNo(v.OnLo), label, rsYesNo(v.AddedByLvsctl), verdict)
		for _, r := range v.Reasons[min(1, len(v.Reasons)):] {
			fmt.Fprintf(tw, "\t\t\t\t%s\n", r)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "INTERFACE\tARP_IGNORE all/iface=effective\tARP_ANNOUNCE all/iface=effective")
	for _, i := range st.Interfaces {
		fmt.Fprintf(tw, "%s\t%d/%d=%d\t%d/%d=%d\n", i.Name,
			i.ARPIgnore.All, i.ARPIgnore.Iface, i.ARPIgnore.Effective,
			i.ARPAnnounce.All, i.ARPAnnounce.Iface, i.ARPAnnounce.Effective)
	}
	fmt.Fprintln(tw)
	if st.State == nil {
		fmt.Fprintf(tw, "state file: none (%s)\n", st.StatePath)
	} else {
		fmt.Fprintf(tw, "state file: %s (%d VIPs, %d sysctls recorded)\n",
			st.StatePath, len(st.State.VIPs), len(st.State.Sysctls))
	}
	return tw.Flush()
}

func rsYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func rsJoinAddrs(list []netip.Addr) string {
	s := make([]string, len(list))
	for i, a := range list {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func rsJoinPrefixes(list []netip.Prefix) string {
	s := make([]string, len(list))
	for i, p := range list {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func rsWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
