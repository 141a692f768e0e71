package scim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	s := newTestServer(t)
	for name, hdr := range map[string]string{"Missing": "", "Wrong": "Bearer nope-nope-nope", "Basic": "Basic dXNlcjpwYXNz"} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL+"/Users", nil)
			if hdr != "" {
				req.Header.Set("Authorization", hdr)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	s := newTestServer(t)
	id := s.createUser("alice", nil)
	cases := []struct {
		name, method, path string
		body               string
		status             int
		scimType           string
	}{
		{"MalformedJSON", "POST", "/Users", `{"schemas":[`, 400, "invalidSyntax"},
		{"NotAnObject", "POST", "/Users", `[1,2]`, 400, "invalidSyntax"},
		{"TrailingData", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"} {}`, 400, "invalidSyntax"},
		{"WrongTypeActive", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":5}`, 400, ""},
		{"MissingUserName", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`, 400, ""},
		{"DuplicateUserNameOtherCase", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ALICE"}`, 409, "uniqueness"},
		{"HostileFilter", "GET", "/Users?filter=" + strings.Repeat("(", 5000), "", 400, "invalidFilter"},
		{"UnknownFilterAttribute", "GET", "/Users?filter=shoeSize+eq+%2242%22", "", 400, "invalidFilter"},
		{"PatchNoSchemas", "PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, 400, "invalidSyntax"},
		{"PatchBadOp", "PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"explode"}]}`, 400, "invalidSyntax"},
		{"PatchReadOnlyID", "PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"id","value":"x"}]}`, 400, "mutability"},
		{"PatchUnknownUser", "PATCH", "/Users/nobody", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, 404, ""},
		{"StaleIfMatch", "DELETE", "/Users/" + id + "#ifmatch", "", 412, ""},
		{"UnknownEndpoint", "GET", "/Widgets", "", 404, ""},
		{"SearchWithoutSchemas", "POST", "/Users/.search", `{"filter":"userName eq \"alice\""}`, 400, "invalidSyntax"},
		{"NegativeCountIsZero", "GET", "/Users?count=-5", "", 200, ""},
		{"NonNumericCount", "GET", "/Users?count=abc", "", 400, "invalidValue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, hdr := c.path, []string(nil)
			if strings.HasSuffix(path, "#ifmatch") {
				path, hdr = strings.TrimSuffix(path, "#ifmatch"), []string{"If-Match", `W/"999"`}
			}
			r := s.do(c.method, path, nilIfEmpty(c.body), hdr...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Raw)
			}
			if c.status >= 400 {
				if r.str("status") != fmt.Sprint(c.status) {
					t.Fatalf("error body status %q: %s", r.str("status"), r.Raw)
				}
				if sc, _ := r.Body["schemas"].([]any); len(sc) != 1 || sc[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
					t.Fatalf("error body schemas: %s", r.Raw)
				}
			}
			if c.scimType != "" && r.str("scimType") != c.scimType {
				t.Fatalf("scimType %q, want %q: %s", r.str("scimType"), c.scimType, r.Raw)
			}
		})
	}
	// Nothing above changed alice.
	got := s.do("GET", "/Users/"+id, nil).must(t, 200)
	if got.str("userName") != "alice" || got.Body["active"] != true {
		t.Fatalf("alice changed: %s", got.Raw)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestHugeBodyIs413(t *testing.T) {
	s := newTestServer(t)
	big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"big","displayName":"` + strings.Repeat("x", 2<<20) + `"}`
	r := s.do("POST", "/Users", big).must(t, 413)
	if r.str("status") != "413" {
		t.Fatalf("body %s", r.Raw)
	}
	if n, _ := s.Store.CountUsers(t.Context()); n != 0 {
		t.Fatalf("%d users stored after a refused body", n)
	}
}

func TestPatchIsAtomic(t *testing.T) {
	s := newTestServer(t)
	id := s.createUser("atomic", nil)
	before := s.do("GET", "/Users/"+id, nil).must(t, 200)
	s.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
	  {"op":"replace","path":"displayName","value":"Changed"},
	  {"op":"replace","path":"emails[type eq \"home\"].value","value":"nothing@matches"}]}`).must(t, 400)
	after := s.do("GET", "/Users/"+id, nil).must(t, 200)
	if string(before.Raw) != string(after.Raw) {
		t.Fatalf("user changed by a failed PATCH:\nbefore %s\nafter  %s", before.Raw, after.Raw)
	}
}

func TestETags(t *testing.T) {
	s := newTestServer(t)
	r := s.do("POST", "/Users", userBody("etag", nil)).must(t, 201)
	id, tag := r.str("id"), r.Header.Get("ETag")
	meta := r.Body["meta"].(map[string]any)
	if tag == "" || meta["version"] != tag {
		t.Fatalf("ETag %q, meta.version %v", tag, meta["version"])
	}
	if loc := r.Header.Get("Location"); loc == "" || loc != meta["location"] {
		t.Fatalf("Location %q, meta.location %v", loc, meta["location"])
	}
	s.do("GET", "/Users/"+id, nil, "If-None-Match", tag).must(t, 304)
	r = s.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"v2"}]}`, "If-Match", tag).must(t, 200)
	newTag := r.Header.Get("ETag")
	if newTag == tag {
		t.Fatal("ETag did not change")
	}
	s.do("PUT", "/Users/"+id, userBody("etag", nil), "If-Match", tag).must(t, 412)
	s.do("DELETE", "/Users/"+id, nil, "If-Match", tag).must(t, 412)
	s.do("DELETE", "/Users/"+id, nil, "If-Match", newTag).must(t, 204)
	s.do("GET", "/Users/"+id, nil).must(t, 404)
	s.do("DELETE", "/Users/"+id, nil).must(t, 404)
}

func TestGroupPatchAnswers204WithETag(t *testing.T) {
	s := newTestServer(t)
	u := s.createUser("m", nil)
	g := s.createGroup("team")
	r := s.do("PATCH", "/Groups/"+g, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, u)).must(t, 204)
	if r.Header.Get("ETag") == "" {
		t.Fatal("no ETag on a 204 PATCH")
	}
	got := s.do("GET", "/Groups/"+g, nil).must(t, 200)
	if got.Header.Get("ETag") != r.Header.Get("ETag") {
		t.Fatalf("GET ETag %q, PATCH ETag %q", got.Header.Get("ETag"), r.Header.Get("ETag"))
	}
	ms := got.Body["members"].([]any)
	m := ms[0].(map[string]any)
	if m["value"] != u || m["type"] != "User" || m["display"] == "" || !strings.HasSuffix(m["$ref"].(string), "/Users/"+u) {
		t.Fatalf("member %v", m)
	}
	// The user's groups attribute reflects the membership.
	ug := s.do("GET", "/Users/"+u, nil).must(t, 200)
	groups, _ := ug.Body["groups"].([]any)
	if len(groups) != 1 || groups[0].(map[string]any)["value"] != g {
		t.Fatalf("user groups = %v", ug.Body["groups"])
	}
}

// FuzzRequest drives the whole decoding path (routing, body limit, quirks,
// schema validation, filters, PATCH) with arbitrary requests: the server
// must never answer 5xx nor send anything but a JSON body.
func FuzzRequest(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"f","active":"True"}`},
		{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"x"}]}`},
		{"PATCH", "/Users/ID", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","value":{"id":"1","active":false}}]}`},
		{"PATCH", "/Groups/GID", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"ID"}]}]}`},
		{"GET", `/Users?filter=emails[type eq "work" and value co "@"]&sortBy=userName`, ""},
		{"GET", "/Users?filter=not(userName pr)&attributes=name.givenName", ""},
		{"POST", "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"meta.lastModified gt \"2020-01-01T00:00:00Z\"","count":1}`},
		{"PUT", "/Groups/GID", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":"nope"}`},
		{"POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b"}}]}`},
		{"DELETE", "/Users/ID", ""},
	}
	for _, sd := range seeds {
		f.Add(sd.method, sd.path, sd.body)
	}
	s := newTestServer(f)
	userID := s.createUser("fuzz-user", nil)
	groupID := s.createGroup("fuzz-group", userID)
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			method = "POST"
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \x00\r\n#") {
			path = "/Users"
		}
		path = strings.ReplaceAll(path, "GID", groupID)
		path = strings.ReplaceAll(path, "ID", userID)
		body = strings.ReplaceAll(body, "ID", userID)
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: status %d", method, path, body, resp.StatusCode)
		}
		if resp.StatusCode != 204 && resp.StatusCode != 304 {
			var v any
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
			}
		}
	})
}
