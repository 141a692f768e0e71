package harness

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CoderVersion is the Coder release the harness runs ("v2.36.1").
const CoderVersion = "v2.36.1"

const (
	coderBuildScript = "conformance/harness/build-coder.sh"
	// coderCallbackPath is Coder's OIDC callback, which also starts the
	// login when called without a code (coderd/coderd.go, the
	// "/oidc/callback" route under /api/v2/users; coderd/httpmw/oauth2.go).
	coderCallbackPath = "/api/v2/users/oidc/callback"
	// coderSessionCookie and coderSessionHeader carry a session token
	// (codersdk/client.go: SessionTokenCookie, SessionTokenHeader).
	coderSessionCookie = "coder_session_token"
	coderSessionHeader = "Coder-Session-Token"
)

// CoderOptions configures StartCoder. The zero value starts a Coder with an
// owner and no OIDC.
type CoderOptions struct {
	// OIDC, when set, is Coder's OpenID provider (its ClientID and
	// ClientSecret are Coder's), and Coder's callback is registered with
	// it. It must be running: Coder reads its discovery document at start.
	OIDC *OIDC
	// StartTimeout bounds each start of "coder server" until it answers.
	// Default one minute.
	StartTimeout time.Duration
	// Env adds CODER_* settings ("CODER_OIDC_ALLOW_SIGNUPS=false"); they
	// override the harness's own.
	Env []string
}

// Coder is a Coder server run from the cached binary, with its own database
// in a PostgreSQL cluster the harness runs and its files in a temporary
// folder. Its methods are safe for concurrent use.
type Coder struct {
	// URL is the server's base URL (its access URL) without a trailing
	// slash, e.g. "http://127.0.0.1:41234".
	URL string
	// AdminEmail, AdminUsername and AdminPassword are the credentials of
	// the first user, who has the owner role.
	AdminEmail, AdminUsername, AdminPassword string
	// SessionToken is the owner's session token, sent in the
	// Coder-Session-Token header.
	SessionToken string
	// OrganizationID is the default organization's id (a UUID).
	OrganizationID string

	bin          string
	dir          string
	env          []string
	startTimeout time.Duration

	mu   sync.Mutex
	proc *coderProcess
}

// coderProcess is one run of "coder server".
type coderProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// coderPath is the cached binary's path.
func coderPath(root string) string {
	return filepath.Join(root, ".cache", "coder", CoderVersion, "coder")
}

// checkCoder returns the binary when it is there and runs.
func checkCoder(root string) (string, error) {
	bin := coderPath(root)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("harness: coder binary: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	out, err := command(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("harness: %s --version: %w: %s", bin, err, out)
	}
	// The first line is "Coder v2.36.1"; a slim build cannot run a server.
	first, _, _ := strings.Cut(string(out), "\n")
	if strings.TrimSpace(first) != "Coder "+CoderVersion || !strings.Contains(string(out), "supports the server subcommand") {
		return "", fmt.Errorf("harness: %s is not a full build of Coder %s: %q", bin, CoderVersion, out)
	}
	return bin, nil
}

// RequireCoder returns the path of the cached Coder binary. When it is
// missing the test is skipped with a hint to run build-coder.sh (or
// prepare.sh), or fails in CI. The build takes long enough (over ten
// minutes on two cores) that a test does not start it.
func RequireCoder(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := checkCoder(root)
	if err != nil {
		skipOrFail(t, "%v (run %s)", err, coderBuildScript)
	}
	return bin
}

