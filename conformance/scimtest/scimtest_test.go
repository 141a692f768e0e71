package scimtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSuitePassesAgainstFake(t *testing.T) {
	f, cfg := startFake(t, fakeQuirks{})
	var progress bytes.Buffer
	results := RunAll(t.Context(), cfg, &progress)
	if len(results) != len(Checks()) {
		t.Fatalf("expected %d results, got %d", len(Checks()), len(results))
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%v", r)
		}
	}
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	if len(lines) != len(Checks()) {
		t.Errorf("expected %d progress lines, got %d", len(Checks()), len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "PASS RFC 764") || !strings.HasSuffix(l, ")") {
			t.Errorf("unexpected progress line %q", l)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for typ, m := range f.data {
		if len(m) != 0 {
			t.Errorf("the suite left %d %s resources behind", len(m), typ.name)
		}
	}
}

func TestSuiteAsSubtests(t *testing.T) {
	_, cfg := startFake(t, fakeQuirks{})
	Test(t, cfg)
}

// TestChecksCatchDeviations shows that each check can fail: against a
// fake with one deviation switched on, the checks about it fail.
func TestChecksCatchDeviations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quirks fakeQuirks
		fail   []string
	}{
		{"NoAuth", fakeQuirks{noAuth: true}, []string{
			"request without a token is 401 with WWW-Authenticate",
			"request with a wrong token is 401 with WWW-Authenticate"}},
		{"CreateWithoutLocation", fakeQuirks{createNoLocation: true}, []string{
			"create user returns 201 with Location, meta and ETag"}},
		{"StatusAsNumber", fakeQuirks{statusAsNumber: true}, []string{
			"error responses carry the Error schema and status as a string",
			"unknown id is 404 with a SCIM error",
			"duplicate userName is 409 uniqueness"}},
		{"IgnoreIfMatch", fakeQuirks{ignoreIfMatch: true}, []string{
			"stale If-Match on PUT is 412",
			"stale If-Match on PATCH is 412",
			"stale If-Match on DELETE is 412"}},
		{"NonAtomicPatch", fakeQuirks{nonAtomicPatch: true}, []string{"failed patch changes nothing"}},
		{"CaseSensitiveUserName", fakeQuirks{caseSensitiveNames: true}, []string{
			"userName differing only in case is 409 uniqueness",
			"filter userName eq is case-insensitive"}},
		{"DropUnknownMembers", fakeQuirks{dropUnknownMembers: true}, []string{"group with an unknown member is 400"}},
		{"KeepOtherPrimary", fakeQuirks{keepOtherPrimary: true}, []string{"patch setting primary clears the other primary"}},
		{"ReturnPassword", fakeQuirks{returnPassword: true}, []string{
			"password is never returned",
			"create user returns 201 with Location, meta and ETag"}},
		{"IgnoreFailOnErrors", fakeQuirks{ignoreFailOnErrors: true}, []string{"bulk failOnErrors 1 stops after the first error"}},
		{"CaseInsensitiveExternalID", fakeQuirks{filterIgnoresCase: true}, []string{"filter externalId eq is case-sensitive"}},
		{"PutMerges", fakeQuirks{putKeepsOmitted: true}, []string{"PUT replaces the user and clears omitted attributes"}},
		{"DatesAsStrings", fakeQuirks{stringDateCompare: true}, []string{"filter meta.lastModified gt compares dateTimes"}},
		{"NoMaxOperations", fakeQuirks{noMaxOperationCheck: true}, []string{"bulk with more than maxOperations is 413"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg := startFake(t, tc.quirks)
			for _, r := range runNamed(t, cfg, tc.fail...) {
				if !r.Failed() {
					t.Errorf("check %q: expected a failure, got %v", r.Check.Name, r)
				}
			}
		})
	}
}

// runNamed runs the named checks against cfg.
func runNamed(t *testing.T, cfg Config, names ...string) []Result {
	t.Helper()
	root := NewClient(cfg)
	var out []Result
	for _, n := range names {
		i := slices.IndexFunc(Checks(), func(c Check) bool { return c.Name == n })
		if i < 0 {
			t.Fatalf("no check named %q", n)
		}
		out = append(out, runOne(t.Context(), root.fork(), Checks()[i]))
	}
	return out
}

