package patch

import (
	"strings"

	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/filter"
)

// change is what an operation did to a top-level attribute, before the
// checks that decide whether it stands.
type change struct {
	// after is the attribute's new value, not yet cleaned of members
	// that are not present.
	after any
	// touched marks, for a multi-valued attribute, the elements of after
	// that the operation added or modified.
	touched []bool
	// perElement says that elements kept their positions, so element i
	// of after is element i of the value before (or new, past its end),
	// and sub-attribute mutability can be judged element by element.
	perElement bool
}

// applyTarget applies one operation to one resolved path.
func (p *patcher) applyTarget(kind string, t target, value any) *Error {
	if t.ext != "" {
		return p.applyExtension(kind, t.ext, value)
	}
	a := t.attr
	if a.Extension == "" && strings.EqualFold(a.Attr.Name(), "schemas") {
		// The server keeps schemas in step with the extensions present;
		// a client cannot set it, whatever the schema says.
		a.Attr = a.Attr.WithMutability(schema.AttributeMutabilityReadOnly())
		t.attr = a
	}
	cont := p.container(a.Extension, kind != "remove")
	if cont == nil {
		return nil // removing from an extension the resource lacks
	}
	before, _ := filter.Lookup(cont, a.Attr.Name())
	snapshot := deepCopy(before)

	var (
		c   change
		err *Error
	)
	switch {
	case t.filter != nil:
		c, err = p.filtered(kind, t, before, value)
	case a.HasSub && a.Attr.MultiValued():
		c, err = everyElement(kind, t, before, value)
	case a.HasSub:
		c.after, err = subOfSingle(kind, t, before, value)
	case a.Attr.MultiValued():
		c, err = multi(kind, t, before, value)
	case a.Attr.AttributeType() == "complex":
		c.after, err = complexSingle(kind, t, before, value)
	default:
		c.after, err = simple(kind, t, before, value)
	}
	if err != nil {
		return err
	}
	if err := fixPrimary(t, c); err != nil {
		return err
	}
	if err := checkMutability(t, snapshot, &c); err != nil {
		return err
	}
	after := clean(a.Attr, c.after)
	if a.Attr.Required() && filter.Present(snapshot) && !filter.Present(after) {
		return fail(InvalidValue, "%q is required and cannot be removed", a.Attr.Name())
	}
	store(cont, a.Attr, after)
	return nil
}

// simple handles a single-valued attribute that is not complex.
func simple(kind string, t target, before, value any) (any, *Error) {
	switch {
	case kind == "remove":
		return nil, nil
	case value == nil:
		if kind == "add" {
			return before, nil
		}
		return nil, nil
	}
	return canonSingle(t.attr.Attr, value, t.path)
}

// complexSingle handles a single-valued complex attribute (name): the
// sub-attributes given replace those there, null removes one.
func complexSingle(kind string, t target, before, value any) (any, *Error) {
	switch {
	case kind == "remove":
		return nil, nil
	case value == nil:
		if kind == "add" {
			return before, nil
		}
		return nil, nil
	case kind == "replace" && isEmptyObject(value):
		return nil, nil
	}
	v, err := canonSingle(t.attr.Attr, value, t.path)
	if err != nil {
		return nil, err
	}
	m := asObject(before)
	merge(m, v.(map[string]any))
	return m, nil
}

// subOfSingle handles a sub-attribute of a single-valued complex
// attribute (name.givenName).
func subOfSingle(kind string, t target, before, value any) (any, *Error) {
	m := asObject(before)
	sub := t.attr.Sub
	if kind == "remove" || (value == nil && kind == "replace") {
		deleteKey(m, sub.Name())
		return m, nil
	}
	if value == nil {
		return before, nil
	}
	v, err := setSub(kind, sub, m, value, t.path)
	if err != nil {
		return nil, err
	}
	m[sub.Name()] = v
	return m, nil
}

// setSub computes the new value of the sub-attribute sub of element m:
// the value, or for "add" to a multi-valued sub-attribute, the old values
// and the new ones.
func setSub(kind string, sub schema.CoreAttribute, m map[string]any, value any, path string) (any, *Error) {
	v, err := canon(sub, value, path)
	if err != nil {
		return nil, err
	}
	old, _ := filter.Lookup(m, sub.Name())
	deleteKey(m, sub.Name())
	if kind == "add" && sub.MultiValued() {
		list := elements(old)
		for _, nv := range elements(v) {
			if !containsEqual(sub, list, nv) {
				list = append(list, nv)
			}
		}
		return list, nil
	}
	return v, nil
}

