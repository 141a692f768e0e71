package coder_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/coder/v2/codersdk"
	"github.com/google/uuid"

	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
)

// recorder notes every request the connector sends and can run a hook
// before one is forwarded.
type recorder struct {
	mu     sync.Mutex
	log    []string
	before func(r *http.Request)
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	rec.mu.Lock()
	rec.log = append(rec.log, r.Method+" "+r.URL.Path)
	hook := rec.before
	rec.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the requests seen since the last call.
func (rec *recorder) take() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.log
	rec.log = nil
	return out
}

type env struct {
	f   *coderfake.Fake
	rec *recorder
}

func newEnv(t *testing.T, opts coderfake.Options) *env {
	t.Helper()
	return &env{f: coderfake.Start(t, opts), rec: &recorder{}}
}

func (e *env) open(t *testing.T, cfg coder.Config) *coder.Connector {
	t.Helper()
	cfg.URL = e.f.URL
	cfg.Transport = e.rec
	c, err := coder.Open(cfg, e.f.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) account(t *testing.T, id string) codersdk.User {
	t.Helper()
	u, ok := e.f.User(uuid.MustParse(id))
	if !ok {
		t.Fatalf("no account %s", id)
	}
	return u
}

func person(name string) fanout.User {
	return fanout.User{ID: "scim-" + name, UserName: name + "@example.com", Subject: "sub-" + name,
		Email: name + "@example.com", DisplayName: "Person " + name, Active: true}
}

func mustEnsure(t *testing.T, c *coder.Connector, u fanout.User) fanout.Result {
	t.Helper()
	res, err := c.EnsureUser(t.Context(), u)
	if err != nil {
		t.Fatalf("EnsureUser(%s): %v", u.UserName, err)
	}
	return res
}

func wantTerminal(t *testing.T, err error, contains ...string) {
	t.Helper()
	if err == nil || !fanout.IsTerminal(err) {
		t.Fatalf("err = %v, want a terminal error", err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestEnsureUser(t *testing.T) {
	t.Run("CreatesOIDCAccount", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		u := person("ada")
		u.UserName = "Ada.Lovelace@example.com"
		res := mustEnsure(t, c, u)
		a := e.account(t, res.RemoteID)
		if a.Username != "AdaLovelace" || a.Email != u.Email || a.Name != "Person ada" || a.LoginType != codersdk.LoginTypeOIDC {
			t.Errorf("account %+v", a.ReducedUser)
		}
		if a.Status != codersdk.UserStatusDormant {
			t.Errorf("a new account is %s, want dormant until its first login", a.Status)
		}
		if want := []uuid.UUID{e.f.DefaultOrganization().ID}; !slices.Equal(a.OrganizationIDs, want) {
			t.Errorf("organizations %v, want %v", a.OrganizationIDs, want)
		}
		if res.Note != "created account AdaLovelace" {
			t.Errorf("note %q", res.Note)
		}
		want := []string{"GET /api/v2/organizations/default", "GET /api/v2/users", "POST /api/v2/users"}
		if got := e.rec.take(); !slices.Equal(got, want) {
			t.Errorf("requests %v, want %v", got, want)
		}

		u.RemoteID = res.RemoteID
		again := mustEnsure(t, c, u)
		if again.RemoteID != res.RemoteID || again.Note != "" {
			t.Errorf("second pass %+v", again)
		}
		if got := e.rec.take(); !slices.Equal(got, []string{"GET /api/v2/users"}) {
			t.Errorf("a converged user cost %v, want one search", got)
		}
	})

	t.Run("InactiveIsCreatedSuspended", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		u := person("bob")
		u.Active = false
		res := mustEnsure(t, c, u)
		if a := e.account(t, res.RemoteID); a.Status != codersdk.UserStatusSuspended {
			t.Errorf("status %s, want suspended", a.Status)
		}
		if got := e.rec.take(); len(got) != 3 {
			t.Errorf("requests %v, want the create to carry the status", got)
		}
	})

	t.Run("SuspendsAndActivates", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		u := person("cy")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		u.Active = false
		if res := mustEnsure(t, c, u); res.Note != "suspended account cy" {
			t.Errorf("note %q", res.Note)
		}
		if a := e.account(t, u.RemoteID); a.Status != codersdk.UserStatusSuspended {
			t.Errorf("status %s, want suspended", a.Status)
		}
		u.Active = true
		if res := mustEnsure(t, c, u); res.Note != "activated account cy" {
			t.Errorf("note %q", res.Note)
		}
		if a := e.account(t, u.RemoteID); a.Status != codersdk.UserStatusActive {
			t.Errorf("status %s, want active", a.Status)
		}
	})

	t.Run("AdoptsOIDCAccountByEmail", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		pre := e.f.AddUser(coderfake.Seed{Username: "dora-x", Email: "DORA@example.com", LoginType: codersdk.LoginTypeOIDC})
		c := e.open(t, coder.Config{})
		res := mustEnsure(t, c, person("dora"))
		if res.RemoteID != pre.ID.String() || res.Note != "adopted existing account dora-x (by email)" {
			t.Errorf("result %+v, want the account %s adopted", res, pre.ID)
		}
		if n := len(e.f.Users()); n != 2 {
			t.Errorf("%d accounts, want the admin and dora-x", n)
		}
	})

	t.Run("AddsMissingOrganizations", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		eng := e.f.AddOrganization("eng")
		pre := e.f.AddUser(coderfake.Seed{Username: "eve", Email: "eve@example.com", LoginType: codersdk.LoginTypeOIDC})
		c := e.open(t, coder.Config{Organizations: []string{"coder", eng.ID.String()}})
		res := mustEnsure(t, c, person("eve"))
		a := e.account(t, pre.ID.String())
		if !slices.Contains(a.OrganizationIDs, eng.ID) {
			t.Errorf("organizations %v, want eng %s added", a.OrganizationIDs, eng.ID)
		}
		if !strings.Contains(res.Note, "added account eve to organization eng") {
			t.Errorf("note %q", res.Note)
		}
		u := person("fay")
		a = e.account(t, mustEnsure(t, c, u).RemoteID)
		if want := []uuid.UUID{e.f.DefaultOrganization().ID, eng.ID}; !slices.Equal(a.OrganizationIDs, want) {
			t.Errorf("a new account's organizations %v, want %v", a.OrganizationIDs, want)
		}
	})

	t.Run("ErrPasswordAccount", func(t *testing.T) {
		for _, lt := range []codersdk.LoginType{codersdk.LoginTypePassword, codersdk.LoginTypeGithub} {
			e := newEnv(t, coderfake.Options{OIDC: true})
			e.f.AddUser(coderfake.Seed{Username: "gil", Email: "gil@example.com", LoginType: lt})
			_, err := e.open(t, coder.Config{}).EnsureUser(t.Context(), person("gil"))
			wantTerminal(t, err, `account "gil"`, string(lt), "account settings")
			if n := len(e.f.Users()); n != 2 {
				t.Errorf("%d accounts, want no new one", n)
			}
		}
	})

	t.Run("UsernameTakenBySomeoneElse", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		other := e.f.AddUser(coderfake.Seed{Username: "hal", Email: "hal@other.example"})
		c := e.open(t, coder.Config{})
		res := mustEnsure(t, c, person("hal"))
		a := e.account(t, res.RemoteID)
		if a.ID == other.ID || !strings.HasPrefix(a.Username, "hal-") || len(a.Username) != len("hal-")+4 {
			t.Fatalf("account %s %q, want a new account named hal-xxxx", a.ID, a.Username)
		}
		again := mustEnsure(t, c, fanout.User{UserName: "hal@example.com", Email: "hal@example.com", Active: true})
		if again.RemoteID != res.RemoteID {
			t.Errorf("a second pass without the link found %s, want %s", again.RemoteID, res.RemoteID)
		}
		if o := e.account(t, other.ID.String()); o.Username != "hal" || o.Email != "hal@other.example" {
			t.Errorf("the other hal changed: %+v", o.ReducedUser)
		}
	})

	t.Run("ErrBothNamesTaken", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		e.f.AddUser(coderfake.Seed{Username: "ivy", Email: "ivy@a.example"})
		u := fanout.User{UserName: "ivy@c.example", Email: "ivy@c.example", Active: true}
		first := mustEnsure(t, c, u)
		alt := e.account(t, first.RemoteID).Username
		// The account goes, and someone else takes its name.
		e.f.DeleteUser(uuid.MustParse(first.RemoteID))
		e.f.AddUser(coderfake.Seed{Username: alt, Email: "squatter@example.com"})
		_, err := c.EnsureUser(t.Context(), u)
		wantTerminal(t, err, `"ivy"`, alt, "ivy@a.example", "squatter@example.com")
	})

	t.Run("AdoptsAccountCreatedMeanwhile", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		var id uuid.UUID
		e.rec.before = func(r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/api/v2/users" && id == uuid.Nil {
				// The person's own first login wins the race.
				id = e.f.AddUser(coderfake.Seed{Username: "jo-login", Email: "jo@example.com", LoginType: codersdk.LoginTypeOIDC}).ID
			}
		}
		res := mustEnsure(t, c, person("jo"))
		if res.RemoteID != id.String() || !strings.Contains(res.Note, "adopted existing account jo-login") {
			t.Errorf("result %+v, want the account %s adopted", res, id)
		}
	})

	t.Run("EmailChangedKeepsLink", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		u := person("kim")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		u.Email = "kim.new@example.com"
		res := mustEnsure(t, c, u)
		if res.RemoteID != u.RemoteID || !strings.Contains(res.Note, "still has email kim@example.com") {
			t.Errorf("result %+v, want the link kept with a note", res)
		}
		if n := len(e.f.Users()); n != 2 {
			t.Errorf("%d accounts, want no new one", n)
		}
	})

	t.Run("AccountDeletedInCoderIsRecreated", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		u := person("lee")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		e.f.DeleteUser(uuid.MustParse(u.RemoteID))
		u.Email = "lee.new@example.com"
		res := mustEnsure(t, c, u)
		if res.RemoteID == u.RemoteID || res.Note != "created account lee" {
			t.Errorf("result %+v, want a new account", res)
		}
	})

	t.Run("DeletedSuspendsAndKeeps", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		u := person("max")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		gone := fanout.User{ID: u.ID, Deleted: true, RemoteID: u.RemoteID}
		res := mustEnsure(t, c, gone)
		if res.RemoteID != u.RemoteID || !strings.Contains(res.Note, "suspended account max") {
			t.Errorf("result %+v", res)
		}
		if a := e.account(t, u.RemoteID); a.Status != codersdk.UserStatusSuspended {
			t.Errorf("status %s, want suspended", a.Status)
		}
		e.rec.take()
		if res := mustEnsure(t, c, gone); res.Note != "" {
			t.Errorf("second pass note %q", res.Note)
		}
		if got := e.rec.take(); len(got) != 1 {
			t.Errorf("second pass cost %v, want one read", got)
		}
		if res := mustEnsure(t, c, fanout.User{ID: "never", Deleted: true}); res != (fanout.Result{}) {
			t.Errorf("a deleted user never linked: %+v", res)
		}
		if got := e.rec.take(); len(got) != 0 {
			t.Errorf("a deleted user never linked cost %v", got)
		}
	})

	t.Run("EmailAttribute", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{EmailAttribute: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:upn"})
		u := person("ned")
		u.Attributes = map[string]any{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"UPN": "ned@corp.example"}}
		if a := e.account(t, mustEnsure(t, c, u).RemoteID); a.Email != "ned@corp.example" {
			t.Errorf("email %q, want the configured attribute's", a.Email)
		}
		u.Attributes = nil
		_, err := c.EnsureUser(t.Context(), u)
		wantTerminal(t, err, "no email")
	})

	t.Run("ErrNoEmail", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		u := person("oz")
		u.Email = ""
		_, err := e.open(t, coder.Config{}).EnsureUser(t.Context(), u)
		wantTerminal(t, err, "no email")
	})

	t.Run("ErrNoOIDC", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{})
		_, err := e.open(t, coder.Config{}).EnsureUser(t.Context(), person("pat"))
		wantTerminal(t, err, "You must configure OIDC before creating OIDC users")
	})

	t.Run("ErrSuspendOwner", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		e.f.AddUser(coderfake.Seed{Username: "quinn", Email: "quinn@example.com", LoginType: codersdk.LoginTypeOIDC, Roles: []string{codersdk.RoleOwner}})
		u := person("quinn")
		u.Active = false
		_, err := e.open(t, coder.Config{}).EnsureUser(t.Context(), u)
		wantTerminal(t, err, `"owner" role`)
	})

	t.Run("ErrMissingOrganization", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		_, err := e.open(t, coder.Config{Organizations: []string{"nope"}}).EnsureUser(t.Context(), person("ray"))
		wantTerminal(t, err, `organization "nope" does not exist`)
	})
}

