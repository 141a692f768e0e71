package filter

import (
	"strings"

	fp "github.com/scim2/filter-parser/v2"
)

// coreURNPrefix starts the URN of every core schema of RFC 7643; a path
// qualified with one (urn:ietf:params:scim:schemas:core:2.0:User:userName)
// is indexed as the bare name.
const coreURNPrefix = "urn:ietf:params:scim:schemas:core:"

// EqualityIndex looks for a term `X eq "v"` that every resource matching
// expr must satisfy, with X one of attrs (compared case-insensitively),
// so that a caller can fetch candidates from an index on X and then run
// Match on each. It finds such a term when expr is one, or when it sits
// at the top level of a chain of and. A value path whose filter is such a
// term counts as the dotted path: members[value eq "id"] as members.value
// "id". When several terms qualify, the one whose attribute comes first
// in attrs wins, so list the most selective attribute first.
//
// attr is returned spelled as in attrs. Name an extension attribute with
// its URN ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber");
// a core attribute bare ("userName", "emails.value", "emails"). Only
// string literals qualify. The caller's index must compare values the
// way the attribute's caseExact says, since Match does.
func EqualityIndex(expr fp.Expression, attrs ...string) (attr, value string, ok bool) {
	best := len(attrs)
	var walk func(e fp.Expression)
	walk = func(e fp.Expression) {
		switch x := e.(type) {
		case *fp.LogicalExpression:
			if x == nil || !strings.EqualFold(string(x.Operator), string(fp.AND)) {
				return
			}
			walk(x.Left)
			walk(x.Right)
		case *fp.AttributeExpression:
			if x == nil {
				return
			}
			if i, v, hit := indexTerm(x, nil, attrs); hit && i < best {
				best, value = i, v
			}
		case *fp.ValuePath:
			if x == nil || x.AttributePath.SubAttribute != nil {
				return
			}
			ae, isTerm := x.ValueFilter.(*fp.AttributeExpression)
			if !isTerm || ae == nil || ae.AttributePath.URIPrefix != nil || ae.AttributePath.SubAttribute != nil {
				return
			}
			if i, v, hit := indexTerm(ae, &x.AttributePath, attrs); hit && i < best {
				best, value = i, v
			}
		}
	}
	walk(expr)
	if best == len(attrs) {
		return "", "", false
	}
	return attrs[best], value, true
}

// indexTerm reports whether e is `X eq "v"` with X in attrs, where X is
// e's path, or parent's path with e's attribute as sub-attribute when
// parent is not nil; it returns the index of X in attrs, and v.
func indexTerm(e *fp.AttributeExpression, parent *fp.AttributePath, attrs []string) (int, string, bool) {
	if !strings.EqualFold(string(e.Operator), string(fp.EQ)) {
		return 0, "", false
	}
	v, isString := e.CompareValue.(string)
	if !isString {
		return 0, "", false
	}
	p := e.AttributePath
	if parent != nil {
		sub := p.AttributeName
		p = fp.AttributePath{URIPrefix: parent.URIPrefix, AttributeName: parent.AttributeName, SubAttribute: &sub}
	}
	full, short := pathName(p), ""
	if p.URIPrefix != nil && len(*p.URIPrefix) > len(coreURNPrefix) && strings.EqualFold((*p.URIPrefix)[:len(coreURNPrefix)], coreURNPrefix) {
		short = pathName(fp.AttributePath{AttributeName: p.AttributeName, SubAttribute: p.SubAttribute})
	}
	for i, a := range attrs {
		if strings.EqualFold(a, full) || (short != "" && strings.EqualFold(a, short)) {
			return i, v, true
		}
	}
	return 0, "", false
}

// pathName spells p as URN:name.sub.
func pathName(p fp.AttributePath) string {
	s := p.AttributeName
	if p.URIPrefix != nil {
		s = *p.URIPrefix + ":" + s
	}
	if p.SubAttribute != nil {
		s += "." + *p.SubAttribute
	}
	return s
}