// StartCoder starts a Coder server on a free port of 127.0.0.1 with a new
// database, creates its first user (the owner) and signs them in, and,
// when opts.OIDC is set, makes that provider Coder's OIDC login. The
// PostgreSQL cluster starts with the first Coder of the test process and
// stops after the last. The server is stopped when the test ends; if the
// test failed, the tail of Coder's log is written to the test log. Under
// -short, outside CI, the test is skipped.
//
// The server runs without provisioners (no Terraform), telemetry, update
// checks or STUN, and with its rate limits off
// (CODER_DANGEROUS_DISABLE_RATE_LIMITS; opts.Env can turn them on), so
// that a test's bursts of requests never meet a 429 it did not ask for.
func StartCoder(t testing.TB, opts CoderOptions) *Coder {
	t.Helper()
	if testing.Short() && !inCI() {
		t.Skip("harness: starting coder is skipped under -short")
	}
	bin := RequireCoder(t)
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	for _, kv := range opts.Env {
		if !strings.HasPrefix(kv, "CODER_") || !strings.Contains(kv, "=") {
			t.Fatalf("harness: coder setting %q: want CODER_NAME=value", kv)
		}
	}
	pg := acquirePostgres(t)

	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	dbURL, err := pg.createDatabase(t.Context(), "coder")
	if err != nil {
		t.Fatalf("harness: coder database: %v", err)
	}
	c := &Coder{
		URL:           "http://127.0.0.1:" + strconv.Itoa(port),
		AdminUsername: "coder-admin",
		AdminEmail:    "coder-admin@example.com",
		// Coder refuses weak passwords (coderd/userpassword); this one has
		// well over the entropy it asks for.
		AdminPassword: "Pw-" + rand.Text(),
		bin:           bin,
		dir:           dir,
		startTimeout:  opts.StartTimeout,
	}
	settings := []string{
		"CODER_PG_CONNECTION_URL=" + dbURL,
		"CODER_HTTP_ADDRESS=127.0.0.1:" + strconv.Itoa(port),
		// Without an access URL Coder opens a public tunnel.
		"CODER_ACCESS_URL=" + c.URL,
		"CODER_TELEMETRY_ENABLE=false",
		"CODER_UPDATE_CHECK=false",
		// Built-in provisioners would download Terraform.
		"CODER_PROVISIONER_DAEMONS=0",
		"CODER_DERP_SERVER_STUN_ADDRESSES=disable",
		"CODER_DANGEROUS_DISABLE_RATE_LIMITS=true",
		"CODER_CONFIG_DIR=" + filepath.Join(dir, "config"),
		"CODER_CACHE_DIRECTORY=" + filepath.Join(dir, "cache"),
	}
	if opts.OIDC != nil {
		settings = append(settings,
			"CODER_OIDC_ISSUER_URL="+opts.OIDC.Issuer,
			"CODER_OIDC_CLIENT_ID="+opts.OIDC.ClientID,
			"CODER_OIDC_CLIENT_SECRET="+opts.OIDC.ClientSecret,
			"CODER_OIDC_SCOPES=openid,profile,email",
			// Coder's defaults, spelled out: the email claim must be
			// verified (coderd/userauth.go, userOIDC), and anyone the
			// provider signs in may get an account.
			"CODER_OIDC_IGNORE_EMAIL_VERIFIED=false",
			"CODER_OIDC_ALLOW_SIGNUPS=true",
		)
		opts.OIDC.RegisterRedirectURI(c.URL + coderCallbackPath)
	}
	c.env = append(append(coderEnv(dir), settings...), opts.Env...)
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("harness: stop coder: %v", err)
		}
		if t.Failed() {
			t.Logf("harness: coder log tail:\n%s", c.LogTail())
		}
	})

	if err := c.Start(); err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := c.setUp(t.Context()); err != nil {
		t.Fatalf("harness: set up coder: %v", err)
	}
	return c
}

// coderEnv is the environment of every coder process: this process's,
// without CODER_* settings and with HOME and the XDG folders in the
// data folder so nothing reads or writes the real ones.
func coderEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CODER_") || strings.HasPrefix(kv, "HOME=") ||
			strings.HasPrefix(kv, "XDG_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "home", ".config"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "home", ".cache"),
	)
}

// setUp creates the first user, who becomes the owner, and signs them in
// with their password (coderd/users.go postFirstUser, coderd/userauth.go
// postLogin).
func (c *Coder) setUp(ctx context.Context) error {
	var first struct {
		UserID         string `json:"user_id"`
		OrganizationID string `json:"organization_id"`
	}
	if _, err := c.call(ctx, "", http.MethodPost, "/users/first", map[string]any{
		"email":    c.AdminEmail,
		"username": c.AdminUsername,
		"name":     "Coder Admin",
		"password": c.AdminPassword,
	}, &first); err != nil {
		return err
	}
	if first.OrganizationID == "" {
		return errors.New("first user created without an organization id")
	}
	c.OrganizationID = first.OrganizationID
	var login struct {
		SessionToken string `json:"session_token"`
	}
	if _, err := c.call(ctx, "", http.MethodPost, "/users/login", map[string]any{
		"email":    c.AdminEmail,
		"password": c.AdminPassword,
	}, &login); err != nil {
		return err
	}
	if login.SessionToken == "" {
		return errors.New("password login returned no session token")
	}
	c.SessionToken = login.SessionToken
	return nil
}

