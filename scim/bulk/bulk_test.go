package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	base  = "/scim/v2"
	token = "Bearer s3cret"
)

// fakeSCIM is a small stateful stand-in for the server's resource
// endpoints. It keeps users and groups in maps and enforces the rules the
// real server does: bearer auth, unique userName (409), members that must
// exist (400), unknown ids (404), If-Match (412), and SCIM error bodies.
// Paths it does not serve get a plain-text 404, as a mux would answer.
type fakeSCIM struct {
	mu      sync.Mutex
	users   map[string]*fakeResource
	groups  map[string]*fakeResource
	next    int
	calls   []string      // "METHOD /path" relative to base, in order
	headers []http.Header // headers of each call
}

type fakeResource struct {
	doc     map[string]any
	version int
}

func newFake() *fakeSCIM {
	return &fakeSCIM{users: map[string]*fakeResource{}, groups: map[string]*fakeResource{}}
}

func (f *fakeSCIM) etag(r *fakeResource) string { return `W/"` + strconv.Itoa(r.version) + `"` }

func fakeError(w http.ResponseWriter, status int, scimType, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
		"status":   strconv.Itoa(status),
		"scimType": scimType,
		"detail":   detail,
	})
}

func (f *fakeSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rel, ok := strings.CutPrefix(r.URL.Path, base)
	f.calls = append(f.calls, r.Method+" "+rel)
	f.headers = append(f.headers, r.Header.Clone())
	if r.Header.Get("Authorization") != token {
		fakeError(w, http.StatusUnauthorized, "", "missing or wrong bearer token")
		return
	}
	segs := strings.Split(strings.TrimPrefix(rel, "/"), "/")
	if !ok || len(segs) > 2 || (segs[0] != "Users" && segs[0] != "Groups") {
		http.NotFound(w, r)
		return
	}
	store := f.users
	if segs[0] == "Groups" {
		store = f.groups
	}
	if len(segs) == 1 {
		if r.Method != http.MethodPost {
			fakeError(w, http.StatusMethodNotAllowed, "", "method not allowed")
			return
		}
		f.create(w, r, segs[0], store)
		return
	}
	id := segs[1]
	res, found := store[id]
	if !found {
		fakeError(w, http.StatusNotFound, "", "resource not found")
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != f.etag(res) {
		fakeError(w, http.StatusPreconditionFailed, "", "version mismatch")
		return
	}
	switch r.Method {
	case http.MethodGet:
		f.write(w, http.StatusOK, res, false)
	case http.MethodPut:
		doc, ok := decodeBody(w, r)
		if !ok {
			return
		}
		if !f.checkMembers(w, doc["members"]) {
			return
		}
		doc["id"] = id
		res.doc = doc
		res.version++
		f.write(w, http.StatusOK, res, false)
	case http.MethodPatch:
		doc, ok := decodeBody(w, r)
		if !ok {
			return
		}
		ops, _ := doc["Operations"].([]any)
		for _, o := range ops {
			op, _ := o.(map[string]any)
			switch {
			case op["op"] == "add" && op["path"] == "members":
				if !f.checkMembers(w, op["value"]) {
					return
				}
				cur, _ := res.doc["members"].([]any)
				res.doc["members"] = append(cur, op["value"].([]any)...)
			case op["op"] == "replace" && op["path"] != nil:
				res.doc[op["path"].(string)] = op["value"]
			default:
				fakeError(w, http.StatusBadRequest, "invalidValue", "unsupported patch operation")
				return
			}
		}
		res.version++
		w.Header().Set("ETag", f.etag(res))
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		delete(store, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		fakeError(w, http.StatusMethodNotAllowed, "", "method not allowed")
	}
}

func (f *fakeSCIM) create(w http.ResponseWriter, r *http.Request, kind string, store map[string]*fakeResource) {
	doc, ok := decodeBody(w, r)
	if !ok {
		return
	}
	if kind == "Users" {
		name, _ := doc["userName"].(string)
		if name == "" {
			fakeError(w, http.StatusBadRequest, "invalidValue", "userName is required")
			return
		}
		for _, u := range f.users {
			if strings.EqualFold(u.doc["userName"].(string), name) {
				fakeError(w, http.StatusConflict, "uniqueness", "userName is already in use")
				return
			}
		}
	} else {
		if name, _ := doc["displayName"].(string); name == "" {
			fakeError(w, http.StatusBadRequest, "invalidValue", "displayName is required")
			return
		}
		if !f.checkMembers(w, doc["members"]) {
			return
		}
	}
	f.next++
	id := strings.ToLower(kind[:1]) + "-" + strconv.Itoa(f.next)
	doc["id"] = id
	res := &fakeResource{doc: doc, version: 1}
	store[id] = res
	f.write(w, http.StatusCreated, res, true)
}

// checkMembers enforces that every member value names an existing user or
// group, as the store does; an unresolved "bulkId:..." fails here.
func (f *fakeSCIM) checkMembers(w http.ResponseWriter, v any) bool {
	if v == nil {
		return true
	}
	list, ok := v.([]any)
	if !ok {
		fakeError(w, http.StatusBadRequest, "invalidSyntax", "members must be a list")
		return false
	}
	for _, m := range list {
		obj, _ := m.(map[string]any)
		id, _ := obj["value"].(string)
		if f.users[id] == nil && f.groups[id] == nil {
			fakeError(w, http.StatusBadRequest, "invalidValue", "a member does not exist")
			return false
		}
	}
	return true
}

func (f *fakeSCIM) write(w http.ResponseWriter, status int, res *fakeResource, withLocation bool) {
	kind := "Users"
	if _, ok := res.doc["displayName"]; ok && res.doc["userName"] == nil {
		kind = "Groups"
	}
	loc := "https://scim.example.test" + base + "/" + kind + "/" + res.doc["id"].(string)
	res.doc["meta"] = map[string]any{"version": f.etag(res), "location": loc}
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("ETag", f.etag(res))
	if withLocation {
		w.Header().Set("Location", loc)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res.doc)
}

func decodeBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var doc map[string]any
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil || doc == nil {
		fakeError(w, http.StatusBadRequest, "invalidSyntax", "body is not a JSON object")
		return nil, false
	}
	return doc, true
}

func (f *fakeSCIM) userByName(name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.doc["userName"] == name {
			return u.doc
		}
	}
	return nil
}

