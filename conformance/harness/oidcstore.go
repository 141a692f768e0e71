package harness

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Lifetimes of what the provider hands out. A test never runs long enough
// to see them expire.
const (
	authRequestLifetime = 10 * time.Minute
	tokenLifetime       = time.Hour
)

var (
	errUnknownClient      = errors.New("oidc: unknown client")
	errBadClientSecret    = errors.New("oidc: wrong client secret")
	errUnknownAuthRequest = errors.New("oidc: unknown or expired auth request")
	errUnknownCode        = errors.New("oidc: unknown or used authorization code")
	errUnknownToken       = errors.New("oidc: unknown or expired token")
	errUnknownSubject     = errors.New("oidc: unknown subject")
	errNoRefreshTokens    = errors.New("oidc: refresh tokens are not issued")
	errNoJWTProfile       = errors.New("oidc: jwt profile grants are not supported")
)

// authRequest is one authorization request, from the client's redirect to
// the provider until the code is exchanged for tokens.
type authRequest struct {
	id            string
	created       time.Time
	clientID      string
	redirectURI   string
	scopes        []string
	state         string
	nonce         string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge

	// Set by the login step.
	subject  string
	authTime time.Time
	done     bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// accessToken is an issued (opaque) access token; the provider encrypts
// its id and subject into the token value the client sees.
type accessToken struct {
	id       string
	clientID string
	subject  string
	scopes   []string
	expires  time.Time
}

// client is the one registered confidential web client. Its redirect URIs
// live in the store so they can be registered after the provider started
// (Gitea's callback is known only once Gitea has a port).
type client struct {
	id    string
	store *oidcStore
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.store.redirectURIs() }
func (c *client) PostLogoutRedirectURIs() []string { return c.store.redirectURIs() }
func (c *client) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode}
}
func (c *client) LoginURL(id string) string           { return c.store.loginURL(id) }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return tokenLifetime }

// DevMode stays off: the provider's own rules already allow an http
// redirect for a confidential client using the code flow, which is all
// that runs on loopback.
func (c *client) DevMode() bool { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed refuses custom scopes; the standard ones are always
// allowed.
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts the claims of the granted scopes in
// the ID token as well as in the userinfo answer, so a client reading
// either one sees the same person.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// signingKey is the provider's RSA key, for signing and for the JWKS.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return &k.key.PublicKey }

// oidcStore is the provider's whole state, in memory, behind one mutex.
type oidcStore struct {
	clientID     string
	clientSecret string
	key          signingKey
	loginURL     func(authRequestID string) string

	mu        sync.Mutex
	redirects []string
	users     map[string]User // by subject
	requests  map[string]*authRequest
	codes     map[string]string // code -> auth request id
	tokens    map[string]*accessToken
}

var _ op.Storage = (*oidcStore)(nil)
var _ op.CanSetUserinfoFromRequest = (*oidcStore)(nil)

func newOIDCStore(clientID, clientSecret string, loginURL func(string) string) (*oidcStore, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidc: generate signing key: %w", err)
	}
	return &oidcStore{
		clientID:     clientID,
		clientSecret: clientSecret,
		key:          signingKey{id: rand.Text(), key: key},
		loginURL:     loginURL,
		users:        map[string]User{},
		requests:     map[string]*authRequest{},
		codes:        map[string]string{},
		tokens:       map[string]*accessToken{},
	}, nil
}

func (s *oidcStore) redirectURIs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.redirects)
}

func (s *oidcStore) addRedirectURI(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.redirects, uri) {
		s.redirects = append(s.redirects, uri)
	}
}

// putUser adds or replaces the user with u.Subject. It refuses a username
// that another subject already has, since the login step finds people by
// username.
func (s *oidcStore) putUser(u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub, other := range s.users {
		if sub != u.Subject && other.Username == u.Username {
			return fmt.Errorf("oidc: username %q already belongs to subject %q", u.Username, sub)
		}
	}
	s.users[u.Subject] = u
	return nil
}

func (s *oidcStore) userByUsername(username string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Username == username {
			return u, true
		}
	}
	return User{}, false
}

