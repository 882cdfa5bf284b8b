package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseWithID(t *testing.T, src, id string) (*Config, []Diagnostic, error) {
	t.Helper()
	fsys := memFS{"/etc/keepalived/t.conf": src}
	return LoadWith("/etc/keepalived/t.conf", Options{FS: fsys, ConfigID: id})
}

// TestPreprocessor: conditional lines, definitions and substitutions as
// keepalived's lib/parser.c reads them, with the positions of the file.
func TestPreprocessor(t *testing.T) {
	src := `$IF=eth1
$VIPS=192.0.2.10 \
    192.0.2.11
vrrp_instance VI_1 {
@lb1	state MASTER
@^lb1	state BACKUP
	interface $IF
@lb1	priority 150
@lb2	priority 100
	virtual_router_id 51
	virtual_ipaddress {
		$VIPS
	}
	notify "/bin/n ${IF}"
}
`
	cfg, _, err := parseWithID(t, src, "lb1")
	require.NoError(t, err)
	in := cfg.VRRPInstances[0]
	assert.Equal(t, StateMaster, in.State)
	assert.Equal(t, 150, in.Priority)
	assert.Equal(t, "eth1", in.Interface)
	require.Len(t, in.VIPs, 2)
	assert.Equal(t, "192.0.2.11/32", in.VIPs[1].Prefix.String())
	assert.Equal(t, 12, in.VIPs[1].Pos.Line, "a multi-line expansion keeps the line of the reference")
	assert.Equal(t, `/bin/n eth1`, in.Notify.Command, "keepalived substitutes inside quotes too")

	cfg, _, err = parseWithID(t, src, "lb2")
	require.NoError(t, err)
	assert.Equal(t, StateBackup, cfg.VRRPInstances[0].State)
	assert.Equal(t, 100, cfg.VRRPInstances[0].Priority)

	// An error on a conditional line is reported at the file's column.
	_, _, err = parseWithID(t, "vrrp_instance VI_1 {\n@lb1\tpriority 300\n interface eth0\n virtual_router_id 1\n}\n", "lb1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:2:15: priority 300 out of range 1..255")

	// A definition referring to itself is caught.
	_, _, err = parseWithID(t, "$A=$A x\nglobal_defs {\n router_id $A\n}\n", "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:3:1: more than 64 substitutions on one line")

	// Undefined names are left as they are, as keepalived does: refused.
	_, _, err = parseWithID(t, "global_defs {\n router_id ${NOPE}\n}\n", "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `t.conf:2:12: ${NOPE} is not defined: keepalived would use the text "${NOPE}" as it is; define it with $NOPE=VALUE`)
}

// TestPreprocessorIncludes: definitions carry over into included files.
func TestPreprocessorIncludes(t *testing.T) {
	fsys := memFS{
		"/etc/keepalived/t.conf":   "$RID=lb-a\ninclude inc.conf\n",
		"/etc/keepalived/inc.conf": "global_defs {\n  router_id $RID\n}\n",
	}
	cfg, _, err := LoadWith("/etc/keepalived/t.conf", Options{FS: fsys, ConfigID: "x"})
	require.NoError(t, err)
	assert.Equal(t, "lb-a", cfg.Global.RouterID)
	assert.True(t, strings.HasPrefix(DefaultConfigID(), strings.Split(DefaultConfigID(), ".")[0]))
}

// TestPreprocessorManPageExample is keepalived.conf(5)'s multi-line
// example (without use_vmac): a definition expanded twice, with the value
// of $NUM at each expansion and "@ID" lines inside it.
func TestPreprocessorManPageExample(t *testing.T) {
	src := `$INSTANCE= \
vrrp_instance VI_${NUM} { \
    interface eth0.${NUM} \
    virtual_router_id 1 \
    @high priority 130 \
    @low priority 120 \
    advert_int 1 \
    virtual_ipaddress { \
        10.0.${NUM}.254/24 \
    } \
}

$NUM=0
$INSTANCE

$NUM=1
$INSTANCE
`
	cfg, _, err := parseWithID(t, src, "low")
	require.NoError(t, err)
	require.Len(t, cfg.VRRPInstances, 2)
	assert.Equal(t, "VI_1", cfg.VRRPInstances[1].Name)
	assert.Equal(t, "eth0.1", cfg.VRRPInstances[1].Interface)
	assert.Equal(t, 120, cfg.VRRPInstances[0].Priority)
	assert.Equal(t, "10.0.1.254/24", cfg.VRRPInstances[1].VIPs[0].Prefix.String())
	assert.Equal(t, 17, cfg.VRRPInstances[1].Pos.Line, "reported at the line of $INSTANCE")
}

// TestPreprocessorBounds: definitions that expand exponentially cost one
// error, quickly.
func TestPreprocessorBounds(t *testing.T) {
	src := "$A= \\\n$B \\\n$B\n$B= \\\n$C \\\n$C\n$C= \\\n$D \\\n$D\n$D= \\\n$E \\\n$E\n$E= \\\n$F \\\n$F\n$F= \\\n$G \\\n$G\n$G= \\\n$H \\\n$H\n$H=global_defs { \\\n}\n" +
		"$A\n$A\n$A\n$A\n"
	_, _, err := parseWithID(t, src, "x")
	_ = err // loads or fails, but in bounded time and memory
	self := "$A= \\\n$A \\\n$A\n$A\n"
	_, _, err = parseWithID(t, self, "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:4:1: multi-line definitions nested deeper than 16 levels")
	long := "$A=" + strings.Repeat("x", 40000) + "\n$B=$A $A\nglobal_defs {\n router_id $B\n}\n"
	_, _, err = parseWithID(t, long, "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:4:1: a substitution makes this line longer than 65536 bytes")
}

func TestPreprocessorWideSelfReference(t *testing.T) {
	src := "$A= \\\n" + strings.Repeat("$A \\\n", 9) + "$A\n$A\n"
	_, _, err := parseWithID(t, src, "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.conf:12:1: this line expands into more than 65536 lines")
}

// TestPreprocessorEmptyConditional: "@ID" followed by blanks only is
// dropped (it used to crash the preprocessor).
func TestPreprocessorEmptyConditional(t *testing.T) {
	_, _, err := parseWithID(t, "@x \t\nglobal_defs {\n}\n", "x")
	require.NoError(t, err)
}
