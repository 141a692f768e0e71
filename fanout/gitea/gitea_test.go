package gitea_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/conformance/harness"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/gitea"
)

const org = "platform"

// counter counts the requests the connector sends, to prove that a
// converged object costs no write.
type counter struct{ gets, writes atomic.Int64 }

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.gets.Add(1)
	} else {
		c.writes.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) reset() { c.gets.Store(0); c.writes.Store(0) }

// account is the part of Gitea's API user the tests look at.
type account struct {
	ID            int64  `json:"id"`
	Login         string `json:"login"`
	Email         string `json:"email"`
	FullName      string `json:"full_name"`
	LoginName     string `json:"login_name"`
	SourceID      int64  `json:"source_id"`
	ProhibitLogin bool   `json:"prohibit_login"`
}

type team struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// server is one Gitea signing people in through one OpenID provider,
// with the organization the connector manages teams in.
type server struct {
	idp *harness.OIDC
	g   *harness.Gitea
}

func startServer(t *testing.T) *server {
	t.Helper()
	idp := harness.StartOIDC(t, harness.OIDCOptions{})
	g := harness.StartGitea(t, harness.GiteaOptions{
		OIDC:   idp,
		Scopes: []string{"profile", "email"},
		// Lets a person sign in before the bridge provisioned them, as
		// many sites allow; it also makes a failed link visible as a new
		// account rather than a link page.
		Config: map[string]map[string]string{"oauth2_client": {
			"ENABLE_AUTO_REGISTRATION": "true",
			"USERNAME":                 "preferred_username",
		}},
	})
	if _, err := g.AdminAPI(t.Context(), http.MethodPost, "/orgs", map[string]any{"username": org}, nil); err != nil {
		t.Fatal(err)
	}
	return &server{idp: idp, g: g}
}

