package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
	var host string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host = r.Host
		_, _ = io.WriteString(w, "<html>ok</html>\n")
	})
	sum := md5.Sum([]byte("<html>ok</html>\n"))
	want := hex.EncodeToString(sum[:]) + "\n"

	srv := httptest.NewServer(h)
	defer srv.Close()
	code, out, errOut := runLvsctl("genhash", "--url", srv.URL+"/index.html")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, want, out)
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), host)

	code, out, errOut = runLvsctl("genhash", "--url", srv.URL+"/", "--virtualhost", "www.example")
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, want, out)
	assert.Equal(t, "www.example", host)

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
