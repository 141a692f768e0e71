// Package filter parses, validates and evaluates SCIM 2.0 filters (RFC
// 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2) against resources held
// as map[string]any, the shape encoding/json decodes a resource into
// (numbers as float64 or json.Number).
//
// Expressions are the AST of github.com/scim2/filter-parser/v2, so other
// code can inspect them, but parsing goes through Parse and ParsePath,
// which work around what that parser gets wrong on its own (see Parse).
// Evaluation is this package's own: it knows the schema, so it honours
// caseExact, compares dateTime values chronologically and numbers by
// value, looks into every element of a multi-valued attribute, and finds
// extension attributes under their schema URN. It never panics, whatever
// the expression or the resource.
//
// The usual sequence for a list request is Parse, then Schema.Validate
// (which turns every mistake a client can make into an *Error), then
// EqualityIndex to pick candidates from an index, then Schema.Match on
// each candidate.
package filter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	fp "github.com/scim2/filter-parser/v2"
)

// Limits on what Parse and ParsePath accept. The underlying parser
// backtracks, and its cost grows faster than linearly with nesting, so a
// bound on both keeps a hostile query from tying up a request worker.
const (
	// MaxLength is the longest filter or path accepted, in bytes.
	MaxLength = 8 << 10
	// MaxDepth is the deepest nesting of parentheses and brackets
	// accepted.
	MaxDepth = 32
)

// Error is a filter or path that cannot be parsed, or that names
// attributes or comparisons the schema does not allow. The SCIM edge
// answers it with status 400 and scimType invalidFilter; Detail is safe to
// show to the client.
type Error struct {
	// Detail says what is wrong, in terms of the client's input.
	Detail string
}

// Error implements error.
func (e *Error) Error() string { return "invalid filter: " + e.Detail }

func errorf(format string, args ...any) *Error {
	return &Error{Detail: fmt.Sprintf(format, args...)}
}

// Parse parses a filter expression (the filter query parameter, or the
// filter member of a search request). Every error is an *Error.
//
// It works around these shortcomings of the scim2 parser:
//   - string literals keep their JSON escapes ("a\"b" would compare
//     against a\"b): Parse decodes them;
//   - a value filter inside brackets may hold only one comparison or two
//     joined by and/or, without parentheses: Parse accepts any filter
//     there (emails[type eq "work" and (value co "@a" or value co "@b")]);
//   - surrounding whitespace, and tabs or line breaks between tokens, are
//     rejected: Parse trims and turns them into spaces;
//   - a \u escape with lowercase hex digits is rejected: Parse accepts it;
//   - integer literals lose precision through float64: Parse keeps every
//     number as a json.Number.
//
// Any panic inside the parser is turned into an *Error.
func Parse(s string) (fp.Expression, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errorf("the filter is empty")
	}
	if len(s) > MaxLength {
		return nil, errorf("the filter is longer than %d bytes", MaxLength)
	}
	if e, ok := parseSimpleEq(s); ok {
		return e, nil
	}
	return parseFilter(s, 0)
}

// ParsePath parses the path of a PATCH operation: an attribute path
// (userName, name.givenName, a URN-qualified name), or a value path with
// an optional sub-attribute (emails[type eq "work"].value). The value
// filter may be any filter, as in Parse. Every error is an *Error; a
// caller answering a PATCH reports it with scimType invalidPath.
//
// A path that is exactly an extension schema URN parses as a URIPrefix
// holding all but the URN's last segment and an AttributeName holding
// that segment (the grammar cannot tell the two apart); see
// Schema.ExtensionURN.
func ParsePath(s string) (fp.Path, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return fp.Path{}, errorf("the path is empty")
	}
	if len(s) > MaxLength {
		return fp.Path{}, errorf("the path is longer than %d bytes", MaxLength)
	}
	rewritten, inner, err := extractValueFilters(s, 0)
	if err != nil {
		return fp.Path{}, err
	}
	var p fp.Path
	if perr := guard(func() error {
		var e error
		p, e = fp.ParsePathNumber([]byte(rewritten))
		return e
	}); perr != nil {
		return fp.Path{}, errorf("the path %s is not valid SCIM path syntax", quoteShort(s))
	}
	if p.ValueExpression != nil {
		// The value filter was parsed, and its strings decoded, on its
		// own.
		vf, ok := substitute(p.ValueExpression, inner)
		if !ok {
			return fp.Path{}, errorf("the path %s is not valid SCIM path syntax", quoteShort(s))
		}
		p.ValueExpression = vf
	}
	return p, nil
}

// parseFilter parses s, whose value filters are parsed separately at
// depth+1.
func parseFilter(s string, depth int) (fp.Expression, error) {
	rewritten, inner, err := extractValueFilters(s, depth)
	if err != nil {
		return nil, err
	}
	var expr fp.Expression
	if perr := guard(func() error {
		var e error
		expr, e = fp.ParseFilterNumber([]byte(rewritten))
		return e
	}); perr != nil {
		return nil, errorf("the filter %s is not valid SCIM filter syntax (RFC 7644 §3.4.2.2)", quoteShort(s))
	}
	// Decode strings before the value filters go back in: they were
	// decoded when parsed on their own.
	if err := unescapeAll(expr); err != nil {
		return nil, err
	}
	if len(inner) > 0 {
		var ok bool
		if expr, ok = substituteAll(expr, inner); !ok {
			return nil, errorf("the filter %s is not valid SCIM filter syntax (RFC 7644 §3.4.2.2)", quoteShort(s))
		}
	}
	return expr, nil
}

