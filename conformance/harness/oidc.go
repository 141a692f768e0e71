package harness

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// LoginPath is the provider's login page. It takes the auth request id as
// "id" and, to sign in, a "username" (GET or POST); it then redirects back
// to the client like a real provider would after a password prompt.
const LoginPath = "/login"

// OIDCOptions configures StartOIDC. The zero value is ready to use.
type OIDCOptions struct {
	// ClientID is the one registered client's id. Default "gitea".
	ClientID string
	// ClientSecret is that client's secret. Default: a random one.
	ClientSecret string
	// RedirectURIs are registered at start; more can be added later with
	// RegisterRedirectURI.
	RedirectURIs []string
}

// User is a person the provider can sign in.
type User struct {
	// Subject is the stable "sub" claim. Required.
	Subject string
	// Username is what the login step is given, and the
	// preferred_username claim (profile scope). Required, and unique.
	Username string
	// Email and EmailVerified are the email and email_verified claims
	// (email scope).
	Email         string
	EmailVerified bool
	// Name is the name claim (profile scope).
	Name string
}

// OIDC is a running OpenID provider with one confidential client that uses
// the authorization code flow. Its users and redirect URIs can change while
// it runs; it is safe for concurrent use.
type OIDC struct {
	// Issuer is the provider's issuer and base URL, without a trailing
	// slash, e.g. "http://127.0.0.1:40123".
	Issuer string
	// ClientID and ClientSecret are the registered client's credentials.
	ClientID     string
	ClientSecret string

	t     testing.TB
	store *oidcStore
}

// DiscoveryURL is the provider's /.well-known/openid-configuration.
func (o *OIDC) DiscoveryURL() string { return o.Issuer + oidc.DiscoveryEndpoint }

// LoginURL is the provider's login page (see LoginPath).
func (o *OIDC) LoginURL() string { return o.Issuer + LoginPath }

// RegisterRedirectURI allows the client to use uri as its redirect_uri,
// which must match exactly.
func (o *OIDC) RegisterRedirectURI(uri string) { o.store.addRedirectURI(uri) }

// AddUser adds u, or replaces the user with the same Subject. It fails the
// test when u has no Subject or Username, or when another subject already
// has u's Username, so call it from the test's goroutine.
func (o *OIDC) AddUser(u User) {
	o.t.Helper()
	if u.Subject == "" || u.Username == "" {
		o.t.Fatalf("harness: oidc user needs a Subject and a Username: %+v", u)
	}
	if err := o.store.putUser(u); err != nil {
		o.t.Fatalf("harness: %v", err)
	}
}

// StartOIDC starts an OpenID provider on 127.0.0.1 and stops it when the
// test ends. It serves discovery, the authorization, token, userinfo,
// introspection, revocation and JWKS endpoints, and the login page at
// LoginPath; it signs ID tokens with RS256 and supports the openid,
// profile and email scopes and PKCE.
func StartOIDC(t testing.TB, opts OIDCOptions) *OIDC {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID = "gitea"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = rand.Text()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: oidc listen: %v", err)
	}
	issuer := "http://" + ln.Addr().String()
	loginURL := func(id string) string {
		return issuer + LoginPath + "?" + url.Values{"id": {id}}.Encode()
	}
	store, err := newOIDCStore(opts.ClientID, opts.ClientSecret, loginURL)
	if err != nil {
		ln.Close()
		t.Fatalf("harness: %v", err)
	}
	for _, uri := range opts.RedirectURIs {
		store.addRedirectURI(uri)
	}

	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	config := &op.Config{
		CryptoKey:          cryptoKey,
		CodeMethodS256:     true,
		AuthMethodPost:     true,
		SupportedUILocales: []language.Tag{language.English},
		SupportedScopes:    []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail},
		SupportedClaims: []string{
			"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr",
			"c_hash", "at_hash", "azp", "name", "preferred_username", "email", "email_verified",
		},
	}
	// The provider logs its refusals through the default slog logger.
	provider, err := op.NewProvider(config, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		t.Fatalf("harness: oidc provider: %v", err)
	}

	mux := http.NewServeMux()
	login := &loginHandler{store: store, callback: op.AuthCallbackURL(provider)}
	mux.Handle(LoginPath, op.NewIssuerInterceptor(provider.IssuerFromRequest).Handler(login))
	mux.Handle("/", provider)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("harness: oidc serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	})

	return &OIDC{
		Issuer:       issuer,
		ClientID:     opts.ClientID,
		ClientSecret: opts.ClientSecret,
		t:            t,
		store:        store,
	}
}

// loginHandler stands in for the provider's password prompt: whoever names
// a known username is signed in. Without a username it shows a form, so a
// person can use it from a browser too.
type loginHandler struct {
	store    *oidcStore
	callback func(ctx context.Context, authRequestID string) string
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Sign in</title>
<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<label>Username <input name="username" autofocus></label>
<button type="submit">Sign in</button>
</form>
`))

func (h *loginHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot parse form", http.StatusBadRequest)
		return
	}
	id, username := r.Form.Get("id"), r.Form.Get("username")
	if id == "" {
		http.Error(w, "missing auth request id", http.StatusBadRequest)
		return
	}
	if username == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		loginPage.Execute(w, struct{ Action, ID string }{LoginPath, id})
		return
	}
	u, ok := h.store.userByUsername(username)
	if !ok {
		http.Error(w, fmt.Sprintf("unknown user %q", username), http.StatusUnauthorized)
		return
	}
	if err := h.store.completeLogin(id, u.Subject); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, h.callback(r.Context(), id), http.StatusFound)
}
