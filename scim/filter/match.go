package filter

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"
)

// Match reports whether resource satisfies expr (RFC 7644 §3.4.2.2).
//
//   - A comparison on a multi-valued attribute, or on a sub-attribute of
//     one (emails.value, members.value), matches when any value does.
//   - A comparison other than pr on a complex attribute without a
//     sub-attribute (emails co "example.com") compares its "value"
//     sub-attribute.
//   - Strings compare as the attribute's caseExact says; dateTime values
//     chronologically; integer and decimal values by numeric value;
//     booleans by value. gt, ge, lt and le on a string compare
//     lexicographically (after case folding unless caseExact).
//   - pr matches a value that is present and not null, not "", not an
//     empty array and not an object without any present member.
//   - ne is the negation of eq, so it matches a resource that lacks the
//     attribute, and a multi-valued attribute none of whose values equal
//     the operand. "eq null" matches an absent attribute, "ne null" a
//     present one.
//   - A literal of the wrong type for the attribute (active eq "yes")
//     never equals it, so eq is false and ne true; co, sw, ew and the
//     orderings are false. Validate rejects such a comparison.
//
// Match never panics, whatever expr and resource hold. A comparison on an
// attribute the schema does not know is false whatever its operator
// (Validate rejects it), and so is a value path on an attribute that is
// not complex.
func (sc Schema) Match(expr fp.Expression, resource map[string]any) bool {
	return sc.eval(expr, resource)
}

// MatchElement reports whether one element of the complex attribute attr
// (an element of emails, members...) satisfies a value filter, the part
// of a value path between the brackets. Attribute names in the filter are
// sub-attributes of attr ("type", "value"); a name qualified with attr
// itself ("emails.type") is accepted too. The rules are those of Match.
func (sc Schema) MatchElement(expr fp.Expression, attr schema.CoreAttribute, element map[string]any) bool {
	return evalElement(expr, attr, element)
}

func (sc Schema) eval(expr fp.Expression, res map[string]any) bool {
	switch x := expr.(type) {
	case *fp.LogicalExpression:
		if x == nil {
			return false
		}
		switch strings.ToLower(string(x.Operator)) {
		case string(fp.AND):
			return sc.eval(x.Left, res) && sc.eval(x.Right, res)
		case string(fp.OR):
			return sc.eval(x.Left, res) || sc.eval(x.Right, res)
		}
		return false
	case *fp.NotExpression:
		if x == nil || isNil(x.Expression) {
			return false
		}
		return !sc.eval(x.Expression, res)
	case *fp.AttributeExpression:
		if x == nil {
			return false
		}
		a, err := sc.Resolve(x.AttributePath)
		if err != nil {
			return false
		}
		return compareValues(x.Operator, a.Attr, a.HasSub, a.Sub, sc.valueOf(a, res), x.CompareValue)
	case *fp.ValuePath:
		if x == nil || x.AttributePath.SubAttribute != nil || isNil(x.ValueFilter) {
			return false
		}
		a, err := sc.Resolve(x.AttributePath)
		if err != nil || a.Attr.AttributeType() != "complex" {
			return false
		}
		for _, el := range Elements(sc.valueOf(a, res)) {
			if m, ok := el.(map[string]any); ok && evalElement(x.ValueFilter, a.Attr, m) {
				return true
			}
		}
	}
	return false
}

// valueOf returns the value of the top-level attribute of a in res.
func (sc Schema) valueOf(a Attribute, res map[string]any) any {
	container := res
	if a.Extension != "" {
		ext, _ := Lookup(res, a.Extension)
		m, ok := ext.(map[string]any)
		if !ok {
			return nil
		}
		container = m
	}
	v, _ := Lookup(container, a.Attr.Name())
	return v
}

func evalElement(expr fp.Expression, attr schema.CoreAttribute, el map[string]any) bool {
	switch x := expr.(type) {
	case *fp.LogicalExpression:
		if x == nil {
			return false
		}
		switch strings.ToLower(string(x.Operator)) {
		case string(fp.AND):
			return evalElement(x.Left, attr, el) && evalElement(x.Right, attr, el)
		case string(fp.OR):
			return evalElement(x.Left, attr, el) || evalElement(x.Right, attr, el)
		}
		return false
	case *fp.NotExpression:
		if x == nil || isNil(x.Expression) {
			return false
		}
		return !evalElement(x.Expression, attr, el)
	case *fp.AttributeExpression:
		if x == nil {
			return false
		}
		sub, err := elementSub(x.AttributePath, attr)
		if err != nil {
			return false
		}
		v, _ := Lookup(el, sub.Name())
		return compareValues(x.Operator, sub, false, schema.CoreAttribute{}, v, x.CompareValue)
	}
	return false
}

