package harness

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// coderUser is the part of Coder's API user (codersdk.User) the tests look
// at.
type coderUser struct {
	ID              string   `json:"id"`
	Username        string   `json:"username"`
	Email           string   `json:"email"`
	LoginType       string   `json:"login_type"`
	Status          string   `json:"status"`
	OrganizationIDs []string `json:"organization_ids"`
}

// createCoderUser creates a user through the API the way the bridge will
// (POST /api/v2/users, codersdk.CreateUserRequestWithOrgs): in the default
// organization, with the given login type and no password.
func createCoderUser(t *testing.T, c *Coder, username, email, loginType string) coderUser {
	t.Helper()
	in := map[string]any{
		"username":         username,
		"email":            email,
		"name":             username,
		"login_type":       loginType,
		"organization_ids": []string{c.OrganizationID},
	}
	if loginType == "password" {
		in["password"] = "Pw-" + rand.Text()
	}
	var u coderUser
	if _, err := c.AdminAPI(t.Context(), http.MethodPost, "/users", in, &u); err != nil {
		t.Fatalf("create %s: %v", username, err)
	}
	if u.ID == "" || u.Username != username || u.LoginType != loginType {
		t.Fatalf("created %s: %+v, want login_type %s", username, u, loginType)
	}
	return u
}

