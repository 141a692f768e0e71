package twentyfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	"github.com/scimbridge/scimbridge/fanout"
)

const testToken = "test-api-key"

type answer struct {
	status int
	header http.Header
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (a answer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	c, _ := a.Errors[0].Extensions["code"].(string)
	return c
}

func start(t *testing.T) *Fake {
	t.Helper()
	f := New(testToken)
	t.Cleanup(f.Close)
	return f
}

// post sends a GraphQL request with the given Authorization header value.
func post(t *testing.T, f *Fake, auth, query string, vars map[string]any) answer {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return a
}

func gql(t *testing.T, f *Fake, query string, vars map[string]any) answer {
	t.Helper()
	return post(t, f, "Bearer "+testToken, query, vars)
}

// ok fails the test unless the answer has data and no errors.
func ok(t *testing.T, a answer) map[string]any {
	t.Helper()
	if a.status != http.StatusOK || len(a.Errors) > 0 || a.Data == nil {
		t.Fatalf("status %d, errors %+v", a.status, a.Errors)
	}
	return a.Data
}

func wantCode(t *testing.T, a answer, code string) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200 with a GraphQL error", a.status)
	}
	if a.code() != code {
		t.Fatalf("errors %+v, want code %s", a.Errors, code)
	}
}

const createPerson = `mutation ($data: PersonCreateInput!) { createPerson(data: $data) { id emails { primaryEmail } name { firstName lastName } deletedAt } }`

func create(t *testing.T, f *Fake, email, first string) string {
	t.Helper()
	d := ok(t, gql(t, f, createPerson, map[string]any{"data": map[string]any{
		"emails": map[string]any{"primaryEmail": email},
		"name":   map[string]any{"firstName": first, "lastName": "Doe"},
	}}))
	return d["createPerson"].(map[string]any)["id"].(string)
}

func TestAuth(t *testing.T) {
	f := start(t)
	q := `{ people { totalCount } }`
	t.Run("ErrNoToken", func(t *testing.T) {
		wantCode(t, post(t, f, "", q, nil), "FORBIDDEN")
	})
	t.Run("ErrWrongToken", func(t *testing.T) {
		a := post(t, f, "Bearer nope", q, nil)
		wantCode(t, a, "UNAUTHENTICATED")
		if a.Data != nil {
			t.Errorf("data %v with a wrong token", a.Data)
		}
	})
	t.Run("ErrNotBearer", func(t *testing.T) {
		wantCode(t, post(t, f, "Basic "+testToken, q, nil), "FORBIDDEN")
	})
	t.Run("OK", func(t *testing.T) {
		d := ok(t, gql(t, f, q, nil))
		if n := d["people"].(map[string]any)["totalCount"]; n != float64(0) {
			t.Errorf("totalCount %v", n)
		}
	})
}