// guard runs fn and turns a panic into an error: the parser is third-party
// code, and no client input may crash a request.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser panic: %v", r)
		}
	}()
	return fn()
}

// placeholderAttr names the attribute of the one-comparison value filter
// that stands in for each bracketed filter while the outer text is
// parsed; its compare value is the index of the real filter.
const placeholderAttr = "scimbridgeValueFilter"

// extractValueFilters scans s outside string literals: it replaces the
// text between each top-level pair of brackets with a placeholder
// comparison and parses that text as a filter of its own, turns tabs and
// line breaks into spaces, uppercases the hex digits of \u escapes, and
// enforces MaxDepth.
func extractValueFilters(s string, depth int) (string, []fp.Expression, error) {
	if depth > MaxDepth {
		return "", nil, errorf("the filter nests deeper than %d levels", MaxDepth)
	}
	var (
		b      strings.Builder
		inner  []fp.Expression
		parens int
	)
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			end := stringEnd(s, i)
			writeString(&b, s[i:end])
			i = end - 1
		case c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(' ')
		case c == '(':
			parens++
			if depth+parens > MaxDepth {
				return "", nil, errorf("the filter nests deeper than %d levels", MaxDepth)
			}
			b.WriteByte(c)
		case c == ')':
			parens--
			b.WriteByte(c)
		case c == '[':
			end := bracketEnd(s, i)
			if end < 0 {
				// Unbalanced: let the parser report it.
				b.WriteString(s[i:])
				return b.String(), inner, nil
			}
			body := strings.TrimSpace(s[i+1 : end])
			if body == "" {
				return "", nil, errorf("the value filter in %s is empty", quoteShort(s))
			}
			vf, err := parseFilter(body, depth+parens+1)
			if err != nil {
				return "", nil, err
			}
			fmt.Fprintf(&b, "[%s eq %d]", placeholderAttr, len(inner))
			inner = append(inner, vf)
			i = end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), inner, nil
}

// stringEnd returns the index just past the string literal opening at
// s[start], or len(s) when it is not closed.
func stringEnd(s string, start int) int {
	for i := start + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}

// bracketEnd returns the index of the bracket closing the one at
// s[start], or -1.
func bracketEnd(s string, start int) int {
	depth := 0
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '"':
			i = stringEnd(s, i) - 1
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// writeString copies a string literal, uppercasing the hex digits of \u
// escapes (the parser accepts only A-F).
func writeString(b *strings.Builder, lit string) {
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		b.WriteByte(c)
		if c != '\\' || i+1 >= len(lit) {
			continue
		}
		i++
		b.WriteByte(lit[i])
		if lit[i] != 'u' {
			continue
		}
		for j := 0; j < 4 && i+1 < len(lit); j++ {
			i++
			d := lit[i]
			if d >= 'a' && d <= 'f' {
				d -= 'a' - 'A'
			}
			b.WriteByte(d)
		}
	}
}

// substitute returns the value filter a placeholder stands for.
func substitute(e fp.Expression, inner []fp.Expression) (fp.Expression, bool) {
	ae, ok := e.(*fp.AttributeExpression)
	if !ok || ae == nil || ae.AttributePath.AttributeName != placeholderAttr || ae.Operator != fp.EQ {
		return nil, false
	}
	n, ok := ae.CompareValue.(json.Number)
	if !ok {
		return nil, false
	}
	i, err := strconv.Atoi(string(n))
	if err != nil || i < 0 || i >= len(inner) {
		return nil, false
	}
	return inner[i], true
}

// substituteAll puts the real value filters back into every value path
// of e.
func substituteAll(e fp.Expression, inner []fp.Expression) (fp.Expression, bool) {
	switch x := e.(type) {
	case *fp.ValuePath:
		vf, ok := substitute(x.ValueFilter, inner)
		if !ok {
			return nil, false
		}
		return &fp.ValuePath{AttributePath: x.AttributePath, ValueFilter: vf}, true
	case *fp.LogicalExpression:
		l, ok := substituteAll(x.Left, inner)
		if !ok {
			return nil, false
		}
		r, ok := substituteAll(x.Right, inner)
		if !ok {
			return nil, false
		}
		return &fp.LogicalExpression{Left: l, Right: r, Operator: x.Operator}, true
	case *fp.NotExpression:
		in, ok := substituteAll(x.Expression, inner)
		if !ok {
			return nil, false
		}
		return &fp.NotExpression{Expression: in}, true
	}
	return e, true
}

// unescapeAll decodes the JSON escapes the parser leaves in string
// literals, in place (the expressions were just built by the parser). It
// skips value paths, which hold placeholders at this point.
func unescapeAll(e fp.Expression) error {
	switch x := e.(type) {
	case *fp.AttributeExpression:
		s, ok := x.CompareValue.(string)
		if !ok || !strings.Contains(s, `\`) {
			return nil
		}
		var out string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
			return errorf("the string %s has an invalid escape sequence", quoteShort(s))
		}
		x.CompareValue = out
	case *fp.LogicalExpression:
		if err := unescapeAll(x.Left); err != nil {
			return err
		}
		return unescapeAll(x.Right)
	case *fp.NotExpression:
		return unescapeAll(x.Expression)
	}
	return nil
}

// quoteShort quotes s for an error detail, cut to a readable length.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return strconv.Quote(s[:cut] + "…")
	}
	return strconv.Quote(s)
}
