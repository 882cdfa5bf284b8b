package humanize

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSI(t *testing.T) {
	for in, want := range map[uint64]string{0: "0", 9999: "9999", 10000: "10.0k", 1234567: "1.2M", 3e9: "3.0G"} {
		assert.Equal(t, want, SI(in), "%d", in)
	}
}
