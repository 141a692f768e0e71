package scimtest

import (
	"strings"
)

// fresh marks values a PATCH operation just wrote, so that a primary they
// carry wins over the others (RFC 7644 §3.5.2).
const fresh = "\x00fresh"

// patchPath is a parsed PATCH path: attr, attr.sub, attr[filter] or
// attr[filter].sub (RFC 7644 §3.5.2).
type patchPath struct {
	attr   *fakeAttr
	filter fnode
	sub    *fakeAttr
}

func parsePatchPath(defs []*fakeAttr, path string) (patchPath, error) {
	bad := func() (patchPath, error) { return patchPath{}, invalid("invalidPath", "bad path %q", path) }
	toks, err := tokenize(path)
	if err != nil || len(toks) == 0 || toks[0].kind != "word" {
		return bad()
	}
	head, subName := toks[0].text, ""
	if strings.HasPrefix(strings.ToLower(head), "urn:") {
		i := strings.LastIndex(head, ":")
		head, subName = head[:i], head[i+1:]
		if find(defs, head) == nil {
			head, subName = toks[0].text, ""
		}
	} else if before, after, ok := strings.Cut(head, "."); ok {
		head, subName = before, after
	}
	var pp patchPath
	if pp.attr = find(defs, head); pp.attr == nil {
		return bad()
	}
	rest := toks[1:]
	if len(rest) > 0 && rest[0].kind == "[" {
		if !pp.attr.multi || subName != "" {
			return bad()
		}
		p := &fparser{toks: rest, pos: 1, defs: pp.attr.sub, code: "invalidPath"}
		if pp.filter, err = p.or(); err != nil {
			return bad()
		}
		if err := p.expect("]"); err != nil {
			return bad()
		}
		rest = rest[p.pos:]
		if len(rest) > 0 && rest[0].kind == "word" && strings.HasPrefix(rest[0].text, ".") {
			subName = rest[0].text[1:]
			rest = rest[1:]
		}
	}
	if len(rest) > 0 {
		return bad()
	}
	if subName != "" {
		if pp.sub = find(pp.attr.sub, subName); pp.sub == nil {
			return bad()
		}
	}
	return pp, nil
}

// applyPatch applies a PatchOp body to a copy of res's attributes and
// returns the result; nothing is applied if any operation fails.
func (f *fakeSCIM) applyPatch(t *fakeType, res *fakeRes, body obj) (obj, error) {
	ops := list(body, "Operations")
	if !hasSchema(body, urnPatch) || len(ops) == 0 {
		return nil, invalid("invalidSyntax", "expected a PatchOp with Operations")
	}
	defs := f.defs(t)
	work := deepCopy(res.attrs).(obj)
	for _, o := range ops {
		before := deepCopy(work).(obj)
		if err := f.patchOp(defs, work, o); err != nil {
			if f.quirks.nonAtomicPatch {
				f.commit(res, before)
			}
			return nil, err
		}
		f.settlePrimary(work)
	}
	if err := f.check(t, work, res); err != nil {
		return nil, err
	}
	return work, nil
}

func (f *fakeSCIM) patchOp(defs []*fakeAttr, work obj, o any) error {
	kind := strings.ToLower(str(o, "op"))
	if kind != "add" && kind != "replace" && kind != "remove" {
		return invalid("invalidSyntax", "unknown op %q", str(o, "op"))
	}
	value := lookup(o, "value")
	path := str(o, "path")
	if path == "" {
		if kind == "remove" {
			return invalid("noTarget", "remove needs a path")
		}
		m, ok := value.(obj)
		if !ok {
			return invalid("invalidValue", "value must be an object when there is no path")
		}
		for k, v := range m {
			d := find(defs, k)
			if d == nil || d.mutability == "readOnly" {
				continue
			}
			nv, err := normalizeValue(d, v)
			if err != nil {
				return err
			}
			set(kind, d, work, nv)
		}
		return nil
	}
	pp, err := parsePatchPath(defs, path)
	if err != nil {
		return err
	}
	if pp.attr.mutability == "readOnly" || (pp.sub != nil && pp.sub.mutability == "readOnly") {
		return invalid("mutability", "%s is readOnly", path)
	}
	switch {
	case pp.filter == nil && pp.sub == nil:
		if kind == "remove" {
			delete(work, pp.attr.name)
			return nil
		}
		nv, err := normalizeValue(pp.attr, value)
		if err != nil {
			return err
		}
		set(kind, pp.attr, work, nv)
	case pp.filter == nil:
		if pp.attr.multi {
			return invalid("invalidPath", "%s needs a value filter", path)
		}
		m, _ := work[pp.attr.name].(obj)
		if kind == "remove" {
			delete(m, pp.sub.name)
			return nil
		}
		nv, err := normalizeValue(pp.sub, value)
		if err != nil {
			return err
		}
		if m == nil {
			m = obj{}
			work[pp.attr.name] = m
		}
		m[pp.sub.name] = nv
	default:
		elems := list(work, pp.attr.name)
		var hit []int
		for i, e := range elems {
			if pp.filter.match(e) {
				hit = append(hit, i)
			}
		}
		if len(hit) == 0 {
			if kind == "remove" {
				return nil
			}
			return invalid("noTarget", "%s matches nothing", path)
		}
		var nv any
		if kind != "remove" {
			d := pp.sub
			if d == nil {
				d = &fakeAttr{name: pp.attr.name, typ: "complex", sub: pp.attr.sub}
			}
			if nv, err = normalizeValue(d, value); err != nil {
				return err
			}
		}
		var kept []any
		for i, e := range elems {
			m := e.(obj)
			if !containsInt(hit, i) {
				kept = append(kept, m)
				continue
			}
			switch {
			case kind == "remove" && pp.sub == nil:
				continue
			case kind == "remove":
				delete(m, pp.sub.name)
			case pp.sub == nil:
				m = deepCopy(nv).(obj)
				m[fresh] = true
			default:
				m[pp.sub.name] = nv
				m[fresh] = true
			}
			kept = append(kept, m)
		}
		work[pp.attr.name] = kept
	}
	return nil
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// set adds or replaces attribute d of work with the normalized value nv.
func set(kind string, d *fakeAttr, work obj, nv any) {
	switch {
	case d.multi:
		l := nv.([]any)
		for _, e := range l {
			if m, ok := e.(obj); ok {
				m[fresh] = true
			}
		}
		if kind == "add" {
			l = append(list(work, d.name), l...)
		}
		work[d.name] = l
	case d.typ == "complex":
		m, _ := work[d.name].(obj)
		if m == nil {
			m = obj{}
		}
		for k, v := range nv.(obj) {
			m[k] = v
		}
		work[d.name] = m
	default:
		work[d.name] = nv
	}
}

// settlePrimary keeps at most one primary value per multi-valued
// attribute, preferring one just written, and drops the fresh marks.
func (f *fakeSCIM) settlePrimary(work obj) {
	for _, v := range work {
		l, ok := v.([]any)
		if !ok {
			continue
		}
		newPrimary := false
		for _, e := range l {
			if m, ok := e.(obj); ok && m[fresh] == true && m["primary"] == true {
				newPrimary = true
			}
		}
		for _, e := range l {
			m, ok := e.(obj)
			if !ok {
				continue
			}
			if newPrimary && m[fresh] != true && m["primary"] == true && !f.quirks.keepOtherPrimary {
				m["primary"] = false
			}
			delete(m, fresh)
		}
	}
}
