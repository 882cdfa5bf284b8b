package config

import (
	"io/fs"
	"path/filepath"
	"sort"
)

// memFS is an in-memory FileSystem for tests and the fuzzer.
type memFS map[string]string

func (m memFS) ReadFile(name string) ([]byte, error) {
	s, ok := m[filepath.Clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

func (m memFS) Glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	for k := range m {
		if ok, _ := filepath.Match(pattern, k); ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

// parseString parses src as /etc/keepalived/t.conf with the other files of fsys.
func parseString(src string, fsys memFS) (*Config, []Diagnostic, error) {
	if fsys == nil {
		fsys = memFS{}
	}
	fsys["/etc/keepalived/t.conf"] = src
	return LoadWith("/etc/keepalived/t.conf", Options{FS: fsys})
}
