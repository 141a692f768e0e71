package filter_test

import (
	"encoding/json"
	"errors"
	"testing"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/filter"
)

// FuzzParseAndMatch feeds arbitrary filter strings through Parse,
// Validate, EqualityIndex and Match. None may panic, every error must be
// an *Error, and Match must agree with its own negation.
func FuzzParseAndMatch(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`,
		`name.familyName co "O'Malley"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		`title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`title pr and userType eq "Employee"`,
		`title pr or userType eq "Intern"`,
		`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`userType eq "Employee" and (emails.type eq "work")`,
		`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`emails[(type eq "home" or type eq "work") and not (value sw "babs")]`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
		`urn:example:params:scim:schemas:extension:test:2.0:User:level ge -1.5e3`,
		`urn:example:params:scim:schemas:extension:test:2.0:User:born lt "2000-01-01T00:00:00"`,
		`displayName eq "a\"b\u00e9"`,
		`active eq true and nickName eq null`,
		`emails[value eq "x\"]"]`,
		"a00000[aaaa eq \"aa00Co \"",
		`members[value eq "1"].display`,
		`((((a pr))))`,
		`a[b[c[d pr]]]`,
		`emails[]`,
		`x eq 1e999`,
	} {
		f.Add(s)
	}
	sc := userSchema()
	resources := []map[string]any{
		decode(f, userJSON, false),
		decode(f, userJSON, true),
		{"userName": 5, "emails": "x", "name": []any{1}, "meta": "x", enterpriseURN: []any{}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := filter.Parse(s)
		var fe *filter.Error
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) error %T, want *filter.Error", s, err)
			}
			return
		}
		if err := sc.Validate(expr); err != nil && !errors.As(err, &fe) {
			t.Fatalf("Validate(%q) error %T, want *filter.Error", s, err)
		}
		filter.EqualityIndex(expr, "userName", "emails.value", "members.value")
		for _, res := range resources {
			got := sc.Match(expr, res)
			if neg := sc.Match(&fp.NotExpression{Expression: expr}, res); neg == got {
				t.Fatalf("Match(%q) = %v and Match(not) = %v", s, got, neg)
			}
		}
		if vp, ok := expr.(*fp.ValuePath); ok {
			if a, err := sc.Resolve(vp.AttributePath); err == nil {
				sc.MatchElement(vp.ValueFilter, a.Attr, map[string]any{"value": json.Number("1"), "type": nil})
			}
		}
		if _, err := filter.ParsePath(s); err != nil && !errors.As(err, &fe) {
			t.Fatalf("ParsePath(%q) error %T, want *filter.Error", s, err)
		}
	})
}