func (f *fakeSCIM) groupByName(name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.groups {
		if g.doc["displayName"] == name {
			return g.doc
		}
	}
	return nil
}

// bulkResult is a BulkResponse as a client reads it.
type bulkResult struct {
	Schemas    []string `json:"schemas"`
	Operations []struct {
		Method   string         `json:"method"`
		BulkID   string         `json:"bulkId"`
		Version  string         `json:"version"`
		Location string         `json:"location"`
		Status   string         `json:"status"`
		Response map[string]any `json:"response"`
	} `json:"Operations"`
}

// post sends a bulk request with the bearer token and returns the status
// and the decoded body.
func post(t *testing.T, h http.Handler, body string) (int, bulkResult, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, base+"/Bulk", strings.NewReader(body))
	r.Header.Set("Authorization", token)
	r.Header.Set("Content-Type", "application/scim+json")
	return serve(t, h, r)
}

func serve(t *testing.T, h http.Handler, r *http.Request) (int, bulkResult, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if ct := w.Header().Get("Content-Type"); ct != contentType {
		t.Errorf("Content-Type = %q, want %q", ct, contentType)
	}
	var res bulkResult
	var raw map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, w.Body)
	}
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("response is not a BulkResponse: %v\n%s", err, w.Body)
		}
		if !slices.Equal(res.Schemas, []string{responseSchema}) {
			t.Errorf("schemas = %q", res.Schemas)
		}
	}
	return w.Code, res, raw
}

