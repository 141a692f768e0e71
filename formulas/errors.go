package formulas

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a formula, in parameter values or in an
// expansion.
type Error struct {
	// Path locates the problem: "spec.resources.coder.workspaces[0].name",
	// "metadata.tags[1]", "params.storage_gb". It is "" for a problem with
	// the document as a whole (a YAML syntax error).
	Path string `json:"path,omitempty"`
	// Line and Column are 1-based positions in the YAML source, or 0 when
	// the formula did not come from YAML (Validate, Expand) or the YAML
	// parser did not say.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Msg says what is wrong, in words an operator understands.
	Msg string `json:"msg"`
}

// Error renders the problem as "line:column: path: msg", leaving out
// what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, "%d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, in the order of the source (by line,
// then column) when there is one. Functions of this package return it as
// their error, never empty.
type Errors []*Error

// Error lists every problem, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// err returns es as an error, or nil when it is empty (so that a nil
// Errors never hides inside a non-nil error).
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// add appends a problem at path.
func (es *Errors) add(path, format string, args ...any) {
	*es = append(*es, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// sortByPosition orders problems by line and column, keeping the order
// of discovery among equals (and so entirely when there are no lines).
func (es Errors) sortByPosition() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
}

// within reports whether path is ancestor or equal to p
// ("spec.a" is within "spec.a", "spec.a.b" and "spec.a[0]", not "spec.ab").
func within(ancestor, p string) bool {
	if !strings.HasPrefix(p, ancestor) {
		return false
	}
	if len(p) == len(ancestor) || ancestor == "" {
		return true
	}
	c := p[len(ancestor)]
	return c == '.' || c == '['
}

// parent drops the last element of a path ("a.b[0]" gives "a.b", "a.b"
// gives "a", "a" gives "").
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
