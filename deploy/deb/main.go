// Command deb builds lvsctl's Debian package with nfpm used as a library
// (no downloaded packaging tools): the binary in /usr/sbin, the systemd
// units, /etc/lvsctl and /etc/default files, the man page and the shell
// completions generated from the CLI definitions, the changelog, and
// maintainer scripts that start nothing on install.
//
//	go run ./deploy/deb -bin bin/lvsctl -version 0.1.0 -out bin/
//
// It runs from the repository root (make deb).
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Options say what to package and where from.
type Options struct {
	// Bin is the lvsctl binary to ship (built for Arch).
	Bin string
	// Version is the package version; a git description that does not
	// start with a digit becomes 0~git<it> (dpkg needs a digit first).
	Version string
	// Arch is the Debian architecture (amd64, arm64 …).
	Arch string
	// Root is the repository root (the units and files are read from it).
	Root string
	// Out is the directory the .deb is written to.
	Out string
	// MTime stamps every file, so two builds of one commit are the same.
	MTime time.Time
}

func main() {
	var o Options
	flag.StringVar(&o.Bin, "bin", "bin/lvsctl", "the lvsctl binary to package")
	flag.StringVar(&o.Version, "version", "0.0.0", "package version")
	flag.StringVar(&o.Arch, "arch", "amd64", "Debian architecture of the binary")
	flag.StringVar(&o.Root, "root", ".", "repository root")
	flag.StringVar(&o.Out, "out", "bin", "output directory")
	flag.Parse()
	path, err := Build(o)
	if err != nil {
		slog.Error("building the package", "err", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// DebVersion turns a git description into a version dpkg accepts.
func DebVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0~git" + v
	}
	return strings.ReplaceAll(v, "-", "~")
}

// Build writes the package into o.Out and returns its path.
func Build(o Options) (string, error) {
	if o.MTime.IsZero() {
		o.MTime = time.Unix(0, 0).UTC()
	}
	gen, err := generated(o.Bin)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "lvsctl-deb-")
	if err != nil {
		return "", fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range gen {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
	}
	r := func(p string) string { return filepath.Join(o.Root, p) }
	t := func(p string) string { return filepath.Join(tmp, p) }
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: o.MTime}}
	}
	conf := func(src, dst string) *files.Content {
		c := file(src, dst, 0o644)
		c.Type = files.TypeConfigNoReplace
		return c
	}
	contents := files.Contents{
		file(o.Bin, "/usr/sbin/lvsctl", 0o755),
		file(r("deploy/systemd/lvsctl-director.service"), "/lib/systemd/system/lvsctl-director.service", 0o644),
		file(r("deploy/systemd/lvsctl-rs.service"), "/lib/systemd/system/lvsctl-rs.service", 0o644),
		{Destination: "/etc/lvsctl", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: o.MTime}},
		file(r("deploy/deb/files/etc-README"), "/etc/lvsctl/README", 0o644),
		conf(r("deploy/deb/files/default-lvsctl-director"), "/etc/default/lvsctl-director"),
		conf(r("deploy/deb/files/default-lvsctl-rs"), "/etc/default/lvsctl-rs"),
		file(t("lvsctl.8.gz"), "/usr/share/man/man8/lvsctl.8.gz", 0o644),
		file(t("lvsctl.bash"), "/usr/share/bash-completion/completions/lvsctl", 0o644),
		file(t("_lvsctl"), "/usr/share/zsh/vendor-completions/_lvsctl", 0o644),
		file(r("deploy/deb/files/keepalived.conf.example"), "/usr/share/doc/lvsctl/examples/keepalived.conf", 0o644),
		file(r("docs/operations.md"), "/usr/share/doc/lvsctl/operations.md", 0o644),
	}
	contents = append(contents,
		file(r("deploy/grafana/lvsctl.json"), "/usr/share/lvsctl/grafana/lvsctl.json", 0o644),
		file(r("deploy/prometheus/alerts.yml"), "/usr/share/lvsctl/prometheus/alerts.yml", 0o644))
	info := &nfpm.Info{
		Name:          "lvsctl",
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       DebVersion(o.Version),
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    "lvsctl maintainers <lvsctl@example.org>",
		Homepage:      "https://github.com/lvsctl/lvsctl",
		License:       "Apache-2.0",
		Description: "LVS-DR director and real-server tool replacing keepalived + ipvsadm\n" +
			"lvsctl programs IPVS from keepalived.conf, runs health checks and VRRP\n" +
			"failover, configures DR real servers, and serves status, events,\n" +
			"Prometheus metrics and a live status page.",
		Changelog: r("deploy/deb/changelog.yml"),
		MTime:     o.MTime,
		Overridables: nfpm.Overridables{
			Recommends: []string{"ipvsadm"},
			Conflicts:  []string{"keepalived"},
			Contents:   contents,
			Scripts: nfpm.Scripts{
				PostInstall: r("deploy/deb/scripts/postinst"),
				PreRemove:   r("deploy/deb/scripts/prerm"),
				PostRemove:  r("deploy/deb/scripts/postrm"),
			},
		},
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return "", fmt.Errorf("package definition: %w", err)
	}
	pkg := deb.Default
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	path := filepath.Join(o.Out, pkg.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("create package: %w", err)
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("package: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write package: %w", err)
	}
	return path, nil
}

// generated runs the binary for what it generates from its own CLI
// definitions: the man page (gzipped, as Debian ships them) and the
// completion scripts. The binary must run here (build for the host's
// architecture, or package the host build's output).
func generated(bin string) (map[string][]byte, error) {
	run := func(args ...string) ([]byte, error) {
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, errb.String())
		}
		return out.Bytes(), nil
	}
	man, err := run("man")
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(man); err != nil {
		return nil, fmt.Errorf("compress man page: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress man page: %w", err)
	}
	bash, err := run("completion", "bash")
	if err != nil {
		return nil, err
	}
	zsh, err := run("completion", "zsh")
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"lvsctl.8.gz": gz.Bytes(), "lvsctl.bash": bash, "_lvsctl": zsh}, nil
}