func TestErrors(t *testing.T) {
	t.Run("RetryAfterSeconds", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		e.f.Fail(1, http.StatusTooManyRequests, "7")
		_, err := c.EnsureUser(t.Context(), person("sam"))
		var ra *fanout.RetryAfterError
		if !errors.As(err, &ra) || ra.After != 7*time.Second || fanout.IsTerminal(err) {
			t.Fatalf("err = %v, want a retry after 7s", err)
		}
	})
	t.Run("RetryAfterDate", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		e.f.Fail(1, http.StatusServiceUnavailable, time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))
		_, err := c.EnsureUser(t.Context(), person("sam"))
		var ra *fanout.RetryAfterError
		if !errors.As(err, &ra) || ra.After < 55*time.Second || ra.After > 61*time.Second {
			t.Fatalf("err = %v, want a retry after about a minute", err)
		}
	})
	t.Run("RetryAfterDefault", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{})
		e.f.Fail(1, http.StatusServiceUnavailable, "")
		_, err := c.EnsureUser(t.Context(), person("sam"))
		var ra *fanout.RetryAfterError
		if !errors.As(err, &ra) || ra.After != 30*time.Second {
			t.Fatalf("err = %v, want a retry after the default 30s", err)
		}
	})
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusRequestTimeout} {
		t.Run("Retried"+http.StatusText(status), func(t *testing.T) {
			e := newEnv(t, coderfake.Options{OIDC: true})
			c := e.open(t, coder.Config{})
			e.f.Fail(1, status, "")
			_, err := c.EnsureUser(t.Context(), person("sam"))
			var ra *fanout.RetryAfterError
			if err == nil || fanout.IsTerminal(err) || errors.As(err, &ra) {
				t.Fatalf("err = %v, want a plain error that is retried", err)
			}
			mustEnsure(t, c, person("sam"))
		})
	}
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest} {
		t.Run("Terminal"+http.StatusText(status), func(t *testing.T) {
			e := newEnv(t, coderfake.Options{OIDC: true})
			c := e.open(t, coder.Config{})
			mustEnsure(t, c, person("pre")) // the organization is resolved once
			e.f.Fail(1, status, "")
			_, err := c.EnsureUser(t.Context(), person("sam"))
			wantTerminal(t, err)
			var sdkErr *codersdk.Error
			if !errors.As(err, &sdkErr) || sdkErr.StatusCode() != status {
				t.Errorf("err = %v, want codersdk's error with status %d inside", err, status)
			}
		})
	}
	t.Run("BadToken", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c, err := coder.Open(coder.Config{URL: e.f.URL}, "abcdefghij-abcdefghijabcdefghijab", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.EnsureUser(t.Context(), person("sam"))
		wantTerminal(t, err, "status 401", "API key is invalid", "token valid")
	})
	t.Run("Timeout", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c := e.open(t, coder.Config{Timeout: 100 * time.Millisecond})
		e.f.Slow(2 * time.Second)
		start := time.Now()
		_, err := c.EnsureUser(t.Context(), person("sam"))
		if err == nil || fanout.IsTerminal(err) {
			t.Fatalf("err = %v, want a timeout that is retried", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("a 100ms timeout took %v", d)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		url := e.f.URL
		e.f.Close()
		c, err := coder.Open(coder.Config{URL: url}, e.f.Token, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.EnsureUser(t.Context(), person("sam")); err == nil || fanout.IsTerminal(err) {
			t.Fatalf("err = %v, want a network error that is retried", err)
		}
	})
	t.Run("TokenNeverLogged", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c, err := coder.Open(coder.Config{URL: e.f.URL, Groups: true}, e.f.Token, logger)
		if err != nil {
			t.Fatal(err)
		}
		var errs []error
		u := person("tia")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		u.Active = false
		mustEnsure(t, c, u)
		if _, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "T", Members: []fanout.Member{{RemoteID: u.RemoteID}}}); err != nil {
			t.Fatal(err)
		}
		e.f.Fail(3, http.StatusUnauthorized, "")
		_, err = c.EnsureUser(t.Context(), person("uma"))
		errs = append(errs, err, c.Check(t.Context()))
		secret := e.f.Token[strings.IndexByte(e.f.Token, '-')+1:]
		for _, err := range errs {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error carries the token: %v", err)
			}
		}
		if buf.Len() == 0 {
			t.Fatal("nothing was logged; the check proves nothing")
		}
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log carries the token:\n%s", buf.String())
		}
	})
}

