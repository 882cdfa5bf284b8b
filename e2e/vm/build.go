package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// stripFlags drops the symbol table and DWARF (a third of a binary) because
// the guest loads every byte through an emulated CPU; panics still print
// full stack traces, which come from the pclntab that stays.
const stripFlags = "-s -w"

// Tag is the build tag of VM tests.
const Tag = "vm"

// Package is a Go package that has VM tests.
type Package struct {
	ImportPath string
	Dir        string // on the host
	Rel        string // relative to the module root, "e2e/director"
}

// Builder compiles test binaries and extra binaries for the guest: static
// (CGO_ENABLED=0), because the guest has no C library, and for linux/amd64
// whatever the host is.
type Builder struct {
	Tags []string // extra build tags besides "vm"
}

func (b Builder) goCmd(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func (b Builder) tags(withVM bool) string {
	tags := append([]string(nil), b.Tags...)
	if withVM {
		tags = append(tags, Tag)
	}
	return strings.Join(tags, ",")
}

// TestPackages lists the packages matching patterns that have at least one
// test file for the vm build tag. Packages whose tests are the same with
// and without the tag (plain unit tests) are not run in the guest.
func (b Builder) TestPackages(ctx context.Context, patterns []string) ([]Package, error) {
	modOut, err := b.goCmd(ctx, "list", "-m", "-f", "{{.Path}}\t{{.Dir}}")
	if err != nil {
		return nil, err
	}
	modPath, modDir, _ := strings.Cut(strings.TrimSpace(strings.SplitN(string(modOut), "\n", 2)[0]), "\t")
	list := func(withVM bool) (map[string][2]string, error) {
		args := append([]string{"list", "-tags", b.tags(withVM), "-f",
			"{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \",\"}}\t{{join .XTestGoFiles \",\"}}"}, patterns...)
		out, err := b.goCmd(ctx, args...)
		if err != nil {
			return nil, err
		}
		pkgs := map[string][2]string{}
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			f := strings.Split(line, "\t")
			if len(f) == 4 {
				pkgs[f[0]] = [2]string{f[1], f[2] + "|" + f[3]}
			}
		}
		return pkgs, nil
	}
	with, err := list(true)
	if err != nil {
		return nil, err
	}
	without, err := list(false)
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	for ip, w := range with {
		if w[1] == "|" || w[1] == without[ip][1] {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(ip, modPath), "/")
		if rel == ip || rel == "" {
			rel = path.Base(ip)
		}
		if r, err := filepath.Rel(modDir, w[0]); err == nil && !strings.HasPrefix(r, "..") {
			rel = filepath.ToSlash(r)
		}
		pkgs = append(pkgs, Package{ImportPath: ip, Dir: w[0], Rel: rel})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	return pkgs, nil
}

// BuildTest compiles the test binary of pkg to out.
func (b Builder) BuildTest(ctx context.Context, pkg Package, out string) error {
	_, err := b.goCmd(ctx, "test", "-c", "-tags", b.tags(true), "-ldflags", stripFlags, "-o", out, pkg.ImportPath)
	return err
}

// BuildBinary compiles the main package pkg ("./cmd/lvsctl") to out.
func (b Builder) BuildBinary(ctx context.Context, pkg, out string) error {
	_, err := b.goCmd(ctx, "build", "-ldflags", stripFlags, "-o", out, pkg)
	return err
}

// GoEnv returns one `go env` value.
func GoEnv(ctx context.Context, key string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", key).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(out)), nil
}
