package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// runLvsctl runs the CLI in-process.
func runLvsctl(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"lvsctl"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestGenhash(t *testing.T) {
	var mu sync.Mutex
	var host string
	lastHost := func() string { mu.Lock(); defer mu.Unlock(); return host }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		host = r.Host
		mu.Unlock()
		_, _ = io.WriteString(w, "<html>ok</html>\n")
	})
	sum := md5.Sum([]byte("<html>ok</html>\n"))
	want := hex.EncodeToString(sum[:]) + "\n"

	srv := httptest.NewServer(h)
	defer srv.Close()
	code, out, errOut := runLvsctl("genhash", "--url", srv.URL+"/index.html")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, want, out)
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), lastHost())

	code, out, errOut = runLvsctl("genhash", "--url", srv.URL+"/", "--virtualhost", "www.example")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, want, out)
	assert.Equal(t, "www.example", lastHost())

	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	code, out, errOut = runLvsctl("genhash", "-u", tlsSrv.URL+"/")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, want, out)
}

func TestGenhashErrors(t *testing.T) {
	code, _, errOut := runLvsctl("genhash", "--url", "ftp://x/")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "http:// or https://")
	code, _, errOut = runLvsctl("genhash", "--url", "http://127.0.0.1:1/")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "connect")
}