func TestNotAdvertisedIsSkipped(t *testing.T) {
	_, cfg := startFake(t, fakeQuirks{noPatch: true})
	var progress bytes.Buffer
	skipped := 0
	for _, r := range RunAll(t.Context(), cfg, &progress) {
		switch {
		case r.Skipped():
			skipped++
			if r.Failed() || r.Passed() {
				t.Errorf("%q: a skipped result must be neither passed nor failed", r.Check.Name)
			}
			if !strings.HasPrefix(r.String(), "SKIP ") {
				t.Errorf("expected a SKIP line, got %q", r)
			}
		case r.Failed():
			t.Errorf("%v", r)
		case strings.Contains(r.Check.Name, "patch") && r.Check.Name != "PUT and PATCH on an unknown id are 404":
			t.Errorf("%q passed although PATCH is not advertised", r.Check.Name)
		}
	}
	if skipped < 15 {
		t.Errorf("expected every PATCH check skipped, got %d skipped:\n%s", skipped, progress.String())
	}
}

// TestBrokenServersFailEveryCheck runs the suite against servers that
// answer every request the same way: no check may pass by accident.
func TestBrokenServersFailEveryCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"InternalError", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mediaType)
			w.WriteHeader(500)
			fmt.Fprint(w, `{"schemas":["`+urnError+`"],"status":"500"}`)
		}},
		{"EmptyOK", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mediaType)
			fmt.Fprint(w, `{}`)
		}},
		{"CreatedWithoutLocation", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", mediaType)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"schemas":["`+urnUser+`"],"id":"1","userName":"x"}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			for _, r := range RunAll(t.Context(), Config{BaseURL: srv.URL, Token: "t"}, nil) {
				if !r.Failed() {
					t.Errorf("%q: expected a failure, got %v", r.Check.Name, r)
				}
			}
		})
	}
}

func TestChecksAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if c.Name == "" || strings.Contains(c.Name, "/") {
			t.Errorf("check name %q must be non-empty and hold no slash", c.Name)
		}
		if seen[c.Name] {
			t.Errorf("duplicate check name %q", c.Name)
		}
		seen[c.Name] = true
		if !strings.HasPrefix(c.Section, "RFC 7643 §") && !strings.HasPrefix(c.Section, "RFC 7644 §") {
			t.Errorf("check %q: section %q does not name an RFC 7643 or 7644 section", c.Name, c.Section)
		}
		if c.Run == nil {
			t.Errorf("check %q has no Run", c.Name)
		}
	}
}

func TestResultString(t *testing.T) {
	c := Check{Name: "create user returns 201 with Location", Section: "RFC 7644 §3.3"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "PASS RFC 7644 §3.3 create user returns 201 with Location (12ms)"},
		{errors.New("boom"), "FAIL RFC 7644 §3.3 create user returns 201 with Location (12ms): boom"},
		{fmt.Errorf("%w: bulk", ErrNotAdvertised), "SKIP RFC 7644 §3.3 create user returns 201 with Location (12ms): not advertised: bulk"},
	} {
		if got := (Result{Check: c, Err: tc.err, Duration: 12345 * time.Microsecond}).String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestClientSend(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		gotBody = b.String()
		w.Header().Set("ETag", `W/"1"`)
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, `{"id":"42","Meta":{"Version":"W/\"1\""}}`)
	}))
	defer srv.Close()
	c := NewClient(Config{BaseURL: srv.URL + "/scim/v2/", Token: "secret"})

	t.Run("OK", func(t *testing.T) {
		r, err := c.do(t.Context(), http.MethodPost, "/Users?x=1", obj{"userName": "a"})
		if err != nil {
			t.Fatal(err)
		}
		if got.URL.Path != "/scim/v2/Users" || got.URL.RawQuery != "x=1" {
			t.Errorf("request went to %s", got.URL)
		}
		if h := got.Header.Get("Authorization"); h != "Bearer secret" {
			t.Errorf("Authorization %q", h)
		}
		if got.Header.Get("Content-Type") != mediaType || got.Header.Get("Accept") != mediaType {
			t.Errorf("Content-Type %q, Accept %q", got.Header.Get("Content-Type"), got.Header.Get("Accept"))
		}
		if gotBody != `{"userName":"a"}` {
			t.Errorf("body %q", gotBody)
		}
		if r.status != http.StatusTeapot || str(r.obj, "id") != "42" || r.header.Get("ETag") != `W/"1"` {
			t.Errorf("response %d %v %v", r.status, r.obj, r.header)
		}
		if str(r.obj, "meta", "version") != `W/"1"` {
			t.Errorf("lookup is not case-insensitive: %v", r.obj)
		}
	})
	t.Run("NoToken", func(t *testing.T) {
		none := ""
		if _, err := c.send(t.Context(), request{method: http.MethodGet, path: "/Users", token: &none}); err != nil {
			t.Fatal(err)
		}
		if _, ok := got.Header["Authorization"]; ok || got.Header.Get("Content-Type") != "" {
			t.Errorf("expected no Authorization and no Content-Type, got %v", got.Header)
		}
	})
	t.Run("RawBodyAndHeaders", func(t *testing.T) {
		_, err := c.send(t.Context(), request{method: http.MethodPut, path: srv.URL + "/abs", body: []byte("{bad"),
			header: map[string]string{"If-Match": `W/"7"`}})
		if err != nil {
			t.Fatal(err)
		}
		if got.URL.Path != "/abs" || gotBody != "{bad" || got.Header.Get("If-Match") != `W/"7"` {
			t.Errorf("got %s %q %v", got.URL, gotBody, got.Header)
		}
	})
	t.Run("ErrTransport", func(t *testing.T) {
		dead := NewClient(Config{BaseURL: "http://127.0.0.1:1"})
		if _, err := dead.do(t.Context(), http.MethodGet, "/Users", nil); err == nil {
			t.Fatal("expected an error")
		}
	})
}