// elementSub resolves an attribute path inside a value filter on attr.
func elementSub(p fp.AttributePath, attr schema.CoreAttribute) (schema.CoreAttribute, error) {
	if p.URIPrefix != nil {
		return schema.CoreAttribute{}, errorf("%q: a value filter names sub-attributes of %q without a schema URN", p.String(), attr.Name())
	}
	name := p.AttributeName
	if p.SubAttribute != nil {
		if !strings.EqualFold(name, attr.Name()) {
			return schema.CoreAttribute{}, errorf("%q is not a sub-attribute of %q", p.String(), attr.Name())
		}
		name = *p.SubAttribute
	}
	sub, ok := SubAttribute(attr, name)
	if !ok {
		return schema.CoreAttribute{}, errorf("unknown sub-attribute %q of %q", name, attr.Name())
	}
	return sub, nil
}

// compareValues applies op to the value v of attr (or of its
// sub-attribute sub, when hasSub) and the literal lit.
func compareValues(op fp.CompareOperator, attr schema.CoreAttribute, hasSub bool, sub schema.CoreAttribute, v any, lit any) bool {
	op = fp.CompareOperator(strings.ToLower(string(op)))
	// Gather the candidate values and the attribute that types them.
	var (
		leaf  = attr
		cands []any
	)
	switch {
	case hasSub:
		leaf = sub
		for _, el := range Elements(v) {
			if m, ok := el.(map[string]any); ok {
				sv, _ := Lookup(m, sub.Name())
				cands = append(cands, values(sub, sv)...)
			}
		}
	case attr.AttributeType() == "complex" && op != fp.PR:
		vs, ok := SubAttribute(attr, "value")
		if !ok {
			return false
		}
		leaf = vs
		for _, el := range Elements(v) {
			if m, ok := el.(map[string]any); ok {
				sv, _ := Lookup(m, "value")
				cands = append(cands, values(vs, sv)...)
			}
		}
	default:
		cands = values(attr, v)
	}

	switch op {
	case fp.PR:
		return anyPresent(cands)
	case fp.EQ:
		if lit == nil {
			return !anyPresent(cands)
		}
		return anyEqual(leaf, cands, lit)
	case fp.NE:
		if lit == nil {
			return anyPresent(cands)
		}
		return !anyEqual(leaf, cands, lit)
	case fp.CO, fp.SW, fp.EW:
		l, ok := lit.(string)
		if !ok || !isStringType(leaf) {
			return false
		}
		for _, c := range cands {
			s, ok := c.(string)
			if ok && substring(op, s, l, leaf.CaseExact() || leaf.AttributeType() == "binary") {
				return true
			}
		}
	case fp.GT, fp.GE, fp.LT, fp.LE:
		if lit == nil {
			return false
		}
		for _, c := range cands {
			if n, ok := order(leaf, c, lit); ok && ordered(op, n) {
				return true
			}
		}
	}
	return false
}

// values returns the values of a (possibly multi-valued) attribute as a
// flat list; nil when absent.
func values(attr schema.CoreAttribute, v any) []any {
	if v == nil {
		return nil
	}
	if attr.MultiValued() {
		return Elements(v)
	}
	return []any{v}
}

// Elements returns the elements of a multi-valued value (decoded JSON
// arrays, []map[string]any or []string), or the value itself as the only
// element; nil gives none. The slice may be v's own.
func Elements(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []map[string]any:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = m
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return []any{v}
}

func anyPresent(vs []any) bool {
	for _, v := range vs {
		if Present(v) {
			return true
		}
	}
	return false
}

func anyEqual(attr schema.CoreAttribute, vs []any, lit any) bool {
	for _, v := range vs {
		if Equal(attr, v, lit) {
			return true
		}
	}
	return false
}

// Present reports whether v counts as a value (RFC 7643 §2.5, RFC 7644
// §3.4.2.2 pr): not nil, not "", not an empty array, and not an object
// none of whose members is present.
func Present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		for _, e := range x {
			if Present(e) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, e := range x {
			if Present(e) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range x {
			if e != "" {
				return true
			}
		}
		return false
	case []map[string]any:
		for _, e := range x {
			if Present(e) {
				return true
			}
		}
		return false
	}
	return true
}

// Equal reports whether two values of attr are equal under its rules:
// strings as caseExact says (binary always exactly), numbers by value,
// dateTime values as instants, booleans by value, complex values sub-
// attribute by sub-attribute, where an absent sub-attribute equals an
// empty one. For a multi-valued attribute, a and b are single elements.
// Values of the wrong type for attr are equal only when both are absent.
func Equal(attr schema.CoreAttribute, a, b any) bool {
	if !Present(a) || !Present(b) {
		return !Present(a) && !Present(b)
	}
	switch attr.AttributeType() {
	case "string", "reference":
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		if !ok1 || !ok2 {
			return false
		}
		if attr.CaseExact() {
			return x == y
		}
		return strings.EqualFold(x, y)
	case "binary":
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		return ok1 && ok2 && x == y
	case "boolean":
		x, ok1 := a.(bool)
		y, ok2 := b.(bool)
		return ok1 && ok2 && x == y
	case "integer", "decimal":
		c, ok := compareNumbers(a, b)
		return ok && c == 0
	case "dateTime":
		x, ok1 := a.(string)
		y, ok2 := b.(string)
		if !ok1 || !ok2 {
			return false
		}
		tx, ok1 := ParseDateTime(x)
		ty, ok2 := ParseDateTime(y)
		if ok1 && ok2 {
			return tx.Equal(ty)
		}
		return x == y
	case "complex":
		x, ok1 := a.(map[string]any)
		y, ok2 := b.(map[string]any)
		if !ok1 || !ok2 {
			return false
		}
		for _, sub := range attr.SubAttributes() {
			sx, _ := Lookup(x, sub.Name())
			sy, _ := Lookup(y, sub.Name())
			if sub.MultiValued() {
				if !equalLists(sub, Elements(sx), Elements(sy)) {
					return false
				}
				continue
			}
			if !Equal(sub, sx, sy) {
				return false
			}
		}
		return true
	}
	return false
}

