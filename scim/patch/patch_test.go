package patch_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/patch"
)

const (
	coreURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	testURN       = "urn:example:params:scim:schemas:extension:test:2.0:User"
)

// testExtension has the attribute types the standard User schemas lack.
func testExtension() schema.Schema {
	return schema.Schema{
		ID:   testURN,
		Name: optional.NewString("Test"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "level", Type: schema.AttributeTypeInteger()})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "score", Type: schema.AttributeTypeDecimal()})),
			schema.SimpleCoreAttribute(schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "born"})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "tags", MultiValued: true})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "badge", Mutability: schema.AttributeMutabilityImmutable()})),
		},
	}
}

func userSchema() filter.Schema {
	return filter.Schema{
		Core:       schema.CoreUserSchema(),
		Extensions: []schema.Schema{schema.ExtensionEnterpriseUser(), testExtension()},
	}
}

func groupSchema() filter.Schema {
	return filter.Schema{Core: schema.CoreGroupSchema()}
}

const userJSON = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "bjensen-ext",
  "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3\""},
  "userName": "bjensen",
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "displayName": "Babs Jensen",
  "title": "Tour Guide",
  "active": true,
  "emails": [
    {"value": "bjensen@example.com", "type": "work", "primary": true},
    {"value": "babs@jensen.org", "type": "home"}
  ],
  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "primary": true}],
  "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984",
    "manager": {"value": "26118915", "displayName": "John Smith"}
  }
}`

const groupJSON = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "e9e30dba",
  "displayName": "Tour Guides",
  "members": [
    {"value": "2819c223", "display": "Babs Jensen", "type": "User"},
    {"value": "902c246b", "display": "Mandy Pepperidge"}
  ]
}`

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func parseOps(t testing.TB, s string) []patch.Operation {
	t.Helper()
	var raw []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		t.Fatalf("decode ops %s: %v", s, err)
	}
	ops := make([]patch.Operation, len(raw))
	for i, r := range raw {
		ops[i] = patch.Operation{Op: r.Op, Path: r.Path, Value: r.Value}
	}
	return ops
}

func canonical(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

type applyCase struct {
	name     string
	resource string // userJSON when empty
	schema   filter.Schema
	ops      string
	// want maps top-level keys of the result to their expected JSON;
	// "null" means the key must be absent in any case, "absent" that
	// this exact spelling must be.
	want map[string]string
	// err is the expected ScimType; empty for success.
	err string
}

func runApply(t *testing.T, tests []applyCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resJSON := tt.resource
			if resJSON == "" {
				resJSON = userJSON
			}
			sc := tt.schema
			if sc.Core.ID == "" {
				sc = userSchema()
			}
			res := decode(t, resJSON)
			pristine := canonical(t, res)
			ops := parseOps(t, tt.ops)
			out, err := patch.Apply(sc, res, ops)
			if got := canonical(t, res); got != pristine {
				t.Fatalf("Apply modified its input:\n got %s\nwant %s", got, pristine)
			}
			if tt.err != "" {
				var pe *patch.Error
				if !errors.As(err, &pe) {
					t.Fatalf("Apply = %v, want *patch.Error %s", err, tt.err)
				}
				if pe.ScimType != tt.err {
					t.Fatalf("ScimType = %s (%s), want %s", pe.ScimType, pe.Detail, tt.err)
				}
				if out != nil {
					t.Errorf("Apply returned a resource with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			for key, want := range tt.want {
				if want == "absent" {
					if v, ok := out[key]; ok {
						t.Errorf("%s = %s, want absent", key, canonical(t, v))
					}
					continue
				}
				if want == "null" {
					for k := range out {
						if strings.EqualFold(k, key) {
							t.Errorf("%s = %s, want absent", k, canonical(t, out[k]))
						}
					}
					continue
				}
				got, ok := out[key]
				if !ok {
					t.Errorf("%s absent, want %s", key, want)
					continue
				}
				if g, w := canonical(t, got), canonical(t, decodeValue(t, want)); g != w {
					t.Errorf("%s =\n  %s\nwant\n  %s", key, g, w)
				}
			}
		})
	}
}