// Start starts "coder server" on the database and port it already has and
// waits until its API answers; when it does not, LogTail tells why. It is
// a no-op while the server runs. With Stop it simulates an outage.
func (c *Coder) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		select {
		case <-c.proc.done: // it died on its own: start it again
			c.proc = nil
		default:
			return nil
		}
	}
	for _, sub := range []string{"home", "config", "cache"} {
		if err := os.MkdirAll(filepath.Join(c.dir, sub), 0o700); err != nil {
			return fmt.Errorf("start coder: %w", err)
		}
	}
	console, err := os.OpenFile(filepath.Join(c.dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start coder: %w", err)
	}
	cmd := exec.Command(c.bin, "server")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Dir = c.dir
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		console.Close()
		return fmt.Errorf("start coder: %w", err)
	}
	p := &coderProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		console.Close()
		close(p.done)
	}()
	c.proc = p

	if err := c.waitReady(p); err != nil {
		c.stopLocked()
		return fmt.Errorf("start coder: %w (LogTail tells why)", err)
	}
	return nil
}

// waitReady polls /api/v2/buildinfo until it answers 200 with this
// harness's version, the process exits, or the start timeout passes.
func (c *Coder) waitReady(p *coderProcess) error {
	return pollReady("coder server", c.URL+"/api/v2/buildinfo", c.startTimeout, p.done, func() error { return p.err },
		func(resp *http.Response) (bool, error) {
			var info struct {
				Version string `json:"version"`
			}
			if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, maxPageToRead)).Decode(&info) != nil {
				return false, nil
			}
			// The version is "v2.36.1" or "v2.36.1+<commit>".
			if info.Version != CoderVersion && !strings.HasPrefix(info.Version, CoderVersion+"+") {
				return false, fmt.Errorf("coder reports version %q, want %s", info.Version, CoderVersion)
			}
			return true, nil
		})
}

// Stop stops the server (SIGTERM to its process group, SIGKILL after a
// grace period) and waits for it to exit. Its database stays for Start. It
// is a no-op when the server was stopped already, and an error when it had
// exited by itself.
func (c *Coder) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked()
}

func (c *Coder) stopLocked() error {
	p := c.proc
	if p == nil {
		return nil
	}
	c.proc = nil
	return stopGroup("coder", p.cmd, syscall.SIGTERM, p.done, func() error { return p.err })
}

// LogTail returns the last lines of Coder's output, for a failure message.
func (c *Coder) LogTail() string {
	return tailFile(filepath.Join(c.dir, "console.log"), "console.log")
}

// CoderAPIError is a Coder API answer outside 2xx.
type CoderAPIError struct {
	// Method and Path are the request's, Path below /api/v2.
	Method, Path string
	// Status is the answer's HTTP status.
	Status int
	// Message and Detail are those of Coder's error answer
	// (codersdk.Response), when it is one.
	Message, Detail string
	// Body is the start of the answer.
	Body string
}

// Error gives the request, the status and Coder's message.
func (e *CoderAPIError) Error() string {
	msg := e.Body
	if e.Message != "" {
		msg = e.Message
		if e.Detail != "" {
			msg += ": " + e.Detail
		}
	}
	return fmt.Sprintf("coder %s %s: status %d: %s", e.Method, e.Path, e.Status, msg)
}

// AdminAPI calls Coder's API as the owner (SessionToken). path is below
// /api/v2, e.g. "/users". in, when not nil, is sent as JSON; out, when not
// nil, receives the JSON answer. An answer outside 2xx is a
// *CoderAPIError. The response is returned, body closed, for its headers.
func (c *Coder) AdminAPI(ctx context.Context, method, path string, in, out any) (*http.Response, error) {
	return c.call(ctx, c.SessionToken, method, path, in, out)
}

// call is AdminAPI with any session token, or none.
func (c *Coder) call(ctx context.Context, token, method, path string, in, out any) (*http.Response, error) {
	var header http.Header
	if token != "" {
		header = http.Header{coderSessionHeader: {token}}
	}
	resp, data, err := exchangeJSON(ctx, "coder", method, c.URL+"/api/v2"+path, header, in)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &CoderAPIError{Method: method, Path: path, Status: resp.StatusCode, Body: excerpt(data)}
		var r struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		}
		if json.Unmarshal(data, &r) == nil {
			e.Message, e.Detail = r.Message, r.Detail
		}
		return resp, e
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("coder %s %s: decode answer: %w", method, path, err)
		}
	}
	return resp, nil
}

