package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the whole loader. The input is also
// reachable as two include targets, so include handling (loops, globs,
// depth) is fuzzed too. The loader must never panic or hang, and must
// either return a Config or an ErrorList.
func FuzzParse(f *testing.F) {
	// Every fixture is a seed: this package's and the VRRP tests' files.
	seeds, _ := filepath.Glob("testdata/*/*.conf")
	more, _ := filepath.Glob("testdata/*.conf")
	seeds = append(seeds, more...)
	more, _ = filepath.Glob("../../vrrp/testdata/*.conf")
	seeds = append(seeds, more...)
	samples, _ := filepath.Glob("testdata/keepalived-samples/keepalived.conf.*")
	seeds = append(seeds, samples...)
	if len(seeds) < 20 {
		f.Fatalf("only %d seed fixtures found", len(seeds))
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("include a\ninclude *\n"))
	f.Add([]byte("a {\n{\n}\"\n"))
	f.Add([]byte("$A= \\\n$A \\\n@x $B\n$B=${A}\n@^y $A\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		fsys := memFS{"/k/a": string(src), "/k/b": "include a\n"}
		cfg, _, err := Parse("/k/main.conf", src, Options{FS: fsys, MaxBytes: 256 << 10})
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			return
		}
		// A loaded config can always be printed and reloaded.
		var b []byte
		w := &sliceWriter{&b}
		if err := WriteText(w, cfg); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Parse("/k/dump.conf", b, Options{FS: memFS{}}); err != nil {
			t.Fatalf("dump does not reload: %v\n%s", err, b)
		}
	})
}

type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}
