package config

import (
	"fmt"
	"sort"
)

// maxDiagnostics bounds how many problems one load reports: past it a
// file is garbage, not a configuration, and listing more helps nobody.
const maxDiagnostics = 1000

// diagnostics collects problems while loading.
type diagnostics struct {
	list []Diagnostic
	full bool
	// seen drops exact repeats: the body of a virtual_server group is
	// decoded once per member of the group.
	seen map[Diagnostic]bool
}

func (d *diagnostics) add(pos Position, sev Severity, format string, args []any) {
	if d.full {
		return
	}
	diag := Diagnostic{Pos: pos, Severity: sev, Message: fmt.Sprintf(format, args...)}
	if d.seen[diag] {
		return
	}
	if d.seen == nil {
		d.seen = map[Diagnostic]bool{}
	}
	d.seen[diag] = true
	if len(d.list) == maxDiagnostics {
		d.full = true
		d.list = append(d.list, Diagnostic{Pos: pos, Severity: SeverityError, Message: fmt.Sprintf("too many problems (%d); stopping here", maxDiagnostics)})
		return
	}
	d.list = append(d.list, diag)
}

func (d *diagnostics) errorf(pos Position, format string, args ...any) {
	d.add(pos, SeverityError, format, args)
}

func (d *diagnostics) warnf(pos Position, format string, args ...any) {
	d.add(pos, SeverityWarning, format, args)
}

// split returns errors and warnings, each sorted by file order of first
// appearance, then line and column.
func (d *diagnostics) split(fileOrder map[string]int) (errs, warns []Diagnostic) {
	sorted := append([]Diagnostic(nil), d.list...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Pos, sorted[j].Pos
		if a.File != b.File {
			return fileOrder[a.File] < fileOrder[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	for _, x := range sorted {
		if x.Severity == SeverityError {
			errs = append(errs, x)
		} else {
			warns = append(warns, x)
		}
	}
	return errs, warns
}
