package gitea

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/scimbridge/scimbridge/fanout"
)

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"1.26.0", true},
		{"v1.26.1", true},
		{"1.26.0+dev-12-gabcdef", true},
		{"1.27.0-rc1", true},
		{"2.0.0", true},
		{"1.25.4", false},
		{"1.9.0", false},
		{"11.0.1+gitea-1.22.0", false}, // a fork following Gitea 1.22
		{"12.0.0+gitea-1.26.0", true},
		{"development", false},
		{"", false},
	} {
		if got := atLeast(tc.v, minVersion); got != tc.want {
			t.Errorf("atLeast(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// oldGitea is an in-process stand-in for a Gitea before v1.26, whose
// admin user search knows no sort parameter and lists users by name
// (routers/api/v1/admin/user.go SearchUsers passes
// db.SearchOrderByAlphabetically; sort came with go-gitea/gitea pull
// request 36112). It keeps users, checks the token, and refuses a taken
// username or email with 422 as Gitea's CreateUser does.
type oldGitea struct {
	version string
	token   string
	// byID makes it list by id for sort=id&order=desc, as v1.26 does.
	byID bool
	// failListings, when not 0, is the status of every sort=id listing.
	failListings int

	mu       sync.Mutex
	users    []*sdk.User
	requests []string
}

func (g *oldGitea) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	if r.Header.Get("Authorization") != "token "+g.token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "token is required"})
		return
	}
	q := r.URL.Query()
	if g.failListings != 0 && q.Get("sort") != "" {
		writeJSON(w, g.failListings, map[string]string{"message": http.StatusText(g.failListings)})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/version":
		writeJSON(w, http.StatusOK, map[string]string{"version": g.version})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/admin/users":
		source, _ := strconv.ParseInt(q.Get("source_id"), 10, 64)
		login := strings.TrimSpace(q.Get("login_name"))
		var match []*sdk.User
		for _, u := range g.users {
			if (source == 0 || u.SourceID == source) && (login == "" || u.LoginName == login) {
				match = append(match, u)
			}
		}
		slices.SortFunc(match, func(a, b *sdk.User) int {
			if g.byID && q.Get("sort") == "id" && q.Get("order") == "desc" {
				return int(b.ID - a.ID)
			}
			return strings.Compare(strings.ToLower(a.UserName), strings.ToLower(b.UserName))
		})
		page, _ := strconv.Atoi(q.Get("page"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		page, limit = max(page, 1), min(max(limit, 1), 50)
		lo, hi := min((page-1)*limit, len(match)), min(page*limit, len(match))
		if hi < len(match) {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?page=%d>; rel="next"`, r.Host, r.URL.Path, page+1))
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(len(match)))
		writeJSON(w, http.StatusOK, match[lo:hi])
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/users/search":
		uid, _ := strconv.ParseInt(q.Get("uid"), 10, 64)
		data := []*sdk.User{}
		for _, u := range g.users {
			if u.ID == uid {
				data = append(data, u)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "data": data})
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/admin/users":
		var opt sdk.CreateUserOption
		if err := json.NewDecoder(r.Body).Decode(&opt); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		for _, u := range g.users {
			switch {
			case strings.EqualFold(u.UserName, opt.Username):
				writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "user already exists [name: " + opt.Username + "]"})
				return
			case strings.EqualFold(u.Email, opt.Email):
				writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "e-mail already in use [email: " + opt.Email + "]"})
				return
			}
		}
		u := g.add(opt.Username, opt.Email, opt.SourceID, opt.LoginName)
		writeJSON(w, http.StatusCreated, u)
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/v1/admin/users/"):
		name := strings.TrimPrefix(r.URL.Path, "/api/v1/admin/users/")
		var opt sdk.EditUserOption
		if err := json.NewDecoder(r.Body).Decode(&opt); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		for _, u := range g.users {
			if strings.EqualFold(u.UserName, name) {
				u.SourceID, u.LoginName = opt.SourceID, opt.LoginName
				if opt.Email != nil {
					u.Email = *opt.Email
				}
				if opt.FullName != nil {
					u.FullName = *opt.FullName
				}
				if opt.ProhibitLogin != nil {
					u.ProhibitLogin = *opt.ProhibitLogin
				}
				writeJSON(w, http.StatusOK, u)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "user does not exist"})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
	}
}

func (g *oldGitea) add(name, email string, source int64, login string) *sdk.User {
	u := &sdk.User{ID: int64(len(g.users) + 1), UserName: name, Email: email, SourceID: source, LoginName: login, Created: time.Now()}
	g.users = append(g.users, u)
	return u
}

func (g *oldGitea) count(part string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, r := range g.requests {
		if strings.Contains(r, part) {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TestIndexOff checks that against a Gitea that cannot list accounts by
// id, the connector searches for each user, so an account registered at a
// first login is still adopted, not duplicated.
func TestIndexOff(t *testing.T) {
	for _, tc := range []struct{ name, version string }{
		{"OldVersion", "1.25.4"},
		// Claims a version with sort=id but lists by name: the order
		// of the listing gives it away.
		{"IgnoresSort", "1.26.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &oldGitea{version: tc.version, token: "0123456789abcdef"}
			// Ids and names in different orders.
			g.add("zed", "zed@example.com", 2, "zed-sub")
			g.add("amy", "amy@example.com", 2, "amy-sub")
			frank := g.add("frank-idp", "frank@idp.example.com", 2, "frank-sub")
			srv := httptest.NewServer(g)
			defer srv.Close()
			c, err := Open(Config{URL: srv.URL, AuthSourceID: 2, Organization: "platform"}, g.token, nil)
			if err != nil {
				t.Fatal(err)
			}
			u := fanout.User{ID: "scim-frank", UserName: "frank@example.com", Subject: "frank-sub", Email: "frank@example.com", Active: true}
			for pass := range 2 {
				res, err := c.EnsureUser(t.Context(), u)
				if err != nil {
					t.Fatal(err)
				}
				if res.RemoteID != strconv.FormatInt(frank.ID, 10) {
					t.Fatalf("pass %d: result %+v, want frank-idp (%d)", pass, res, frank.ID)
				}
				// The first pass searched, and asked in the background
				// whether Gitea can list by id: wait for the answer.
				waitIndex(t, c, "turned off", func(x *index) bool { return x.off && !x.busy })
			}
			if n := g.count("POST /api/v1/admin/users"); n != 0 {
				t.Errorf("%d accounts created; frank has one", n)
			}
			if n := g.count("login_name=frank-sub"); n != 2 {
				t.Errorf("%d searches by login name, want one per pass", n)
			}
		})
	}
}

// waitIndex waits until cond, called with the index locked, holds.
func waitIndex(t *testing.T, c *Connector, what string, cond func(x *index) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c.index.mu.Lock()
		ok := cond(&c.index)
		c.index.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for the index: %s", what)
		}
	}
}

// TestIndexDemand checks that the connector lists the auth source's
// accounts only when a burst has searched for as many users as the
// listing takes pages, and drops the index when it is no longer used
// enough to pay for the next full listing.
func TestIndexDemand(t *testing.T) {
	g := &oldGitea{version: "1.26.0", token: "0123456789abcdef", byID: true}
	for i := range 120 { // three pages
		g.add(fmt.Sprintf("old%03d", i), fmt.Sprintf("old%03d@example.com", i), 2, fmt.Sprintf("old-sub-%03d", i))
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	c, err := Open(Config{URL: srv.URL, AuthSourceID: 2, Organization: "platform"}, g.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	ensure := func(i int) {
		t.Helper()
		u := fanout.User{ID: fmt.Sprintf("scim-%d", i), UserName: fmt.Sprintf("new%d@example.com", i), Subject: fmt.Sprintf("new-sub-%d", i),
			Email: fmt.Sprintf("new%d@example.com", i), Active: true}
		if _, err := c.EnsureUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	searches := func() int { return g.count("login_name=new-sub-") }
	pages := func() int { return g.count("sort=id") }

	// The first new user is searched for, and the first page of a
	// listing shows that a full one takes three pages: not yet.
	ensure(1)
	waitIndex(t, c, "the first page told the size", func(x *index) bool { return x.pages == 3 && !x.busy })
	if searches() != 1 || pages() != 1 {
		t.Fatalf("after one user: %d searches and %d pages listed, want 1 and 1", searches(), pages())
	}
	ensure(2)
	if c.index.ready || searches() != 2 || pages() != 1 {
		t.Fatalf("after two users: ready %v, %d searches and %d pages, want not ready, 2 and 1", c.index.ready, searches(), pages())
	}
	// The third search pays for the three pages.
	ensure(3)
	waitIndex(t, c, "filled", func(x *index) bool { return x.ready && !x.busy })
	if searches() != 3 || pages() != 4 {
		t.Fatalf("after three users: %d searches and %d pages, want 3 and 4", searches(), pages())
	}
	// From now on the index answers.
	ensure(4)
	ensure(5)
	if searches() != 3 {
		t.Errorf("%d searches after the index was filled, want still 3", searches())
	}
	if n := g.count("POST /api/v1/admin/users"); n != 5 {
		t.Errorf("%d accounts created, want 5", n)
	}

	// A minute later, having answered for fewer users than a listing
	// takes pages, the index is dropped at the next round and the
	// user is searched for.
	c.index.mu.Lock()
	c.index.filledAt = time.Now().Add(-2 * refillMin)
	c.index.served = 1 // this user makes 2, fewer than 3 pages
	c.index.listedAt = time.Now().Add(-2 * trustWindow)
	c.index.mu.Unlock()
	before := pages()
	ensure(6)
	waitIndex(t, c, "rounds stopped", func(x *index) bool { return !x.busy })
	if c.index.ready || searches() != 4 || pages() != before {
		t.Errorf("after the index went unused: ready %v, %d searches, %d pages listed, want not ready, 4 and %d", c.index.ready, searches(), pages(), before)
	}
}

// TestIndexRoundFails checks that when the listing a user waits for
// fails, EnsureUser fails with an error that is retried, and creates
// nothing: an index it could not bring up to date is no proof that the
// person has no account.
func TestIndexRoundFails(t *testing.T) {
	g := &oldGitea{version: "1.26.0", token: "0123456789abcdef", byID: true}
	srv := httptest.NewServer(g)
	defer srv.Close()
	c, err := Open(Config{URL: srv.URL, AuthSourceID: 2, Organization: "platform"}, g.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	user := func(name string) fanout.User {
		return fanout.User{ID: "scim-" + name, UserName: name + "@example.com", Subject: name + "-sub", Email: name + "@example.com", Active: true}
	}
	if _, err := c.EnsureUser(t.Context(), user("ann")); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, c, "filled", func(x *index) bool { return x.ready && !x.busy })

	// frank registers at his first login; the index has not seen him.
	g.mu.Lock()
	g.add("frank-idp", "frank@idp.example.com", 2, "frank-sub")
	g.failListings = http.StatusBadGateway
	g.mu.Unlock()
	c.index.mu.Lock()
	c.index.listedAt = time.Now().Add(-2 * trustWindow)
	c.index.mu.Unlock()
	frank := user("frank")
	_, err = c.EnsureUser(t.Context(), frank)
	if err == nil || fanout.IsTerminal(err) {
		t.Fatalf("EnsureUser while listings fail: %v, want an error that is retried", err)
	}
	if n := g.count("POST /api/v1/admin/users"); n != 1 {
		t.Fatalf("%d accounts created, want only ann's", n)
	}

	g.mu.Lock()
	g.failListings = 0
	g.mu.Unlock()
	res, err := c.EnsureUser(t.Context(), frank)
	if err != nil {
		t.Fatal(err)
	}
	if res.RemoteID != "2" {
		t.Errorf("result %+v, want frank-idp's account (2)", res)
	}
	if n := g.count("POST /api/v1/admin/users"); n != 1 {
		t.Errorf("%d accounts created, want only ann's", n)
	}
}