// wantError checks a top-level SCIM error response.
func wantError(t *testing.T, raw map[string]any, status int, scimType string) {
	t.Helper()
	if s, _ := raw["schemas"].([]any); len(s) != 1 || s[0] != errorSchema {
		t.Errorf("error schemas = %v", raw["schemas"])
	}
	if raw["status"] != strconv.Itoa(status) {
		t.Errorf("error status = %v, want %q", raw["status"], strconv.Itoa(status))
	}
	if scimType != "" && raw["scimType"] != scimType {
		t.Errorf("scimType = %v, want %q", raw["scimType"], scimType)
	}
	if d, _ := raw["detail"].(string); d == "" {
		t.Errorf("error has no detail")
	}
}

func statuses(res bulkResult) []string {
	var out []string
	for _, op := range res.Operations {
		out = append(out, op.Status)
	}
	return out
}

func TestHandler(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		// The user/group pair of RFC 7644 §3.7.2: the group's member is
		// the user created under bulkId qwerty.
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [
				{"method": "POST", "path": "/Users", "bulkId": "qwerty",
				 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}},
				{"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
				 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tour Guides",
				          "members": [{"type": "User", "value": "bulkId:qwerty"}]}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"201", "201"}) {
			t.Fatalf("statuses = %q", got)
		}
		alice := f.userByName("alice")
		group := f.groupByName("Tour Guides")
		if alice == nil || group == nil {
			t.Fatalf("not created: user %v group %v", alice, group)
		}
		members := group["members"].([]any)
		if got := members[0].(map[string]any)["value"]; got != alice["id"] {
			t.Errorf("member value = %v, want %v", got, alice["id"])
		}
		op := res.Operations[0]
		if op.Method != "POST" || op.BulkID != "qwerty" || op.Version != `W/"1"` ||
			op.Location != "https://scim.example.test/scim/v2/Users/"+alice["id"].(string) || op.Response != nil {
			t.Errorf("first result = %+v", op)
		}
		if res.Operations[1].BulkID != "ytrewq" {
			t.Errorf("second bulkId = %q", res.Operations[1].BulkID)
		}
	})

	t.Run("OrderAndAllMethods", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base+"/", Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [
				{"method": "post", "path": "/Users", "bulkId": "a", "data": {"userName": "a"}},
				{"method": "Put", "path": "/Users/bulkId:a", "version": "W/\"1\"", "data": {"userName": "a", "title": "Boss"}},
				{"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "g"}},
				{"method": "PATCH", "path": "/Groups/bulkId:g",
				 "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				          "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:a"}]}]}},
				{"method": "DELETE", "path": "/Users/bulkId:a", "data": "ignored"}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"201", "200", "201", "204", "204"}) {
			t.Fatalf("statuses = %q", got)
		}
		want := []string{"POST /Users", "PUT /Users/u-1", "POST /Groups", "PATCH /Groups/g-2", "DELETE /Users/u-1"}
		if !slices.Equal(f.calls, want) {
			t.Errorf("calls = %q, want %q", f.calls, want)
		}
		methods := []string{}
		for _, op := range res.Operations {
			methods = append(methods, op.Method)
		}
		if !slices.Equal(methods, []string{"POST", "PUT", "POST", "PATCH", "DELETE"}) {
			t.Errorf("methods = %q", methods)
		}
		if got := res.Operations[1].Version; got != `W/"2"` {
			t.Errorf("PUT version = %q", got)
		}
		// PUT answers no Location: it comes from the body's meta.
		if got := res.Operations[1].Location; got != "https://scim.example.test/scim/v2/Users/u-1" {
			t.Errorf("PUT location = %q", got)
		}
		// PATCH and DELETE answer 204 without one: it is built.
		if got := res.Operations[3].Location; got != "http://example.com/scim/v2/Groups/g-2" {
			t.Errorf("PATCH location = %q", got)
		}
		if got := res.Operations[4].Location; got != "http://example.com/scim/v2/Users/u-1" {
			t.Errorf("DELETE location = %q", got)
		}
		if f.userByName("a") != nil {
			t.Errorf("user not deleted")
		}
	})

	t.Run("ForwardReference", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [
				{"method": "POST", "path": "/Groups", "bulkId": "grp",
				 "data": {"displayName": "later", "members": [{"value": "bulkId:usr"}]}},
				{"method": "POST", "path": "/Users", "bulkId": "other", "data": {"userName": "bob"}},
				{"method": "POST", "path": "/Users", "bulkId": "usr", "data": {"userName": "carol"}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"201", "201", "201"}) {
			t.Fatalf("statuses = %q", got)
		}
		// The group waited for carol; bob ran in his place.
		want := []string{"POST /Users", "POST /Users", "POST /Groups"}
		if !slices.Equal(f.calls, want) {
			t.Errorf("calls = %q, want %q", f.calls, want)
		}
		// The response is in request order.
		var ids []string
		for _, op := range res.Operations {
			ids = append(ids, op.BulkID)
		}
		if !slices.Equal(ids, []string{"grp", "other", "usr"}) {
			t.Errorf("bulkIds in response = %q", ids)
		}
		carol := f.userByName("carol")
		members := f.groupByName("later")["members"].([]any)
		if members[0].(map[string]any)["value"] != carol["id"] {
			t.Errorf("member = %v, want %v", members[0], carol["id"])
		}
	})

	t.Run("ErrCircularReference", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [
				{"method": "POST", "path": "/Groups", "bulkId": "A", "data": {"displayName": "A", "members": [{"value": "bulkId:B"}]}},
				{"method": "POST", "path": "/Groups", "bulkId": "B", "data": {"displayName": "B", "members": [{"value": "bulkId:A"}]}},
				{"method": "POST", "path": "/Groups", "bulkId": "self", "data": {"displayName": "S", "members": [{"value": "bulkId:self"}]}},
				{"method": "POST", "path": "/Groups", "bulkId": "C", "data": {"displayName": "C", "members": [{"value": "bulkId:A"}]}},
				{"method": "POST", "path": "/Users", "bulkId": "free", "data": {"userName": "free"}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"409", "409", "409", "409", "201"}) {
			t.Fatalf("statuses = %q", got)
		}
		for _, op := range res.Operations[:4] {
			if op.Response["scimType"] != scimInvalidValue || op.Response["status"] != "409" || op.Location != "" {
				t.Errorf("result %s = %+v", op.BulkID, op)
			}
		}
		if !slices.Equal(f.calls, []string{"POST /Users"}) {
			t.Errorf("calls = %q: only the free user should reach the server", f.calls)
		}
	})

	t.Run("ErrUnresolvableReference", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [
				{"method": "POST", "path": "/Users", "bulkId": "dup1", "data": {"userName": "dave"}},
				{"method": "POST", "path": "/Users", "bulkId": "dup2", "data": {"userName": "DAVE"}},
				{"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "g1", "members": [{"value": "bulkId:dup2"}]}},
				{"method": "POST", "path": "/Groups", "bulkId": "g2", "data": {"displayName": "g2", "members": [{"value": "bulkId:nowhere"}]}},
				{"method": "DELETE", "path": "/Users/bulkId:missing"},
				{"method": "PUT", "path": "/Users/x", "bulkId": "putid", "data": {"userName": "x"}},
				{"method": "PATCH", "path": "/Users/bulkId:putid", "data": {"Operations": []}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"201", "409", "409", "409", "409", "404", "409"}) {
			t.Fatalf("statuses = %q", got)
		}
		// The duplicate userName is the server's 409, passed on as is.
		if r := res.Operations[1].Response; r["scimType"] != "uniqueness" || r["detail"] != "userName is already in use" {
			t.Errorf("duplicate response = %v", r)
		}
		// A failed POST has no location.
		if res.Operations[1].Location != "" {
			t.Errorf("failed POST location = %q", res.Operations[1].Location)
		}
		for _, i := range []int{2, 3, 4, 6} {
			if r := res.Operations[i].Response; r["scimType"] != scimInvalidValue {
				t.Errorf("result %d response = %v", i, r)
			}
		}
		if f.groupByName("g1") != nil || f.groupByName("g2") != nil {
			t.Errorf("a group with an unresolved member was created")
		}
	})

	t.Run("FailOnErrorsStops", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"failOnErrors": 1,
			"Operations": [
				{"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "erin"}},
				{"method": "POST", "path": "/Users", "bulkId": "2", "data": {"userName": "erin"}},
				{"method": "POST", "path": "/Users", "bulkId": "3", "data": {"userName": "frank"}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"201", "409"}) {
			t.Fatalf("statuses = %q", got)
		}
		if f.userByName("frank") != nil {
			t.Errorf("an operation after failOnErrors was performed")
		}
	})

	t.Run("FailOnErrorsCountsLocalFailures", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"failOnErrors": 2,
			"Operations": [
				{"method": "GET", "path": "/Users/x"},
				{"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "gina"}},
				{"method": "DELETE", "path": "/Users/nobody"},
				{"method": "POST", "path": "/Users", "bulkId": "late", "data": {"userName": "hank"}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"400", "201", "404"}) {
			t.Fatalf("statuses = %q", got)
		}
		if f.userByName("hank") != nil {
			t.Errorf("an operation after failOnErrors was performed")
		}
	})

	t.Run("ErrPathsRejectedPerOperation", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [
				{"method": "POST", "path": "/Bulk", "bulkId": "n", "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}},
				{"method": "POST", "path": "/Schemas", "bulkId": "s", "data": {}},
				{"method": "DELETE", "path": "/Users/a/b"},
				{"method": "DELETE", "path": "Users/a"},
				{"method": "DELETE", "path": "/Users/a?x=1"},
				{"method": "POST", "path": "/Users/a", "bulkId": "p", "data": {"userName": "p"}},
				{"method": "DELETE", "path": "/Users"},
				{"method": "DELETE", "path": "/Users/%2F"},
				{"method": "DELETE", "path": "/Users/.."},
				{"method": "DELETE", "path": "/users/a"},
				{"method": "POST", "path": "/Users", "data": {"userName": "nobulkid"}},
				{"method": "POST", "path": "/Users", "bulkId": "d", "data": ["not", "an", "object"]},
				{"method": "PUT", "path": "/Users/a"},
				{"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "ivy"}},
				{"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "ivy2"}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		want := slices.Repeat([]string{"400"}, 15)
		want[13] = "201"
		if got := statuses(res); !slices.Equal(got, want) {
			t.Fatalf("statuses = %q, want %q", got, want)
		}
		for i, op := range res.Operations {
			if op.Status != "400" {
				continue
			}
			if s, _ := op.Response["schemas"].([]any); len(s) != 1 || s[0] != errorSchema || op.Response["status"] != "400" {
				t.Errorf("result %d response = %v", i, op.Response)
			}
		}
		for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
			if got := res.Operations[i].Response["scimType"]; got != scimInvalidPath {
				t.Errorf("result %d scimType = %v, want invalidPath", i, got)
			}
		}
		if !slices.Equal(f.calls, []string{"POST /Users"}) {
			t.Errorf("calls = %q: only ivy should reach the server", f.calls)
		}
	})

	t.Run("HeadersForwarded", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		r := httptest.NewRequest(http.MethodPost, base+"/Bulk", strings.NewReader(`{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [{"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "jack"}}]}`))
		r.Header.Set("Authorization", token)
		r.Header.Set("X-Request-Id", "req-42")
		r.Header.Set("If-Match", `W/"outer"`)
		r.Header.Set("Accept-Encoding", "gzip")
		code, res, _ := serve(t, h, r)
		if code != http.StatusOK || res.Operations[0].Status != "201" {
			t.Fatalf("status = %d, results %q", code, statuses(res))
		}
		got := f.headers[0]
		if got.Get("Authorization") != token || got.Get("X-Request-Id") != "req-42" {
			t.Errorf("forwarded headers = %v", got)
		}
		if got.Get("If-Match") != "" || got.Get("Accept-Encoding") != "" {
			t.Errorf("outer conditional or encoding headers leaked: %v", got)
		}
		if got.Get("Content-Type") != contentType {
			t.Errorf("sub-request Content-Type = %q", got.Get("Content-Type"))
		}
	})

	t.Run("ErrNoAuthorization", func(t *testing.T) {
		// Bulk does not authenticate: the inner handler does, per operation.
		f := newFake()
		h := Handler(f, base, Config{})
		r := httptest.NewRequest(http.MethodPost, base+"/Bulk", strings.NewReader(`{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [{"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "kim"}}]}`))
		code, res, _ := serve(t, h, r)
		if code != http.StatusOK || statuses(res)[0] != "401" {
			t.Fatalf("status = %d, results %q", code, statuses(res))
		}
		if f.userByName("kim") != nil {
			t.Errorf("created without authorization")
		}
	})

	t.Run("VersionIsIfMatch", func(t *testing.T) {
		f := newFake()
		h := Handler(f, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [
				{"method": "POST", "path": "/Users", "bulkId": "l", "data": {"userName": "lee"}},
				{"method": "PUT", "path": "/Users/bulkId:l", "version": "W/\"9\"", "data": {"userName": "lee", "title": "x"}},
				{"method": "PUT", "path": "/Users/bulkId:l", "version": "W/\"1\"", "data": {"userName": "lee", "title": "y"}}
			]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		if got := statuses(res); !slices.Equal(got, []string{"201", "412", "200"}) {
			t.Fatalf("statuses = %q", got)
		}
		if got := f.headers[1].Get("If-Match"); got != `W/"9"` {
			t.Errorf("If-Match = %q", got)
		}
		if f.userByName("lee")["title"] != "y" {
			t.Errorf("title = %v", f.userByName("lee")["title"])
		}
	})

	t.Run("ErrorsShaped", func(t *testing.T) {
		// A SCIM error from inner is passed on; anything else is replaced
		// by a SCIM error for its status.
		plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "panic: db on fire at /var/lib/x.db")
		})
		h := Handler(plain, base, Config{})
		code, res, _ := post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [{"method": "DELETE", "path": "/Users/x"}]}`)
		if code != http.StatusOK {
			t.Fatalf("status = %d", code)
		}
		r := res.Operations[0].Response
		if res.Operations[0].Status != "500" || r["status"] != "500" || r["detail"] != "Internal Server Error" {
			t.Errorf("response = %v", r)
		}
		if s, _ := r["schemas"].([]any); len(s) != 1 || s[0] != errorSchema {
			t.Errorf("schemas = %v", r["schemas"])
		}

		f := newFake()
		h = Handler(f, base, Config{})
		_, res, _ = post(t, h, `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
			"Operations": [{"method": "PATCH", "path": "/Groups/nope", "data": {"Operations": []}}]}`)
		r = res.Operations[0].Response
		if res.Operations[0].Status != "404" || r["status"] != "404" || r["detail"] != "resource not found" {
			t.Errorf("response = %v", r)
		}
	})

	t.Run("EmptyOperations", func(t *testing.T) {
		h := Handler(newFake(), base, Config{})
		code, res, raw := post(t, h, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}`)
		if code != http.StatusOK || len(res.Operations) != 0 {
			t.Fatalf("status = %d, %v", code, raw)
		}
		if ops, ok := raw["Operations"].([]any); !ok || len(ops) != 0 {
			t.Errorf("Operations = %v, want []", raw["Operations"])
		}
	})
}

