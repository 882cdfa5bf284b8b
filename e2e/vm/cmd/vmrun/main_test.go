package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlagsBecomeTestBinaryArgs(t *testing.T) {
	o, err := parseFlags([]string{"-v", "-run", "TestIPVSDirectRouting/wrr", "-bin", "./cmd/lvsctl", "./e2e/", "--", "-test.failfast"})
	require.NoError(t, err)
	assert.Equal(t, []string{"./e2e/"}, o.patterns)
	assert.Equal(t, []string{"./cmd/lvsctl"}, []string(o.bins))
	assert.Equal(t, []string{"-test.count=1", "-test.timeout=10m", "-test.v", "-test.run=TestIPVSDirectRouting/wrr", "-test.failfast"}, o.binaryArgs())
}

func TestHostBinIsRepeatable(t *testing.T) {
	o, err := parseFlags([]string{"-host-bin", "/usr/sbin/keepalived", "-host-bin", "ipvsadm", "./bench/directorvm"})
	require.NoError(t, err)
	assert.Equal(t, []string{"/usr/sbin/keepalived", "ipvsadm"}, []string(o.hostBins))
}

func TestMissingHostBinIsASetupError(t *testing.T) {
	var out strings.Builder
	code := run(t.Context(), []string{"-host-bin", "/nonexistent/keepalived", "./e2e/"}, &out)
	assert.Equal(t, exitSetup, code, out.String())
	assert.Contains(t, out.String(), "apt-get install keepalived")
}

func TestDefaultPackagesAreTheE2ETree(t *testing.T) {
	t.Setenv("LVSCTL_VM_RUN", "TestX")
	t.Setenv("LVSCTL_VM_TIMEOUT", "90s")
	o, err := parseFlags(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"./e2e/..."}, o.patterns)
	assert.Equal(t, "TestX", o.run)
	assert.Equal(t, "1m30s", o.timeout.String())
}

func TestShellJoinQuotesWhatNeedsIt(t *testing.T) {
	assert.Equal(t, `-append 'console=ttyS0 quiet' 'it'\''s'`, shellJoin([]string{"-append", "console=ttyS0 quiet", "it's"}))
}