// multi handles a multi-valued attribute without a value filter.
func multi(kind string, t target, before, value any) (change, *Error) {
	attr := t.attr.Attr
	cur := elements(before)
	switch kind {
	case "remove":
		if value == nil {
			return change{}, nil
		}
		items, err := canonList(attr, value, t.path)
		if err != nil {
			return change{}, err
		}
		kept := make([]any, 0, len(cur))
		for _, el := range cur {
			if !matchesAny(attr, el, items) {
				kept = append(kept, el)
			}
		}
		return change{after: kept}, nil
	case "replace":
		if value == nil {
			return change{}, nil
		}
		items, err := canonList(attr, value, t.path)
		if err != nil {
			return change{}, err
		}
		touched := make([]bool, len(items))
		for i := range touched {
			touched[i] = true
		}
		return change{after: items, touched: touched}, nil
	}
	if value == nil {
		return change{after: before}, nil
	}
	items, err := canonList(attr, value, t.path)
	if err != nil {
		return change{}, err
	}
	touched := make([]bool, len(cur))
	for _, item := range items {
		if i := sameElement(attr, cur, item); i >= 0 {
			if m, ok := cur[i].(map[string]any); ok {
				merge(m, item.(map[string]any))
			}
			touched[i] = true
			continue
		}
		cur = append(cur, item)
		touched = append(touched, true)
	}
	return change{after: cur, touched: touched, perElement: false}, nil
}

// everyElement handles a sub-attribute of a multi-valued attribute
// without a value filter (emails.type): it applies to every element.
func everyElement(kind string, t target, before, value any) (change, *Error) {
	sub := t.attr.Sub
	cur := elements(before)
	touched := make([]bool, len(cur))
	if kind == "remove" || (value == nil && kind == "replace") {
		for _, el := range cur {
			if m, ok := el.(map[string]any); ok {
				deleteKey(m, sub.Name())
			}
		}
		return change{after: cur, touched: touched, perElement: true}, nil
	}
	if value == nil {
		return change{after: before}, nil
	}
	if len(cur) == 0 {
		v, err := canon(sub, value, t.path)
		if err != nil {
			return change{}, err
		}
		return change{after: []any{map[string]any{sub.Name(): v}}, touched: []bool{true}, perElement: true}, nil
	}
	for i, el := range cur {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		v, err := setSub(kind, sub, m, value, t.path)
		if err != nil {
			return change{}, err
		}
		m[sub.Name()] = v
		touched[i] = true
	}
	return change{after: cur, touched: touched, perElement: true}, nil
}

// filtered handles a path with a value filter, with or without a
// sub-attribute after it.
func (p *patcher) filtered(kind string, t target, before, value any) (change, *Error) {
	attr := t.attr.Attr
	cur := elements(before)
	var matched []int
	for i, el := range cur {
		if m, ok := el.(map[string]any); ok && p.sc.MatchElement(t.filter, attr, m) {
			matched = append(matched, i)
		}
	}
	touched := make([]bool, len(cur))

	// Removing whole elements: positions shift.
	if !t.attr.HasSub && (kind == "remove" || (kind == "replace" && len(matched) > 0 && (value == nil || isEmptyObject(value)))) {
		kept := make([]any, 0, len(cur))
		mi := 0
		for i, el := range cur {
			if mi < len(matched) && matched[mi] == i {
				mi++
				continue
			}
			kept = append(kept, el)
		}
		return change{after: kept}, nil
	}
	if kind == "replace" && len(matched) == 0 {
		return change{}, fail(NoTarget, "no value of %q matches the filter", attr.Name())
	}
	if kind == "remove" || (kind == "replace" && value == nil) {
		// A sub-attribute of the matching elements goes.
		for _, i := range matched {
			deleteKey(cur[i].(map[string]any), t.attr.Sub.Name())
		}
		return change{after: cur, touched: touched, perElement: true}, nil
	}
	if value == nil {
		return change{after: before}, nil
	}

	// add or replace: the value goes into each matching element, or,
	// for add, into a new element the filter describes.
	var item map[string]any
	if t.attr.HasSub {
		// Checked here so a type error is reported even with no match.
		if _, err := canon(t.attr.Sub, value, t.path); err != nil {
			return change{}, err
		}
	} else {
		v, err := canonSingle(attr, value, t.path)
		if err != nil {
			return change{}, err
		}
		item = v.(map[string]any)
	}
	if len(matched) == 0 {
		el, ok := eqChain(t.filter, attr)
		if !ok {
			return change{}, fail(NoTarget, "no value of %q matches the filter, and the filter does not describe a new one (only eq comparisons joined by and do)", attr.Name())
		}
		cur = append(cur, el)
		touched = append(touched, false)
		matched = []int{len(cur) - 1}
	}
	for _, i := range matched {
		m := cur[i].(map[string]any)
		if t.attr.HasSub {
			v, err := setSub(kind, t.attr.Sub, m, value, t.path)
			if err != nil {
				return change{}, err
			}
			m[t.attr.Sub.Name()] = v
		} else {
			merge(m, deepCopy(item).(map[string]any))
		}
		touched[i] = true
	}
	return change{after: cur, touched: touched, perElement: true}, nil
}