func coderUserCount(t *testing.T, c *Coder) int {
	t.Helper()
	n, err := c.UserCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func coderAPIUser(t *testing.T, c *Coder, username string) coderUser {
	t.Helper()
	var u coderUser
	if _, err := c.AdminAPI(t.Context(), http.MethodGet, "/users/"+url.PathEscape(username), nil, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestCoderOwnerSession checks the set-up StartCoder does: the owner's
// session works and is the owner's, the default organization is theirs,
// and a wrong token is refused.
func TestCoderOwnerSession(t *testing.T) {
	c := StartCoder(t, CoderOptions{})
	name, err := c.SessionUser(t.Context(), c.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	if name != c.AdminUsername {
		t.Errorf("owner session belongs to %q, want %q", name, c.AdminUsername)
	}
	owner := coderAPIUser(t, c, "me")
	if owner.Email != c.AdminEmail {
		t.Errorf("owner email %q, want %q", owner.Email, c.AdminEmail)
	}
	if len(owner.OrganizationIDs) != 1 || owner.OrganizationIDs[0] != c.OrganizationID {
		t.Errorf("owner organizations %v, want [%s]", owner.OrganizationIDs, c.OrganizationID)
	}
	if n := coderUserCount(t, c); n != 1 {
		t.Errorf("user count = %d, want 1 (the owner)", n)
	}

	_, err = c.SessionUser(t.Context(), "not-a-token")
	var apiErr *CoderAPIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Errorf("bad token: err = %v, want a 401 *CoderAPIError", err)
	}
}

// TestCoderPrecreatedUserIsLinkedOnFirstLogin proves on a real Coder what
// the Coder connector relies on: a user created through the API with
// login_type "oidc" and the email the provider asserts (email_verified
// true) is the account that person's first OIDC login lands in. Coder finds
// it by email (coderd/userauth.go, findLinkedUser) and links it to the
// provider's subject; later logins find it by subject. Only Coder's
// defaults are used: email_verified is checked, and signups are allowed but
// not needed.
func TestCoderPrecreatedUserIsLinkedOnFirstLogin(t *testing.T) {
	idp := StartOIDC(t, OIDCOptions{ClientID: "coder"})
	idp.AddUser(User{Subject: "alice-sub-0001", Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	idp.AddUser(User{Subject: "bob-sub-0002", Username: "bob", Email: "bob@example.com", EmailVerified: true, Name: "Bob"})
	idp.AddUser(User{Subject: "carol-sub-0003", Username: "carol", Email: "carol@example.com", EmailVerified: false, Name: "Carol"})
	c := StartCoder(t, CoderOptions{OIDC: idp})

	t.Run("OK", func(t *testing.T) {
		alice := createCoderUser(t, c, "alice", "alice@example.com", "oidc")
		before := coderUserCount(t, c)

		token, err := c.LoginOIDC(t.Context(), idp, "alice")
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		if token == c.SessionToken {
			t.Fatal("login returned the owner's token")
		}
		name, err := c.SessionUser(t.Context(), token)
		if err != nil {
			t.Fatal(err)
		}
		if got := coderAPIUser(t, c, name); name != "alice" || got.ID != alice.ID {
			t.Errorf("signed in as %q (id %s), want alice (id %s)", name, got.ID, alice.ID)
		}
		if after := coderUserCount(t, c); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
		if got := coderAPIUser(t, c, "alice"); got.LoginType != "oidc" || got.Status != "active" {
			t.Errorf("after login alice has login_type %q, status %q; want oidc, active", got.LoginType, got.Status)
		}

		// A second login lands in the same account again.
		token, err = c.LoginOIDC(t.Context(), idp, "alice")
		if err != nil {
			t.Fatalf("second login: %v", err)
		}
		if name, err := c.SessionUser(t.Context(), token); err != nil || name != "alice" {
			t.Errorf("second login signed in as %q, %v", name, err)
		}
		if after := coderUserCount(t, c); after != before {
			t.Errorf("user count after the second login went from %d to %d", before, after)
		}

		// Now linked by subject: a new email at the provider still lands
		// in the same account.
		idp.AddUser(User{Subject: "alice-sub-0001", Username: "alice", Email: "alice.new@example.com", EmailVerified: true, Name: "Alice"})
		token, err = c.LoginOIDC(t.Context(), idp, "alice")
		if err != nil {
			t.Fatalf("login with a new email: %v", err)
		}
		if name, err := c.SessionUser(t.Context(), token); err != nil || name != "alice" {
			t.Errorf("login with a new email signed in as %q, %v", name, err)
		}
		if after := coderUserCount(t, c); after != before {
			t.Errorf("user count after the login with a new email went from %d to %d", before, after)
		}
		// Coder copies the provider's email into the account at login.
		if got := coderAPIUser(t, c, "alice").Email; got != "alice.new@example.com" {
			t.Errorf("alice's email after the login with a new one = %q, want alice.new@example.com", got)
		}
	})

	// A password account with the provider's email is not taken over: the
	// login is refused (coderd/userauth.go, wrongLoginTypeHTTPError), and
	// no second account appears.
	t.Run("ErrPasswordUserIsNotLinked", func(t *testing.T) {
		createCoderUser(t, c, "bob", "bob@example.com", "password")
		before := coderUserCount(t, c)
		_, err := c.LoginOIDC(t.Context(), idp, "bob")
		if err == nil || !strings.Contains(err.Error(), "status 403") || !strings.Contains(err.Error(), "Incorrect login type") {
			t.Fatalf("oidc login into a password account: err = %v, want a 403 refusal", err)
		}
		t.Logf("refused as expected: %v", err)
		if after := coderUserCount(t, c); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
		if got := coderAPIUser(t, c, "bob"); got.LoginType != "password" {
			t.Errorf("bob's login_type became %q", got.LoginType)
		}
	})

	// An unverified email is refused under Coder's default
	// CODER_OIDC_IGNORE_EMAIL_VERIFIED=false, even for a pre-created user.
	t.Run("ErrUnverifiedEmail", func(t *testing.T) {
		createCoderUser(t, c, "carol", "carol@example.com", "oidc")
		before := coderUserCount(t, c)
		_, err := c.LoginOIDC(t.Context(), idp, "carol")
		if err == nil || !strings.Contains(err.Error(), "status 403") || !strings.Contains(err.Error(), "Email not verified") {
			t.Fatalf("login with an unverified email: err = %v, want a 403 refusal", err)
		}
		t.Logf("refused as expected: %v", err)
		if after := coderUserCount(t, c); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
	})
}

// TestCoderRestart checks that Stop and Start keep the data, the port and
// the owner's session, and that the server is really down in between.
func TestCoderRestart(t *testing.T) {
	c := StartCoder(t, CoderOptions{})
	createCoderUser(t, c, "dave", "dave@example.com", "password")
	before := coderUserCount(t, c)
	stopStart := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(stopStart))
	if _, err := c.UserCount(t.Context()); err == nil {
		t.Fatal("coder answered while stopped")
	}
	stopStart = time.Now()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("started again in %v", time.Since(stopStart))
	if after := coderUserCount(t, c); after != before {
		t.Errorf("user count after restart = %d, want %d", after, before)
	}
	if got := coderAPIUser(t, c, "dave"); got.Email != "dave@example.com" {
		t.Errorf("dave after restart: %+v", got)
	}
	if name, err := c.SessionUser(t.Context(), c.SessionToken); err != nil || name != c.AdminUsername {
		t.Errorf("owner session after restart: %q, %v", name, err)
	}
}

// TestPostgresCluster checks the cluster Coder servers share: users of one
// test share it, each database is new and reachable over TCP, and the last
// release stops the server and removes its folder.
func TestPostgresCluster(t *testing.T) {
	var pg *postgres
	t.Run("Use", func(t *testing.T) {
		pg = acquirePostgres(t)
		if again := acquirePostgres(t); again != pg {
			t.Fatal("a second user got another cluster")
		}
		u1, err := pg.createDatabase(t.Context(), "check")
		if err != nil {
			t.Fatal(err)
		}
		u2, err := pg.createDatabase(t.Context(), "check")
		if err != nil {
			t.Fatal(err)
		}
		if u1 == u2 {
			t.Fatalf("two databases with one URL %s", u1)
		}
		for _, u := range []string{u1, u2} {
			out, err := pg.tool(t.Context(), "psql", "--no-psqlrc", "--tuples-only", "--no-align",
				"--dbname", u, "--command", "select current_database()")
			if err != nil {
				t.Fatal(err)
			}
			parsed, _ := url.Parse(u)
			if got, want := strings.TrimSpace(out), strings.TrimPrefix(parsed.Path, "/"); got != want {
				t.Errorf("connected to %q through %s", got, u)
			}
		}
	})
	if pg == nil {
		return // skipped
	}
	select {
	case <-pg.done:
	default:
		t.Error("postgres still runs after its last user ended")
	}
	if _, err := os.Stat(pg.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster folder %s: %v, want it removed", pg.dir, err)
	}
}