func TestDocuments(t *testing.T) {
	f := start(t)
	cases := []struct {
		name, query string
		vars        map[string]any
		code, msg   string
	}{
		{"ErrSyntax", `{ people { totalCount }`, nil, "GRAPHQL_PARSE_FAILED", "Syntax Error"},
		{"ErrFragment", `{ people { ...F } } fragment F on PersonConnection { totalCount }`, nil, "GRAPHQL_PARSE_FAILED", "fragments"},
		{"ErrDirective", `{ people @skip(if: true) { totalCount } }`, nil, "GRAPHQL_PARSE_FAILED", "directives"},
		{"ErrUnknownField", `{ people { edges { node { id password } } } }`, nil, "GRAPHQL_VALIDATION_FAILED", `Cannot query field "password" on type "Person".`},
		{"ErrUnknownRoot", `{ users { totalCount } }`, nil, "GRAPHQL_VALIDATION_FAILED", `Cannot query field "users" on type "Query".`},
		{"ErrMutationInQuery", `{ createPerson(data: {}) { id } }`, nil, "GRAPHQL_VALIDATION_FAILED", `on type "Query"`},
		{"ErrUnknownArgument", `{ people(where: {}) { totalCount } }`, nil, "GRAPHQL_VALIDATION_FAILED", `Unknown argument "where"`},
		{"ErrMissingArgument", `mutation { updatePerson(data: {}) { id } }`, nil, "GRAPHQL_VALIDATION_FAILED", `argument "id" of type "UUID!" is required`},
		{"ErrNoSubselection", `{ people { edges { node { name } } } }`, nil, "GRAPHQL_VALIDATION_FAILED", "must have a selection of subfields"},
		{"ErrLeafSubselection", `{ people { totalCount { x } } }`, nil, "GRAPHQL_VALIDATION_FAILED", "must not have a selection"},
		{"ErrWrongVariableType", `query ($f: PersonFilter!) { people(filter: $f) { totalCount } }`, map[string]any{"f": map[string]any{}}, "GRAPHQL_VALIDATION_FAILED", `Unknown type "PersonFilter"`},
		{"ErrVariableTypeMismatch", `query ($f: CompanyFilterInput) { people(filter: $f) { totalCount } }`, nil, "GRAPHQL_VALIDATION_FAILED", `used in position expecting type "PersonFilterInput"`},
		{"ErrNullableVariableInNonNull", `mutation ($id: UUID) { deletePerson(id: $id) { id } }`, nil, "GRAPHQL_VALIDATION_FAILED", `used in position expecting type "UUID!"`},
		{"ErrUndefinedVariable", `{ people(filter: $f) { totalCount } }`, nil, "GRAPHQL_VALIDATION_FAILED", `Variable "$f" is not defined.`},
		{"ErrUnusedVariable", `query Q($f: PersonFilterInput) { people { totalCount } }`, nil, "GRAPHQL_VALIDATION_FAILED", `Variable "$f" is never used in operation "Q".`},
		{"ErrMissingVariable", `query ($f: PersonFilterInput!) { people(filter: $f) { totalCount } }`, nil, "BAD_USER_INPUT", "was not provided"},
		{"ErrUnknownInputField", `query ($f: PersonFilterInput!) { people(filter: $f) { totalCount } }`, map[string]any{"f": map[string]any{"email": map[string]any{"eq": "x"}}}, "BAD_USER_INPUT", `field "email" is not defined by type "PersonFilterInput"`},
		{"ErrBadEnum", `{ people(filter: {deletedAt: {is: "NULL"}}) { totalCount } }`, nil, "BAD_USER_INPUT", "non-enum value"},
		{"ErrBadUUID", `mutation ($id: UUID!) { deletePerson(id: $id) { id } }`, map[string]any{"id": "42"}, "BAD_USER_INPUT", "invalid UUID"},
		{"ErrIntAsString", `{ people(first: "1") { totalCount } }`, nil, "BAD_USER_INPUT", "Int cannot represent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := gql(t, f, tc.query, tc.vars)
			wantCode(t, a, tc.code)
			if !strings.Contains(a.Errors[0].Message, tc.msg) {
				t.Errorf("message %q, want it to contain %q", a.Errors[0].Message, tc.msg)
			}
		})
	}
	t.Run("OKAliasesAndLiterals", func(t *testing.T) {
		create(t, f, "ada@example.com", "Ada")
		d := ok(t, gql(t, f, `query Q($e: String = "ada@example.com") {
			a: people(filter: {emails: {primaryEmail: {eq: $e}}}, orderBy: [{createdAt: DescNullsLast}], first: 5) { totalCount edges { node { __typename id } } }
			b: people(filter: {emails: {primaryEmail: {in: ["nobody@example.com"]}}}) { totalCount }
		}`, nil))
		if n := d["a"].(map[string]any)["totalCount"]; n != float64(1) {
			t.Errorf("a.totalCount %v", n)
		}
		if n := d["b"].(map[string]any)["totalCount"]; n != float64(0) {
			t.Errorf("b.totalCount %v", n)
		}
		node := d["a"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)
		if node["__typename"] != "Person" || len(node) != 2 {
			t.Errorf("node %v: want only the selected fields", node)
		}
	})
}