// eqChain builds the element a value filter describes when it is a chain
// of eq comparisons joined by and: emails[type eq "work"] describes
// {"type": "work"}.
func eqChain(expr fp.Expression, attr schema.CoreAttribute) (map[string]any, bool) {
	el := map[string]any{}
	var walk func(e fp.Expression) bool
	walk = func(e fp.Expression) bool {
		switch x := e.(type) {
		case *fp.LogicalExpression:
			return x != nil && x.Operator == fp.AND && walk(x.Left) && walk(x.Right)
		case *fp.AttributeExpression:
			if x == nil || x.Operator != fp.EQ || x.CompareValue == nil || x.AttributePath.URIPrefix != nil {
				return false
			}
			name := x.AttributePath.AttributeName
			if x.AttributePath.SubAttribute != nil {
				name = *x.AttributePath.SubAttribute
			}
			sub, ok := filter.SubAttribute(attr, name)
			if !ok || sub.MultiValued() {
				return false
			}
			v, err := canonSingle(sub, x.CompareValue, sub.Name())
			if err != nil {
				return false
			}
			if old, dup := el[sub.Name()]; dup && !filter.Equal(sub, old, v) {
				return false
			}
			el[sub.Name()] = v
			return true
		}
		return false
	}
	return el, walk(expr)
}

// sameElement returns the index of the element of cur that item stands
// for when added, or -1. For a complex attribute with a "value"
// sub-attribute that is the element with an equal value (and an equal
// type, when both have one); otherwise an element equal as a whole.
func sameElement(attr schema.CoreAttribute, cur []any, item any) int {
	vs, hasValue := filter.SubAttribute(attr, "value")
	im, isMap := item.(map[string]any)
	if !hasValue || !isMap || !filter.Present(im[vs.Name()]) {
		for i, el := range cur {
			if filter.Equal(attr, el, item) {
				return i
			}
		}
		return -1
	}
	ts, hasType := filter.SubAttribute(attr, "type")
	for i, el := range cur {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		ev, _ := filter.Lookup(m, vs.Name())
		if !filter.Equal(vs, ev, im[vs.Name()]) {
			continue
		}
		if hasType {
			et, _ := filter.Lookup(m, ts.Name())
			it := im[ts.Name()]
			if filter.Present(et) && filter.Present(it) && !filter.Equal(ts, et, it) {
				continue
			}
		}
		return i
	}
	return -1
}

