package twentyfake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses GraphQL executable documents (the October 2021
// specification): operations with variable definitions, selection sets,
// aliases and arguments with every kind of value. Fragments, directives
// and subscriptions are refused: the connector never sends them, and a
// fake that silently ignored them would pass a client that depends on them.

// typeRef is a GraphQL type reference: a named type, or a list of elem.
type typeRef struct {
	name    string
	elem    *typeRef
	nonNull bool
}

func (t typeRef) String() string {
	s := t.name
	if t.elem != nil {
		s = "[" + t.elem.String() + "]"
	}
	if t.nonNull {
		s += "!"
	}
	return s
}

// named is the innermost named type of t.
func (t typeRef) named() string {
	for t.elem != nil {
		t = *t.elem
	}
	return t.name
}

type valueKind int

const (
	vVar valueKind = iota
	vInt
	vFloat
	vString
	vBool
	vNull
	vEnum
	vList
	vObject
)

// value is a literal value, or a variable reference, in a document.
type value struct {
	kind valueKind
	s    string // the variable's name, the number, string or enum value, "true"/"false"
	list []value
	obj  []objField
}

type objField struct {
	name string
	val  value
}

type argument struct {
	name string
	val  value
}

// field is one field of a selection set.
type field struct {
	alias, name string
	args        []argument
	sel         []*field
	line, col   int
}

// key is the name of the field's entry in the response.
func (f *field) key() string {
	if f.alias != "" {
		return f.alias
	}
	return f.name
}

type varDef struct {
	name   string
	typ    typeRef
	def    *value
	line   int
	column int
}

type operation struct {
	kind string // "query" or "mutation"
	name string
	vars []varDef
	sel  []*field
}

// parseError is a syntax error, reported as GRAPHQL_PARSE_FAILED.
type parseError struct {
	msg       string
	line, col int
}

func (e *parseError) Error() string { return "Syntax Error: " + e.msg }

type tokKind int

const (
	tEOF tokKind = iota
	tPunct
	tName
	tInt
	tFloat
	tString
)

type token struct {
	kind      tokKind
	s         string
	line, col int
}

type lexer struct {
	src       string
	pos       int
	line, col int
}

func (lx *lexer) errorf(format string, args ...any) error {
	return &parseError{msg: fmt.Sprintf(format, args...), line: lx.line, col: lx.col}
}

func (lx *lexer) advance(n int) {
	for i := 0; i < n && lx.pos < len(lx.src); i++ {
		if lx.src[lx.pos] == '\n' {
			lx.line++
			lx.col = 1
		} else {
			lx.col++
		}
		lx.pos++
	}
}

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isNameChar(c byte) bool  { return isNameStart(c) || (c >= '0' && c <= '9') }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }

func (lx *lexer) next() (token, error) {
	// Ignored tokens: white space, line terminators, commas, comments and
	// a byte order mark.
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			lx.advance(1)
		case c == '#':
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' && lx.src[lx.pos] != '\r' {
				lx.advance(1)
			}
		case strings.HasPrefix(lx.src[lx.pos:], "\uFEFF"):
			lx.pos += len("\uFEFF")
		default:
			goto token
		}
	}
	return token{kind: tEOF, line: lx.line, col: lx.col}, nil
token:
	start, line, col := lx.pos, lx.line, lx.col
	c := lx.src[lx.pos]
	switch {
	case strings.HasPrefix(lx.src[lx.pos:], "..."):
		lx.advance(3)
		return token{kind: tPunct, s: "...", line: line, col: col}, nil
	case strings.ContainsRune("!$&()=:@[]{}|", rune(c)):
		lx.advance(1)
		return token{kind: tPunct, s: string(c), line: line, col: col}, nil
	case isNameStart(c):
		for lx.pos < len(lx.src) && isNameChar(lx.src[lx.pos]) {
			lx.advance(1)
		}
		return token{kind: tName, s: lx.src[start:lx.pos], line: line, col: col}, nil
	case c == '-' || isDigit(c):
		return lx.number(line, col)
	case c == '"':
		if strings.HasPrefix(lx.src[lx.pos:], `"""`) {
			return token{}, lx.errorf("block strings are not supported by this fake")
		}
		return lx.str(line, col)
	}
	r, _ := utf8.DecodeRuneInString(lx.src[lx.pos:])
	return token{}, lx.errorf("Unexpected character: %q.", r)
}

