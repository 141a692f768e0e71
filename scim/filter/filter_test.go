package filter_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/filter"
)

const (
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
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "code", CaseExact: true})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "flags", MultiValued: true})),
		},
	}
}

func userSchema() filter.Schema {
	return filter.Schema{
		Core:       schema.CoreUserSchema(),
		Extensions: []schema.Schema{schema.ExtensionEnterpriseUser(), testExtension()},
	}
}

// userJSON is the full User of RFC 7643 §8.2, trimmed, with values for
// the test extension.
const userJSON = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "Bjensen-Ext",
  "meta": {
    "resourceType": "User",
    "created": "2010-01-23T04:56:22Z",
    "lastModified": "2011-05-13T04:42:34Z",
    "version": "W/\"3694e05e9dff591\""
  },
  "userName": "bjensen@example.com",
  "name": {
    "formatted": "Ms. Barbara J Jensen, III",
    "familyName": "O'Malley",
    "givenName": "Barbara"
  },
  "displayName": "Babs \"the guide\" Jensen",
  "title": "Tour Guide",
  "userType": "Employee",
  "active": true,
  "emails": [
    {"value": "bjensen@example.com", "type": "work", "primary": true},
    {"value": "babs@jensen.org", "type": "home"}
  ],
  "ims": [{"value": "someaimhandle", "type": "aim"}],
  "phoneNumbers": [],
  "addresses": [{}],
  "x509Certificates": [{"value": "TUlJREhUQ0NBd2VnQXdJQkFnSUpBS2tNLi4u"}],
  "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984",
    "costCenter": "4130",
    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
  },
  "urn:example:params:scim:schemas:extension:test:2.0:User": {
    "level": 5,
    "score": 2.5,
    "born": "1980-03-01T10:00:00.05+01:00",
    "tags": ["alpha", "Beta"],
    "code": "AbC",
    "flags": [false, true]
  }
}`

// decode decodes a JSON object as encoding/json does, with numbers as
// float64 or, when useNumber, as json.Number.
func decode(t testing.TB, s string, useNumber bool) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	if useNumber {
		d.UseNumber()
	}
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		// The examples of RFC 7644 §3.4.2.2.
		{"RFCUserNameEq", `userName eq "bjensen@example.com"`, true},
		{"RFCFamilyNameCo", `name.familyName co "O'Malley"`, true},
		{"RFCUserNameSw", `userName sw "J"`, false},
		{"RFCUserNameSwMatch", `userName sw "BJ"`, true},
		{"RFCQualifiedSw", `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj"`, true},
		{"RFCTitlePr", `title pr`, true},
		{"RFCLastModifiedGt", `meta.lastModified gt "2011-05-13T04:42:34Z"`, false},
		{"RFCLastModifiedGe", `meta.lastModified ge "2011-05-13T04:42:34Z"`, true},
		{"RFCLastModifiedLt", `meta.lastModified lt "2011-05-13T04:42:34Z"`, false},
		{"RFCLastModifiedLe", `meta.lastModified le "2011-05-13T04:42:34Z"`, true},
		{"RFCAnd", `title pr and userType eq "Employee"`, true},
		{"RFCOr", `title pr or userType eq "Intern"`, true},
		{"RFCSchemas", `schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, true},
		{"RFCGrouping", `userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, true},
		{"RFCNot", `userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, false},
		{"RFCParenSubAttr", `userType eq "Employee" and (emails.type eq "work")`, true},
		{"RFCValuePath", `userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, true},
		{"RFCValuePathOr", `emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`, true},

		// Case rules.
		{"AttrNameCaseInsensitive", `USERNAME Eq "bjensen@example.com"`, true},
		{"UserNameNotCaseExact", `userName eq "BJensen@Example.COM"`, true},
		{"IDCaseExact", `id eq "2819C223-7F76-453A-919D-413861904646"`, false},
		{"IDExact", `id eq "2819c223-7f76-453a-919d-413861904646"`, true},
		{"ExternalIDCaseExact", `externalId eq "bjensen-ext"`, false},
		{"ExternalIDExact", `externalId eq "Bjensen-Ext"`, true},
		{"ResourceTypeCaseExact", `meta.resourceType eq "user"`, false},
		{"CaseExactExtensionAttr", testURN + `:code eq "abc"`, false},
		{"CaseExactExtensionAttrExact", testURN + `:code eq "AbC"`, true},
		{"CoFoldsCase", `title co "GUIDE"`, true},
		{"EwFoldsCase", `userName ew "EXAMPLE.COM"`, true},
		{"GtFoldsCase", `title gt "TOUR"`, true},

		// Multi-valued attributes.
		{"SubAttrAnyElement", `emails.value eq "babs@jensen.org"`, true},
		{"ComplexWithoutSubUsesValue", `emails eq "BABS@jensen.org"`, true},
		{"ValuePathSameElement", `emails[type eq "home" and value co "@example.com"]`, false},
		{"TermsOnDifferentElements", `emails.type eq "home" and emails.value co "@example.com"`, true},
		{"ValuePathThreeTerms", `emails[type eq "work" and primary eq true and value ew ".com"]`, true},
		{"ValuePathParens", `emails[(type eq "home" or type eq "work") and value sw "babs"]`, true},
		{"ValuePathNot", `emails[not (type eq "work")]`, true},
		{"ValuePathQualifiedSubAttr", `emails[emails.type eq "home"]`, true},
		{"ValuePathPr", `emails[display pr]`, false},
		{"EmptyArrayNotPresent", `phoneNumbers pr`, false},
		{"EmptyObjectNotPresent", `addresses pr`, false},
		{"SubAttrOfEmptyNotPresent", `phoneNumbers.value pr`, false},
		{"ReadOnlyGroupsFilterable", `groups.value eq "e9e30dba-f08f-4109-8486-d5c6a331660a"`, true},
		{"MultiValuedSimple", testURN + `:tags eq "beta"`, true},
		{"MultiValuedSimpleCo", testURN + `:tags co "lph"`, true},
		{"MultiValuedBoolean", testURN + `:flags eq true`, true},
		{"BinaryEq", `x509Certificates.value eq "TUlJREhUQ0NBd2VnQXdJQkFnSUpBS2tNLi4u"`, true},
		{"BinaryCaseExact", `x509Certificates.value eq "tulJREhUQ0NBd2VnQXdJQkFnSUpBS2tNLi4u"`, false},

		// ne, null and absence.
		{"NeMissingMatches", `nickName ne "x"`, true},
		{"NePresentEqual", `userName ne "bjensen@example.com"`, false},
		{"NeMultiValuedIsNotEq", `emails.value ne "babs@jensen.org"`, false},
		{"NeMultiValuedNoneEqual", `emails.value ne "nobody@example.com"`, true},
		{"EqNullAbsent", `nickName eq null`, true},
		{"EqNullPresent", `title eq null`, false},
		{"NeNullPresent", `title ne null`, true},
		{"EqMissing", `nickName eq "x"`, false},
		{"PrMissing", `nickName pr`, false},
		{"ComplexPr", `name pr`, true},

		// Booleans, numbers, dateTimes.
		{"BoolEq", `active eq true`, true},
		{"BoolEqFalse", `active eq false`, false},
		{"BoolNe", `active ne false`, true},
		{"WrongLiteralTypeNoMatch", `active eq "true"`, false},
		{"WrongLiteralTypeNe", `active ne "true"`, true},
		{"IntegerEq", testURN + `:level eq 5`, true},
		{"IntegerEqFraction", testURN + `:level eq 5.0`, true},
		{"IntegerGt", testURN + `:level gt 4`, true},
		{"IntegerLe", testURN + `:level le 4`, false},
		{"DecimalGe", testURN + `:score ge 2.5`, true},
		{"DecimalExponent", testURN + `:score eq 25e-1`, true},
		{"DecimalLt", testURN + `:score lt -1`, false},
		{"DateTimeOtherZone", `meta.lastModified eq "2011-05-13T06:42:34+02:00"`, true},
		{"DateTimeGtOtherZone", `meta.lastModified gt "2011-05-13T06:42:33+02:00"`, true},
		{"DateTimeFraction", testURN + `:born gt "1980-03-01T09:00:00.049Z"`, true},
		{"DateTimeFractionLeadingZero", testURN + `:born lt "1980-03-01T09:00:00.051Z"`, true},

		// Extensions.
		{"ExtensionQualified", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, true},
		{"ExtensionBare", `employeeNumber eq "701984"`, true},
		{"ExtensionURNCase", `URN:IETF:params:scim:schemas:extension:enterprise:2.0:user:employeeNumber eq "701984"`, true},
		{"ExtensionSubAttr", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`, true},
		{"ExtensionComplexValue", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d"`, true},
		{"ExtensionMissing", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division pr`, false},

		// String literals.
		{"EscapedQuote", `displayName eq "Babs \"the guide\" Jensen"`, true},
		{"UnicodeEscape", `displayName sw "\u0042abs"`, true},
		{"UnicodeEscapeLowerHex", `displayName co "\u0022the"`, true},
		{"EscapedQuoteInValuePath", `emails[value eq "x\"]" or type eq "home"]`, true},

		// Logic.
		{"NotTrue", `not (userName eq "x")`, true},
		{"AndFalse", `userName pr and nickName pr`, false},
		{"OrChain", `nickName pr or title eq "x" or userType eq "employee"`, true},
		{"UnknownAttributeNeverMatches", `nosuch eq "x" or nosuch ne "x"`, false},
	}
	sc := userSchema()
	for _, useNumber := range []bool{false, true} {
		res := decode(t, userJSON, useNumber)
		for _, tt := range tests {
			name := tt.name
			if useNumber {
				name += "/JSONNumber"
			}
			t.Run(name, func(t *testing.T) {
				expr, err := filter.Parse(tt.filter)
				if err != nil {
					t.Fatalf("Parse(%q): %v", tt.filter, err)
				}
				if got := sc.Match(expr, res); got != tt.want {
					t.Errorf("Match(%q) = %v, want %v", tt.filter, got, tt.want)
				}
				if got := sc.Match(&fp.NotExpression{Expression: expr}, res); got == tt.want {
					t.Errorf("Match(not (%q)) = %v, want %v", tt.filter, got, !tt.want)
				}
			})
		}
	}
}

func TestMatchCommonAttributesDefinedTwice(t *testing.T) {
	// The SCIM edge appends the common attributes (and externalId again)
	// to the core schema; the result must not change.
	core := schema.CoreUserSchema()
	core.Attributes = append(core.Attributes, schema.CommonAttributes()...)
	core.Attributes = append(core.Attributes, schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{CaseExact: true, Name: "externalId"})))
	sc := filter.Schema{Core: core, Extensions: []schema.Schema{schema.ExtensionEnterpriseUser()}}
	res := decode(t, userJSON, false)
	for f, want := range map[string]bool{
		`externalId eq "Bjensen-Ext"`:                 true,
		`externalId eq "bjensen-ext"`:                 false,
		`meta.lastModified gt "2011-01-01T00:00:00Z"`: true,
		`id pr`: true,
	} {
		expr, err := filter.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Validate(expr); err != nil {
			t.Errorf("Validate(%q): %v", f, err)
		}
		if got := sc.Match(expr, res); got != want {
			t.Errorf("Match(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestMatchGroupMembers(t *testing.T) {
	sc := filter.Schema{Core: schema.CoreGroupSchema()}
	group := decode(t, `{
	  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
	  "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
	  "displayName": "Tour Guides",
	  "members": [
	    {"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
	    {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"}
	  ]
	}`, false)
	for f, want := range map[string]bool{
		`members.value eq "902c246b-6245-4190-8e05-00816be7344a"`:    true,
		`members[value eq "902c246b-6245-4190-8e05-00816be7344a"]`:   true,
		`members eq "2819c223-7f76-453a-919d-413861904646"`:          true,
		`members[value eq "nobody"]`:                                 false,
		`displayName eq "tour guides"`:                               true,
		`members[$ref co "/Users/2819c223"]`:                         true,
		`members.$ref ew "2819c223-7f76-453a-919d-413861904646"`:     true,
		`members[type eq "User" and display sw "Mandy"]`:             true,
		`members[type eq "User" and display sw "Babs"]`:              false,
		`urn:ietf:params:scim:schemas:core:2.0:Group:displayName pr`: true,
	} {
		expr, err := filter.Parse(f)
		if err != nil {
			t.Fatalf("Parse(%q): %v", f, err)
		}
		if err := sc.Validate(expr); err != nil {
			t.Errorf("Validate(%q): %v", f, err)
		}
		if got := sc.Match(expr, group); got != want {
			t.Errorf("Match(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestMatchElement(t *testing.T) {
	sc := filter.Schema{Core: schema.CoreGroupSchema()}
	members, _ := sc.Core.Attributes.ContainsAttribute("members")
	el := map[string]any{"value": "abc", "Display": "Alice", "type": "User"}
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		{"OK", `value eq "ABC"`, true},
		{"KeyCaseInsensitive", `display eq "alice"`, true},
		{"QualifiedWithParent", `members.value eq "abc"`, true},
		{"And", `value eq "abc" and type eq "Group"`, false},
		{"Or", `value eq "x" or type eq "user"`, true},
		{"Not", `not (value eq "abc")`, false},
		{"UnknownSub", `nosuch eq "abc"`, false},
		{"OtherParent", `emails.value eq "abc"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := filter.Parse(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := sc.MatchElement(expr, members, el); got != tt.want {
				t.Errorf("MatchElement(%q) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := []string{
		`userName eq "bjensen"`,
		`name.familyName co "O'Malley"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		`title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`emails[type eq "work" and primary eq true and not (value ew ".org")]`,
		`name pr`,
		`emails pr`,
		`active eq false`,
		`userName eq null`,
		`userName gt "m"`,
		`x509Certificates.value eq "TUlJ"`,
		`x509Certificates.value co "TUlJ"`,
		`employeeNumber eq "1"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "x"]`,
		testURN + `:level gt 3`,
		testURN + `:score le -2.5e3`,
		testURN + `:born lt "2000-01-01T00:00:00"`,
		`id eq "x" and externalId eq "y" and meta.version eq "W/\"1\""`,
		`emails[emails.value eq "x"]`,
	}
	invalid := []struct {
		name   string
		filter string
		detail string
	}{
		{"UnknownAttribute", `nosuch eq "x"`, "unknown attribute"},
		{"UnknownSubAttribute", `name.nosuch eq "x"`, "unknown sub-attribute"},
		{"SubAttributeOfSimple", `userName.value eq "x"`, "unknown sub-attribute"},
		{"UnknownSchema", `urn:example:nosuch:userName eq "x"`, "unknown schema"},
		{"WholeExtension", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr`, "whole schema extension"},
		{"GtOnBoolean", `active gt true`, "does not apply"},
		{"CoOnBoolean", `active co "t"`, "does not apply"},
		{"GtOnBinary", `x509Certificates.value gt "TUlJ"`, "does not apply"},
		{"CoOnInteger", testURN + `:level co 3`, "does not apply"},
		{"SwOnDateTime", `meta.created sw "2011"`, "does not apply"},
		{"ComplexWithoutValue", `name eq "Barbara"`, "complex attribute"},
		{"StringForBoolean", `active eq "yes"`, "compare it with true or false"},
		{"NumberForString", `userName eq 1`, "compare it with a string"},
		{"BooleanForString", `userName eq true`, "compare it with a string"},
		{"StringForInteger", testURN + `:level eq "3"`, "compare it with a number"},
		{"BadDateTime", `meta.lastModified gt "yesterday"`, "not a dateTime"},
		{"NumberForDateTime", `meta.lastModified gt 5`, "dateTime"},
		{"NullWithGt", `userName gt null`, "null"},
		{"ValuePathOnSimple", `title[value eq "x"]`, "not a complex attribute"},
		{"ValuePathUnknownSub", `emails[nosuch eq "x"]`, "unknown sub-attribute"},
		{"ValuePathForeignAttr", `emails[name.givenName eq "x"]`, "not a sub-attribute"},
		{"ValuePathURN", `emails[urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"]`, "without a schema URN"},
		{"ValuePathNested", `emails[ims[value eq "x"]]`, "cannot hold another value path"},
		{"ValuePathBadType", `emails[primary eq "true"]`, "true or false"},
		{"AmbiguousAcrossBranches", `userName pr or active gt false`, "does not apply"},
	}
	sc := userSchema()
	for _, f := range valid {
		t.Run("OK/"+f, func(t *testing.T) {
			expr, err := filter.Parse(f)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := sc.Validate(expr); err != nil {
				t.Errorf("Validate(%q): %v", f, err)
			}
		})
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := filter.Parse(tt.filter)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.filter, err)
			}
			err = sc.Validate(expr)
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Validate(%q) = %v, want *filter.Error", tt.filter, err)
			}
			if !strings.Contains(fe.Detail, tt.detail) {
				t.Errorf("Validate(%q) detail %q, want it to mention %q", tt.filter, fe.Detail, tt.detail)
			}
		})
	}
}

func TestValidateHandBuilt(t *testing.T) {
	sc := userSchema()
	path := fp.AttributePath{AttributeName: "userName"}
	for name, expr := range map[string]fp.Expression{
		"Nil":            nil,
		"NilAttrExpr":    (*fp.AttributeExpression)(nil),
		"NilLogical":     (*fp.LogicalExpression)(nil),
		"NilNot":         &fp.NotExpression{},
		"NilValuePath":   (*fp.ValuePath)(nil),
		"NoValueFilter":  &fp.ValuePath{AttributePath: fp.AttributePath{AttributeName: "emails"}},
		"BadOperator":    &fp.AttributeExpression{AttributePath: path, Operator: "like", CompareValue: "x"},
		"BadLogical":     &fp.LogicalExpression{Left: &fp.AttributeExpression{AttributePath: path, Operator: fp.PR}, Right: &fp.AttributeExpression{AttributePath: path, Operator: fp.PR}, Operator: "xor"},
		"MissingOperand": &fp.LogicalExpression{Left: &fp.AttributeExpression{AttributePath: path, Operator: fp.PR}, Operator: fp.AND},
		"WeirdLiteral":   &fp.AttributeExpression{AttributePath: path, Operator: fp.EQ, CompareValue: []int{1}},
	} {
		t.Run(name, func(t *testing.T) {
			var fe *filter.Error
			if err := sc.Validate(expr); !errors.As(err, &fe) {
				t.Errorf("Validate = %v, want *filter.Error", err)
			}
			if sc.Match(expr, decode(t, userJSON, false)) {
				t.Errorf("Match = true, want false")
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for in, want := range map[string]string{
			`  userName eq "x"  `:          `userName eq "x"`,
			"userName\teq\n\"x\"":          `userName eq "x"`,
			`userName eq "a\"b"`:           `userName eq "a\"b"`,
			`userName eq "\u00e9\u00C9"`:   `userName eq "éÉ"`,
			`userName eq "tab\there"`:      `userName eq "tab\there"`,
			`userName eq "back\\slash"`:    `userName eq "back\\slash"`,
			`userName eq "sol\/idus"`:      `userName eq "sol/idus"`,
			`emails[type eq "a]b"]`:        `emails[type eq "a]b"]`,
			`emails[ type eq "x" ]`:        `emails[type eq "x"]`,
			`title PR`:                     `title pr`,
			`userName eq "x" AND title pr`: `userName eq "x" and title pr`,
			`a eq 12345678901234567890`:    `a eq 12345678901234567890`,
		} {
			expr, err := filter.Parse(in)
			if err != nil {
				t.Errorf("Parse(%q): %v", in, err)
				continue
			}
			if got := render(expr); got != want {
				t.Errorf("Parse(%q) = %s, want %s", in, got, want)
			}
		}
	})
	t.Run("NumbersAreJSONNumbers", func(t *testing.T) {
		expr, err := filter.Parse(`level eq 12345678901234567890`)
		if err != nil {
			t.Fatal(err)
		}
		if v := expr.(*fp.AttributeExpression).CompareValue; v != json.Number("12345678901234567890") {
			t.Errorf("CompareValue = %#v, want json.Number", v)
		}
	})
	bad := map[string]string{
		"Empty":              ``,
		"Blank":              "  \t ",
		"NoOperand":          `userName eq`,
		"DanglingAnd":        `userName eq "x" and`,
		"UnclosedParen":      `(userName eq "x"`,
		"UnclosedBracket":    `emails[type eq "work"`,
		"EmptyBracket":       `emails[]`,
		"StrayBracket":       `userName eq "x"]`,
		"UnknownOperator":    `userName like "x"`,
		"SingleQuotes":       `userName eq 'x'`,
		"BadEscape":          `userName eq "\x41"`,
		"UnclosedString":     `userName eq "x`,
		"SubSubAttribute":    `name.givenName.x eq "y"`,
		"BracketWithoutName": `[type eq "x"]`,
		"TooDeep":            strings.Repeat("(", filter.MaxDepth+1) + "a pr" + strings.Repeat(")", filter.MaxDepth+1),
		"TooDeepBrackets":    strings.Repeat("a[", filter.MaxDepth+1) + "b pr" + strings.Repeat("]", filter.MaxDepth+1),
		"TooLong":            `userName eq "` + strings.Repeat("x", filter.MaxLength) + `"`,
		"PathSuffixInFilter": `emails[type eq "work"].value eq "x"`,
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := filter.Parse(in)
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) = %v, want *filter.Error", in, err)
			}
			if fe.Detail == "" || strings.ContainsRune(fe.Detail, '\uFFFD') {
				t.Errorf("Parse(%q) detail %q is not fit for a client", in, fe.Detail)
			}
		})
	}
	t.Run("DeepButAllowed", func(t *testing.T) {
		in := strings.Repeat("(", filter.MaxDepth-1) + "userName pr" + strings.Repeat(")", filter.MaxDepth-1)
		if _, err := filter.Parse(in); err != nil {
			t.Errorf("Parse: %v", err)
		}
	})
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in, attr, filter, sub string
	}{
		{`userName`, "userName", "", ""},
		{`name.givenName`, "name.givenName", "", ""},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName`, "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "", ""},
		{`emails[type eq "work"]`, "emails", `type eq "work"`, ""},
		{`emails[type eq "work"].value`, "emails", `type eq "work"`, "value"},
		{`members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName`, "members", `value eq "2819c223-7f76-453a-919d-413861904646"`, "displayName"},
		{`addresses[type eq "work" and (primary eq true or postalCode sw "9")].streetAddress`, "addresses", `type eq "work" and (primary eq true or postalCode sw "9")`, "streetAddress"},
		{` emails[value eq "a\"]b"] `, "emails", `value eq "a\"]b"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := filter.ParsePath(tt.in)
			if err != nil {
				t.Fatalf("ParsePath: %v", err)
			}
			if got := p.AttributePath.String(); got != tt.attr {
				t.Errorf("attribute path %q, want %q", got, tt.attr)
			}
			var f string
			if p.ValueExpression != nil {
				f = render(p.ValueExpression)
			}
			if f != tt.filter {
				t.Errorf("filter %s, want %s", f, tt.filter)
			}
			if got := p.SubAttributeName(); got != tt.sub {
				t.Errorf("sub-attribute %q, want %q", got, tt.sub)
			}
		})
	}
	for _, in := range []string{``, `emails[`, `emails[type eq "work"`, `emails[]`, `emails[type eq "work"]value`, `emails[type eq "work"].value.x`, `name.givenName.x`, `userName eq "x"`, `9lives`, `emails[type eq "work"][value pr]`} {
		t.Run("Bad/"+in, func(t *testing.T) {
			var fe *filter.Error
			if _, err := filter.ParsePath(in); !errors.As(err, &fe) {
				t.Errorf("ParsePath(%q) = %v, want *filter.Error", in, err)
			}
		})
	}
	t.Run("WholeExtension", func(t *testing.T) {
		p, err := filter.ParsePath(enterpriseURN)
		if err != nil {
			t.Fatal(err)
		}
		urn, ok := userSchema().ExtensionURN(p.AttributePath)
		if !ok || urn != enterpriseURN {
			t.Errorf("ExtensionURN = %q, %v", urn, ok)
		}
	})
}