func TestCheck(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		eng := e.f.AddOrganization("eng")
		if err := e.open(t, coder.Config{Organizations: []string{"eng", eng.ID.String(), "default"}, Groups: true}).Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("UserAdmin", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		admin := e.f.AddUser(coderfake.Seed{Username: "ua", Email: "ua@example.com", Roles: []string{codersdk.RoleUserAdmin}})
		c, err := coder.Open(coder.Config{URL: e.f.URL}, e.f.NewToken(admin.ID), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrNoOIDC", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{})
		wantTerminal(t, e.open(t, coder.Config{}).Check(t.Context()), "no OIDC")
	})
	t.Run("ErrNotAdmin", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		member := e.f.AddUser(coderfake.Seed{Username: "mem", Email: "mem@example.com"})
		c, err := coder.Open(coder.Config{URL: e.f.URL}, e.f.NewToken(member.ID), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantTerminal(t, c.Check(t.Context()), `"mem" is neither an Owner nor a User Admin`)
		_, err = c.EnsureUser(t.Context(), person("sam"))
		wantTerminal(t, err, "403", "Owner or a User Admin")
	})
	t.Run("ErrBadToken", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		c, err := coder.Open(coder.Config{URL: e.f.URL}, "not-a-token", nil)
		if err != nil {
			t.Fatal(err)
		}
		wantTerminal(t, c.Check(t.Context()), "401")
	})
	t.Run("ErrOrganization", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		wantTerminal(t, e.open(t, coder.Config{Organizations: []string{"nope"}}).Check(t.Context()), `"nope" does not exist`)
	})
	t.Run("ErrGroupsWithoutPremium", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		wantTerminal(t, e.open(t, coder.Config{Groups: true}).Check(t.Context()), "premium")
		if err := e.open(t, coder.Config{}).Check(t.Context()); err != nil {
			t.Errorf("without groups: %v", err)
		}
	})
}