// SessionUser returns the username of the Coder user that token belongs to
// (GET /api/v2/users/me).
func (c *Coder) SessionUser(ctx context.Context, token string) (string, error) {
	var me struct {
		Username string `json:"username"`
	}
	if _, err := c.call(ctx, token, http.MethodGet, "/users/me", nil, &me); err != nil {
		return "", err
	}
	if me.Username == "" {
		return "", errors.New("coder /users/me: no username in the answer")
	}
	return me.Username, nil
}

// UserCount returns how many users Coder has, the owner included (the
// count of GET /api/v2/users, which leaves out deleted and system users).
func (c *Coder) UserCount(ctx context.Context) (int, error) {
	var page struct {
		Count *int `json:"count"`
	}
	if _, err := c.AdminAPI(ctx, http.MethodGet, "/users?limit=1", nil, &page); err != nil {
		return 0, err
	}
	if page.Count == nil {
		return 0, errors.New("coder user count: no count in the answer")
	}
	return *page.Count, nil
}

// LoginOIDC signs username in to Coder through provider the way a browser
// does: it starts at Coder's OIDC callback without a code, follows the
// redirects to the provider, signs in there, and follows the redirects
// back through the callback, which sets the session cookie. It returns
// that session's token; use SessionUser to see whose it is. A login Coder
// refuses (unverified email, wrong login type, signups off, ...) is an
// error with Coder's status and message.
func (c *Coder) LoginOIDC(ctx context.Context, provider *OIDC, username string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	loginPage, err := url.Parse(provider.LoginURL())
	if err != nil {
		return "", err
	}
	base, err := url.Parse(c.URL)
	if err != nil {
		return "", err
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
			// Stop when the callback sends the browser on into the web
			// app (on Coder's host, unlike the redirect that starts the
			// login): the session cookie is set by then.
			prev := via[len(via)-1].URL
			if prev.Host == base.Host && prev.Path == coderCallbackPath && req.URL.Host == base.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}

	// Coder keeps the state and the PKCE verifier in cookies set by the
	// first call; "redirect" is where the callback sends the browser last.
	start := c.URL + coderCallbackPath + "?" + url.Values{"redirect": {"/"}}.Encode()
	trail = append(trail, start)
	resp, err := get(ctx, client, start)
	if err != nil {
		return "", fmt.Errorf("coder login: %w (trail %v)", err, trail)
	}
	body := readPage(resp)
	loc, err := resp.Location()
	if err != nil || loc.Host != loginPage.Host || loc.Path != loginPage.Path {
		return "", fmt.Errorf("coder login: expected a redirect to %s, got status %d at %s: %s (trail %v)",
			loginPage, resp.StatusCode, resp.Request.URL, excerpt([]byte(body)), trail)
	}
	id := loc.Query().Get("id")
	if id == "" {
		return "", fmt.Errorf("coder login: provider login page without an auth request id: %s", loc)
	}

	form := url.Values{"id": {id}, "username": {username}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loginPage.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return "", fmt.Errorf("coder login: %w (trail %v)", err, trail)
	}
	body = readPage(resp)
	landing := resp.Request.URL
	if landing.Host == loginPage.Host {
		return "", fmt.Errorf("coder login: provider refused %q: status %d: %s", username, resp.StatusCode, strings.TrimSpace(body))
	}
	if landing.Host != base.Host || landing.Path != coderCallbackPath {
		return "", fmt.Errorf("coder login: ended at %s, not at the callback (trail %v)", landing.Redacted(), trail)
	}
	var token string
	for _, ck := range resp.Cookies() {
		if ck.Name == coderSessionCookie && ck.Value != "" && ck.MaxAge >= 0 {
			token = ck.Value
		}
	}
	if resp.StatusCode != http.StatusTemporaryRedirect || token == "" {
		return "", fmt.Errorf("coder login of %q refused: status %d: %s", username, resp.StatusCode, excerpt([]byte(body)))
	}
	return token, nil
}

var (
	tagRE    = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)>|<[^>]*>`)
	spacesRE = regexp.MustCompile(`\s+`)
)

// excerpt makes the start of an answer readable in an error: JSON as it
// is, HTML as its text.
func excerpt(data []byte) string {
	s := string(data)
	if strings.Contains(s, "<") {
		s = html.UnescapeString(tagRE.ReplaceAllString(s, " "))
	}
	s = strings.TrimSpace(spacesRE.ReplaceAllString(s, " "))
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