// completeLogin records that subject signed in for the auth request id.
func (s *oidcStore) completeLogin(id, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[id]
	if !ok || time.Since(req.created) > authRequestLifetime {
		return errUnknownAuthRequest
	}
	req.subject = subject
	req.authTime = time.Now().UTC().Truncate(time.Second)
	req.done = true
	return nil
}

func (s *oidcStore) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	req := &authRequest{
		id:           rand.Text(),
		created:      time.Now(),
		clientID:     r.ClientID,
		redirectURI:  r.RedirectURI,
		scopes:       slices.Clone(r.Scopes),
		state:        r.State,
		nonce:        r.Nonce,
		responseType: r.ResponseType,
		responseMode: r.ResponseMode,
	}
	if r.CodeChallenge != "" {
		req.codeChallenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[req.id] = req
	return req, nil
}

func (s *oidcStore) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[id]
	if !ok || time.Since(req.created) > authRequestLifetime {
		return nil, errUnknownAuthRequest
	}
	return req, nil
}

func (s *oidcStore) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[s.codes[code]]
	if !ok {
		return nil, errUnknownCode
	}
	return req, nil
}

func (s *oidcStore) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.requests[id]; !ok {
		return errUnknownAuthRequest
	}
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest also forgets the request's codes, so a code is good for
// one exchange only.
func (s *oidcStore) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *oidcStore) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	tok := &accessToken{
		id:      rand.Text(),
		subject: r.GetSubject(),
		scopes:  slices.Clone(r.GetScopes()),
		expires: time.Now().Add(tokenLifetime),
	}
	if req, ok := r.(*authRequest); ok {
		tok.clientID = req.clientID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok.id] = tok
	return tok.id, tok.expires, nil
}

func (s *oidcStore) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNoRefreshTokens
}

func (s *oidcStore) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *oidcStore) TerminateSession(context.Context, string, string) error { return nil }

func (s *oidcStore) RevokeToken(_ context.Context, tokenOrTokenID, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tokenOrTokenID)
	return nil
}

func (s *oidcStore) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *oidcStore) SigningKey(context.Context) (op.SigningKey, error) { return &s.key, nil }

func (s *oidcStore) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *oidcStore) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{&publicKey{s.key}}, nil
}

func (s *oidcStore) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	if clientID != s.clientID {
		return nil, errUnknownClient
	}
	return &client{id: s.clientID, store: s}, nil
}

func (s *oidcStore) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	if clientID != s.clientID {
		return errUnknownClient
	}
	if subtle.ConstantTimeCompare([]byte(clientSecret), []byte(s.clientSecret)) != 1 {
		return errBadClientSecret
	}
	return nil
}

// SetUserinfoFromScopes is the deprecated hook; SetUserinfoFromRequest does
// the work.
func (s *oidcStore) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *oidcStore) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	return s.fillUserinfo(info, r.GetSubject(), scopes)
}

func (s *oidcStore) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	tok, err := s.token(tokenID)
	if err != nil {
		return err
	}
	return s.fillUserinfo(info, tok.subject, tok.scopes)
}

func (s *oidcStore) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, _, _ string) error {
	tok, err := s.token(tokenID)
	if err != nil {
		return err
	}
	info := new(oidc.UserInfo)
	if err := s.fillUserinfo(info, tok.subject, tok.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Active = true
	resp.ClientID = tok.clientID
	resp.Scope = tok.scopes
	resp.Expiration = oidc.FromTime(tok.expires)
	return nil
}

func (s *oidcStore) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *oidcStore) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNoJWTProfile
}

func (s *oidcStore) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNoJWTProfile
}

func (s *oidcStore) Health(context.Context) error { return nil }

func (s *oidcStore) token(id string) (*accessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[id]
	if !ok || time.Now().After(tok.expires) {
		return nil, errUnknownToken
	}
	return tok, nil
}

// fillUserinfo sets the claims each granted scope stands for (OpenID
// Connect Core, section 5.4): openid gives sub, profile gives name and
// preferred_username, email gives email and email_verified.
func (s *oidcStore) fillUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	u, ok := s.users[subject]
	s.mu.Unlock()
	if !ok {
		return errUnknownSubject
	}
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeOpenID:
			info.Subject = u.Subject
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
		}
	}
	return nil
}