// matchesAny reports whether el is one of the values a "remove" lists:
// for a complex attribute, an element whose sub-attributes equal every
// sub-attribute a listed value gives.
func matchesAny(attr schema.CoreAttribute, el any, items []any) bool {
	for _, item := range items {
		im, isMap := item.(map[string]any)
		em, elIsMap := el.(map[string]any)
		if !isMap || !elIsMap {
			if filter.Equal(attr, el, item) {
				return true
			}
			continue
		}
		if !filter.Present(im) {
			continue
		}
		all := true
		for k, iv := range im {
			if !filter.Present(iv) {
				continue
			}
			sub, _ := filter.SubAttribute(attr, k)
			ev, _ := filter.Lookup(em, k)
			if sub.MultiValued() {
				if !equalValue(sub, ev, iv) {
					all = false
				}
			} else if !filter.Equal(sub, ev, iv) {
				all = false
			}
			if !all {
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// fixPrimary keeps at most one element with primary true: the one the
// operation set (RFC 7643 §2.4).
func fixPrimary(t target, c change) *Error {
	attr := t.attr.Attr
	ps, ok := filter.SubAttribute(attr, "primary")
	if !ok || !attr.MultiValued() || ps.AttributeType() != "boolean" {
		return nil
	}
	list, _ := c.after.([]any)
	chosen := -1
	for i, el := range list {
		if i >= len(c.touched) || !c.touched[i] || !isPrimary(el, ps) {
			continue
		}
		if chosen >= 0 {
			return fail(InvalidValue, "more than one value of %q has primary true", attr.Name())
		}
		chosen = i
	}
	if chosen < 0 {
		return nil
	}
	for i, el := range list {
		if i != chosen && isPrimary(el, ps) {
			m := el.(map[string]any)
			deleteKey(m, ps.Name())
			m[ps.Name()] = false
		}
	}
	return nil
}

func isPrimary(el any, ps schema.CoreAttribute) bool {
	m, ok := el.(map[string]any)
	if !ok {
		return false
	}
	v, _ := filter.Lookup(m, ps.Name())
	b, _ := v.(bool)
	return b
}

// checkMutability judges an operation by its effect (RFC 7643 §2.2): a
// readOnly attribute may not change, an immutable one may only be given a
// value when it has none. Where the operation left such an attribute
// equal by the schema's rules but spelled differently (another case, the
// same instant in another zone), the old spelling is put back in c.after.
func checkMutability(t target, before any, c *change) *Error {
	attr := t.attr.Attr
	after, err := checkMut(attr, attr.Name(), before, c.after)
	if err != nil {
		return err
	}
	c.after = after
	if attr.AttributeType() != "complex" {
		return nil
	}
	if !attr.MultiValued() {
		if !filter.Present(c.after) {
			return nil // the attribute went as a whole
		}
		return checkSubs(attr, asMap(before), asMap(c.after))
	}
	if !c.perElement {
		return nil
	}
	bl, al := elements(before), elements(c.after)
	for i, el := range al {
		var b any
		if i < len(bl) {
			b = bl[i]
		}
		if m := asMap(el); m != nil {
			if err := checkSubs(attr, asMap(b), m); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSubs applies checkMut to each sub-attribute of an object, putting
// back old spellings in after.
func checkSubs(attr schema.CoreAttribute, before, after map[string]any) *Error {
	for _, sub := range attr.SubAttributes() {
		bv, _ := filter.Lookup(before, sub.Name())
		av, _ := filter.Lookup(after, sub.Name())
		nv, err := checkMut(sub, attr.Name()+"."+sub.Name(), bv, av)
		if err != nil {
			return err
		}
		if keepsSpelling(sub) {
			deleteKey(after, sub.Name())
			if nv != nil {
				after[sub.Name()] = nv
			}
		}
	}
	return nil
}

// checkMut judges the change of one attribute from before to after and
// returns the value to store: after, or before when the attribute is
// readOnly or immutable and after equals it.
func checkMut(attr schema.CoreAttribute, name string, before, after any) (any, *Error) {
	if equalValue(attr, before, after) {
		if keepsSpelling(attr) {
			return before, nil
		}
		return after, nil
	}
	switch attr.Mutability() {
	case "readOnly":
		return nil, fail(Mutability, "%q is readOnly", name)
	case "immutable":
		if filter.Present(before) {
			return nil, fail(Mutability, "%q is immutable and already has a value", name)
		}
	}
	return after, nil
}

// keepsSpelling reports whether a value of attr that is equal to the old
// one must not replace it.
func keepsSpelling(attr schema.CoreAttribute) bool {
	m := attr.Mutability()
	return m == "readOnly" || m == "immutable"
}

// equalValue compares two values of attr, as multisets when it is
// multi-valued.
func equalValue(attr schema.CoreAttribute, a, b any) bool {
	if !attr.MultiValued() {
		return filter.Equal(attr, a, b)
	}
	x, y := presentOnly(elements(a)), presentOnly(elements(b))
	if len(x) != len(y) {
		return false
	}
	used := make([]bool, len(y))
next:
	for _, v := range x {
		for j, w := range y {
			if !used[j] && filter.Equal(attr, v, w) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

func containsEqual(attr schema.CoreAttribute, list []any, v any) bool {
	for _, el := range list {
		if filter.Equal(attr, el, v) {
			return true
		}
	}
	return false
}

func presentOnly(vs []any) []any {
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		if filter.Present(v) {
			out = append(out, v)
		}
	}
	return out
}

// clean drops what is not present from a value about to be stored:
// null or empty sub-attributes, and empty elements.
func clean(attr schema.CoreAttribute, v any) any {
	if attr.MultiValued() {
		list := elements(v)
		out := make([]any, 0, len(list))
		for _, el := range list {
			if attr.AttributeType() == "complex" {
				el = cleanObject(el)
			}
			if filter.Present(el) {
				out = append(out, el)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	if attr.AttributeType() == "complex" {
		return cleanObject(v)
	}
	return v
}

func cleanObject(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, sv := range m {
		if !filter.Present(sv) {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// merge copies the members of src into dst, replacing any spelling of
// the same name; a null member removes it.
func merge(dst, src map[string]any) {
	for k, v := range src {
		deleteKey(dst, k)
		if v != nil {
			dst[k] = v
		}
	}
}

// asObject returns v if it is an object, or a new empty one.
func asObject(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// asMap returns v if it is an object, else nil (which reads as empty).
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func isEmptyObject(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}
