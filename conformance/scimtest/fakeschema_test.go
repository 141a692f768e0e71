package scimtest

import (
	"fmt"
	"strings"
)

// This file and the other fake*_test.go files hold fakeSCIM, an in-memory
// service provider that follows the RFCs closely enough for the whole
// suite to pass against it. Its quirks switch on one deliberate deviation
// each, so the tests can show that the corresponding checks fail.

// fakeAttr is an attribute definition (RFC 7643 §7) the fake validates,
// filters and advertises by.
type fakeAttr struct {
	name       string
	typ        string // string, boolean, complex, dateTime, reference
	multi      bool
	caseExact  bool
	mutability string
	returned   string
	uniqueness string
	required   bool
	sub        []*fakeAttr
}

type attrOpt func(*fakeAttr)

func multi(a *fakeAttr)    { a.multi = true }
func exact(a *fakeAttr)    { a.caseExact = true }
func readOnly(a *fakeAttr) { a.mutability = "readOnly" }
func never(a *fakeAttr)    { a.returned = "never"; a.mutability = "writeOnly" }
func always(a *fakeAttr)   { a.returned = "always" }
func unique(a *fakeAttr)   { a.uniqueness = "server" }
func required(a *fakeAttr) { a.required = true }
func subs(s ...*fakeAttr) attrOpt {
	return func(a *fakeAttr) { a.typ = "complex"; a.sub = s }
}

func attr(name string, opts ...attrOpt) *fakeAttr {
	a := &fakeAttr{name: name, typ: "string", mutability: "readWrite", returned: "default", uniqueness: "none"}
	for _, o := range opts {
		o(a)
	}
	return a
}

func typed(typ string) attrOpt { return func(a *fakeAttr) { a.typ = typ } }

// definition renders a as RFC 7643 §7 attribute JSON.
func (a *fakeAttr) definition() obj {
	d := obj{
		"name": a.name, "type": a.typ, "multiValued": a.multi, "required": a.required,
		"caseExact": a.caseExact, "mutability": a.mutability, "returned": a.returned,
		"uniqueness": a.uniqueness, "description": a.name,
	}
	if len(a.sub) > 0 {
		l := make([]any, len(a.sub))
		for i, s := range a.sub {
			l[i] = s.definition()
		}
		d["subAttributes"] = l
	}
	return d
}

// find returns the definition named name (case-insensitively) in defs.
func find(defs []*fakeAttr, name string) *fakeAttr {
	for _, d := range defs {
		if strings.EqualFold(d.name, name) {
			return d
		}
	}
	return nil
}

var (
	userAttrs = []*fakeAttr{
		attr("userName", required, unique),
		attr("name", subs(attr("formatted"), attr("familyName"), attr("givenName"), attr("middleName"))),
		attr("displayName"), attr("nickName"), attr("title"), attr("userType"),
		attr("active", typed("boolean")),
		attr("password", never),
		attr("emails", multi, subs(attr("value"), attr("display"), attr("type"), attr("primary", typed("boolean")))),
	}
	enterpriseAttrs = []*fakeAttr{
		attr("employeeNumber"), attr("costCenter"), attr("organization"), attr("division"), attr("department"),
		attr("manager", subs(attr("value", exact), attr("$ref", typed("reference")), attr("displayName", readOnly))),
	}
	groupAttrs = []*fakeAttr{
		attr("displayName", required, unique),
		attr("members", multi, subs(attr("value", exact), attr("$ref", typed("reference")),
			attr("display", readOnly), attr("type"))),
	}
	// commonAttrs are those of every resource (RFC 7643 §3.1).
	commonAttrs = []*fakeAttr{
		attr("id", exact, readOnly, always),
		attr("externalId", exact),
		attr("meta", readOnly, subs(attr("resourceType"), attr("created", typed("dateTime")),
			attr("lastModified", typed("dateTime")), attr("location", typed("reference")), attr("version", exact))),
	}
)

// fakeType is a resource type the fake serves.
type fakeType struct {
	name, endpoint, schema string
	attrs                  []*fakeAttr
	// ext is the extension schema's attributes, kept under the
	// extension URN like a complex attribute.
	ext []*fakeAttr
}

var (
	userType  = &fakeType{name: "User", endpoint: "/Users", schema: urnUser, attrs: userAttrs, ext: enterpriseAttrs}
	groupType = &fakeType{name: "Group", endpoint: "/Groups", schema: urnGroup, attrs: groupAttrs}
)

// all returns every attribute a filter or path may name on t, the
// extension as a complex attribute named by its URN.
func (t *fakeType) all() []*fakeAttr {
	defs := append(append([]*fakeAttr{}, commonAttrs...), t.attrs...)
	if t.ext != nil {
		defs = append(defs, attr(urnEnterprise, subs(t.ext...)))
	}
	return defs
}

// badValue is a client error with a status and scimType.
type badValue struct {
	status   int
	scimType string
	detail   string
}

func (e *badValue) Error() string { return e.detail }

func invalid(scimType, format string, a ...any) error {
	return &badValue{status: 400, scimType: scimType, detail: fmt.Sprintf(format, a...)}
}

// normalize validates in against defs and returns it with canonical
// attribute names. Unknown attributes are dropped, readOnly ones ignored.
func normalize(defs []*fakeAttr, in obj) (obj, error) {
	out := obj{}
	for k, v := range in {
		d := find(defs, k)
		if d == nil || d.mutability == "readOnly" || v == nil {
			continue
		}
		nv, err := normalizeValue(d, v)
		if err != nil {
			return nil, err
		}
		out[d.name] = nv
	}
	return out, nil
}

func normalizeValue(d *fakeAttr, v any) (any, error) {
	if d.multi {
		l, ok := v.([]any)
		if !ok {
			l = []any{v}
		}
		out := make([]any, 0, len(l))
		for _, e := range l {
			ne, err := normalizeSingle(d, e)
			if err != nil {
				return nil, err
			}
			out = append(out, ne)
		}
		return out, nil
	}
	return normalizeSingle(d, v)
}

func normalizeSingle(d *fakeAttr, v any) (any, error) {
	switch d.typ {
	case "complex":
		m, ok := v.(obj)
		if !ok {
			return nil, invalid("invalidValue", "%s must be an object", d.name)
		}
		return normalize(d.sub, m)
	case "boolean":
		if _, ok := v.(bool); !ok {
			return nil, invalid("invalidValue", "%s must be a boolean", d.name)
		}
	default:
		if _, ok := v.(string); !ok {
			return nil, invalid("invalidValue", "%s must be a string", d.name)
		}
	}
	return v, nil
}