func decodeValue(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// TestApplyRFC runs the examples of RFC 7644 §3.5.2.
func TestApplyRFC(t *testing.T) {
	g := groupSchema()
	runApply(t, []applyCase{
		{
			name: "AddMembers", resource: groupJSON, schema: g,
			ops: `[{"op":"add","path":"members","value":[{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223","value":"2819c223"},{"display":"James","value":"08e1d05d"}]}]`,
			want: map[string]string{"members": `[
				{"value":"2819c223","display":"Babs Jensen","type":"User","$ref":"https://example.com/v2/Users/2819c223"},
				{"value":"902c246b","display":"Mandy Pepperidge"},
				{"value":"08e1d05d","display":"James"}]`},
		},
		{
			name: "AddWithoutPath",
			ops:  `[{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}]`,
			want: map[string]string{
				"nickName": `"Babs"`,
				"emails":   `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]`,
			},
		},
		{
			name: "RemoveAllMembers", resource: groupJSON, schema: g,
			ops:  `[{"op":"remove","path":"members"}]`,
			want: map[string]string{"members": "null", "displayName": `"Tour Guides"`},
		},
		{
			name: "RemoveOneMember", resource: groupJSON, schema: g,
			ops:  `[{"op":"remove","path":"members[value eq \"2819c223\"]"}]`,
			want: map[string]string{"members": `[{"value":"902c246b","display":"Mandy Pepperidge"}]`},
		},
		{
			name: "RemoveByComplexFilter",
			ops:  `[{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}]`,
			want: map[string]string{"emails": `[{"value":"babs@jensen.org","type":"home"}]`},
		},
		{
			name: "RemoveThenAddMembers", resource: groupJSON, schema: g,
			ops: `[{"op":"remove","path":"members[value eq \"2819c223\"]"},
			       {"op":"add","path":"members","value":[{"display":"James Smith","value":"08e1d05d"}]}]`,
			want: map[string]string{"members": `[{"value":"902c246b","display":"Mandy Pepperidge"},{"value":"08e1d05d","display":"James Smith"}]`},
		},
		{
			name: "ReplaceMembers", resource: groupJSON, schema: g,
			ops:  `[{"op":"replace","path":"members","value":[{"display":"Babs Jensen","value":"2819c223"},{"display":"James Smith","value":"08e1d05d"}]}]`,
			want: map[string]string{"members": `[{"value":"2819c223","display":"Babs Jensen"},{"value":"08e1d05d","display":"James Smith"}]`},
		},
		{
			name: "ReplaceWorkAddress",
			ops: `[{"op":"replace","path":"addresses[type eq \"work\"]","value":{"type":"work","streetAddress":"911 Universal City Plaza",
			        "locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}}]`,
			want: map[string]string{"addresses": `[{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA",
				"postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}]`},
		},
		{
			name: "ReplaceSubAttributeOfMatch",
			ops:  `[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}]`,
			want: map[string]string{"addresses": `[{"type":"work","streetAddress":"1010 Broadway Ave","locality":"Hollywood","primary":true}]`},
		},
		{
			name: "ReplaceWithoutPath",
			ops:  `[{"op":"replace","value":{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"nickName":"Babs"}}]`,
			want: map[string]string{
				"emails":   `[{"value":"bjensen@example.com","type":"work","primary":true}]`,
				"nickName": `"Babs"`,
				"userName": `"bjensen"`,
			},
		},
	})
}

func TestApply(t *testing.T) {
	g := groupSchema()
	runApply(t, []applyCase{
		// Simple attributes.
		{name: "ReplaceSimple", ops: `[{"op":"replace","path":"displayName","value":"Barbara"}]`, want: map[string]string{"displayName": `"Barbara"`}},
		{name: "AddSimpleReplaces", ops: `[{"op":"add","path":"title","value":"Boss"}]`, want: map[string]string{"title": `"Boss"`}},
		{name: "AddSimpleNew", ops: `[{"op":"add","path":"nickName","value":"Babs"}]`, want: map[string]string{"nickName": `"Babs"`}},
		{name: "RemoveSimple", ops: `[{"op":"remove","path":"title"}]`, want: map[string]string{"title": "null"}},
		{name: "RemoveAbsentIsNoOp", ops: `[{"op":"remove","path":"nickName"}]`, want: map[string]string{"nickName": "null", "userName": `"bjensen"`}},
		{name: "ReplaceNullClears", ops: `[{"op":"replace","path":"title","value":null}]`, want: map[string]string{"title": "null"}},
		{name: "ReplaceEmptyStringClears", ops: `[{"op":"replace","path":"title","value":""}]`, want: map[string]string{"title": "null"}},
		{name: "AddNullIsNoOp", ops: `[{"op":"add","path":"title","value":null}]`, want: map[string]string{"title": `"Tour Guide"`}},
		{name: "ReplaceBoolean", ops: `[{"op":"replace","path":"active","value":false}]`, want: map[string]string{"active": `false`}},
		{name: "OpCaseInsensitive", ops: `[{"op":"Replace","path":"title","value":"A"},{"op":"ADD","path":"nickName","value":"B"}]`, want: map[string]string{"title": `"A"`, "nickName": `"B"`}},
		{name: "PathCaseInsensitive", ops: `[{"op":"replace","path":"DISPLAYNAME","value":"X"}]`, want: map[string]string{"displayName": `"X"`}},
		{name: "QualifiedCorePath", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName","value":"Babs"}]`, want: map[string]string{"name": `{"givenName":"Babs","familyName":"Jensen"}`}},
		{
			name:     "KeyRespelledCanonically",
			resource: `{"schemas":["` + coreURN + `"],"UserName":"x","DISPLAYNAME":"y"}`,
			ops:      `[{"op":"replace","path":"displayname","value":"z"}]`,
			want:     map[string]string{"displayName": `"z"`, "DISPLAYNAME": "absent", "UserName": `"x"`},
		},

		// Complex single-valued attributes.
		{name: "ReplaceSubAttribute", ops: `[{"op":"replace","path":"name.givenName","value":"Babs"}]`, want: map[string]string{"name": `{"givenName":"Babs","familyName":"Jensen"}`}},
		{name: "AddSubAttribute", ops: `[{"op":"add","path":"name.middleName","value":"J"}]`, want: map[string]string{"name": `{"givenName":"Barbara","familyName":"Jensen","middleName":"J"}`}},
		{name: "RemoveSubAttribute", ops: `[{"op":"remove","path":"name.familyName"}]`, want: map[string]string{"name": `{"givenName":"Barbara"}`}},
		{name: "RemoveLastSubAttributes", ops: `[{"op":"remove","path":"name.familyName"},{"op":"remove","path":"name.givenName"}]`, want: map[string]string{"name": "null"}},
		{name: "ReplaceComplexMerges", ops: `[{"op":"replace","path":"name","value":{"givenName":"Babs","honorificPrefix":"Ms."}}]`, want: map[string]string{"name": `{"givenName":"Babs","familyName":"Jensen","honorificPrefix":"Ms."}`}},
		{name: "AddComplexMerges", ops: `[{"op":"add","path":"name","value":{"middleName":"J"}}]`, want: map[string]string{"name": `{"givenName":"Barbara","familyName":"Jensen","middleName":"J"}`}},
		{name: "ReplaceComplexNullSubRemoves", ops: `[{"op":"replace","path":"name","value":{"familyName":null}}]`, want: map[string]string{"name": `{"givenName":"Barbara"}`}},
		{name: "ReplaceComplexNullClears", ops: `[{"op":"replace","path":"name","value":null}]`, want: map[string]string{"name": "null"}},
		{name: "ReplaceComplexEmptyObjectClears", ops: `[{"op":"replace","path":"name","value":{}}]`, want: map[string]string{"name": "null"}},
		{name: "ReplaceComplexSubCaseInsensitive", ops: `[{"op":"replace","path":"name","value":{"GIVENNAME":"B"}}]`, want: map[string]string{"name": `{"givenName":"B","familyName":"Jensen"}`}},
		{name: "NoPathCoreURNObject", ops: `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"title":"T","name":{"givenName":"B"}}}}]`, want: map[string]string{"title": `"T"`, "name": `{"givenName":"B","familyName":"Jensen"}`}},
		{name: "NoPathSubAttributeKey", ops: `[{"op":"replace","value":{"name.givenName":"B"}}]`, want: map[string]string{"name": `{"givenName":"B","familyName":"Jensen"}`}},
		{name: "AddSubAttributeOfAbsent", resource: `{"schemas":["` + coreURN + `"],"userName":"x"}`, ops: `[{"op":"add","path":"name.givenName","value":"B"}]`, want: map[string]string{"name": `{"givenName":"B"}`}},

		// Multi-valued attributes.
		{
			name: "AddEmailAppends",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"b@x.org","type":"other"}]}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"value":"b@x.org","type":"other"}]`},
		},
		{
			name: "AddSingleObjectToMultiValued",
			ops:  `[{"op":"add","path":"emails","value":{"value":"b@x.org"}}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"value":"b@x.org"}]`},
		},
		{
			name: "AddExactDuplicateSkipped",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"babs@jensen.org","type":"home"}]}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]`},
		},
		{
			name: "AddSameValueMerges",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"BABS@jensen.org","display":"Babs"}]}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"BABS@jensen.org","type":"home","display":"Babs"}]`},
		},
		{
			name: "AddSameValueOtherTypeAppends",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"babs@jensen.org","type":"work"}]}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"value":"babs@jensen.org","type":"work"}]`},
		},
		{
			name: "AddDuplicatesWithinValue",
			ops:  `[{"op":"add","path":"phoneNumbers","value":[{"value":"555"},{"value":"555"}]}]`,
			want: map[string]string{"phoneNumbers": `[{"value":"555"}]`},
		},
		{name: "AddEmptyArrayIsNoOp", ops: `[{"op":"add","path":"phoneNumbers","value":[]}]`, want: map[string]string{"phoneNumbers": "null"}},
		{
			name: "ReplaceMultiValued",
			ops:  `[{"op":"replace","path":"emails","value":[{"value":"new@x.org","type":"work"}]}]`,
			want: map[string]string{"emails": `[{"value":"new@x.org","type":"work"}]`},
		},
		{name: "ReplaceMultiValuedNullClears", ops: `[{"op":"replace","path":"emails","value":null}]`, want: map[string]string{"emails": "null"}},
		{name: "ReplaceMultiValuedEmptyClears", ops: `[{"op":"replace","path":"emails","value":[]}]`, want: map[string]string{"emails": "null"}},
		{name: "RemoveMultiValued", ops: `[{"op":"remove","path":"emails"}]`, want: map[string]string{"emails": "null"}},
		{
			name: "RemoveWithValue",
			ops:  `[{"op":"remove","path":"emails","value":[{"value":"BABS@jensen.org"}]}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true}]`},
		},
		{
			name: "RemoveWithValueNoMatch",
			ops:  `[{"op":"remove","path":"emails","value":[{"value":"nobody@x.org"}]}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]`},
		},
		{
			name: "ReplaceSubOfEveryElement",
			ops:  `[{"op":"replace","path":"emails.type","value":"other"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"other","primary":true},{"value":"babs@jensen.org","type":"other"}]`},
		},
		{
			name: "RemoveSubOfEveryElement",
			ops:  `[{"op":"remove","path":"emails.type"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","primary":true},{"value":"babs@jensen.org"}]`},
		},
		{
			name: "AddSubOfEmptyMultiValued",
			ops:  `[{"op":"add","path":"phoneNumbers.value","value":"555"}]`,
			want: map[string]string{"phoneNumbers": `[{"value":"555"}]`},
		},
		{
			name: "AddMultiValuedSimpleDedupes",
			ops:  `[{"op":"add","path":"` + testURN + `:tags","value":["a","b"]},{"op":"add","path":"` + testURN + `:tags","value":"a"}]`,
			want: map[string]string{testURN: `{"tags":["a","b"]}`},
		},
		{
			name: "RemoveMultiValuedSimpleWithValue",
			ops:  `[{"op":"add","path":"` + testURN + `:tags","value":["a","b"]},{"op":"remove","path":"` + testURN + `:tags","value":"A"}]`,
			want: map[string]string{testURN: `{"tags":["b"]}`},
		},

		// Value filters.
		{
			name: "ReplaceFilteredSubAttribute",
			ops:  `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"babs@work.example"}]`,
			want: map[string]string{"emails": `[{"value":"babs@work.example","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]`},
		},
		{
			name: "ReplaceFilteredMerges",
			ops:  `[{"op":"replace","path":"emails[type eq \"home\"]","value":{"display":"Home"}}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home","display":"Home"}]`},
		},
		{
			name: "ReplaceFilteredEveryMatch",
			ops:  `[{"op":"replace","path":"emails[value ew \".org\" or value ew \".com\"].display","value":"E"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true,"display":"E"},{"value":"babs@jensen.org","type":"home","display":"E"}]`},
		},
		{
			name: "FilterThreeTerms",
			ops:  `[{"op":"replace","path":"emails[type eq \"work\" and primary eq true and value ew \".com\"].display","value":"Work"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true,"display":"Work"},{"value":"babs@jensen.org","type":"home"}]`},
		},
		{
			name: "FilterCaseInsensitivePath",
			ops:  `[{"op":"replace","path":"EMAILS[TYPE eq \"home\"].VALUE","value":"b@home.org"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"b@home.org","type":"home"}]`},
		},
		{name: "ReplaceFilterNoMatch", ops: `[{"op":"replace","path":"emails[type eq \"other\"]","value":{"value":"x@y.org"}}]`, err: patch.NoTarget},
		{name: "ReplaceFilterSubNoMatch", ops: `[{"op":"replace","path":"emails[type eq \"other\"].value","value":"x@y.org"}]`, err: patch.NoTarget},
		{
			name: "RemoveFilterNoMatchIsNoOp",
			ops:  `[{"op":"remove","path":"emails[type eq \"other\"]"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]`},
		},
		{
			name: "RemoveFilteredSubAttribute",
			ops:  `[{"op":"remove","path":"emails[type eq \"home\"].type"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org"}]`},
		},
		{
			name: "ReplaceFilteredNullRemovesElements",
			ops:  `[{"op":"replace","path":"emails[type eq \"home\"]","value":null}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true}]`},
		},
		{
			name: "AddFilteredNoMatchCreatesElement",
			ops:  `[{"op":"add","path":"emails[type eq \"other\"].value","value":"x@y.org"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"type":"other","value":"x@y.org"}]`},
		},
		{
			name:     "AddFilteredCreatesFirstElement",
			resource: `{"schemas":["` + coreURN + `"],"userName":"x"}`,
			ops:      `[{"op":"add","path":"addresses[type eq \"work\"].locality","value":"Hollywood"},{"op":"add","path":"addresses[type eq \"work\"].region","value":"CA"}]`,
			want:     map[string]string{"addresses": `[{"type":"work","locality":"Hollywood","region":"CA"}]`},
		},
		{
			name: "AddFilteredMatchSets",
			ops:  `[{"op":"add","path":"emails[type eq \"work\"].display","value":"W"}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":true,"display":"W"},{"value":"babs@jensen.org","type":"home"}]`},
		},
		{
			name: "AddFilteredObjectCreatesElement",
			ops:  `[{"op":"add","path":"phoneNumbers[type eq \"mobile\"]","value":{"value":"555"}}]`,
			want: map[string]string{"phoneNumbers": `[{"type":"mobile","value":"555"}]`},
		},
		{name: "AddFilterNotEqChain", ops: `[{"op":"add","path":"emails[type eq \"a\" or type eq \"b\"].value","value":"x@y.org"}]`, err: patch.NoTarget},
		{name: "AddFilterCoNotEqChain", ops: `[{"op":"add","path":"emails[type co \"x\"].value","value":"x@y.org"}]`, err: patch.NoTarget},

		// primary.
		{
			name: "AddPrimaryClearsOthers",
			ops:  `[{"op":"add","path":"emails","value":[{"value":"new@x.org","primary":true}]}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home"},{"value":"new@x.org","primary":true}]`},
		},
		{
			name: "ReplaceFilteredPrimaryClearsOthers",
			ops:  `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home","primary":true}]`},
		},
		{
			name: "AddPrimaryToExistingElement",
			ops:  `[{"op":"add","path":"emails","value":{"value":"babs@jensen.org","type":"home","primary":true}}]`,
			want: map[string]string{"emails": `[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home","primary":true}]`},
		},
		{name: "ReplaceTwoPrimaries", ops: `[{"op":"replace","path":"emails","value":[{"value":"a@x.org","primary":true},{"value":"b@x.org","primary":true}]}]`, err: patch.InvalidValue},
		{name: "AddTwoPrimaries", ops: `[{"op":"add","path":"emails","value":[{"value":"a@x.org","primary":true},{"value":"b@x.org","primary":true}]}]`, err: patch.InvalidValue},
		{name: "ReplacePrimaryOnEveryElement", ops: `[{"op":"replace","path":"emails.primary","value":true}]`, err: patch.InvalidValue},

		// Extensions.
		{
			name: "ReplaceExtensionAttribute",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"42"}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"42","manager":{"value":"26118915","displayName":"John Smith"}}`},
		},
		{
			name: "ExtensionAttributeBareName",
			ops:  `[{"op":"add","path":"department","value":"Tours"}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"701984","department":"Tours","manager":{"value":"26118915","displayName":"John Smith"}}`},
		},
		{
			name: "ExtensionSubAttribute",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"m2"}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"701984","manager":{"value":"m2","displayName":"John Smith"}}`},
		},
		{
			name: "NoPathExtensionObject",
			ops:  `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","employeeNumber":"7"}}}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"7","department":"Sales","manager":{"value":"26118915","displayName":"John Smith"}}`},
		},
		{
			name: "NoPathQualifiedKeys",
			ops:  `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter":"4130","urn:ietf:params:scim:schemas:core:2.0:User:title":"Guide"}}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"701984","costCenter":"4130","manager":{"value":"26118915","displayName":"John Smith"}}`, "title": `"Guide"`},
		},
		{
			name: "PathWholeExtension",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"West"}}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"701984","division":"West","manager":{"value":"26118915","displayName":"John Smith"}}`},
		},
		{
			name: "RemoveWholeExtension",
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
			want: map[string]string{enterpriseURN: "null", "schemas": `["` + coreURN + `"]`},
		},
		{
			name: "RemoveLastExtensionAttribute",
			ops:  `[{"op":"remove","path":"employeeNumber"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			want: map[string]string{enterpriseURN: "null", "schemas": `["` + coreURN + `"]`},
		},
		{
			name:     "AddExtensionToUserWithout",
			resource: `{"schemas":["` + coreURN + `"],"userName":"x"}`,
			ops:      `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"1"}]`,
			want:     map[string]string{enterpriseURN: `{"employeeNumber":"1"}`, "schemas": `["` + coreURN + `","` + enterpriseURN + `"]`},
		},
		{
			name:     "RemoveFromAbsentExtension",
			resource: `{"schemas":["` + coreURN + `"],"userName":"x"}`,
			ops:      `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}]`,
			want:     map[string]string{enterpriseURN: "null", "schemas": `["` + coreURN + `"]`},
		},
		{
			name:     "AddNullToAbsentExtensionLeavesNoTrace",
			resource: `{"schemas":["` + coreURN + `"],"userName":"x"}`,
			ops:      `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":null}]`,
			want:     map[string]string{enterpriseURN: "null", "schemas": `["` + coreURN + `"]`},
		},
		{
			name: "ExtensionURNCaseInsensitive",
			ops:  `[{"op":"replace","path":"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER","value":"9"}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"9","manager":{"value":"26118915","displayName":"John Smith"}}`},
		},
		{
			name: "RemoveManagerWithReadOnlySub",
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			want: map[string]string{enterpriseURN: `{"employeeNumber":"701984"}`},
		},

		// Numbers and other types.
		{name: "IntegerJSONNumber", ops: `[{"op":"add","path":"` + testURN + `:level","value":5}]`, want: map[string]string{testURN: `{"level":5}`}},
		{name: "IntegerFraction", ops: `[{"op":"add","path":"` + testURN + `:level","value":5.5}]`, err: patch.InvalidValue},
		{name: "IntegerString", ops: `[{"op":"add","path":"` + testURN + `:level","value":"5"}]`, err: patch.InvalidValue},
		{name: "Decimal", ops: `[{"op":"add","path":"` + testURN + `:score","value":-2.5e3}]`, want: map[string]string{testURN: `{"score":-2.5e3}`}},
		{name: "DecimalOverflow", ops: `[{"op":"add","path":"` + testURN + `:score","value":1e999}]`, err: patch.InvalidValue},
		{name: "DateTime", ops: `[{"op":"add","path":"` + testURN + `:born","value":"1980-03-01T10:00:00.05+01:00"}]`, want: map[string]string{testURN: `{"born":"1980-03-01T10:00:00.05+01:00"}`}},
		{name: "DateTimeInvalid", ops: `[{"op":"add","path":"` + testURN + `:born","value":"yesterday"}]`, err: patch.InvalidValue},
		{name: "BinaryValid", ops: `[{"op":"add","path":"x509Certificates","value":[{"value":"TUlJ"}]}]`, want: map[string]string{"x509Certificates": `[{"value":"TUlJ"}]`}},
		{name: "BinaryInvalid", ops: `[{"op":"add","path":"x509Certificates","value":[{"value":"not base64!"}]}]`, err: patch.InvalidValue},
		{name: "StringForBoolean", ops: `[{"op":"replace","path":"active","value":"True"}]`, err: patch.InvalidValue},
		{name: "NumberForString", ops: `[{"op":"replace","path":"userName","value":5}]`, err: patch.InvalidValue},
		{name: "StringForComplex", ops: `[{"op":"replace","path":"name","value":"Barbara"}]`, err: patch.InvalidValue},
		{name: "ArrayForSingle", ops: `[{"op":"replace","path":"title","value":["a"]}]`, err: patch.InvalidValue},
		{name: "UnknownSubInValue", ops: `[{"op":"replace","path":"name","value":{"nickname":"B"}}]`, err: patch.InvalidValue},
		{name: "DuplicateSubInValue", ops: `[{"op":"replace","path":"name","value":{"givenName":"A","GivenName":"B"}}]`, err: patch.InvalidValue},
		{name: "WrongTypeInElement", ops: `[{"op":"add","path":"emails","value":[{"value":"a@x.org","primary":"true"}]}]`, err: patch.InvalidValue},
		{name: "WrongTypeEvenWithoutMatch", ops: `[{"op":"add","path":"emails[type eq \"x\" or type eq \"y\"].primary","value":"yes"}]`, err: patch.InvalidValue},
		{name: "NoPathValueNotObject", ops: `[{"op":"add","value":"x"}]`, err: patch.InvalidValue},
		{name: "NoPathValueNull", ops: `[{"op":"replace"}]`, err: patch.InvalidValue},
		{name: "ExtensionValueNotObject", ops: `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}}]`, err: patch.InvalidValue},

		// Mutability.
		{name: "ReplaceID", ops: `[{"op":"replace","path":"id","value":"other"}]`, err: patch.Mutability},
		{name: "ReplaceIDUnchanged", ops: `[{"op":"replace","path":"id","value":"2819c223-7f76-453a-919d-413861904646"}]`, want: map[string]string{"id": `"2819c223-7f76-453a-919d-413861904646"`}},
		{name: "RemoveID", ops: `[{"op":"remove","path":"id"}]`, err: patch.Mutability},
		{
			name: "NoPathEchoedIDAndSchemasIgnored",
			ops:  `[{"op":"replace","value":{"id":"2819c223-7f76-453a-919d-413861904646","schemas":["urn:whatever"],"userName":"babs"}}]`,
			want: map[string]string{"userName": `"babs"`, "schemas": `["` + coreURN + `","` + enterpriseURN + `"]`},
		},
		{name: "NoPathChangedID", ops: `[{"op":"replace","value":{"id":"other","userName":"babs"}}]`, err: patch.Mutability},
		{name: "ReplaceMeta", ops: `[{"op":"replace","path":"meta.lastModified","value":"2020-01-01T00:00:00Z"}]`, err: patch.Mutability},
		{name: "ReplaceSchemas", ops: `[{"op":"replace","path":"schemas","value":["` + coreURN + `"]}]`, err: patch.Mutability},
		{name: "AddGroups", ops: `[{"op":"add","path":"groups","value":[{"value":"g2"}]}]`, err: patch.Mutability},
		{name: "RemoveGroups", ops: `[{"op":"remove","path":"groups"}]`, err: patch.Mutability},
		{name: "AddExistingGroupIsNoChange", ops: `[{"op":"add","path":"groups","value":[{"value":"e9e30dba"}]}]`, want: map[string]string{"groups": `[{"value":"e9e30dba","display":"Tour Guides"}]`}},
		{name: "ReplaceManagerDisplayName", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"X"}]`, err: patch.Mutability},
		{name: "AddImmutableWhenAbsent", ops: `[{"op":"add","path":"` + testURN + `:badge","value":"b1"}]`, want: map[string]string{testURN: `{"badge":"b1"}`}},
		{name: "ReplaceImmutableWhenSet", ops: `[{"op":"add","path":"` + testURN + `:badge","value":"b1"},{"op":"replace","path":"` + testURN + `:badge","value":"b2"}]`, err: patch.Mutability},
		{name: "ReplaceImmutableUnchanged", ops: `[{"op":"add","path":"` + testURN + `:badge","value":"b1"},{"op":"replace","path":"` + testURN + `:badge","value":"b1"}]`, want: map[string]string{testURN: `{"badge":"b1"}`}},

		// Required attributes.
		{name: "RemoveUserName", ops: `[{"op":"remove","path":"userName"}]`, err: patch.InvalidValue},
		{name: "ReplaceUserNameNull", ops: `[{"op":"replace","path":"userName","value":null}]`, err: patch.InvalidValue},

		// Groups.
		{
			name: "AddExistingMemberIsNoOp", resource: groupJSON, schema: g,
			ops:  `[{"op":"add","path":"members","value":[{"value":"2819c223"}]}]`,
			want: map[string]string{"members": `[{"value":"2819c223","display":"Babs Jensen","type":"User"},{"value":"902c246b","display":"Mandy Pepperidge"}]`},
		},
		{
			name: "RemoveMembersByValue", resource: groupJSON, schema: g,
			ops:  `[{"op":"Remove","path":"members","value":[{"value":"2819c223"}]}]`,
			want: map[string]string{"members": `[{"value":"902c246b","display":"Mandy Pepperidge"}]`},
		},
		{
			name: "RemoveMemberNotThere", resource: groupJSON, schema: g,
			ops:  `[{"op":"remove","path":"members[value eq \"nobody\"]"}]`,
			want: map[string]string{"members": `[{"value":"2819c223","display":"Babs Jensen","type":"User"},{"value":"902c246b","display":"Mandy Pepperidge"}]`},
		},
		{name: "ReplaceMemberImmutableSub", resource: groupJSON, schema: g, ops: `[{"op":"replace","path":"members[value eq \"2819c223\"].display","value":"X"}]`, err: patch.Mutability},
		{name: "ReplaceMemberSubUnchanged", resource: groupJSON, schema: g, ops: `[{"op":"replace","path":"members[value eq \"2819c223\"].display","value":"Babs Jensen"}]`, want: map[string]string{"displayName": `"Tour Guides"`}},
		{name: "AddMemberSubWhenAbsent", resource: groupJSON, schema: g, ops: `[{"op":"add","path":"members[value eq \"902c246b\"].type","value":"User"}]`,
			want: map[string]string{"members": `[{"value":"2819c223","display":"Babs Jensen","type":"User"},{"value":"902c246b","display":"Mandy Pepperidge","type":"User"}]`}},
		{name: "ReplaceGroupDisplayName", resource: groupJSON, schema: g, ops: `[{"op":"replace","value":{"displayName":"Guides"}}]`, want: map[string]string{"displayName": `"Guides"`}},
		{name: "RemoveGroupDisplayName", resource: groupJSON, schema: g, ops: `[{"op":"remove","path":"displayName"}]`, err: patch.InvalidValue},
		{name: "GroupHasNoUserAttributes", resource: groupJSON, schema: g, ops: `[{"op":"add","path":"userName","value":"x"}]`, err: patch.InvalidPath},

		// Syntax and paths.
		{name: "UnknownOp", ops: `[{"op":"delete","path":"title"}]`, err: patch.InvalidSyntax},
		{name: "MissingOp", ops: `[{"path":"title","value":"x"}]`, err: patch.InvalidSyntax},
		{name: "RemoveWithoutPath", ops: `[{"op":"remove"}]`, err: patch.NoTarget},
		{name: "UnknownAttribute", ops: `[{"op":"add","path":"shoeSize","value":"9"}]`, err: patch.InvalidPath},
		{name: "UnknownSubAttribute", ops: `[{"op":"add","path":"name.nick","value":"9"}]`, err: patch.InvalidPath},
		{name: "UnknownSchema", ops: `[{"op":"add","path":"urn:example:nosuch:2.0:User:x","value":"9"}]`, err: patch.InvalidPath},
		{name: "UnknownNoPathKey", ops: `[{"op":"add","value":{"shoeSize":"9"}}]`, err: patch.InvalidPath},
		{name: "UnknownKeyInExtensionObject", ops: `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"shoeSize":"9"}}}]`, err: patch.InvalidPath},
		{name: "NoPathKeyWithFilter", ops: `[{"op":"add","value":{"emails[type eq \"work\"].value":"x"}}]`, err: patch.InvalidPath},
		{name: "UnclosedFilter", ops: `[{"op":"replace","path":"emails[type eq \"work\"","value":"x"}]`, err: patch.InvalidPath},
		{name: "GarbagePath", ops: `[{"op":"replace","path":"name..givenName","value":"x"}]`, err: patch.InvalidPath},
		{name: "FilterOnSingleValued", ops: `[{"op":"replace","path":"name[givenName eq \"Barbara\"]","value":{}}]`, err: patch.InvalidPath},
		{name: "FilterOnSimple", ops: `[{"op":"replace","path":"title[value eq \"x\"]","value":"y"}]`, err: patch.InvalidPath},
		{name: "FilterUnknownSub", ops: `[{"op":"replace","path":"emails[kind eq \"work\"].value","value":"x"}]`, err: patch.InvalidPath},
		{name: "FilterBadComparison", ops: `[{"op":"replace","path":"emails[primary gt true].value","value":"x"}]`, err: patch.InvalidPath},
		{name: "FilterThenUnknownSub", ops: `[{"op":"replace","path":"emails[type eq \"work\"].kind","value":"x"}]`, err: patch.InvalidPath},
		{name: "FilterOnSubAttribute", ops: `[{"op":"replace","path":"emails.value[value eq \"x\"]","value":"x"}]`, err: patch.InvalidPath},
	})
}

func TestApplyAtomic(t *testing.T) {
	sc := userSchema()
	res := decode(t, userJSON)
	pristine := canonical(t, res)
	ops := parseOps(t, `[
		{"op":"replace","path":"displayName","value":"Changed"},
		{"op":"add","path":"emails","value":[{"value":"new@x.org"}]},
		{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		{"op":"replace","path":"active","value":"yes"},
		{"op":"replace","path":"title","value":"Never"}
	]`)
	out, err := patch.Apply(sc, res, ops)
	var pe *patch.Error
	if !errors.As(err, &pe) || pe.ScimType != patch.InvalidValue {
		t.Fatalf("Apply = %v, want invalidValue", err)
	}
	if !strings.HasPrefix(pe.Detail, "operation 4 ") {
		t.Errorf("Detail %q does not name operation 4", pe.Detail)
	}
	if out != nil {
		t.Error("Apply returned a resource with an error")
	}
	if got := canonical(t, res); got != pristine {
		t.Errorf("input modified:\n got %s\nwant %s", got, pristine)
	}
}

func TestApplyDoesNotShareValues(t *testing.T) {
	sc := userSchema()
	res := decode(t, userJSON)
	email := map[string]any{"value": "new@x.org", "type": "other"}
	name := map[string]any{"givenName": "B"}
	ops := []patch.Operation{
		{Op: "add", Path: "emails", Value: []any{email}},
		{Op: "replace", Path: "name", Value: name},
	}
	out, err := patch.Apply(sc, res, ops)
	if err != nil {
		t.Fatal(err)
	}
	before := canonical(t, out)
	email["value"] = "mutated"
	name["familyName"] = "mutated"
	res["emails"].([]any)[0].(map[string]any)["value"] = "mutated"
	res["name"].(map[string]any)["givenName"] = "mutated"
	if got := canonical(t, out); got != before {
		t.Errorf("result shares memory with the input or the operations:\n got %s\nwant %s", got, before)
	}
}

func TestApplyNoOperations(t *testing.T) {
	res := decode(t, userJSON)
	out, err := patch.Apply(userSchema(), res, nil)
	if err != nil {
		t.Fatal(err)
	}
	if canonical(t, out) != canonical(t, res) {
		t.Error("Apply without operations changed the resource")
	}
	out, err = patch.Apply(userSchema(), nil, parseOps(t, `[{"op":"add","path":"userName","value":"x"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if out["userName"] != "x" {
		t.Errorf("Apply on nil resource = %v", out)
	}
}

func TestApplyFloat64Numbers(t *testing.T) {
	// encoding/json without UseNumber decodes numbers as float64.
	sc := userSchema()
	var ops []patch.Operation
	for _, v := range []any{float64(7), float64(-3)} {
		ops = append(ops, patch.Operation{Op: "replace", Path: testURN + ":level", Value: v})
	}
	ops = append(ops, patch.Operation{Op: "replace", Path: testURN + ":score", Value: 2.25})
	out, err := patch.Apply(sc, decode(t, userJSON), ops)
	if err != nil {
		t.Fatal(err)
	}
	if got := canonical(t, out[testURN]); got != `{"level":-3,"score":2.25}` {
		t.Errorf("extension = %s", got)
	}
	_, err = patch.Apply(sc, decode(t, userJSON), []patch.Operation{{Op: "replace", Path: testURN + ":level", Value: 7.5}})
	var pe *patch.Error
	if !errors.As(err, &pe) || pe.ScimType != patch.InvalidValue {
		t.Errorf("level 7.5: %v, want invalidValue", err)
	}
}

func TestApplyCommonAttributesInCore(t *testing.T) {
	// The SCIM edge lists the common attributes (and externalId again) in
	// the core schema, and hands over a document without "schemas".
	core := schema.CoreUserSchema()
	core.Attributes = append(core.Attributes, schema.CommonAttributes()...)
	core.Attributes = append(core.Attributes, schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{CaseExact: true, Name: "externalId"})))
	sc := filter.Schema{Core: core, Extensions: []schema.Schema{schema.ExtensionEnterpriseUser()}}
	doc := decode(t, userJSON)
	delete(doc, "schemas")
	tests := []struct {
		name, ops, err string
	}{
		{"ReplaceExternalID", `[{"op":"replace","path":"externalId","value":"new"}]`, ""},
		{"ReplaceID", `[{"op":"replace","path":"id","value":"new"}]`, patch.Mutability},
		{"RemoveMeta", `[{"op":"remove","path":"meta"}]`, patch.Mutability},
		{"SchemasIgnoredWithoutPath", `[{"op":"replace","value":{"schemas":["x"],"title":"T"}}]`, ""},
		{"ReplaceSchemas", `[{"op":"replace","path":"schemas","value":["x"]}]`, patch.Mutability},
		{"AddGroups", `[{"op":"add","path":"groups","value":[{"value":"g"}]}]`, patch.Mutability},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := patch.Apply(sc, doc, parseOps(t, tt.ops))
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := out["schemas"]; ok {
					t.Error("Apply added schemas to a document without them")
				}
				return
			}
			var pe *patch.Error
			if !errors.As(err, &pe) || pe.ScimType != tt.err {
				t.Errorf("Apply = %v, want %s", err, tt.err)
			}
		})
	}
}
