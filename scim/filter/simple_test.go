package filter

import (
	"reflect"
	"testing"
)

// TestSimpleEqMatchesFullParser checks that the fast path builds exactly
// what the full parser builds, and declines what it cannot handle.
func TestSimpleEqMatchesFullParser(t *testing.T) {
	for _, s := range []string{
		`userName eq "bjensen"`,
		`userName EQ "b jensen"`,
		`emails.value eq "a@b.c"`,
		`externalId eq "00u1-ab_c"`,
		`userName eq "quote\"inside"`,
		`userName eq "tab\tand \u00e9"`,
		`userName eq ""`,
		`displayName eq "Ünïcode"`,
		`name.givenName eq "x"`,
	} {
		fast, ok := parseSimpleEq(s)
		if !ok {
			t.Errorf("%s: fast path declined", s)
			continue
		}
		full, err := parseFilter(s, 0)
		if err != nil {
			t.Errorf("%s: full parser: %v", s, err)
			continue
		}
		if !reflect.DeepEqual(fast, full) {
			t.Errorf("%s:\nfast %#v\nfull %#v", s, fast, full)
		}
	}
	for _, s := range []string{
		`userName eq "a" or userName eq "b"`,
		`userName eq "a" and active eq true`,
		`userName eq "a"b"`,
		`userName eq "a`,
		`userName ne "a"`,
		`emails[value eq "a"]`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`,
		`a.b.c eq "x"`,
		`userName eq 5`,
		`userName  eq "a"`,
		`1abc eq "a"`,
	} {
		if e, ok := parseSimpleEq(s); ok {
			t.Errorf("%s: fast path accepted it as %#v", s, e)
		}
	}
}

// FuzzSimpleEq: whenever the fast path accepts a filter, the full parser
// must agree on it.
func FuzzSimpleEq(f *testing.F) {
	for _, s := range []string{`userName eq "x"`, `a.b eq "\u0041"`, `x eq "\\"`, `emails.value eq "a@b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := parseSimpleEq(s)
		if !ok {
			return
		}
		full, err := parseFilter(s, 0)
		if err != nil {
			t.Fatalf("%q: fast path accepted what the full parser rejects: %v", s, err)
		}
		if !reflect.DeepEqual(fast, full) {
			t.Fatalf("%q:\nfast %#v\nfull %#v", s, fast, full)
		}
	})
}
