package harness

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

const testRedirect = "http://127.0.0.1:1/callback"

// authorize runs the front channel as a browser would: authorization
// request, login as username, and returns the code sent to the redirect
// URI.
func authorize(t *testing.T, idp *OIDC, relying rp.RelyingParty, username string) (code string, err error) {
	t.Helper()
	ctx := t.Context()
	client := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), testRedirect) || req.URL.Path == LoginPath {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := get(ctx, client, rp.AuthURL("state-1", relying))
	if err != nil {
		return "", err
	}
	readPage(resp)
	loc, err := resp.Location()
	if err != nil {
		return "", err
	}
	if loc.Path != LoginPath {
		return "", errors.New("no redirect to the login page: " + loc.String())
	}
	form := url.Values{"id": {loc.Query().Get("id")}, "username": {username}}
	resp, err = get(ctx, client, idp.LoginURL()+"?"+form.Encode())
	if err != nil {
		return "", err
	}
	body := readPage(resp)
	// The login redirects to the provider's callback, which redirects to
	// the client with the code.
	loc, err = resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), testRedirect) {
		return "", errors.New("login refused: " + resp.Status + ": " + body)
	}
	if got := loc.Query().Get("state"); got != "state-1" {
		t.Errorf("state = %q, want state-1", got)
	}
	return loc.Query().Get("code"), nil
}

func newRelyingParty(t *testing.T, idp *OIDC, secret string, scopes ...string) rp.RelyingParty {
	t.Helper()
	relying, err := rp.NewRelyingPartyOIDC(t.Context(), idp.Issuer, idp.ClientID, secret, testRedirect, scopes)
	if err != nil {
		t.Fatalf("relying party: %v", err)
	}
	return relying
}

func TestOIDCProvider(t *testing.T) {
	idp := StartOIDC(t, OIDCOptions{ClientID: "app", ClientSecret: "s3cret", RedirectURIs: []string{testRedirect}})
	alice := User{Subject: "alice-sub-0001", Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice Liddell"}
	idp.AddUser(alice)

	t.Run("OK", func(t *testing.T) {
		relying := newRelyingParty(t, idp, "s3cret", "openid", "email", "profile")
		code, err := authorize(t, idp, relying, "alice")
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), code, relying)
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		c := tokens.IDTokenClaims
		if c.Subject != alice.Subject || c.Email != alice.Email || !bool(c.EmailVerified) ||
			c.PreferredUsername != alice.Username || c.Name != alice.Name {
			t.Errorf("id token claims = %+v", c)
		}
		info, err := rp.Userinfo[*oidc.UserInfo](t.Context(), tokens.AccessToken, tokens.TokenType, c.Subject, relying)
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != alice.Subject || info.Email != alice.Email || !bool(info.EmailVerified) ||
			info.PreferredUsername != alice.Username || info.Name != alice.Name {
			t.Errorf("userinfo = %+v", info)
		}
		if _, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), code, relying); err == nil {
			t.Error("a code was exchanged twice")
		}
	})

	t.Run("OpenIDScopeOnly", func(t *testing.T) {
		relying := newRelyingParty(t, idp, "s3cret", "openid")
		code, err := authorize(t, idp, relying, "alice")
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), code, relying)
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		info, err := rp.Userinfo[*oidc.UserInfo](t.Context(), tokens.AccessToken, tokens.TokenType, alice.Subject, relying)
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != alice.Subject || info.Email != "" || info.PreferredUsername != "" {
			t.Errorf("userinfo for openid alone = %+v, want sub only", info)
		}
	})

	t.Run("ErrUnknownUser", func(t *testing.T) {
		relying := newRelyingParty(t, idp, "s3cret", "openid")
		if _, err := authorize(t, idp, relying, "mallory"); err == nil {
			t.Fatal("an unknown user signed in")
		}
	})

	t.Run("ErrWrongSecret", func(t *testing.T) {
		code, err := authorize(t, idp, newRelyingParty(t, idp, "s3cret", "openid"), "alice")
		if err != nil {
			t.Fatal(err)
		}
		wrong := newRelyingParty(t, idp, "wrong", "openid")
		if _, err := rp.CodeExchange[*oidc.IDTokenClaims](context.Background(), code, wrong); err == nil {
			t.Fatal("a code was exchanged with a wrong client secret")
		}
	})

	t.Run("ErrUnregisteredRedirect", func(t *testing.T) {
		u := idp.Issuer + "/authorize?" + url.Values{
			"client_id": {"app"}, "response_type": {"code"}, "scope": {"openid"},
			"redirect_uri": {"http://127.0.0.1:2/elsewhere"},
		}.Encode()
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := get(t.Context(), client, u)
		if err != nil {
			t.Fatal(err)
		}
		readPage(resp)
		if loc, _ := resp.Location(); loc != nil && strings.HasPrefix(loc.String(), "http://127.0.0.1:2/") {
			t.Fatalf("redirected to an unregistered redirect_uri: %s", loc)
		}
	})
}