func TestHandlerErrors(t *testing.T) {
	okOp := `{"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "x"}}`
	tests := []struct {
		name     string
		body     string
		status   int
		scimType string
	}{
		{"ErrNotJSON", `{"schemas": [`, 400, scimInvalidSyntax},
		{"ErrNotObject", `[1, 2]`, 400, scimInvalidSyntax},
		{"ErrNull", `null`, 400, scimInvalidSyntax},
		{"ErrEmpty", ``, 400, scimInvalidSyntax},
		{"ErrTrailingData", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []} {}`, 400, scimInvalidSyntax},
		{"ErrNoSchemas", `{"Operations": [` + okOp + `]}`, 400, scimInvalidSyntax},
		{"ErrWrongSchema", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [` + okOp + `]}`, 400, scimInvalidSyntax},
		{"ErrExtraSchema", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest", "x"], "Operations": []}`, 400, scimInvalidSyntax},
		{"ErrNoOperations", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}`, 400, scimInvalidSyntax},
		{"ErrOperationsNotList", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": {}}`, 400, scimInvalidSyntax},
		{"ErrMethodNotString", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [{"method": 1, "path": "/Users"}]}`, 400, scimInvalidSyntax},
		{"ErrFailOnErrorsString", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": "1", "Operations": []}`, 400, scimInvalidSyntax},
		{"ErrFailOnErrorsFraction", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 1.5, "Operations": []}`, 400, scimInvalidSyntax},
		{"ErrFailOnErrorsZero", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 0, "Operations": []}`, 400, scimInvalidValue},
		{"ErrTooManyOperations", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [` + strings.Repeat(okOp+",", 3) + okOp + `]}`, 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			h := Handler(f, base, Config{MaxOperations: 3})
			code, _, raw := post(t, h, tt.body)
			if code != tt.status {
				t.Fatalf("status = %d, want %d: %v", code, tt.status, raw)
			}
			wantError(t, raw, tt.status, tt.scimType)
			if len(f.calls) != 0 {
				t.Errorf("calls = %q, want none", f.calls)
			}
		})
	}

	t.Run("ErrTooManyOperationsNamesLimit", func(t *testing.T) {
		h := Handler(newFake(), base, Config{MaxOperations: 1})
		_, _, raw := post(t, h, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [`+okOp+`,`+okOp+`]}`)
		if d, _ := raw["detail"].(string); !strings.Contains(d, "maxOperations (1)") {
			t.Errorf("detail = %q", d)
		}
	})

	t.Run("ErrMethodNotPost", func(t *testing.T) {
		h := Handler(newFake(), base, Config{})
		r := httptest.NewRequest(http.MethodGet, base+"/Bulk", nil)
		code, _, raw := serve(t, h, r)
		if code != http.StatusMethodNotAllowed {
			t.Fatalf("status = %d", code)
		}
		wantError(t, raw, http.StatusMethodNotAllowed, "")
	})
}

