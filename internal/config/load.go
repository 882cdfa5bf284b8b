package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Limits that keep a hostile or broken file from exhausting the loader.
const (
	DefaultMaxIncludeDepth = 8
	DefaultMaxBlockDepth   = 16
	DefaultMaxBytes        = 16 << 20
	DefaultMaxFiles        = 1024
)

// Options tunes loading. The zero value reads the real file system and
// skips host checks.
type Options struct {
	// FS reads the main file and includes (default: the OS).
	FS FileSystem
	// InterfaceExists reports whether a network interface exists on this
	// host; nil skips the check. A missing interface is only a warning,
	// because files are often checked on another machine.
	InterfaceExists func(name string) bool
	// LookupUser resolves a script's user and group (nil: LookupOSUser).
	LookupUser LookupUser
	// MaxIncludeDepth bounds include nesting (DefaultMaxIncludeDepth).
	MaxIncludeDepth int
	// MaxBytes bounds the total size of all files (DefaultMaxBytes).
	MaxBytes int64
	// ConfigID selects the "@ID" lines of the file (keepalived -i); empty
	// means this host's name up to its first dot, as keepalived.
	ConfigID string
}

// DefaultConfigID is keepalived's default config id: the host name up to
// its first dot.
func DefaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// HostInterfaceExists reports whether the named interface exists on this
// host (in the current network namespace).
func HostInterfaceExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// Load reads, parses and validates the file at path and its includes, and
// checks interface names against this host. See LoadWith.
func Load(path string) (*Config, []Diagnostic, error) {
	return LoadWith(path, Options{InterfaceExists: HostInterfaceExists})
}

// LoadWith reads path through opts.FS and returns the effective
// configuration and the warnings. When the configuration is invalid the
// error is an ErrorList holding every error (with FILE:LINE:COL) and the
// Config is nil. Failing to read path itself is returned as a plain
// wrapped error.
func LoadWith(path string, opts Options) (*Config, []Diagnostic, error) {
	if opts.FS == nil {
		opts.FS = osFS{}
	}
	src, err := opts.FS.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, src, opts)
}

// Parse parses src as the contents of the file called name; includes are
// resolved relative to name's directory through opts.FS.
func Parse(name string, src []byte, opts Options) (*Config, []Diagnostic, error) {
	if opts.FS == nil {
		opts.FS = osFS{}
	}
	if opts.MaxIncludeDepth <= 0 {
		opts.MaxIncludeDepth = DefaultMaxIncludeDepth
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	name = filepath.Clean(name)
	diag := &diagnostics{}
	b := &treeBuilder{
		fs:        opts.FS,
		diag:      diag,
		maxDepth:  opts.MaxIncludeDepth,
		maxBlocks: DefaultMaxBlockDepth,
		maxBytes:  opts.MaxBytes,
		maxFiles:  DefaultMaxFiles,
		order:     map[string]int{},
	}
	id := opts.ConfigID
	if id == "" {
		id = DefaultConfigID()
	}
	b.pp = &preprocessor{configID: id, defs: map[string]definition{}, diag: diag, budget: opts.MaxBytes}
	nodes := b.source(name, src, Position{File: name, Line: 1, Col: 1})
	d := &decoder{diag: diag}
	cfg := d.config(nodes)
	validate(cfg, diag, opts.InterfaceExists, d.vridPos)
	resolveScriptUsers(cfg, diag, opts.LookupUser)
	loadSSL(cfg.SSL, diag, opts.FS)
	errs, warns := diag.split(b.order)
	if len(errs) > 0 {
		return nil, warns, ErrorList(errs)
	}
	return cfg, warns, nil
}

// Summary counts the main objects of a configuration.
type Summary struct {
	VRRPInstances  int `json:"vrrp_instances"`
	VirtualServers int `json:"virtual_servers"`
	RealServers    int `json:"real_servers"`
	Checkers       int `json:"checkers"`
}

// Summary counts instances, virtual servers, real servers and checkers.
func (c *Config) Summary() Summary {
	s := Summary{VRRPInstances: len(c.VRRPInstances), VirtualServers: len(c.VirtualServers)}
	for _, vs := range c.VirtualServers {
		s.RealServers += len(vs.RealServers)
		for _, rs := range vs.RealServers {
			s.Checkers += len(rs.Checkers)
		}
	}
	return s
}

// String renders the summary as the one line `lvsctl config check` prints.
func (s Summary) String() string {
	return fmt.Sprintf("%d vrrp instances, %d virtual servers, %d real servers, %d checkers",
		s.VRRPInstances, s.VirtualServers, s.RealServers, s.Checkers)
}
