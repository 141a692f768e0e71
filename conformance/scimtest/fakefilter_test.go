package scimtest

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The fake's filter language (RFC 7644 §3.4.2.2), also used for the value
// selection filters of PATCH paths.

type token struct {
	kind string // "(", ")", "[", "]", "str", "word"
	text string
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ':
			i++
		case strings.IndexByte("()[]", ch) >= 0:
			toks = append(toks, token{kind: string(ch)})
			i++
		case ch == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, invalid("invalidFilter", "unterminated string")
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil {
				return nil, invalid("invalidFilter", "bad string")
			}
			toks = append(toks, token{kind: "str", text: v})
			i = j + 1
		default:
			j := i
			for j < len(s) && strings.IndexByte(" ()[]\"", s[j]) < 0 {
				j++
			}
			toks = append(toks, token{kind: "word", text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

// fnode is a parsed filter; ctx is a rendered resource or, inside a value
// path, one value of a multi-valued attribute.
type fnode interface{ match(ctx any) bool }

type (
	fand  struct{ l, r fnode }
	for_  struct{ l, r fnode }
	fnot  struct{ e fnode }
	fcomp struct {
		path []string
		def  *fakeAttr
		op   string
		val  any
	}
	fvalue struct {
		attr  string
		inner fnode
	}
)

func (n fand) match(c any) bool { return n.l.match(c) && n.r.match(c) }
func (n for_) match(c any) bool { return n.l.match(c) || n.r.match(c) }
func (n fnot) match(c any) bool { return !n.e.match(c) }
func (n fvalue) match(c any) bool {
	for _, v := range list(c, n.attr) {
		if n.inner.match(v) {
			return true
		}
	}
	return false
}

// values returns the values at path in ctx, flattening multi-valued
// attributes on the way.
func values(ctx any, path []string) []any {
	cur := []any{ctx}
	for _, k := range path {
		var next []any
		for _, c := range cur {
			switch v := lookup(c, k).(type) {
			case nil:
			case []any:
				next = append(next, v...)
			default:
				next = append(next, v)
			}
		}
		cur = next
	}
	return cur
}

func (n fcomp) match(c any) bool {
	vals := values(c, n.path)
	if n.op == "pr" {
		for _, v := range vals {
			if s, ok := v.(string); !ok || s != "" {
				return true
			}
		}
		return false
	}
	if n.op == "ne" {
		return !fcomp{path: n.path, def: n.def, op: "eq", val: n.val}.match(c)
	}
	for _, v := range vals {
		if compare(n.def, v, n.op, n.val) {
			return true
		}
	}
	return false
}

func compare(def *fakeAttr, v any, op string, lit any) bool {
	switch v := v.(type) {
	case bool:
		b, ok := lit.(bool)
		return ok && op == "eq" && v == b
	case string:
		s, ok := lit.(string)
		if !ok {
			return false
		}
		if def.typ == "dateTime" {
			a, err1 := time.Parse(time.RFC3339Nano, v)
			b, err2 := time.Parse(time.RFC3339Nano, s)
			if err1 != nil || err2 != nil {
				return false
			}
			return order(a.Compare(b), op)
		}
		if !def.caseExact {
			v, s = strings.ToLower(v), strings.ToLower(s)
		}
		switch op {
		case "eq":
			return v == s
		case "co":
			return strings.Contains(v, s)
		case "sw":
			return strings.HasPrefix(v, s)
		case "ew":
			return strings.HasSuffix(v, s)
		}
		return order(strings.Compare(v, s), op)
	}
	return false
}

func order(c int, op string) bool {
	switch op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return op == "eq" && c == 0
}

// fparser parses tokens against the attributes defs allows.
type fparser struct {
	toks []token
	pos  int
	defs []*fakeAttr
	code string // scimType of parse errors
}

func (p *fparser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == "word" && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *fparser) next() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	p.pos++
	return p.toks[p.pos-1], true
}

func (p *fparser) expect(kind string) error {
	t, ok := p.next()
	if !ok || t.kind != kind {
		return invalid(p.code, "expected %s", kind)
	}
	return nil
}

func parseFilter(defs []*fakeAttr, s string) (fnode, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &fparser{toks: toks, defs: defs, code: "invalidFilter"}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, invalid("invalidFilter", "trailing input")
	}
	return n, nil
}

func (p *fparser) or() (fnode, error) {
	l, err := p.and()
	for err == nil && p.peekWord("or") {
		p.pos++
		var r fnode
		if r, err = p.and(); err == nil {
			l = for_{l, r}
		}
	}
	return l, err
}

func (p *fparser) and() (fnode, error) {
	l, err := p.unary()
	for err == nil && p.peekWord("and") {
		p.pos++
		var r fnode
		if r, err = p.unary(); err == nil {
			l = fand{l, r}
		}
	}
	return l, err
}

func (p *fparser) unary() (fnode, error) {
	negate := false
	if p.peekWord("not") {
		p.pos++
		negate = true
	}
	var n fnode
	var err error
	if p.pos < len(p.toks) && p.toks[p.pos].kind == "(" {
		p.pos++
		if n, err = p.or(); err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	} else if negate {
		return nil, invalid(p.code, "not must be followed by (")
	} else if n, err = p.attrExp(); err != nil {
		return nil, err
	}
	if negate {
		return fnot{n}, nil
	}
	return n, nil
}

// resolve splits an attribute path and finds its definition in defs.
func resolve(defs []*fakeAttr, path string, code string) ([]string, *fakeAttr, error) {
	var parts []string
	if strings.HasPrefix(strings.ToLower(path), "urn:") {
		i := strings.LastIndex(path, ":")
		parts = append([]string{path[:i]}, strings.Split(path[i+1:], ".")...)
	} else {
		parts = strings.Split(path, ".")
	}
	var d *fakeAttr
	for _, part := range parts {
		if d = find(defs, part); d == nil {
			return nil, nil, invalid(code, "unknown attribute %q", path)
		}
		defs = d.sub
	}
	return parts, d, nil
}

func (p *fparser) attrExp() (fnode, error) {
	t, ok := p.next()
	if !ok || t.kind != "word" {
		return nil, invalid(p.code, "expected an attribute")
	}
	path, def, err := resolve(p.defs, t.text, p.code)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) && p.toks[p.pos].kind == "[" {
		p.pos++
		inner := &fparser{toks: p.toks, pos: p.pos, defs: def.sub, code: p.code}
		n, err := inner.or()
		if err != nil {
			return nil, err
		}
		p.pos = inner.pos
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		return fvalue{attr: def.name, inner: n}, nil
	}
	opTok, ok := p.next()
	if !ok || opTok.kind != "word" {
		return nil, invalid(p.code, "expected an operator")
	}
	opName := strings.ToLower(opTok.text)
	if opName == "pr" {
		return fcomp{path: path, def: def, op: "pr"}, nil
	}
	if !strings.Contains(" eq ne co sw ew gt ge lt le ", " "+opName+" ") {
		return nil, invalid(p.code, "unknown operator %q", opTok.text)
	}
	vt, ok := p.next()
	if !ok || (vt.kind != "str" && vt.kind != "word") {
		return nil, invalid(p.code, "expected a value")
	}
	var val any = vt.text
	if vt.kind == "word" {
		switch strings.ToLower(vt.text) {
		case "true":
			val = true
		case "false":
			val = false
		case "null":
			val = nil
		default:
			f, err := strconv.ParseFloat(vt.text, 64)
			if err != nil {
				return nil, invalid(p.code, "bad value %q", vt.text)
			}
			val = f
		}
	}
	return fcomp{path: path, def: def, op: opName, val: val}, nil
}
