package patch_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/patch"
)

// fuzzUserJSON is userJSON with values for the test extension too.
var fuzzUserJSON = strings.Replace(userJSON, `"schemas": [`, `"urn:example:params:scim:schemas:extension:test:2.0:User": {"level": 3, "score": 1.5, "born": "1980-03-01T10:00:00Z", "tags": ["a"]},
  "schemas": ["urn:example:params:scim:schemas:extension:test:2.0:User", `, 1)

// FuzzApply applies arbitrary JSON operation lists to a fixed user. Apply
// must not panic, must leave its input alone, must fail only with a
// *patch.Error of a known scimType, and on success must return a user
// that still validates against the schema, with its readOnly attributes
// unchanged and at most one primary value per attribute.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`[{"op":"add","path":"members","value":[{"display":"Babs","value":"2819c223"}]}]`,
		`[{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}]`,
		`[{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}]`,
		`[{"op":"replace","path":"addresses[type eq \"work\"]","value":{"type":"work","streetAddress":"911 Universal City Plaza","primary":true}}]`,
		`[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}]`,
		`[{"op":"replace","value":{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"nickName":"Babs"}}]`,
		`[{"op":"add","path":"emails[type eq \"other\"].value","value":"x@y.org"},{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`,
		`[{"op":"add","path":"emails","value":[{"value":"a@x.org","primary":true}]},{"op":"remove","path":"emails.type"}]`,
		`[{"op":"replace","path":"name","value":{"givenName":"B","familyName":null}},{"op":"remove","path":"name.givenName"}]`,
		`[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
		`[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"W","manager":{"value":"m"}}}]`,
		`[{"op":"add","value":{"urn:example:params:scim:schemas:extension:test:2.0:User":{"level":5,"score":-2.5e3,"tags":["b","a"]}}}]`,
		`[{"op":"replace","path":"urn:example:params:scim:schemas:extension:test:2.0:User:born","value":"2000-01-01T00:00:00.5+02:00"}]`,
		`[{"op":"replace","path":"id","value":"2819c223-7f76-453a-919d-413861904646"},{"op":"replace","path":"meta","value":null}]`,
		`[{"op":"add","path":"groups","value":[{"value":"e9e30dba"}]},{"op":"remove","path":"emails","value":[{"value":"BABS@jensen.org"}]}]`,
		`[{"op":"add","path":"x509Certificates","value":[{"value":"TUlJ","primary":true}]},{"op":"add","path":"x509Certificates[value eq \"TUlJ\"].display","value":"c"}]`,
		`[{"op":"replace","path":"emails.primary","value":false},{"op":"replace","path":"phoneNumbers[type eq \"work\" and primary eq true].value","value":"1"}]`,
		`[{"op":"remove"},{"op":"delete"},{"op":"add","value":[]}]`,
		`[{"op":"add","path":"userName","value":{"a":1}}]`,
		`[{"op":"add","path":"emails[not (type eq \"work\")].display","value":"x"}]`,
		`[{"op":"replace","path":"name.givenName[value pr]","value":"x"}]`,
		`[]`,
	} {
		f.Add(s)
	}
	sc := userSchema()
	f.Fuzz(func(t *testing.T, s string) {
		var raw []struct {
			Op    any `json:"op"`
			Path  any `json:"path"`
			Value any `json:"value"`
		}
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if d.Decode(&raw) != nil {
			return
		}
		ops := make([]patch.Operation, len(raw))
		for i, r := range raw {
			op, _ := r.Op.(string)
			path, _ := r.Path.(string)
			ops[i] = patch.Operation{Op: op, Path: path, Value: r.Value}
		}
		res := decode(t, fuzzUserJSON)
		pristine := canonical(t, res)
		out, err := patch.Apply(sc, res, ops)
		if got := canonical(t, res); got != pristine {
			t.Fatalf("input modified")
		}
		if err != nil {
			var pe *patch.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *patch.Error", err, err)
			}
			switch pe.ScimType {
			case patch.InvalidPath, patch.NoTarget, patch.InvalidValue, patch.Mutability, patch.InvalidSyntax:
			default:
				t.Fatalf("unknown scimType %q", pe.ScimType)
			}
			if out != nil {
				t.Fatal("resource returned with an error")
			}
			return
		}
		checkUser(t, sc, res, out)
	})
}

// checkUser checks that out is a valid user that differs from in only in
// what a client may change.
func checkUser(t *testing.T, sc filter.Schema, in, out map[string]any) {
	t.Helper()
	// Re-decode, as a store would, and validate with the library's own
	// validator.
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	doc := decode(t, string(b))
	if _, serr := sc.Core.Validate(doc); serr != nil {
		t.Fatalf("result fails core validation: %v\n%s", serr.Detail, b)
	}
	for _, ext := range sc.Extensions {
		v, ok := doc[ext.ID]
		if !ok {
			continue
		}
		if !filter.Present(v) {
			t.Fatalf("empty extension object %s left in %s", ext.ID, b)
		}
		if _, serr := ext.ValidateExtension(v); serr != nil {
			t.Fatalf("result fails %s validation: %v\n%s", ext.ID, serr.Detail, b)
		}
	}
	// Every key is known, spelled canonically, and holds a present value
	// of the right shape.
	for k, v := range doc {
		if k == "schemas" {
			continue
		}
		if _, ok := sc.Extension(k); ok {
			for ek, ev := range v.(map[string]any) {
				checkAttr(t, sc, fp.AttributePath{URIPrefix: &k, AttributeName: ek}, ek, ev, b)
			}
			continue
		}
		checkAttr(t, sc, fp.AttributePath{AttributeName: k}, k, v, b)
	}
	// readOnly attributes are untouched.
	for _, k := range []string{"id", "meta", "groups"} {
		if canonical(t, in[k]) != canonical(t, out[k]) {
			t.Fatalf("readOnly %s changed: %s", k, b)
		}
	}
	// schemas lists exactly the core schema and the extensions present.
	want := map[string]bool{coreURN: true}
	for _, ext := range sc.Extensions {
		if _, ok := doc[ext.ID]; ok {
			want[ext.ID] = true
		}
	}
	schemas, _ := doc["schemas"].([]any)
	if len(schemas) != len(want) {
		t.Fatalf("schemas %v, want %v", schemas, want)
	}
	for _, s := range schemas {
		if !want[s.(string)] {
			t.Fatalf("schemas %v, want %v", schemas, want)
		}
	}
}

func checkAttr(t *testing.T, sc filter.Schema, p fp.AttributePath, key string, v any, doc []byte) {
	t.Helper()
	a, err := sc.Resolve(p)
	if err != nil {
		t.Fatalf("unknown attribute %q in %s", p.String(), doc)
	}
	if a.Attr.Name() != key {
		t.Fatalf("key %q not spelled %q in %s", key, a.Attr.Name(), doc)
	}
	if !filter.Present(v) {
		t.Fatalf("%q holds an empty value in %s", key, doc)
	}
	if !a.Attr.MultiValued() {
		if m, ok := v.(map[string]any); ok {
			checkObject(t, a.Attr.Name(), m, sc, p, doc)
		}
		return
	}
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%q is not an array in %s", key, doc)
	}
	primaries := 0
	for _, el := range list {
		if !filter.Present(el) {
			t.Fatalf("%q holds an empty element in %s", key, doc)
		}
		if m, ok := el.(map[string]any); ok {
			checkObject(t, a.Attr.Name(), m, sc, p, doc)
			if m["primary"] == true {
				primaries++
			}
		}
	}
	if primaries > 1 {
		t.Fatalf("%q has %d primary values in %s", key, primaries, doc)
	}
}

func checkObject(t *testing.T, name string, m map[string]any, sc filter.Schema, p fp.AttributePath, doc []byte) {
	t.Helper()
	for sk, sv := range m {
		sub := sk
		a, err := sc.Resolve(fp.AttributePath{URIPrefix: p.URIPrefix, AttributeName: p.AttributeName, SubAttribute: &sub})
		if err != nil || a.Sub.Name() != sk {
			t.Fatalf("%s has unknown or misspelled sub-attribute %q in %s", name, sk, doc)
		}
		if !filter.Present(sv) {
			t.Fatalf("%s.%s is empty in %s", name, sk, doc)
		}
	}
}

// FuzzApplyOp applies one operation built from its parts, which lets the
// fuzzer reach deeper into paths and values than whole JSON documents
// do, to the fixed user and to a group.
func FuzzApplyOp(f *testing.F) {
	for _, s := range [][3]string{
		{"add", `emails[type eq "work"].value`, `"x@y.org"`},
		{"replace", `addresses[type eq "work" and primary eq true]`, `{"locality":"X","primary":true}`},
		{"remove", `members[value eq "2819c223"]`, ``},
		{"add", `members`, `[{"value":"1"},{"value":"2","display":"x"}]`},
		{"replace", `members[value eq "902c246b"].display`, `"Mandy Pepperidge"`},
		{"replace", ``, `{"displayName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`},
		{"add", `urn:example:params:scim:schemas:extension:test:2.0:User:tags`, `["z","A"]`},
		{"replace", `name`, `{"givenName":null,"familyName":"J"}`},
		{"remove", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, ``},
		{"replace", `emails[not (value ew ".org")].primary`, `true`},
		{"replace", `meta.lastModified`, `"2011-05-13T06:42:34+02:00"`},
		{"add", `groups`, `{"value":"E9E30DBA"}`},
	} {
		f.Add(s[0], s[1], s[2])
	}
	users, groups := userSchema(), groupSchema()
	f.Fuzz(func(t *testing.T, op, path, value string) {
		var v any = value
		if value == "" {
			v = nil
		} else {
			d := json.NewDecoder(strings.NewReader(value))
			d.UseNumber()
			var decoded any
			if d.Decode(&decoded) == nil {
				v = decoded
			}
		}
		ops := []patch.Operation{{Op: op, Path: path, Value: v}}

		res := decode(t, fuzzUserJSON)
		out, err := patch.Apply(users, res, ops)
		if err == nil {
			checkUser(t, users, res, out)
		} else if pe := (*patch.Error)(nil); !errors.As(err, &pe) {
			t.Fatalf("error %T, want *patch.Error", err)
		}

		grp := decode(t, groupJSON)
		pristine := canonical(t, grp)
		out, err = patch.Apply(groups, grp, ops)
		if canonical(t, grp) != pristine {
			t.Fatal("input group modified")
		}
		if err != nil {
			return
		}
		b, _ := json.Marshal(out)
		doc := decode(t, string(b))
		if _, serr := groups.Core.Validate(doc); serr != nil {
			t.Fatalf("group fails validation: %v\n%s", serr.Detail, b)
		}
		for k, v := range doc {
			if k != "schemas" {
				checkAttr(t, groups, fp.AttributePath{AttributeName: k}, k, v, b)
			}
		}
		if canonical(t, out["id"]) != canonical(t, grp["id"]) {
			t.Fatalf("group id changed: %s", b)
		}
	})
}
