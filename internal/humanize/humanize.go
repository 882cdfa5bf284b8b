// Package humanize formats numbers for people: the CLI's status and the
// status page print rates the same way.
package humanize

import (
	"fmt"
	"strconv"
)

// SI prints 1234567 as 1.2M: rates are read at a glance, not summed.
// Values below 10,000 are printed exactly.
func SI(v uint64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.1fG", float64(v)/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", float64(v)/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", float64(v)/1e3)
	}
	return strconv.FormatUint(v, 10)
}