func (lx *lexer) number(line, col int) (token, error) {
	start := lx.pos
	if lx.src[lx.pos] == '-' {
		lx.advance(1)
	}
	digits := func() int {
		n := 0
		for lx.pos < len(lx.src) && isDigit(lx.src[lx.pos]) {
			lx.advance(1)
			n++
		}
		return n
	}
	intStart := lx.pos
	if digits() == 0 {
		return token{}, lx.errorf("Invalid number, expected digit.")
	}
	if lx.src[intStart] == '0' && lx.pos-intStart > 1 {
		return token{}, lx.errorf("Invalid number, unexpected digit after 0.")
	}
	kind := tInt
	if lx.pos < len(lx.src) && lx.src[lx.pos] == '.' {
		lx.advance(1)
		kind = tFloat
		if digits() == 0 {
			return token{}, lx.errorf("Invalid number, expected digit.")
		}
	}
	if lx.pos < len(lx.src) && (lx.src[lx.pos] == 'e' || lx.src[lx.pos] == 'E') {
		lx.advance(1)
		kind = tFloat
		if lx.pos < len(lx.src) && (lx.src[lx.pos] == '+' || lx.src[lx.pos] == '-') {
			lx.advance(1)
		}
		if digits() == 0 {
			return token{}, lx.errorf("Invalid number, expected digit.")
		}
	}
	if lx.pos < len(lx.src) && (isNameStart(lx.src[lx.pos]) || lx.src[lx.pos] == '.') {
		return token{}, lx.errorf("Invalid number, expected digit.")
	}
	return token{kind: kind, s: lx.src[start:lx.pos], line: line, col: col}, nil
}