// equalLists compares two lists of values of attr as multisets.
func equalLists(attr schema.CoreAttribute, a, b []any) bool {
	a, b = presentOnly(a), presentOnly(b)
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
next:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && Equal(attr, x, y) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

func presentOnly(vs []any) []any {
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		if Present(v) {
			out = append(out, v)
		}
	}
	return out
}

// isStringType reports whether co, sw and ew apply to attr.
func isStringType(attr schema.CoreAttribute) bool {
	switch attr.AttributeType() {
	case "string", "reference", "binary":
		return true
	}
	return false
}

func substring(op fp.CompareOperator, s, lit string, caseExact bool) bool {
	if !caseExact {
		s, lit = strings.ToLower(s), strings.ToLower(lit)
	}
	switch op {
	case fp.CO:
		return strings.Contains(s, lit)
	case fp.SW:
		return strings.HasPrefix(s, lit)
	case fp.EW:
		return strings.HasSuffix(s, lit)
	}
	return false
}

// order compares v with lit for gt, ge, lt and le: -1, 0 or 1, and false
// when the attribute's type has no order or a side has the wrong type.
func order(attr schema.CoreAttribute, v, lit any) (int, bool) {
	switch attr.AttributeType() {
	case "string", "reference":
		x, ok1 := v.(string)
		y, ok2 := lit.(string)
		if !ok1 || !ok2 {
			return 0, false
		}
		if !attr.CaseExact() {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		return strings.Compare(x, y), true
	case "integer", "decimal":
		return compareNumbers(v, lit)
	case "dateTime":
		x, ok1 := v.(string)
		y, ok2 := lit.(string)
		if !ok1 || !ok2 {
			return 0, false
		}
		tx, ok1 := ParseDateTime(x)
		ty, ok2 := ParseDateTime(y)
		if !ok1 || !ok2 {
			return 0, false
		}
		return tx.Compare(ty), true
	}
	return 0, false
}

func ordered(op fp.CompareOperator, c int) bool {
	switch op {
	case fp.GT:
		return c > 0
	case fp.GE:
		return c >= 0
	case fp.LT:
		return c < 0
	case fp.LE:
		return c <= 0
	}
	return false
}

// number is a numeric value, exact when it is an integer that fits in
// int64.
type number struct {
	i     int64
	f     float64
	isInt bool
}

// toNumber reads the numeric types encoding/json produces (float64,
// json.Number) and Go's integer types.
func toNumber(v any) (number, bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return number{i: i, f: float64(i), isInt: true}, true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !isRangeErr(err) {
			return number{}, false
		}
		return fromFloat(f)
	case float64:
		return fromFloat(x)
	case float32:
		return fromFloat(float64(x))
	case int:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case int8:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case int16:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case int32:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case int64:
		return number{i: x, f: float64(x), isInt: true}, true
	case uint8:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case uint16:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case uint32:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return number{i: int64(x), f: float64(x), isInt: true}, true
		}
		return number{f: float64(x)}, true
	case uint64:
		if x <= math.MaxInt64 {
			return number{i: int64(x), f: float64(x), isInt: true}, true
		}
		return number{f: float64(x)}, true
	}
	return number{}, false
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func fromFloat(f float64) (number, bool) {
	if math.IsNaN(f) {
		return number{}, false
	}
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return number{i: int64(f), f: f, isInt: true}, true
	}
	return number{f: f}, true
}

// compareNumbers compares two numeric values: -1, 0 or 1, and false when
// either is not a number.
func compareNumbers(a, b any) (int, bool) {
	x, ok1 := toNumber(a)
	y, ok2 := toNumber(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	if x.isInt && y.isInt {
		switch {
		case x.i < y.i:
			return -1, true
		case x.i > y.i:
			return 1, true
		}
		return 0, true
	}
	switch {
	case x.f < y.f:
		return -1, true
	case x.f > y.f:
		return 1, true
	}
	return 0, true
}

// ParseDateTime parses a SCIM dateTime value (RFC 7643 §2.3.5, an
// xsd:dateTime): RFC 3339 with an optional fraction of a second, or the
// same without a time zone, which is taken as UTC.
func ParseDateTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// isNil reports whether e is nil or a nil pointer of one of the AST's
// node types.
func isNil(e fp.Expression) bool {
	switch x := e.(type) {
	case nil:
		return true
	case *fp.AttributeExpression:
		return x == nil
	case *fp.LogicalExpression:
		return x == nil
	case *fp.NotExpression:
		return x == nil
	case *fp.ValuePath:
		return x == nil
	}
	return false
}
