package scim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

const testToken = "test-token-0123456789"

// testServer is a real SCIM handler on a real bbolt file behind real HTTP.
type testServer struct {
	t     testing.TB
	URL   string // SCIM root
	Store store.Store
	srv   *httptest.Server
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "scim.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := scim.NewHandler(scim.Config{
		Store: st,
		Auth:  scim.Tokens{{Name: "test", Hash: scim.HashToken(testToken)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{t: t, URL: srv.URL + "/scim/v2", Store: st, srv: srv}
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// do sends a request with the test token; body may be a string or any
// JSON-encodable value.
func (s *testServer) do(method, path string, body any, hdr ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/scim+json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r
}

// must fails the test unless the response has the wanted status.
func (r response) must(t testing.TB, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	return r
}

func (r response) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

func userBody(name string, extra map[string]any) map[string]any {
	b := map[string]any{
		"schemas":  []string{scim.SchemaUser},
		"userName": name,
		"name":     map[string]any{"givenName": "Given " + name, "familyName": "Family"},
		"emails":   []any{map[string]any{"value": name + "@example.com", "type": "work", "primary": true}},
		"active":   true,
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func (s *testServer) createUser(name string, extra map[string]any) string {
	s.t.Helper()
	r := s.do("POST", "/Users", userBody(name, extra)).must(s.t, 201)
	return r.str("id")
}

func (s *testServer) createGroup(name string, members ...string) string {
	s.t.Helper()
	var ms []any
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	body := map[string]any{"schemas": []string{scim.SchemaGroup}, "displayName": name}
	if ms != nil {
		body["members"] = ms
	}
	r := s.do("POST", "/Groups", body).must(s.t, 201)
	return r.str("id")
}

func (s *testServer) memberIDs(groupID string) []string {
	s.t.Helper()
	r := s.do("GET", "/Groups/"+groupID, nil).must(s.t, 200)
	var ids []string
	ms, _ := r.Body["members"].([]any)
	for _, m := range ms {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	return ids
}
