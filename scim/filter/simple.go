package filter

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	fp "github.com/scim2/filter-parser/v2"
)

// parseSimpleEq recognises the one filter identity providers send on
// almost every request, `attr eq "string"` or `attr.sub eq "string"`
// with no schema URN, and builds the same expression the full parser
// would. The general grammar costs about a hundred microseconds a
// filter; this path costs about one, which is what lets a lookup by
// userName run at index speed. Anything else returns false and goes to
// the full parser, so the fast path can only be narrower, never
// different (TestSimpleEqMatchesFullParser).
func parseSimpleEq(s string) (fp.Expression, bool) {
	// name
	i := 0
	for i < len(s) && isNameByte(s[i], i == 0) {
		i++
	}
	if i == 0 || i >= len(s) {
		return nil, false
	}
	name := s[:i]
	// " eq " (operator case-insensitive, single spaces as Parse leaves
	// them after normalising whitespace)
	if len(s) < i+4 || s[i] != ' ' || !strings.EqualFold(s[i+1:i+3], "eq") || s[i+3] != ' ' {
		return nil, false
	}
	lit := s[i+4:]
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' || !utf8.ValidString(lit) {
		return nil, false
	}
	// The literal must be one JSON string and nothing after it.
	for j := 1; j < len(lit)-1; j++ {
		switch lit[j] {
		case '\\':
			j++ // skip the escaped byte
			if j >= len(lit)-1 {
				return nil, false
			}
		case '"':
			return nil, false
		}
		if lit[j] < 0x20 {
			return nil, false
		}
	}
	var value string
	if err := json.Unmarshal([]byte(lit), &value); err != nil {
		return nil, false
	}
	attr, sub, dotted := strings.Cut(name, ".")
	if dotted && (sub == "" || strings.Contains(sub, ".") || !isNameStart(sub[0])) {
		return nil, false
	}
	path := fp.AttributePath{AttributeName: attr}
	if dotted {
		path.SubAttribute = &sub
	}
	return &fp.AttributeExpression{AttributePath: path, Operator: fp.EQ, CompareValue: value}, true
}

func isNameStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isNameByte accepts ATTRNAME characters (RFC 7644 §3.10: ALPHA
// *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA) and the dot between
// an attribute and its sub-attribute.
func isNameByte(c byte, first bool) bool {
	if first {
		return isNameStart(c)
	}
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}
