package scim_test

import (
	"fmt"
	"reflect"
	"testing"
)

// TestFastGetMatchesLibrary compares the spliced GET /Users/{id} with the
// same user rendered by the library path (a projection that names every
// attribute forces that path).
func TestFastGetMatchesLibrary(t *testing.T) {
	s := newTestServer(t)
	id := s.createUser("fast", map[string]any{
		"externalId":  "ext-1",
		"displayName": `Quote " and \ backslash`,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"employeeNumber": "42", "manager": map[string]any{"value": "m-1"}},
	})
	g := s.createGroup("fast-group", id)
	fast := s.do("GET", "/Users/"+id, nil).must(t, 200)
	slow := s.do("GET", "/Users/"+id+"?excludedAttributes=nosuchattribute", nil).must(t, 200)
	if !reflect.DeepEqual(fast.Body, slow.Body) {
		t.Fatalf("fast and library renderings differ:\nfast %s\nslow %s", fast.Raw, slow.Raw)
	}
	if fast.Header.Get("ETag") != slow.Header.Get("ETag") || fast.Header.Get("ETag") == "" {
		t.Fatalf("ETags %q vs %q", fast.Header.Get("ETag"), slow.Header.Get("ETag"))
	}
	groups, _ := fast.Body["groups"].([]any)
	if len(groups) != 1 || groups[0].(map[string]any)["value"] != g {
		t.Fatalf("groups %v", fast.Body["groups"])
	}
}

func TestFastGroupGetMatchesLibrary(t *testing.T) {
	s := newTestServer(t)
	a := s.createUser("fast-a", map[string]any{"displayName": `Ünïcödé "quoted" <b>&`})
	b := s.createUser("fast-b", nil)
	for _, members := range [][]string{nil, {a, b}} {
		g := s.createGroup(fmt.Sprintf(`Team <%d> "x"`, len(members)), members...)
		fast := s.do("GET", "/Groups/"+g, nil).must(t, 200)
		slow := s.do("GET", "/Groups/"+g+"?excludedAttributes=nosuchattribute", nil).must(t, 200)
		if !reflect.DeepEqual(fast.Body, slow.Body) {
			t.Fatalf("fast and library renderings differ:\nfast %s\nslow %s", fast.Raw, slow.Raw)
		}
		if fast.Header.Get("ETag") == "" || fast.Header.Get("ETag") != slow.Header.Get("ETag") {
			t.Fatalf("ETags %q vs %q", fast.Header.Get("ETag"), slow.Header.Get("ETag"))
		}
	}
}