// endless is a body that never ends, counting what is read from it.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.read += int64(len(p))
	return len(p), nil
}

func TestPayloadTooLarge(t *testing.T) {
	const limit = 1000
	t.Run("ErrBodyOverLimit", func(t *testing.T) {
		body := &endless{}
		r := httptest.NewRequest(http.MethodPost, base+"/Bulk", body)
		r.ContentLength = -1 // unknown, as with chunked encoding
		r.Header.Set("Authorization", token)
		f := newFake()
		code, _, raw := serve(t, Handler(f, base, Config{MaxPayloadSize: limit}), r)
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d", code)
		}
		wantError(t, raw, http.StatusRequestEntityTooLarge, "")
		if d, _ := raw["detail"].(string); !strings.Contains(d, "1000 bytes") {
			t.Errorf("detail = %q does not name the limit", d)
		}
		// io.ReadAll asks for more than it needs, but the limit holds it
		// to limit+1 bytes.
		if body.read > 64*1024 {
			t.Errorf("read %d bytes of an endless body", body.read)
		}
		if len(f.calls) != 0 {
			t.Errorf("calls = %q", f.calls)
		}
	})

	t.Run("ErrContentLengthOverLimit", func(t *testing.T) {
		body := &endless{}
		r := httptest.NewRequest(http.MethodPost, base+"/Bulk", io.LimitReader(body, limit+1))
		r.ContentLength = limit + 1
		code, _, raw := serve(t, Handler(newFake(), base, Config{MaxPayloadSize: limit}), r)
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d", code)
		}
		wantError(t, raw, http.StatusRequestEntityTooLarge, "")
		if body.read != 0 {
			t.Errorf("read %d bytes though Content-Length was over the limit", body.read)
		}
	})

	t.Run("OKAtLimit", func(t *testing.T) {
		doc := `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}`
		body := doc + strings.Repeat(" ", limit-len(doc))
		code, _, raw := post(t, Handler(newFake(), base, Config{MaxPayloadSize: limit}), body)
		if code != http.StatusOK {
			t.Fatalf("status = %d: %v", code, raw)
		}
		code, _, _ = post(t, Handler(newFake(), base, Config{MaxPayloadSize: limit}), body+" ")
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("one byte over: status = %d", code)
		}
	})
}

