package gitea_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/gitea"
)

// recorder records the requests the connector sends.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// count returns how many recorded requests since from contain all of parts.
func (r *recorder) count(from int, parts ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, req := range r.reqs[from:] {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(req, p)
		}
		if all {
			n++
		}
	}
	return n
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// stale is longer than the connector trusts a listing (500ms, see "Finding
// accounts by subject" in the package documentation): a user it does not
// know is then looked for by a new listing.
const stale = 700 * time.Millisecond

// TestIndex checks that accounts are found by subject through listings
// shared by the users being provisioned, never by a search per user, and
// that the index misses none that appeared after it was filled.
func TestIndex(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	rec := &recorder{}
	conn := s.open(t, gitea.Config{}, rec)

	// An account older than every account of the source.
	graceOld := s.createLocal(t, "grace-old", "grace@old.example.com", nil)

	// Fill the index: the first user the connector does not know is
	// searched for, and, the source's accounts taking one page, makes
	// it list them in the background.
	first := s.addPerson(t, "ivy", "ivy-sub-0001", "ivy@example.com", "Ivy Index")
	if _, err := conn.EnsureUser(ctx, first); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !gitea.IndexReady(conn); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the index was not filled")
		}
	}

	t.Run("AdoptsAccountRegisteredAfterListing", func(t *testing.T) {
		// frank signs in before the bridge provisions him: Gitea
		// registers an account with the provider's username and email,
		// neither of which the bridge would use, so only the login name
		// can find it (creating would succeed and duplicate him).
		frankIdP := s.addPerson(t, "frank-idp", "frank-sub-0002", "frank@idp.example.com", "Frank Fresh")
		if got, err := s.login(t, "frank-idp"); err != nil || got != "frank-idp" {
			t.Fatalf("first login of frank: %q, %v", got, err)
		}
		registered := s.account(t, "frank-idp")
		time.Sleep(stale)
		frank := frankIdP
		frank.UserName, frank.Email = "frank@example.com", "frank@example.com"
		before, from := s.userCount(t), rec.len()
		res, err := conn.EnsureUser(ctx, frank)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != id(registered) || !strings.Contains(res.Note, "found by subject") {
			t.Errorf("result %+v, want frank's registered account %d found by subject", res, registered.ID)
		}
		if after := s.userCount(t); after != before {
			t.Errorf("user count went from %d to %d: frank was duplicated", before, after)
		}
		if n := rec.count(from, "login_name="); n != 0 {
			t.Errorf("%d searches by login name; want the index to find him", n)
		}
		if n := rec.count(from, "sort=id"); n != 1 {
			t.Errorf("%d listings, want one round", n)
		}
	})

	t.Run("AdoptsAccountLinkedByHand", func(t *testing.T) {
		// An old local account, older than any the index saw, is linked
		// to grace's subject by an administrator; rounds list new ids
		// only, but Gitea now counts one more account in the source.
		time.Sleep(stale) // henry's round lists ivy, newer than grace-old
		if _, err := conn.EnsureUser(ctx, s.addPerson(t, "henry", "henry-sub-0003", "henry@example.com", "Henry")); err != nil {
			t.Fatal(err)
		}
		_, err := s.g.AdminAPI(ctx, http.MethodPatch, "/admin/users/grace-old", map[string]any{
			"source_id": s.g.AuthSourceID, "login_name": "grace-sub-0004",
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(stale)
		grace := fanout.User{ID: "scim-grace", UserName: "grace@example.com", Subject: "grace-sub-0004", Email: "grace@example.com", Active: true}
		before := s.userCount(t)
		res, err := conn.EnsureUser(ctx, grace)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != id(graceOld) {
			t.Errorf("result %+v, want grace-old (%d)", res, graceOld.ID)
		}
		if after := s.userCount(t); after != before {
			t.Errorf("user count went from %d to %d: grace was duplicated", before, after)
		}
	})

	t.Run("BurstSharesListings", func(t *testing.T) {
		const n, workers = 40, 8
		users := make([]fanout.User, n)
		for i := range users {
			users[i] = fanout.User{ID: fmt.Sprintf("scim-burst-%d", i), UserName: fmt.Sprintf("burst%02d@example.com", i),
				Subject: fmt.Sprintf("Burst-Sub-%02d", i), Email: fmt.Sprintf("burst%02d@example.com", i), Active: true}
		}
		ensureAll := func() []fanout.Result {
			results := make([]fanout.Result, n)
			next := make(chan int)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for i := range next {
						res, err := conn.EnsureUser(ctx, users[i])
						if err != nil {
							t.Error(err)
						}
						results[i] = res
					}
				})
			}
			for i := range users {
				next <- i
			}
			close(next)
			wg.Wait()
			return results
		}

		before, from := s.userCount(t), rec.len()
		results := ensureAll()
		if after := s.userCount(t); after != before+n {
			t.Errorf("user count went from %d to %d, want %d more", before, after, n)
		}
		if c := rec.count(from, "POST /api/v1/admin/users"); c != n {
			t.Errorf("%d creations for %d users", c, n)
		}
		if c := rec.count(from, "login_name="); c != 0 {
			t.Errorf("%d searches by login name", c)
		}
		// At most one round per 150ms, and a burst needs few: on an
		// idle machine 1 or 2 for these 40 users; a loaded one takes
		// longer over them, and has more rounds.
		c := rec.count(from, "GET /api/v1/admin/users?", "sort=id")
		t.Logf("%d listings for %d users", c, n)
		if c > n/2 {
			t.Errorf("%d listings for %d users, want them shared", c, n)
		}

		// Again, as the reconciler would, with the links: every account
		// is known and converged; one read each.
		for i, res := range results {
			users[i].RemoteID = res.RemoteID
		}
		from = rec.len()
		for i, res := range ensureAll() {
			if res.RemoteID != results[i].RemoteID || res.Note != "" {
				t.Errorf("second pass of %s: %+v, want %s and no note", users[i].UserName, res, results[i].RemoteID)
			}
		}
		if c := rec.count(from, "GET /api/v1/users/search?uid="); c != n {
			t.Errorf("second pass read %d accounts, want %d (one read per user)", c, n)
		}
		// (A round the first pass asked for may still run: listings are
		// not counted.)
		if c := rec.count(from, "login_name=") + rec.count(from, "POST") + rec.count(from, "PATCH"); c != 0 {
			t.Errorf("second pass made %d searches or writes, want none", c)
		}
		if after := s.userCount(t); after != before+n {
			t.Errorf("user count went from %d to %d after the second pass", before, after)
		}
	})

	t.Run("ErrTwoAccountsOneSubject", func(t *testing.T) {
		for _, login := range []string{"twin-a", "twin-b"} {
			s.createLocal(t, login, login+"@example.com", map[string]any{"source_id": s.g.AuthSourceID, "login_name": "twin-sub"})
		}
		time.Sleep(stale)
		_, err := conn.EnsureUser(ctx, fanout.User{ID: "scim-twin", UserName: "twin@example.com", Subject: "twin-sub", Email: "twin@example.com", Active: true})
		wantTerminal(t, err)
		if !strings.Contains(err.Error(), "twin-a") || !strings.Contains(err.Error(), "twin-b") {
			t.Errorf("err = %v, want both accounts named", err)
		}
	})

	t.Run("DeletedAccountIsNotTrusted", func(t *testing.T) {
		// The index still names ivy's account after it is deleted by
		// hand; EnsureUser reads it, finds it gone, and creates anew.
		var a struct {
			ID int64 `json:"id"`
		}
		if _, err := s.g.AdminAPI(ctx, http.MethodGet, "/users/ivy", nil, &a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.g.AdminAPI(ctx, http.MethodDelete, "/admin/users/ivy", nil, nil); err != nil {
			t.Fatal(err)
		}
		res, err := conn.EnsureUser(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		if acct := s.account(t, "ivy"); res.RemoteID != id(acct) || acct.ID == a.ID || acct.LoginName != first.Subject {
			t.Errorf("result %+v, account %+v (the deleted one was %d)", res, acct, a.ID)
		}
	})
}