func (lx *lexer) str(line, col int) (token, error) {
	lx.advance(1)
	var b strings.Builder
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == '"':
			lx.advance(1)
			return token{kind: tString, s: b.String(), line: line, col: col}, nil
		case c == '\n' || c == '\r':
			return token{}, lx.errorf("Unterminated string.")
		case c == '\\':
			if lx.pos+1 >= len(lx.src) {
				return token{}, lx.errorf("Unterminated string.")
			}
			e := lx.src[lx.pos+1]
			simple := map[byte]string{'"': `"`, '\\': `\`, '/': "/", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t"}
			if s, ok := simple[e]; ok {
				b.WriteString(s)
				lx.advance(2)
				continue
			}
			if e != 'u' || lx.pos+6 > len(lx.src) {
				return token{}, lx.errorf("Invalid character escape sequence.")
			}
			n, err := strconv.ParseUint(lx.src[lx.pos+2:lx.pos+6], 16, 32)
			if err != nil {
				return token{}, lx.errorf("Invalid Unicode escape sequence.")
			}
			b.WriteRune(rune(n))
			lx.advance(6)
		default:
			r, size := utf8.DecodeRuneInString(lx.src[lx.pos:])
			b.WriteRune(r)
			lx.pos += size
			lx.col++
		}
	}
	return token{}, lx.errorf("Unterminated string.")
}

type parser struct {
	lx  lexer
	tok token
}

// parseDocument parses src into its operations.
func parseDocument(src string) ([]*operation, error) {
	p := &parser{lx: lexer{src: src, line: 1, col: 1}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var ops []*operation
	for p.tok.kind != tEOF {
		op, err := p.operation()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, &parseError{msg: "Unexpected <EOF>.", line: p.tok.line, col: p.tok.col}
	}
	return ops, nil
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &parseError{msg: fmt.Sprintf(format, args...), line: p.tok.line, col: p.tok.col}
}

func (p *parser) describe() string {
	switch p.tok.kind {
	case tEOF:
		return "<EOF>"
	case tName:
		return fmt.Sprintf("Name %q", p.tok.s)
	case tString:
		return fmt.Sprintf("String %q", p.tok.s)
	}
	return fmt.Sprintf("%q", p.tok.s)
}

func (p *parser) is(punct string) bool { return p.tok.kind == tPunct && p.tok.s == punct }

func (p *parser) expect(punct string) error {
	if !p.is(punct) {
		return p.errorf("Expected %q, found %s.", punct, p.describe())
	}
	return p.advance()
}

func (p *parser) name() (string, error) {
	if p.tok.kind != tName {
		return "", p.errorf("Expected Name, found %s.", p.describe())
	}
	s := p.tok.s
	return s, p.advance()
}

func (p *parser) unsupported(what string) error {
	return p.errorf("%s are not supported by this fake of Twenty's API", what)
}

func (p *parser) operation() (*operation, error) {
	op := &operation{kind: "query"}
	if p.is("{") {
		sel, err := p.selectionSet()
		op.sel = sel
		return op, err
	}
	if p.tok.kind != tName {
		return nil, p.errorf("Unexpected %s.", p.describe())
	}
	switch p.tok.s {
	case "query", "mutation":
		op.kind = p.tok.s
	case "subscription":
		return nil, p.unsupported("subscriptions")
	case "fragment":
		return nil, p.unsupported("fragments")
	default:
		return nil, p.errorf("Unexpected %s.", p.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tName {
		op.name = p.tok.s
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.is("(") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		for !p.is(")") {
			d, err := p.varDef()
			if err != nil {
				return nil, err
			}
			op.vars = append(op.vars, d)
		}
		if len(op.vars) == 0 {
			return nil, p.errorf("Expected \"$\", found \")\".")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.is("@") {
		return nil, p.unsupported("directives")
	}
	sel, err := p.selectionSet()
	op.sel = sel
	return op, err
}

func (p *parser) varDef() (varDef, error) {
	d := varDef{line: p.tok.line, column: p.tok.col}
	if err := p.expect("$"); err != nil {
		return d, err
	}
	name, err := p.name()
	if err != nil {
		return d, err
	}
	d.name = name
	if err := p.expect(":"); err != nil {
		return d, err
	}
	if d.typ, err = p.typeRef(); err != nil {
		return d, err
	}
	if p.is("=") {
		if err := p.advance(); err != nil {
			return d, err
		}
		v, err := p.value(true)
		if err != nil {
			return d, err
		}
		d.def = &v
	}
	if p.is("@") {
		return d, p.unsupported("directives")
	}
	return d, nil
}

func (p *parser) typeRef() (typeRef, error) {
	var t typeRef
	if p.is("[") {
		if err := p.advance(); err != nil {
			return t, err
		}
		elem, err := p.typeRef()
		if err != nil {
			return t, err
		}
		if err := p.expect("]"); err != nil {
			return t, err
		}
		t.elem = &elem
	} else {
		name, err := p.name()
		if err != nil {
			return t, err
		}
		t.name = name
	}
	if p.is("!") {
		t.nonNull = true
		return t, p.advance()
	}
	return t, nil
}

func (p *parser) selectionSet() ([]*field, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var sel []*field
	for !p.is("}") {
		if p.is("...") {
			return nil, p.unsupported("fragments")
		}
		f, err := p.field()
		if err != nil {
			return nil, err
		}
		sel = append(sel, f)
	}
	if len(sel) == 0 {
		return nil, p.errorf("Expected Name, found \"}\".")
	}
	return sel, p.advance()
}

func (p *parser) field() (*field, error) {
	f := &field{line: p.tok.line, col: p.tok.col}
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	f.name = name
	if p.is(":") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		f.alias = name
		if f.name, err = p.name(); err != nil {
			return nil, err
		}
	}
	if p.is("(") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		for !p.is(")") {
			n, err := p.name()
			if err != nil {
				return nil, err
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			v, err := p.value(false)
			if err != nil {
				return nil, err
			}
			f.args = append(f.args, argument{name: n, val: v})
		}
		if len(f.args) == 0 {
			return nil, p.errorf("Expected Name, found \")\".")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.is("@") {
		return nil, p.unsupported("directives")
	}
	if p.is("{") {
		if f.sel, err = p.selectionSet(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// value parses a value; const forbids variables (default values).
func (p *parser) value(isConst bool) (value, error) {
	t := p.tok
	switch {
	case p.is("$"):
		if isConst {
			return value{}, p.errorf("Unexpected \"$\".")
		}
		if err := p.advance(); err != nil {
			return value{}, err
		}
		name, err := p.name()
		return value{kind: vVar, s: name}, err
	case p.is("["):
		if err := p.advance(); err != nil {
			return value{}, err
		}
		v := value{kind: vList}
		for !p.is("]") {
			item, err := p.value(isConst)
			if err != nil {
				return value{}, err
			}
			v.list = append(v.list, item)
		}
		return v, p.advance()
	case p.is("{"):
		if err := p.advance(); err != nil {
			return value{}, err
		}
		v := value{kind: vObject}
		for !p.is("}") {
			n, err := p.name()
			if err != nil {
				return value{}, err
			}
			if err := p.expect(":"); err != nil {
				return value{}, err
			}
			item, err := p.value(isConst)
			if err != nil {
				return value{}, err
			}
			v.obj = append(v.obj, objField{name: n, val: item})
		}
		return v, p.advance()
	case t.kind == tInt:
		return value{kind: vInt, s: t.s}, p.advance()
	case t.kind == tFloat:
		return value{kind: vFloat, s: t.s}, p.advance()
	case t.kind == tString:
		return value{kind: vString, s: t.s}, p.advance()
	case t.kind == tName:
		switch t.s {
		case "true", "false":
			return value{kind: vBool, s: t.s}, p.advance()
		case "null":
			return value{kind: vNull}, p.advance()
		}
		return value{kind: vEnum, s: t.s}, p.advance()
	}
	return value{}, p.errorf("Unexpected %s.", p.describe())
}

// named, req and listOf build the type references of this package's
// schema.
func named(name string) typeRef { return typeRef{name: name} }

func (t typeRef) req() typeRef {
	t.nonNull = true
	return t
}

func listOf(elem typeRef) typeRef { return typeRef{elem: &elem} }
