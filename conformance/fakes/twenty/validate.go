package twentyfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Error codes in extensions.code, as Twenty sends them:
// packages/twenty-server/src/engine/core-modules/graphql/utils/graphql-errors.util.ts
const (
	codeParseFailed      = "GRAPHQL_PARSE_FAILED"
	codeValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	codeUnauthenticated  = "UNAUTHENTICATED"
	codeForbidden        = "FORBIDDEN"
	codeBadUserInput     = "BAD_USER_INPUT"
	codeNotFound         = "NOT_FOUND"
)

// gqlError is one entry of a response's "errors".
type gqlError struct {
	Message    string         `json:"message"`
	Locations  []location     `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions"`
}

type location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (e *gqlError) Error() string { return e.Message }

func newError(code, format string, args ...any) *gqlError {
	return &gqlError{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
}

func (e *gqlError) at(line, col int) *gqlError {
	if line > 0 {
		e.Locations = []location{{Line: line, Column: col}}
	}
	return e
}

// enumLit is an enum value written in a document (not a string).
type enumLit string

// varRef is a variable used in a document, with its coerced value.
type varRef struct {
	value   any
	present bool
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// request is a validated operation, ready to run.
type request struct {
	op   *operation
	vars map[string]any // coerced; absent variables are missing
	defs map[string]varDef
}

// prepare picks the operation, checks it against the schema and coerces
// its variables. Every error it returns is a request error: nothing runs.
func prepare(ops []*operation, operationName string, raw map[string]json.RawMessage) (*request, []*gqlError) {
	var op *operation
	switch {
	case operationName != "":
		for _, o := range ops {
			if o.name == operationName {
				op = o
			}
		}
		if op == nil {
			return nil, []*gqlError{newError(codeBadUserInput, "Unknown operation named %q.", operationName)}
		}
	case len(ops) == 1:
		op = ops[0]
	default:
		return nil, []*gqlError{newError(codeBadUserInput, "Must provide operation name if query contains multiple operations.")}
	}

	r := &request{op: op, vars: map[string]any{}, defs: map[string]varDef{}}
	var errs []*gqlError
	for _, d := range op.vars {
		if _, dup := r.defs[d.name]; dup {
			errs = append(errs, newError(codeValidationFailed, "There can be only one variable named \"$%s\".", d.name).at(d.line, d.column))
			continue
		}
		r.defs[d.name] = d
		if !isInputType(d.typ.named()) {
			if _, isOutput := outputs[d.typ.named()]; isOutput {
				errs = append(errs, newError(codeValidationFailed, "Variable \"$%s\" cannot be non-input type \"%s\".", d.name, d.typ).at(d.line, d.column))
			} else {
				errs = append(errs, newError(codeValidationFailed, "Unknown type \"%s\".", d.typ.named()).at(d.line, d.column))
			}
		}
	}
	used := map[string]bool{}
	root := "Query"
	if op.kind == "mutation" {
		root = "Mutation"
	}
	errs = append(errs, r.checkSelection(root, op.sel, used)...)
	for _, d := range op.vars {
		if !used[d.name] {
			msg := fmt.Sprintf("Variable \"$%s\" is never used", d.name)
			if op.name != "" {
				msg += fmt.Sprintf(" in operation %q", op.name)
			}
			errs = append(errs, newError(codeValidationFailed, "%s.", msg).at(d.line, d.column))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	// Variable values (the "variables" of the request body).
	for _, d := range op.vars {
		rv, ok := raw[d.name]
		if !ok {
			switch {
			case d.def != nil:
				v, err := coerce(literal(*d.def, nil), d.typ, false)
				if err != nil {
					errs = append(errs, newError(codeBadUserInput, "Variable \"$%s\" has an invalid default value: %v", d.name, err))
					continue
				}
				r.vars[d.name] = v
			case d.typ.nonNull:
				errs = append(errs, newError(codeBadUserInput, "Variable \"$%s\" of required type \"%s\" was not provided.", d.name, d.typ).at(d.line, d.column))
			}
			continue
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(string(rv)))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			errs = append(errs, newError(codeBadUserInput, "Variable \"$%s\" got invalid value: %v", d.name, err))
			continue
		}
		if v == nil && d.typ.nonNull {
			errs = append(errs, newError(codeBadUserInput, "Variable \"$%s\" of non-null type \"%s\" must not be null.", d.name, d.typ).at(d.line, d.column))
			continue
		}
		cv, err := coerce(v, d.typ, true)
		if err != nil {
			errs = append(errs, newError(codeBadUserInput, "Variable \"$%s\" got invalid value %s; %v", d.name, compact(rv), err).at(d.line, d.column))
			continue
		}
		r.vars[d.name] = cv
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// checkSelection validates a selection set on the object type typeName.
func (r *request) checkSelection(typeName string, sel []*field, used map[string]bool) []*gqlError {
	var errs []*gqlError
	fields := outputs[typeName]
	seen := map[string]*field{}
	for _, f := range sel {
		if prev, ok := seen[f.key()]; ok && prev.name != f.name {
			errs = append(errs, newError(codeValidationFailed, "Fields %q conflict because %q and %q are different fields. Use different aliases on the fields to fetch both if this was intentional.", f.key(), prev.name, f.name).at(f.line, f.col))
		}
		seen[f.key()] = f
		if f.name == "__typename" {
			if len(f.args) > 0 || f.sel != nil {
				errs = append(errs, newError(codeValidationFailed, "Field \"__typename\" takes no arguments and no selection.").at(f.line, f.col))
			}
			continue
		}
		def, ok := fields[f.name]
		if !ok {
			errs = append(errs, newError(codeValidationFailed, "Cannot query field %q on type %q.", f.name, typeName).at(f.line, f.col))
			continue
		}
		given := map[string]bool{}
		for _, a := range f.args {
			if given[a.name] {
				errs = append(errs, newError(codeValidationFailed, "There can be only one argument named %q.", a.name).at(f.line, f.col))
				continue
			}
			given[a.name] = true
			at, ok := def.args[a.name]
			if !ok {
				errs = append(errs, newError(codeValidationFailed, "Unknown argument %q on field \"%s.%s\".", a.name, typeName, f.name).at(f.line, f.col))
				continue
			}
			errs = append(errs, r.checkValue(a.val, at, used, f)...)
		}
		names := make([]string, 0, len(def.args))
		for n := range def.args {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if def.args[n].nonNull && !given[n] {
				errs = append(errs, newError(codeValidationFailed, "Field %q argument %q of type %q is required, but it was not provided.", f.name, n, def.args[n].String()).at(f.line, f.col))
			}
		}
		inner := def.typ.named()
		_, isObject := outputs[inner]
		switch {
		case isObject && f.sel == nil:
			errs = append(errs, newError(codeValidationFailed, "Field %q of type %q must have a selection of subfields. Did you mean \"%s { ... }\"?", f.name, def.typ.String(), f.name).at(f.line, f.col))
		case !isObject && f.sel != nil:
			errs = append(errs, newError(codeValidationFailed, "Field %q must not have a selection since type %q has no subfields.", f.name, def.typ.String()).at(f.line, f.col))
		case isObject:
			errs = append(errs, r.checkSelection(inner, f.sel, used)...)
		}
	}
	return errs
}

// checkValue checks the variables a value uses against the type of their
// position (the rule "All Variable Usages Are Allowed"); literal values
// are checked when they are coerced.
func (r *request) checkValue(v value, t typeRef, used map[string]bool, f *field) []*gqlError {
	switch v.kind {
	case vVar:
		used[v.s] = true
		d, ok := r.defs[v.s]
		if !ok {
			return []*gqlError{newError(codeValidationFailed, "Variable \"$%s\" is not defined.", v.s).at(f.line, f.col)}
		}
		vt := d.typ
		if t.nonNull && !vt.nonNull && d.def != nil && d.def.kind != vNull {
			vt.nonNull = true
		}
		if !subtype(vt, t) {
			return []*gqlError{newError(codeValidationFailed, "Variable \"$%s\" of type %q used in position expecting type %q.", v.s, d.typ.String(), t.String()).at(f.line, f.col)}
		}
	case vList:
		item := t
		if t.elem != nil {
			item = *t.elem
		}
		var errs []*gqlError
		for _, x := range v.list {
			errs = append(errs, r.checkValue(x, item, used, f)...)
		}
		return errs
	case vObject:
		fields := inputs[t.named()]
		var errs []*gqlError
		for _, of := range v.obj {
			if ft, ok := fields[of.name]; ok {
				errs = append(errs, r.checkValue(of.val, ft, used, f)...)
			} else if of.val.kind == vVar {
				used[of.val.s] = true
			}
		}
		return errs
	}
	return nil
}

// subtype reports whether a variable of type v may be used where l is
// expected.
func subtype(v, l typeRef) bool {
	if l.nonNull {
		if !v.nonNull {
			return false
		}
		v.nonNull, l.nonNull = false, false
		return subtype(v, l)
	}
	if v.nonNull {
		v.nonNull = false
		return subtype(v, l)
	}
	if l.elem != nil {
		return v.elem != nil && subtype(*v.elem, *l.elem)
	}
	return v.elem == nil && v.name == l.name
}

// literal turns a document value into a Go value for coerce, with the
// values of vars substituted (vars nil: no variables allowed).
func literal(v value, vars map[string]any) any {
	switch v.kind {
	case vVar:
		x, ok := vars[v.s]
		return varRef{value: x, present: ok}
	case vInt, vFloat:
		return json.Number(v.s)
	case vString:
		return v.s
	case vBool:
		return v.s == "true"
	case vNull:
		return nil
	case vEnum:
		return enumLit(v.s)
	case vList:
		out := make([]any, len(v.list))
		for i, x := range v.list {
			out[i] = literal(x, vars)
		}
		return out
	case vObject:
		out := map[string]any{}
		for _, f := range v.obj {
			out[f.name] = literal(f.val, vars)
		}
		return out
	}
	return nil
}

// absent marks an input field or argument given a variable that was not
// provided: it is left out, as if it had not been written.
type absentValue struct{}

// coerce converts a value (decoded JSON when fromVar, a literal otherwise)
// to type t, following the specification's input coercion rules.
func coerce(v any, t typeRef, fromVar bool) (any, error) {
	if ref, ok := v.(varRef); ok {
		if !ref.present {
			return absentValue{}, nil
		}
		return ref.value, nil // already coerced to the variable's type
	}
	if v == nil {
		if t.nonNull {
			return nil, fmt.Errorf("expected non-nullable type %q not to be null", t.String())
		}
		return nil, nil
	}
	if t.elem != nil {
		items, ok := v.([]any)
		if !ok {
			x, err := coerce(v, *t.elem, fromVar)
			if err != nil {
				return nil, err
			}
			return []any{x}, nil
		}
		out := make([]any, 0, len(items))
		for i, item := range items {
			x, err := coerce(item, *t.elem, fromVar)
			if err != nil {
				return nil, fmt.Errorf("at index %d: %w", i, err)
			}
			if _, absent := x.(absentValue); absent {
				x = nil
			}
			out = append(out, x)
		}
		return out, nil
	}
	name := t.name
	if values, ok := enums[name]; ok {
		var s string
		switch x := v.(type) {
		case enumLit:
			s = string(x)
		case string:
			if !fromVar {
				return nil, fmt.Errorf("enum %q cannot represent non-enum value: %q", name, x)
			}
			s = x
		default:
			return nil, fmt.Errorf("enum %q cannot represent value: %v", name, v)
		}
		for _, e := range values {
			if e == s {
				return s, nil
			}
		}
		return nil, fmt.Errorf("value %q does not exist in %q enum", s, name)
	}
	if fields, ok := inputs[name]; ok {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected type %q to be an object", name)
		}
		out := map[string]any{}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return nil, fmt.Errorf("field %q is not defined by type %q", k, name)
			}
			x, err := coerce(obj[k], ft, fromVar)
			if err != nil {
				return nil, fmt.Errorf("in field %q: %w", k, err)
			}
			if _, absent := x.(absentValue); !absent {
				out[k] = x
			}
		}
		return out, nil
	}
	switch name {
	case "String", "DateTime":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("%s cannot represent a non string value: %v", name, v)
	case "ID":
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			if _, err := x.Int64(); err == nil {
				return x.String(), nil
			}
		}
		return nil, fmt.Errorf("ID cannot represent value: %v", v)
	case "UUID":
		s, ok := v.(string)
		if !ok || !uuidPattern.MatchString(s) {
			return nil, fmt.Errorf("invalid UUID: %v", v)
		}
		return strings.ToLower(s), nil
	case "Int":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("Int cannot represent non-integer value: %v", v)
		}
		i, err := n.Int64()
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			return nil, fmt.Errorf("Int cannot represent non-integer or 32-bit overflowing value: %s", n)
		}
		return i, nil
	case "Float":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("Float cannot represent non numeric value: %v", v)
		}
		f, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("Float cannot represent value: %s", n)
		}
		return f, nil
	case "Boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("Boolean cannot represent a non boolean value: %v", v)
	case "RawJSONScalar":
		return plain(v), nil
	}
	return nil, fmt.Errorf("unknown type %q", name)
}

// plain turns literal wrappers into ordinary JSON values.
func plain(v any) any {
	switch x := v.(type) {
	case enumLit:
		return string(x)
	case varRef:
		return x.value
	case json.Number:
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = plain(x[i])
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	}
	return v
}

// args coerces a field's arguments; absent ones are left out.
func (r *request) args(f *field, def fieldDef) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range f.args {
		v, err := coerce(literal(a.val, r.vars), def.args[a.name], false)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w", a.name, err)
		}
		if _, absent := v.(absentValue); absent {
			if def.args[a.name].nonNull {
				return nil, fmt.Errorf("argument %q of type %q is required, but its variable was not provided", a.name, def.args[a.name].String())
			}
			continue
		}
		out[a.name] = v
	}
	return out, nil
}