// TestLargeSubResponse checks that a created resource whose body is too big
// to keep still yields its id, from Location.
func TestLargeSubResponse(t *testing.T) {
	var created bool
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			created = true
			w.Header().Set("Location", "https://x.test/scim/v2/Groups/big-1")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"big-1","members":[`)
			for range maxCapture / 16 {
				_, _ = io.WriteString(w, `{"value":"abc"},`)
			}
			_, _ = io.WriteString(w, `{"value":"z"}]}`)
			return
		}
		if r.URL.Path != base+"/Groups/big-1" {
			fakeError(w, http.StatusNotFound, "", "wrong id "+r.URL.Path)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	code, res, _ := post(t, Handler(inner, base, Config{}), `{
		"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
		"Operations": [
			{"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "big"}},
			{"method": "DELETE", "path": "/Groups/bulkId:b"}]}`)
	if code != http.StatusOK || !created {
		t.Fatalf("status = %d", code)
	}
	if got := statuses(res); !slices.Equal(got, []string{"201", "204"}) {
		t.Fatalf("statuses = %q", got)
	}
}

// TestContextCancelled checks that a client that went away stops the run.
func TestContextCancelled(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n int
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		cancel()
		f.ServeHTTP(w, r)
	})
	ops := make([]string, 5)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"method": "POST", "path": "/Users", "bulkId": "%d", "data": {"userName": "u%d"}}`, i, i)
	}
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, base+"/Bulk", strings.NewReader(
		`{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [`+strings.Join(ops, ",")+`]}`))
	r.Header.Set("Authorization", token)
	code, res, _ := serve(t, Handler(inner, base, Config{}), r)
	if code != http.StatusOK || n != 1 || len(res.Operations) != 1 {
		t.Fatalf("status %d, inner ran %d times, %d results", code, n, len(res.Operations))
	}
}