func (s *server) open(t *testing.T, cfg gitea.Config, rt http.RoundTripper) *gitea.Connector {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = s.g.URL + "/"
	}
	if cfg.AuthSourceID == 0 {
		cfg.AuthSourceID = s.g.AuthSourceID
	}
	if cfg.Organization == "" {
		cfg.Organization = org
	}
	cfg.Transport = rt
	c, err := gitea.Open(cfg, s.g.AdminToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addPerson registers a person at the identity provider and returns them
// as the reconciler hands them to a connector.
func (s *server) addPerson(t *testing.T, login, subject, email, name string) fanout.User {
	t.Helper()
	s.idp.AddUser(harness.User{Subject: subject, Username: login, Email: email, EmailVerified: true, Name: name})
	return fanout.User{ID: "scim-" + login, UserName: email, Subject: subject, Email: email, DisplayName: name, Active: true}
}

func (s *server) account(t *testing.T, login string) account {
	t.Helper()
	var a account
	if _, err := s.g.AdminAPI(t.Context(), http.MethodGet, "/users/"+url.PathEscape(login), nil, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (s *server) userCount(t *testing.T) int {
	t.Helper()
	n, err := s.g.UserCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// login signs idpLogin in through the provider and returns whose Gitea
// session it got.
func (s *server) login(t *testing.T, idpLogin string) (string, error) {
	t.Helper()
	client, err := s.g.LoginOIDC(t.Context(), s.idp, idpLogin)
	if err != nil {
		return "", err
	}
	return s.g.SessionUser(t.Context(), client)
}

func (s *server) mustLogin(t *testing.T, idpLogin, wantAccount string) {
	t.Helper()
	before := s.userCount(t)
	got, err := s.login(t, idpLogin)
	if err != nil {
		t.Fatalf("login of %s: %v", idpLogin, err)
	}
	if got != wantAccount {
		t.Errorf("login of %s landed in %q, want %q", idpLogin, got, wantAccount)
	}
	if after := s.userCount(t); after != before {
		t.Errorf("login of %s: user count went from %d to %d", idpLogin, before, after)
	}
}

func (s *server) teamMembers(t *testing.T, id string) []string {
	t.Helper()
	var users []account
	if _, err := s.g.AdminAPI(t.Context(), http.MethodGet, "/teams/"+id+"/members?limit=50", nil, &users); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Login)
	}
	slices.Sort(names)
	return names
}

func (s *server) createLocal(t *testing.T, login, email string, extra map[string]any) account {
	t.Helper()
	in := map[string]any{
		"username": login, "email": email, "password": "Local-Pw-" + rand.Text(),
		"must_change_password": false,
	}
	for k, v := range extra {
		in[k] = v
	}
	var a account
	if _, err := s.g.AdminAPI(t.Context(), http.MethodPost, "/admin/users", in, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func id(a account) string { return strconv.FormatInt(a.ID, 10) }

func member(u fanout.User) fanout.Member {
	return fanout.Member{UserID: u.ID, UserName: u.UserName, RemoteID: u.RemoteID}
}

func wantTerminal(t *testing.T, err error) {
	t.Helper()
	if err == nil || !fanout.IsTerminal(err) {
		t.Fatalf("err = %v, want a terminal error", err)
	}
}

// TestConnector runs the connector against a real Gitea and a real OpenID
// provider. The subtests share the server and run in order.
func TestConnector(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	rt := &counter{}
	conn := s.open(t, gitea.Config{}, rt)

	alice := s.addPerson(t, "alice", "Alice-Sub-0001", "alice@example.com", "Alice Liddell")
	bob := s.addPerson(t, "bob", "bob-sub-0002", "bob@example.com", "Bob Builder")
	carol := s.addPerson(t, "carol", "carol-sub-0003", "carol@example.com", "Carol Danvers")
	dave := s.addPerson(t, "dave", "dave-sub-0004", "dave@example.com", "Dave Lister")
	erin := s.addPerson(t, "erin", "erin-sub-0005", "erin@example.com", "Erin Brockovich")
	carol.UserName = "carol"

	t.Run("Check", func(t *testing.T) {
		if err := conn.Check(ctx); err != nil {
			t.Fatal(err)
		}
		wantTerminal(t, s.open(t, gitea.Config{Organization: "no-such-org"}, nil).Check(ctx))
	})

	t.Run("CreateLinksSubject", func(t *testing.T) {
		before := s.userCount(t)
		res, err := conn.EnsureUser(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		a := s.account(t, "alice")
		if res.RemoteID != id(a) || !strings.Contains(res.Note, "created account alice") {
			t.Errorf("result %+v, account id %d", res, a.ID)
		}
		if a.SourceID != s.g.AuthSourceID || a.LoginName != "Alice-Sub-0001" {
			t.Errorf("account linked to source %d, login name %q; want %d, %q (case kept)", a.SourceID, a.LoginName, s.g.AuthSourceID, "Alice-Sub-0001")
		}
		if a.Email != alice.Email || a.FullName != "Alice Liddell" || a.ProhibitLogin {
			t.Errorf("account %+v", a)
		}
		if after := s.userCount(t); after != before+1 {
			t.Errorf("user count went from %d to %d, want one more", before, after)
		}
		// Lands in that account, without the password change Gitea
		// would demand with must_change_password true.
		s.mustLogin(t, "alice", "alice")
		alice.RemoteID = res.RemoteID
	})

	t.Run("Idempotent", func(t *testing.T) {
		rt.reset()
		res, err := conn.EnsureUser(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != alice.RemoteID || res.Note != "" {
			t.Errorf("result %+v, want id %s and no note", res, alice.RemoteID)
		}
		if w, g := rt.writes.Load(), rt.gets.Load(); w != 0 || g > 2 {
			t.Errorf("a converged user cost %d writes and %d reads, want 0 and at most 2", w, g)
		}
	})

	t.Run("AdoptAfterOIDCLogin", func(t *testing.T) {
		// bob signs in before the bridge knows him: Gitea registers him.
		if got, err := s.login(t, "bob"); err != nil || got != "bob" {
			t.Fatalf("first login of bob: %q, %v", got, err)
		}
		registered := s.account(t, "bob")
		before := s.userCount(t)
		res, err := conn.EnsureUser(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != id(registered) {
			t.Errorf("result %+v, want bob's account %d", res, registered.ID)
		}
		if after := s.userCount(t); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
		if a := s.account(t, "bob"); a.LoginName != bob.Subject || a.SourceID != s.g.AuthSourceID || a.FullName != "Bob Builder" {
			t.Errorf("bob's account %+v", a)
		}
		s.mustLogin(t, "bob", "bob")
		bob.RemoteID = res.RemoteID
	})

	t.Run("AdoptLocalByEmail", func(t *testing.T) {
		local := s.createLocal(t, "carol.local", "carol@example.com", nil)
		before := s.userCount(t)
		res, err := conn.EnsureUser(ctx, carol)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != id(local) || !strings.Contains(res.Note, "adopted existing account carol.local (by email)") {
			t.Errorf("result %+v, want carol.local (%d) adopted by email", res, local.ID)
		}
		if a := s.account(t, "carol.local"); a.LoginName != carol.Subject || a.SourceID != s.g.AuthSourceID {
			t.Errorf("adopted account %+v", a)
		}
		if after := s.userCount(t); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
		s.mustLogin(t, "carol", "carol.local")
		carol.RemoteID = res.RemoteID
	})

	t.Run("AdoptLocalByUsername", func(t *testing.T) {
		local := s.createLocal(t, "dave", "dave@old.example.com", nil)
		res, err := conn.EnsureUser(ctx, dave)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != id(local) || !strings.Contains(res.Note, "adopted existing account dave (by username)") {
			t.Errorf("result %+v, want dave (%d) adopted by username", res, local.ID)
		}
		if a := s.account(t, "dave"); a.LoginName != dave.Subject || a.Email != "dave@example.com" {
			t.Errorf("adopted account %+v", a)
		}
		s.mustLogin(t, "dave", "dave")
		dave.RemoteID = res.RemoteID
	})

	t.Run("ErrConflictOtherLoginName", func(t *testing.T) {
		other := s.createLocal(t, "erin", "erin@elsewhere.example.com", map[string]any{
			"source_id": s.g.AuthSourceID, "login_name": "someone-else",
		})
		before := s.userCount(t)
		_, err := conn.EnsureUser(ctx, erin)
		wantTerminal(t, err)
		if !strings.Contains(err.Error(), "linked to another identity") {
			t.Errorf("err = %v", err)
		}
		if a := s.account(t, "erin"); a.LoginName != "someone-else" || a.Email != other.Email {
			t.Errorf("erin's account changed: %+v", a)
		}
		if after := s.userCount(t); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
	})

	t.Run("ErrConflictAdmin", func(t *testing.T) {
		u := fanout.User{UserName: s.g.AdminUser, Subject: "admin-sub", Email: "someone@example.com", Active: true}
		_, err := conn.EnsureUser(ctx, u)
		wantTerminal(t, err)
		if a := s.account(t, s.g.AdminUser); a.SourceID != 0 {
			t.Errorf("admin account relinked: %+v", a)
		}
	})

	t.Run("ErrNoSubject", func(t *testing.T) {
		u := fanout.User{UserName: "nobody@example.com", Email: "nobody@example.com", Active: true}
		_, err := conn.EnsureUser(ctx, u)
		wantTerminal(t, err)
		if !strings.Contains(err.Error(), `user "nobody@example.com" has no externalId (the OIDC subject)`) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("RenameKeepsLink", func(t *testing.T) {
		renamed := alice
		renamed.UserName = "alice.hargreaves@example.com"
		renamed.Email = "alice.h@example.com"
		renamed.DisplayName = "Alice Hargreaves"
		res, err := conn.EnsureUser(ctx, renamed)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != alice.RemoteID {
			t.Errorf("result %+v, want alice's id %s", res, alice.RemoteID)
		}
		a := s.account(t, "alice") // usernames are not renamed
		if a.LoginName != alice.Subject || a.SourceID != s.g.AuthSourceID {
			t.Errorf("link lost: %+v", a)
		}
		if a.Email != "alice.h@example.com" || a.FullName != "Alice Hargreaves" {
			t.Errorf("not updated: %+v", a)
		}
		s.mustLogin(t, "alice", "alice")
		alice = renamed
	})

	t.Run("DeactivateReactivate", func(t *testing.T) {
		off := alice
		off.Active = false
		res, err := conn.EnsureUser(ctx, off)
		if err != nil {
			t.Fatal(err)
		}
		if a := s.account(t, "alice"); !a.ProhibitLogin || a.LoginName != alice.Subject || !strings.Contains(res.Note, "suspended") {
			t.Errorf("after deactivation: %+v, note %q", a, res.Note)
		}
		before := s.userCount(t)
		// Gitea completes the OAuth2 callback, then shows every
		// signed-in page as "sign-in prohibited": no usable session.
		if got, err := s.login(t, "alice"); !errors.Is(err, harness.ErrNotSignedIn) {
			t.Errorf("login of a deactivated user: %q, %v; want ErrNotSignedIn", got, err)
		}
		if after := s.userCount(t); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}

		if _, err := conn.EnsureUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if a := s.account(t, "alice"); a.ProhibitLogin {
			t.Errorf("after reactivation: %+v", a)
		}
		s.mustLogin(t, "alice", "alice")
	})

	var teamID string
	t.Run("GroupMembership", func(t *testing.T) {
		pending := fanout.Member{UserID: "scim-zed", UserName: "zed@example.com"} // no account yet
		grp := fanout.Group{ID: "scim-g1", DisplayName: "Platform Team", Members: []fanout.Member{member(alice), member(bob), pending}}
		res, err := conn.EnsureGroup(ctx, grp)
		if err != nil {
			t.Fatal(err)
		}
		teamID = res.RemoteID
		var tm team
		if _, err := s.g.AdminAPI(ctx, http.MethodGet, "/teams/"+teamID, nil, &tm); err != nil {
			t.Fatal(err)
		}
		if tm.Name != "Platform-Team" {
			t.Errorf("team name %q", tm.Name)
		}
		if got := s.teamMembers(t, teamID); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("members %v, want alice and bob", got)
		}

		grp.RemoteID = teamID
		grp.Members = []fanout.Member{member(bob), member(carol)}
		if _, err := conn.EnsureGroup(ctx, grp); err != nil {
			t.Fatal(err)
		}
		if got := s.teamMembers(t, teamID); !slices.Equal(got, []string{"bob", "carol.local"}) {
			t.Errorf("members %v, want bob and carol.local", got)
		}

		rt.reset()
		res, err = conn.EnsureGroup(ctx, grp)
		if err != nil || res.RemoteID != teamID || res.Note != "" {
			t.Errorf("second pass: %+v, %v", res, err)
		}
		if w := rt.writes.Load(); w != 0 {
			t.Errorf("a converged group cost %d writes", w)
		}

		// Removed by hand, restored by the next pass.
		if _, err := s.g.AdminAPI(ctx, http.MethodDelete, "/teams/"+teamID+"/members/bob", nil, nil); err != nil {
			t.Fatal(err)
		}
		res, err = conn.EnsureGroup(ctx, grp)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.teamMembers(t, teamID); !slices.Equal(got, []string{"bob", "carol.local"}) || !strings.Contains(res.Note, "added bob") {
			t.Errorf("members %v (note %q), want bob restored", got, res.Note)
		}

		// A renamed group renames its team.
		grp.DisplayName = "Platform Engineers"
		res, err = conn.EnsureGroup(ctx, grp)
		if err != nil || res.RemoteID != teamID {
			t.Fatalf("rename: %+v, %v", res, err)
		}
		if _, err := s.g.AdminAPI(ctx, http.MethodGet, "/teams/"+teamID, nil, &tm); err != nil {
			t.Fatal(err)
		}
		if tm.Name != "Platform-Engineers" {
			t.Errorf("renamed team is %q", tm.Name)
		}
	})

	t.Run("GroupAdoptsTeamByName", func(t *testing.T) {
		var ops team
		in := map[string]any{"name": "Ops", "permission": "read", "units": []string{"repo.code"}}
		if _, err := s.g.AdminAPI(ctx, http.MethodPost, "/orgs/"+org+"/teams", in, &ops); err != nil {
			t.Fatal(err)
		}
		res, err := conn.EnsureGroup(ctx, fanout.Group{ID: "scim-g2", DisplayName: "ops", Members: []fanout.Member{member(dave)}})
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != strconv.FormatInt(ops.ID, 10) || !strings.Contains(res.Note, "adopted existing team Ops") {
			t.Errorf("result %+v, want team Ops (%d) adopted", res, ops.ID)
		}
		if got := s.teamMembers(t, res.RemoteID); !slices.Equal(got, []string{"dave"}) {
			t.Errorf("members %v", got)
		}
		if _, err := s.g.AdminAPI(ctx, http.MethodGet, "/teams/"+res.RemoteID, nil, &ops); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(ops.Description, "[scim group scim-g2]") {
			t.Errorf("adopted team's description %q has no mark", ops.Description)
		}
	})

	t.Run("ErrTwoGroupsOneTeam", func(t *testing.T) {
		if _, err := conn.EnsureGroup(ctx, fanout.Group{ID: "scim-g4", DisplayName: "Dev Ops"}); err != nil {
			t.Fatal(err)
		}
		_, err := conn.EnsureGroup(ctx, fanout.Group{ID: "scim-g5", DisplayName: "Dev-Ops", Members: []fanout.Member{member(dave)}})
		wantTerminal(t, err)
		if !strings.Contains(err.Error(), "belongs to scim group scim-g4") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("ErrReservedTeamName", func(t *testing.T) {
		_, err := conn.EnsureGroup(ctx, fanout.Group{ID: "scim-g3", DisplayName: "Owners"})
		wantTerminal(t, err)
	})

	t.Run("DeletedUser", func(t *testing.T) {
		gone := carol
		gone.Deleted = true
		res, err := conn.EnsureUser(ctx, gone)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != carol.RemoteID || !strings.Contains(res.Note, "suspended") || !strings.Contains(res.Note, "Platform-Engineers") {
			t.Errorf("result %+v", res)
		}
		if a := s.account(t, "carol.local"); !a.ProhibitLogin || a.LoginName != carol.Subject {
			t.Errorf("account %+v, want kept and suspended", a)
		}
		if got := s.teamMembers(t, teamID); !slices.Equal(got, []string{"bob"}) {
			t.Errorf("members %v, want carol.local removed", got)
		}
		if _, err := s.login(t, "carol"); !errors.Is(err, harness.ErrNotSignedIn) {
			t.Errorf("login of a deleted user: %v, want ErrNotSignedIn", err)
		}

		rt.reset()
		if _, err := conn.EnsureUser(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if w := rt.writes.Load(); w != 0 {
			t.Errorf("a converged deleted user cost %d writes", w)
		}

		// A deleted user who never had an account gets none.
		before := s.userCount(t)
		res, err = conn.EnsureUser(ctx, fanout.User{UserName: "ghost@example.com", Subject: "ghost-sub", Email: "ghost@example.com", Deleted: true})
		if err != nil || res.RemoteID != "" {
			t.Errorf("deleted user without account: %+v, %v", res, err)
		}
		if after := s.userCount(t); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
	})

	t.Run("DeletedGroup", func(t *testing.T) {
		res, err := conn.EnsureGroup(ctx, fanout.Group{ID: "scim-g1", DisplayName: "Platform Engineers", RemoteID: teamID, Deleted: true})
		if err != nil || res.RemoteID != teamID {
			t.Fatalf("result %+v, %v", res, err)
		}
		if got := s.teamMembers(t, teamID); len(got) != 0 {
			t.Errorf("members %v, want none", got)
		}
	})

	t.Run("OnDeleteDelete", func(t *testing.T) {
		del := s.open(t, gitea.Config{OnDelete: gitea.OnDeleteDelete}, nil)
		frank := s.addPerson(t, "frank", "frank-sub-0006", "frank@example.com", "Frank Castle")
		res, err := del.EnsureUser(ctx, frank)
		if err != nil {
			t.Fatal(err)
		}
		frank.RemoteID, frank.Deleted = res.RemoteID, true
		res, err = del.EnsureUser(ctx, frank)
		if err != nil || res.RemoteID != "" || !strings.Contains(res.Note, "deleted account frank") {
			t.Fatalf("result %+v, %v", res, err)
		}
		var apiErr *harness.APIError
		if _, err := s.g.AdminAPI(ctx, http.MethodGet, "/users/frank", nil, nil); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
			t.Errorf("frank after deletion: %v", err)
		}
	})

	t.Run("ErrBadToken", func(t *testing.T) {
		bad, err := gitea.Open(gitea.Config{URL: s.g.URL, AuthSourceID: s.g.AuthSourceID, Organization: org}, strings.Repeat("0", 40), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.EnsureUser(ctx, alice)
		wantTerminal(t, err)
		wantTerminal(t, bad.Check(ctx))
		if strings.Contains(err.Error(), strings.Repeat("0", 40)) {
			t.Errorf("error shows the token: %v", err)
		}
	})

	// Last: it stops the server.
	t.Run("ErrGiteaStopped", func(t *testing.T) {
		if err := s.g.Stop(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := s.g.Start(); err != nil {
				t.Error(err)
			}
		}()
		_, err := conn.EnsureUser(ctx, alice)
		if err == nil || fanout.IsTerminal(err) {
			t.Errorf("err = %v, want a retryable error", err)
		}
		_, err = conn.EnsureGroup(ctx, fanout.Group{ID: "scim-g1", DisplayName: "Platform Engineers", RemoteID: teamID})
		if err == nil || fanout.IsTerminal(err) {
			t.Errorf("group: err = %v, want a retryable error", err)
		}
	})
}

func Example() {
	cfg := gitea.Config{URL: "https://git.example.com/", AuthSourceID: 2, Organization: "platform"}
	token, err := gitea.LoadToken(cfg, func(string) string { return "an-admin-token" })
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := gitea.Open(cfg, token, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Name())
	// Output: gitea
}