func TestExpectError(t *testing.T) {
	mk := func(status int, body string) *response {
		r := &response{method: "GET", path: "/Users/1", status: status, body: []byte(body)}
		r.obj, _ = decodeObj([]byte(body))
		return r
	}
	good := `{"schemas":["` + urnError + `"],"status":"409","scimType":"uniqueness","detail":"taken"}`
	for _, tc := range []struct {
		name    string
		r       *response
		status  int
		types   []string
		wantErr string
	}{
		{"OK", mk(409, good), 409, []string{"uniqueness"}, ""},
		{"OKAnyType", mk(409, good), 409, nil, ""},
		{"OKOneOf", mk(409, good), 409, []string{"invalidValue", "uniqueness"}, ""},
		{"ErrStatus", mk(400, good), 409, nil, "expected status 409; got 400"},
		{"ErrScimType", mk(409, good), 409, []string{"invalidValue"}, "expected scimType invalidValue"},
		{"ErrStatusNumber", mk(409, `{"schemas":["`+urnError+`"],"status":409}`), 409, nil, "as a JSON string"},
		{"ErrStatusMismatch", mk(409, `{"schemas":["`+urnError+`"],"status":"400"}`), 409, nil, "to equal the HTTP status"},
		{"ErrNoSchema", mk(409, `{"status":"409"}`), 409, nil, "expected schemas to hold"},
		{"ErrNotJSON", mk(409, `conflict`), 409, nil, "expected a SCIM error body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.expectError(tc.status, tc.types...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("expected an error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	o, _ := decodeObj([]byte(`{"userName":"a","Name":{"givenName":"B"},"emails":[{"value":"x","type":"work"}],
		"` + urnEnterprise + `":{"manager":{"value":"m"}},"schemas":["` + urnUser + `"]}`))
	if str(o, "username") != "a" || str(o, "name", "GIVENNAME") != "B" {
		t.Error("lookup must match keys case-insensitively")
	}
	if str(o, urnEnterprise, "manager", "value") != "m" {
		t.Error("lookup must take a URN with dots as one key")
	}
	if lookup(o, "userName", "x") != nil || lookup(o, "missing") != nil || has(o, "nope") {
		t.Error("lookup of a missing path must be nil")
	}
	if len(list(o, "emails")) != 1 || str(multiValue(o, "emails", "WORK"), "value") != "x" {
		t.Error("list or multiValue failed")
	}
	if !hasSchema(o, urnUser) || hasSchema(o, urnGroup) {
		t.Error("hasSchema failed")
	}
}

func TestUniqueName(t *testing.T) {
	a, b := uniqueName("x"), uniqueName("x")
	if a == b || !strings.HasPrefix(a, "scimtest-") || !strings.HasSuffix(a, "-x") || len(a) != len("scimtest-")+16+2 {
		t.Errorf("got %q and %q", a, b)
	}
}

func TestCloseDeletesNewestFirst(t *testing.T) {
	var deleted []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deleted = append(deleted, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/Users/broken" {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	c := NewClient(Config{BaseURL: srv.URL})
	c.deleteLater("/Users/broken")
	c.deleteLater("/Groups/g")
	err := c.Close(context.Background())
	if want := []string{"DELETE /Groups/g", "DELETE /Users/broken"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
	if err == nil || !strings.Contains(err.Error(), "cleanup") {
		t.Errorf("expected a cleanup error for the 500, got %v", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("a second Close must do nothing, got %v", err)
	}
}