func TestPeople(t *testing.T) {
	t.Run("EmailIsLowerCaseAndUnique", func(t *testing.T) {
		f := start(t)
		id := create(t, f, "Ada@Example.COM", "Ada")
		p, _ := f.Person(id)
		if p.Email != "ada@example.com" {
			t.Errorf("stored email %q, want it in lower case", p.Email)
		}
		a := gql(t, f, createPerson, map[string]any{"data": map[string]any{"emails": map[string]any{"primaryEmail": "ADA@example.com"}}})
		wantCode(t, a, "BAD_USER_INPUT")
		if !strings.Contains(a.Errors[0].Message, "Duplicate Emails") || a.Errors[0].Extensions["conflictingRecordId"] != id {
			t.Errorf("duplicate error %+v", a.Errors[0])
		}
		if a.Data["createPerson"] != nil {
			t.Errorf("data %v on a failed create", a.Data)
		}
		if len(f.People()) != 1 {
			t.Errorf("%d people after a duplicate", len(f.People()))
		}
	})
	t.Run("UpsertUpdatesByEmail", func(t *testing.T) {
		f := start(t)
		id := create(t, f, "bob@example.com", "Bob")
		d := ok(t, gql(t, f, `mutation ($data: PersonCreateInput!) { createPerson(data: $data, upsert: true) { id name { firstName lastName } } }`,
			map[string]any{"data": map[string]any{"emails": map[string]any{"primaryEmail": "BOB@example.com"}, "name": map[string]any{"firstName": "Robert"}}}))
		got := d["createPerson"].(map[string]any)
		if got["id"] != id {
			t.Errorf("upsert made %v, want the existing %s", got["id"], id)
		}
		if name := got["name"].(map[string]any); name["firstName"] != "Robert" || name["lastName"] != "Doe" {
			t.Errorf("name %v: want firstName changed and lastName kept", name)
		}
		if len(f.People()) != 1 {
			t.Errorf("%d people after an upsert", len(f.People()))
		}
	})
	t.Run("UpsertByIDOnly", func(t *testing.T) {
		f := start(t)
		f.UpsertByIDOnly(true)
		id := create(t, f, "bea@example.com", "Bea")
		q := `mutation ($data: PersonCreateInput!) { createPerson(data: $data, upsert: true) { id name { firstName } } }`
		wantCode(t, gql(t, f, q, map[string]any{"data": map[string]any{"emails": map[string]any{"primaryEmail": "bea@example.com"}}}), "BAD_USER_INPUT")
		d := ok(t, gql(t, f, q, map[string]any{"data": map[string]any{"id": id, "name": map[string]any{"firstName": "Beatrice"}}}))
		if got := d["createPerson"].(map[string]any); got["id"] != id || got["name"].(map[string]any)["firstName"] != "Beatrice" {
			t.Errorf("upsert by id gave %v", got)
		}
	})
	t.Run("SoftDelete", func(t *testing.T) {
		f := start(t)
		id := create(t, f, "cy@example.com", "Cy")
		ok(t, gql(t, f, `mutation ($id: UUID!) { deletePerson(id: $id) { id deletedAt } }`, map[string]any{"id": id}))
		count := func(filter string) any {
			d := ok(t, gql(t, f, `{ people`+filter+` { totalCount } }`, nil))
			return d["people"].(map[string]any)["totalCount"]
		}
		if n := count(""); n != float64(0) {
			t.Errorf("a soft-deleted person is listed: %v", n)
		}
		if n := count(`(filter: {deletedAt: {is: NOT_NULL}})`); n != float64(1) {
			t.Errorf("the trash holds %v people", n)
		}
		wantCode(t, gql(t, f, `mutation ($id: UUID!, $d: PersonUpdateInput!) { updatePerson(id: $id, data: $d) { id } }`,
			map[string]any{"id": id, "d": map[string]any{"jobTitle": "x"}}), "NOT_FOUND")
		// The trashed person keeps its email in the unique index.
		wantCode(t, gql(t, f, createPerson, map[string]any{"data": map[string]any{"emails": map[string]any{"primaryEmail": "cy@example.com"}}}), "BAD_USER_INPUT")
		ok(t, gql(t, f, `mutation ($id: UUID!) { restorePerson(id: $id) { id } }`, map[string]any{"id": id}))
		if n := count(""); n != float64(1) {
			t.Errorf("a restored person is not listed: %v", n)
		}
		wantCode(t, gql(t, f, `mutation ($id: UUID!) { restorePerson(id: $id) { id } }`, map[string]any{"id": newUUID()}), "NOT_FOUND")
	})
	t.Run("Filters", func(t *testing.T) {
		f := start(t)
		co, err := f.AddCompany(Company{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		a := create(t, f, "a@example.com", "Ann")
		create(t, f, "b@example.com", "Ben")
		if err := f.SetCompany(a, co); err != nil {
			t.Fatal(err)
		}
		ids := func(filter string) []any {
			d := ok(t, gql(t, f, `{ people(filter: `+filter+`) { edges { node { id } } } }`, nil))
			var out []any
			for _, e := range d["people"].(map[string]any)["edges"].([]any) {
				out = append(out, e.(map[string]any)["node"].(map[string]any)["id"])
			}
			return out
		}
		for filter, want := range map[string]int{
			`{companyId: {eq: "` + co + `"}}`:  1,
			`{companyId: {is: NULL}}`:          1,
			`{companyId: {neq: "` + co + `"}}`: 0, // null is not "not equal"
			`{or: [{name: {firstName: {eq: "Ann"}}}, {name: {firstName: {like: "B%"}}}]}`: 2,
			`{not: {emails: {primaryEmail: {ilike: "A@%"}}}}`:                             1,
			`{and: [{companyId: {is: NOT_NULL}}, {companyId: {neq: "` + co + `"}}]}`:      0,
		} {
			if got := ids(filter); len(got) != want {
				t.Errorf("filter %s matched %v, want %d people", filter, got, want)
			}
		}
	})
	t.Run("ErrFiltersTwentyMisreads", func(t *testing.T) {
		f := start(t)
		for _, filter := range []string{
			`{companyId: {is: NOT_NULL, neq: "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"}}`,
			`{emails: {primaryEmail: {eq: "a@example.com", neq: "b@example.com"}}}`,
			`{id: {in: []}}`,
			`{or: []}`,
			`{companyId: {}}`,
		} {
			wantCode(t, gql(t, f, `{ people(filter: `+filter+`) { totalCount } }`, nil), "BAD_USER_INPUT")
		}
	})
	t.Run("TextFieldsEmptyIsNull", func(t *testing.T) {
		f := start(t)
		const q = `mutation ($id: UUID!, $d: PersonUpdateInput!) { updatePerson(id: $id, data: $d) { jobTitle city } }`
		id := create(t, f, "tex@example.com", "Tex")
		d := ok(t, gql(t, f, `{ people { edges { node { jobTitle city } } } }`, nil))
		node := d["people"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)
		if v, present := node["jobTitle"]; !present || v != nil || node["city"] != nil {
			t.Errorf("a new person's text fields are %v, want null", node)
		}
		d = ok(t, gql(t, f, q, map[string]any{"id": id, "d": map[string]any{"jobTitle": "Researcher", "city": "Oslo"}}))
		if got := d["updatePerson"].(map[string]any); got["jobTitle"] != "Researcher" || got["city"] != "Oslo" {
			t.Errorf("after setting: %v", got)
		}
		if p, _ := f.Person(id); p.JobTitle != "Researcher" || p.City != "Oslo" {
			t.Errorf("stored %+v", p)
		}
		// Only what data names changes; "" and null both clear.
		d = ok(t, gql(t, f, q, map[string]any{"id": id, "d": map[string]any{"jobTitle": ""}}))
		if got := d["updatePerson"].(map[string]any); got["jobTitle"] != nil || got["city"] != "Oslo" {
			t.Errorf("after clearing jobTitle: %v", got)
		}
		d = ok(t, gql(t, f, q, map[string]any{"id": id, "d": map[string]any{"city": nil}}))
		if got := d["updatePerson"].(map[string]any); got["city"] != nil {
			t.Errorf("after clearing city: %v", got)
		}
		wantCode(t, gql(t, f, q, map[string]any{"id": id, "d": map[string]any{"city": 12}}), "BAD_USER_INPUT")
		if err := f.SetPersonText(id, "city", "Bergen"); err != nil {
			t.Fatal(err)
		}
		d = ok(t, gql(t, f, `{ people(filter: {city: {eq: "Bergen"}}) { totalCount } }`, nil))
		if n := d["people"].(map[string]any)["totalCount"]; n != float64(1) {
			t.Errorf("filter on city found %v", n)
		}
		if err := f.SetPersonText(id, "phone", "1"); err == nil {
			t.Error("SetPersonText took a field that is not jobTitle or city")
		}
	})
	t.Run("CompanyMustExist", func(t *testing.T) {
		f := start(t)
		wantCode(t, gql(t, f, createPerson, map[string]any{"data": map[string]any{
			"emails": map[string]any{"primaryEmail": "d@example.com"}, "companyId": newUUID(),
		}}), "BAD_USER_INPUT")
	})
	t.Run("UpdateMany", func(t *testing.T) {
		f := start(t)
		co, _ := f.AddCompany(Company{Name: "Acme"})
		a, b := create(t, f, "a@example.com", "Ann"), create(t, f, "b@example.com", "Ben")
		d := ok(t, gql(t, f, `mutation ($d: PersonUpdateInput!, $f: PersonFilterInput!) { updatePeople(data: $d, filter: $f) { id companyId } }`,
			map[string]any{"d": map[string]any{"companyId": co}, "f": map[string]any{"id": map[string]any{"in": []string{a, b}}, "companyId": map[string]any{"is": "NULL"}}}))
		if n := len(d["updatePeople"].([]any)); n != 2 {
			t.Errorf("updated %d people, want 2", n)
		}
		// The same again changes nothing: nobody is without a company.
		d = ok(t, gql(t, f, `mutation ($d: PersonUpdateInput!, $f: PersonFilterInput!) { updatePeople(data: $d, filter: $f) { id } }`,
			map[string]any{"d": map[string]any{"companyId": nil}, "f": map[string]any{"id": map[string]any{"in": []string{a}}, "companyId": map[string]any{"is": "NULL"}}}))
		if n := len(d["updatePeople"].([]any)); n != 0 {
			t.Errorf("updated %d people, want 0", n)
		}
		if p, _ := f.Person(a); p.CompanyID != co {
			t.Errorf("company %q", p.CompanyID)
		}
	})
}

func TestPaging(t *testing.T) {
	f := start(t)
	for i := range 130 {
		if _, err := f.AddPerson(Person{Email: fmt.Sprintf("p%03d@example.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[any]bool{}
	var after any
	pages := 0
	for {
		d := ok(t, gql(t, f, `query ($after: String) { people(after: $after) { totalCount edges { node { id } cursor } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"after": after}))
		conn := d["people"].(map[string]any)
		if conn["totalCount"] != float64(130) {
			t.Fatalf("totalCount %v", conn["totalCount"])
		}
		edges := conn["edges"].([]any)
		for _, e := range edges {
			seen[e.(map[string]any)["node"].(map[string]any)["id"]] = true
		}
		pages++
		info := conn["pageInfo"].(map[string]any)
		if info["hasNextPage"] != true {
			if len(edges) != 10 {
				t.Errorf("last page has %d people, want 10", len(edges))
			}
			break
		}
		if len(edges) != maxRecords {
			t.Fatalf("page %d has %d people, want %d", pages, len(edges), maxRecords)
		}
		after = info["endCursor"]
	}
	if pages != 3 || len(seen) != 130 {
		t.Errorf("%d pages, %d distinct people", pages, len(seen))
	}
	wantCode(t, gql(t, f, `{ people(last: 5) { totalCount } }`, nil), "BAD_USER_INPUT")
}

func TestCompanies(t *testing.T) {
	f := start(t)
	q := `mutation ($d: CompanyCreateInput!) { createCompany(data: $d) { id name } }`
	ok(t, gql(t, f, q, map[string]any{"d": map[string]any{"name": "Acme"}}))
	// Twenty does not keep company names unique.
	ok(t, gql(t, f, q, map[string]any{"d": map[string]any{"name": "Acme"}}))
	ok(t, gql(t, f, q, map[string]any{"d": map[string]any{"name": "Acme EU", "domainName": map[string]any{"primaryLinkUrl": "https://acme.example"}}}))
	wantCode(t, gql(t, f, q, map[string]any{"d": map[string]any{"name": "Other", "domainName": map[string]any{"primaryLinkUrl": "https://acme.example"}}}), "BAD_USER_INPUT")
	d := ok(t, gql(t, f, `{ companies(filter: {name: {eq: "Acme"}}, orderBy: [{createdAt: AscNullsFirst}]) { edges { node { id createdAt } } } }`, nil))
	edges := d["companies"].(map[string]any)["edges"].([]any)
	if len(edges) != 2 {
		t.Fatalf("%d companies named Acme, want 2", len(edges))
	}
	first := edges[0].(map[string]any)["node"].(map[string]any)["createdAt"].(string)
	second := edges[1].(map[string]any)["node"].(map[string]any)["createdAt"].(string)
	if first >= second {
		t.Errorf("not oldest first: %s, %s", first, second)
	}
}

func TestFaults(t *testing.T) {
	t.Run("Fail", func(t *testing.T) {
		f := start(t)
		f.Fail(2, http.StatusTooManyRequests, "7")
		for range 2 {
			req, _ := http.NewRequest(http.MethodPost, f.URL+"/graphql", strings.NewReader(`{"query":"{ people { totalCount } }"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
				t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		ok(t, gql(t, f, `{ people { totalCount } }`, nil))
		if f.Requests() != 3 {
			t.Errorf("%d requests", f.Requests())
		}
	})
	t.Run("Slow", func(t *testing.T) {
		f := start(t)
		f.Slow(time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+"/graphql", strings.NewReader(`{}`))
		if _, err := http.DefaultClient.Do(req); err == nil {
			t.Error("a slow answer came before the deadline")
		}
		f.Slow(0)
		ok(t, gql(t, f, `{ people { totalCount } }`, nil))
	})
}

func TestService(t *testing.T) {
	f := start(t)
	s := f.Service()
	ctx := t.Context()
	u := fanout.User{Email: "Eve@Example.com", GivenName: "Eve"}
	id, err := s.Precreate(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := s.Account(ctx, id)
	if err != nil || !acct.Active || acct.Email != "eve@example.com" {
		t.Fatalf("account %+v, %v", acct, err)
	}
	if n, _ := s.Matching(ctx, u); n != 1 {
		t.Errorf("matching %d", n)
	}
	if err := s.Conflict(ctx, u); err != connectortest.ErrUnsupported {
		t.Errorf("conflict: %v", err)
	}
	if _, err := s.Account(ctx, newUUID()); err == nil {
		t.Error("an unknown account was found")
	}
	co, _ := f.AddCompany(Company{Name: "Team"})
	if err := f.SetCompany(id, co); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Members(ctx, co); len(m) != 1 || m[0] != id {
		t.Errorf("members %v", m)
	}
	if err := s.RemoveMember(ctx, co, id); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Members(ctx, co); len(m) != 0 {
		t.Errorf("members after removal %v", m)
	}
	if _, err := s.Members(ctx, newUUID()); err == nil {
		t.Error("members of an unknown company")
	}
	if err := f.TrashPerson(id); err != nil {
		t.Fatal(err)
	}
	if acct, _ := s.Account(ctx, id); acct.Active {
		t.Error("a trashed person is active")
	}
	if n, _ := s.Matching(ctx, u); n != 1 {
		t.Errorf("matching counts %d, want the trashed person too", n)
	}
}
