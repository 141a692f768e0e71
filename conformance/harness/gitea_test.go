package harness

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// giteaUser is the part of Gitea's API user the tests look at.
type giteaUser struct {
	ID        int64  `json:"id"`
	Login     string `json:"login"`
	Email     string `json:"email"`
	LoginName string `json:"login_name"`
	SourceID  int64  `json:"source_id"`
}

// precreate creates a user through the admin API the way the bridge will:
// bound to the auth source, with the OIDC subject as login_name and no
// password. mustChangePassword nil leaves the field out.
func precreate(t *testing.T, g *Gitea, username, loginName string, mustChangePassword *bool) giteaUser {
	t.Helper()
	in := map[string]any{
		"username":   username,
		"email":      username + "@example.com",
		"source_id":  g.AuthSourceID,
		"login_name": loginName,
	}
	if mustChangePassword != nil {
		in["must_change_password"] = *mustChangePassword
	}
	var u giteaUser
	if _, err := g.AdminAPI(t.Context(), http.MethodPost, "/admin/users", in, &u); err != nil {
		t.Fatalf("pre-create %s: %v", username, err)
	}
	if u.SourceID != g.AuthSourceID || u.LoginName != loginName {
		t.Fatalf("pre-created %s has source_id %d, login_name %q; want %d, %q",
			username, u.SourceID, u.LoginName, g.AuthSourceID, loginName)
	}
	return u
}

func userCount(t *testing.T, g *Gitea) int {
	t.Helper()
	n, err := g.UserCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func apiUser(t *testing.T, g *Gitea, username string) giteaUser {
	t.Helper()
	var u giteaUser
	if _, err := g.AdminAPI(t.Context(), http.MethodGet, "/users/"+url.PathEscape(username), nil, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPrecreatedUserIsLinkedOnFirstLogin proves on a real Gitea what the
// Gitea connector relies on: an account created through the admin API
// with source_id = the OAuth2 auth source and login_name = the OIDC sub is
// the account that person's first OIDC login lands in. The auth source
// asks for the openid scope only, and [oauth2_client] is left at Gitea's
// defaults.
func TestPrecreatedUserIsLinkedOnFirstLogin(t *testing.T) {
	idp := StartOIDC(t, OIDCOptions{})
	idp.AddUser(User{Subject: "alice-sub-0001", Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	idp.AddUser(User{Subject: "bob-sub-0002", Username: "bob", Email: "bob@example.com", EmailVerified: true, Name: "Bob"})
	idp.AddUser(User{Subject: "carol-sub-0003", Username: "carol", Email: "carol@example.com", EmailVerified: true, Name: "Carol"})
	g := StartGitea(t, GiteaOptions{OIDC: idp})
	no := false

	t.Run("OK", func(t *testing.T) {
		alice := precreate(t, g, "alice", "alice-sub-0001", &no)
		var found []giteaUser
		q := url.Values{"source_id": {fmt.Sprint(g.AuthSourceID)}, "login_name": {"alice-sub-0001"}}
		if _, err := g.AdminAPI(t.Context(), http.MethodGet, "/admin/users?"+q.Encode(), nil, &found); err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].ID != alice.ID {
			t.Fatalf("search by source_id and login_name = %+v, want alice (%d)", found, alice.ID)
		}
		before := userCount(t, g)

		client, err := g.LoginOIDC(t.Context(), idp, "alice")
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		name, err := g.SessionUser(t.Context(), client)
		if err != nil {
			t.Fatal(err)
		}
		if got := apiUser(t, g, name); name != "alice" || got.ID != alice.ID {
			t.Errorf("signed in as %q (id %d), want alice (id %d)", name, got.ID, alice.ID)
		}
		if after := userCount(t, g); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}

		// A second login lands in the same account again.
		client, err = g.LoginOIDC(t.Context(), idp, "alice")
		if err != nil {
			t.Fatalf("second login: %v", err)
		}
		if name, err := g.SessionUser(t.Context(), client); err != nil || name != "alice" {
			t.Errorf("second login signed in as %q, %v", name, err)
		}
	})

	t.Run("ErrOtherLoginNameIsNotLinked", func(t *testing.T) {
		bob := precreate(t, g, "bob", "someone-else-sub", &no)
		before := userCount(t, g)

		_, err := g.LoginOIDC(t.Context(), idp, "bob")
		if !errors.Is(err, ErrLinkAccount) {
			t.Fatalf("login of an unlinked subject: err = %v, want ErrLinkAccount", err)
		}
		if after := userCount(t, g); after != before {
			t.Errorf("user count went from %d to %d", before, after)
		}
		if got := apiUser(t, g, "bob"); got.ID != bob.ID || got.LoginName != "someone-else-sub" {
			t.Errorf("bob changed: %+v", got)
		}
	})

	t.Run("ErrMustChangePasswordByDefault", func(t *testing.T) {
		precreate(t, g, "carol", "carol-sub-0003", nil)
		_, err := g.LoginOIDC(t.Context(), idp, "carol")
		if !errors.Is(err, ErrMustChangePassword) {
			t.Fatalf("login without must_change_password: false: err = %v, want ErrMustChangePassword", err)
		}
	})
}

// TestGiteaRestart checks that Stop and Start keep the data and the port,
// and that the server is really down in between.
func TestGiteaRestart(t *testing.T) {
	g := StartGitea(t, GiteaOptions{})
	before := userCount(t, g)
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.UserCount(t.Context()); err == nil {
		t.Fatal("gitea answered while stopped")
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	if after := userCount(t, g); after != before {
		t.Errorf("user count after restart = %d, want %d", after, before)
	}
}
