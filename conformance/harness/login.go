package harness

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

const (
	loginTimeout  = 30 * time.Second
	maxRedirects  = 20
	maxPageToRead = 4 << 20
)

// Where a browser login can end without a session.
var (
	// ErrLinkAccount: Gitea found no account for the provider's subject and
	// shows its page to link one or register (/user/link_account).
	ErrLinkAccount = errors.New("gitea asks to link or register an account")
	// ErrMustChangePassword: the account must set a password first.
	ErrMustChangePassword = errors.New("gitea asks for a password change")
	// ErrTwoFactor: the account has a second factor Gitea asks for.
	ErrTwoFactor = errors.New("gitea asks for a second factor")
	// ErrNotSignedIn: the flow ended without a Gitea session.
	ErrNotSignedIn = errors.New("not signed in to gitea")
)

// LoginError is a browser login that did not end in a Gitea session. It
// matches one of the Err* values above with errors.Is.
type LoginError struct {
	// Landing is the last URL the flow reached.
	Landing string
	// Status is that page's HTTP status.
	Status int
	// Err is the sentinel the landing page stands for.
	Err error
}

// Error says where the login ended.
func (e *LoginError) Error() string {
	return fmt.Sprintf("gitea login: %v (landed on %s, status %d)", e.Err, e.Landing, e.Status)
}

// Unwrap returns the sentinel, for errors.Is.
func (e *LoginError) Unwrap() error { return e.Err }

// LoginOIDC signs username in to Gitea through provider the way a browser
// does: it starts at ROOT_URL + "user/oauth2/{AuthSourceName}", follows
// the redirects to the provider, signs in there, and follows the
// redirects back through Gitea's callback. It returns a client whose
// cookie jar holds the Gitea session; use SessionUser to see whose it is.
// A flow that ends elsewhere returns a *LoginError.
//
// Gitea v1.26.0's API does not accept the session cookie (only tokens and
// basic auth), so the session can be used on web pages only.
func (g *Gitea) LoginOIDC(ctx context.Context, provider *OIDC, username string) (*http.Client, error) {
	if g.AuthSourceName == "" {
		return nil, errors.New("gitea login: no oauth2 auth source (start gitea with GiteaOptions.OIDC)")
	}
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	loginPage, err := url.Parse(provider.LoginURL())
	if err != nil {
		return nil, err
	}
	var trail []string
	client := &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			trail = append(trail, req.URL.Redacted())
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			// Stop at the provider's login page: the login is done by hand.
			if req.URL.Host == loginPage.Host && req.URL.Path == loginPage.Path {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}

	// Gitea keeps the OAuth2 state in its session cookie, which is set for
	// ROOT_URL's host: the flow must start there.
	start := g.URL + "/user/oauth2/" + url.PathEscape(g.AuthSourceName)
	trail = append(trail, start)
	resp, err := get(ctx, client, start)
	if err != nil {
		return nil, fmt.Errorf("gitea login: %w (trail %v)", err, trail)
	}
	drain(resp)
	loc, err := resp.Location()
	if err != nil || loc.Host != loginPage.Host || loc.Path != loginPage.Path {
		return nil, fmt.Errorf("gitea login: expected a redirect to %s, got status %d at %s (trail %v)",
			loginPage, resp.StatusCode, resp.Request.URL, trail)
	}
	id := loc.Query().Get("id")
	if id == "" {
		return nil, fmt.Errorf("gitea login: provider login page without an auth request id: %s", loc)
	}

	form := url.Values{"id": {id}, "username": {username}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loginPage.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gitea login: %w (trail %v)", err, trail)
	}
	body := readPage(resp)
	landing := resp.Request.URL
	if landing.Host == loginPage.Host {
		return nil, fmt.Errorf("gitea login: provider refused %q: status %d: %s", username, resp.StatusCode, strings.TrimSpace(body))
	}

	client.CheckRedirect = nil
	lerr := &LoginError{Landing: landing.String(), Status: resp.StatusCode, Err: ErrNotSignedIn}
	switch {
	case strings.HasPrefix(landing.Path, "/user/link_account"):
		lerr.Err = ErrLinkAccount
		return nil, lerr
	case strings.HasPrefix(landing.Path, "/user/settings/change_password"):
		lerr.Err = ErrMustChangePassword
		return nil, lerr
	case strings.HasPrefix(landing.Path, "/user/two_factor"), strings.HasPrefix(landing.Path, "/user/webauthn"):
		lerr.Err = ErrTwoFactor
		return nil, lerr
	case resp.StatusCode != http.StatusOK:
		return nil, lerr
	}
	if _, err := g.SessionUser(ctx, client); err != nil {
		return nil, lerr
	}
	return client, nil
}

// settingsUsernameRE finds the username field of Gitea's profile settings
// form, which holds the signed-in user's name.
var settingsUsernameRE = regexp.MustCompile(`<input id="username" name="name" value="([^"]*)"`)

// SessionUser returns the username of the Gitea session in client's
// cookie jar, read from the profile settings page (Gitea v1.26.0's API
// ignores session cookies). It returns ErrNotSignedIn, wrapped, when the
// page asks to sign in.
func (g *Gitea) SessionUser(ctx context.Context, client *http.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := get(ctx, &noFollow, g.URL+"/user/settings")
	if err != nil {
		return "", fmt.Errorf("gitea session user: %w", err)
	}
	body := readPage(resp)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("gitea session user: status %d (to %s): %w",
			resp.StatusCode, resp.Header.Get("Location"), ErrNotSignedIn)
	}
	m := settingsUsernameRE.FindStringSubmatch(body)
	if m == nil {
		return "", errors.New("gitea session user: no username field on /user/settings")
	}
	return html.UnescapeString(m[1]), nil
}

func get(ctx context.Context, client *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return client.Do(req)
}

// readPage reads and closes a response body, up to a bound.
func readPage(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxPageToRead))
	return string(b)
}

func drain(resp *http.Response) { readPage(resp) }