// FuzzBulk sends arbitrary bodies to the handler over a fake server: it
// must never panic, must answer 200, 400 or 413 with a JSON body, and a
// 200 must list no more results than operations.
func FuzzBulk(f *testing.F) {
	seeds := []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Users","bulkId":"q","data":{"userName":"a"}},{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"g","members":[{"value":"bulkId:q"}]}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[{"method":"DELETE","path":"/Users/x"},{"method":"PUT","path":"/Users/bulkId:q","version":"W/\"1\"","data":{}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Groups","bulkId":"A","data":{"displayName":"A","members":[{"value":"bulkId:B"}]}},{"method":"POST","path":"/Groups","bulkId":"B","data":{"displayName":"B","members":[{"value":"bulkId:A"}]}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"patch","path":"/Groups/bulkId:x","data":{"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:x"}]}]}},{"method":"POST","path":"/Groups","bulkId":"x","data":{"displayName":"x"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Bulk","bulkId":"n","data":{}},{"method":"GET","path":"/Users/%zz"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":0,"Operations":[]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[1,2,3,4,5,6,7,8,9]}`,
		`{"schemas":null,"Operations":null}`,
		`{"Operations":[{"data":"bulkId:"}]}`,
		`[]`,
		``,
		"\x00",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h := Handler(newFake(), base, Config{MaxOperations: 8, MaxPayloadSize: 4096})
		r := httptest.NewRequest(http.MethodPost, base+"/Bulk", bytes.NewReader(b))
		r.Header.Set("Authorization", token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q", w.Code, b)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
		if w.Code == http.StatusOK {
			var req struct{ Operations []json.RawMessage }
			_ = json.Unmarshal(b, &req)
			ops, _ := out["Operations"].([]any)
			if len(ops) > len(req.Operations) {
				t.Fatalf("%d results for %d operations", len(ops), len(req.Operations))
			}
		}
	})
}