func TestEqualityIndex(t *testing.T) {
	attrs := []string{"userName", "externalId", "emails.value", "emails", "members.value", enterpriseURN + ":employeeNumber"}
	tests := []struct {
		name, filter, attr, value string
		ok                        bool
	}{
		{"Eq", `userName eq "bjensen"`, "userName", "bjensen", true},
		{"CaseInsensitiveName", `USERNAME EQ "bjensen"`, "userName", "bjensen", true},
		{"QualifiedCore", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen"`, "userName", "bjensen", true},
		{"Extension", enterpriseURN + `:employeeNumber eq "7"`, enterpriseURN + ":employeeNumber", "7", true},
		{"SubAttribute", `emails.value eq "a@b"`, "emails.value", "a@b", true},
		{"ComplexWithoutSub", `emails eq "a@b"`, "emails", "a@b", true},
		{"ValuePath", `members[value eq "id1"]`, "members.value", "id1", true},
		{"AndChain", `title pr and externalId eq "e" and active eq true`, "externalId", "e", true},
		{"AndPrefersEarlierAttr", `externalId eq "e" and userName eq "u"`, "userName", "u", true},
		{"OrNotIndexable", `userName eq "a" or userName eq "b"`, "", "", false},
		{"NotNotIndexable", `not (userName eq "a")`, "", "", false},
		{"NeNotIndexable", `userName ne "a"`, "", "", false},
		{"NonString", `userName eq null`, "", "", false},
		{"OtherAttr", `displayName eq "x"`, "", "", false},
		{"ValuePathCompound", `members[value eq "id1" or value eq "id2"]`, "", "", false},
		{"AndInsideOr", `(userName eq "a" and title pr) or title pr`, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := filter.Parse(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			attr, value, ok := filter.EqualityIndex(expr, attrs...)
			if attr != tt.attr || value != tt.value || ok != tt.ok {
				t.Errorf("EqualityIndex(%q) = %q, %q, %v; want %q, %q, %v", tt.filter, attr, value, ok, tt.attr, tt.value, tt.ok)
			}
		})
	}
	if _, _, ok := filter.EqualityIndex(nil, attrs...); ok {
		t.Error("EqualityIndex(nil) ok")
	}
}

func TestMatchOddResources(t *testing.T) {
	sc := userSchema()
	exprs := []string{
		`userName eq "x"`, `emails.value co "x"`, `emails[type eq "work"]`, `name.givenName pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, enterpriseURN + `:manager.value eq "x"`,
		testURN + `:level gt 1`, `active eq true`, `emails eq "x"`, `schemas eq "x"`,
	}
	odd := []map[string]any{
		nil,
		{},
		{"userName": 5, "emails": "notalist", "name": []any{1}, "meta": "x", "active": "true"},
		{"emails": []any{nil, 3, "s", []any{}, map[string]any{"value": 7}}, enterpriseURN: "x"},
		{"emails": []map[string]any{{"value": "x", "type": "work"}}, "schemas": []string{"x"}},
		{enterpriseURN: map[string]any{"manager": []any{"x"}}, testURN: map[string]any{"level": json.Number("bogus")}},
		{testURN: map[string]any{"level": json.Number("1e999")}, "meta": map[string]any{"lastModified": 12}},
	}
	for _, f := range exprs {
		expr, err := filter.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range odd {
			sc.Match(expr, res) // must not panic
		}
	}
	// Typed-nil slices of the other shapes still match.
	expr, _ := filter.Parse(`emails[type eq "work"] and schemas eq "x"`)
	if !sc.Match(expr, odd[4]) {
		t.Error("Match on []map[string]any and []string = false, want true")
	}
	expr, _ = filter.Parse(testURN + `:level gt 1`)
	if !sc.Match(expr, odd[6]) {
		t.Error("Match on an overflowing json.Number = false, want true")
	}
}

// render prints an expression with JSON string literals, to compare
// parse results.
func render(e fp.Expression) string {
	var b bytes.Buffer
	var walk func(e fp.Expression, top bool)
	walk = func(e fp.Expression, top bool) {
		switch x := e.(type) {
		case *fp.AttributeExpression:
			b.WriteString(x.AttributePath.String() + " " + string(x.Operator))
			if x.Operator != fp.PR {
				v, _ := json.Marshal(x.CompareValue)
				if n, ok := x.CompareValue.(json.Number); ok {
					v = []byte(n)
				}
				b.WriteString(" " + strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(v)))
			}
		case *fp.LogicalExpression:
			if !top {
				b.WriteString("(")
			}
			walk(x.Left, x.Operator == fp.AND && isAnd(x.Left))
			b.WriteString(" " + string(x.Operator) + " ")
			walk(x.Right, false)
			if !top {
				b.WriteString(")")
			}
		case *fp.NotExpression:
			b.WriteString("not (")
			walk(x.Expression, true)
			b.WriteString(")")
		case *fp.ValuePath:
			b.WriteString(x.AttributePath.String() + "[")
			walk(x.ValueFilter, true)
			b.WriteString("]")
		}
	}
	walk(e, true)
	return b.String()
}

func isAnd(e fp.Expression) bool {
	l, ok := e.(*fp.LogicalExpression)
	return ok && l.Operator == fp.AND
}
