package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/conformance/harness"
	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/fanout/gitea"
)

// Secrets the end-to-end tests give the bridge through its environment.
const (
	e2eSCIMToken  = "e2e-scim-token-long-enough-0123456789"
	e2eAdminToken = "e2e-admin-token-long-enough-0123456789"
	// e2eOrg is the Gitea organization SCIM groups become teams of.
	e2eOrg = "platform"
	// e2eWait bounds every eventually: long enough for a few backoffs
	// of two seconds, short enough to fail fast.
	e2eWait = 30 * time.Second
)

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// world is a real OpenID provider and a real Gitea signing people in
// through it, with the organization the connector manages teams in.
type world struct {
	idp *harness.OIDC
	g   *harness.Gitea
}

// startWorld starts the provider and Gitea (skipped under -short outside
// CI, failed in CI when Gitea cannot start: the harness decides).
//
// Gitea registers a person who signs in before the bridge provisioned
// them (ENABLE_AUTO_REGISTRATION), as many sites allow: that is the
// account the bridge must adopt, and a pre-created account the login
// failed to land in shows up as a new account rather than a link page.
func startWorld(t *testing.T) *world {
	t.Helper()
	idp := harness.StartOIDC(t, harness.OIDCOptions{})
	g := harness.StartGitea(t, harness.GiteaOptions{
		OIDC:   idp,
		Scopes: []string{"profile", "email"},
		Config: map[string]map[string]string{"oauth2_client": {
			"ENABLE_AUTO_REGISTRATION": "true",
			"USERNAME":                 "preferred_username",
		}},
	})
	if _, err := g.AdminAPI(t.Context(), http.MethodPost, "/orgs", map[string]any{"username": e2eOrg}, nil); err != nil {
		t.Fatal(err)
	}
	return &world{idp: idp, g: g}
}

// person registers someone at the identity provider.
func (w *world) person(t *testing.T, login, subject string) {
	t.Helper()
	w.idp.AddUser(harness.User{Subject: subject, Username: login, Email: login + "@example.com", EmailVerified: true, Name: strings.ToUpper(login[:1]) + login[1:]})
}

// login signs idpLogin in to Gitea through the provider and returns whose
// session it got.
func (w *world) login(ctx context.Context, idpLogin string) (string, error) {
	client, err := w.g.LoginOIDC(ctx, w.idp, idpLogin)
	if err != nil {
		return "", err
	}
	return w.g.SessionUser(ctx, client)
}

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

// account returns Gitea's user login, or an error (an *harness.APIError
// with status 404 when there is none).
func (w *world) account(ctx context.Context, login string) (account, error) {
	var a account
	_, err := w.g.AdminAPI(ctx, http.MethodGet, "/users/"+url.PathEscape(login), nil, &a)
	return a, err
}

// bySubject returns the accounts an OIDC login with subject lands in, as
// Gitea's admin search finds them.
func (w *world) bySubject(ctx context.Context, subject string) ([]account, error) {
	q := url.Values{"source_id": {strconv.FormatInt(w.g.AuthSourceID, 10)}, "login_name": {subject}, "limit": {"50"}}
	var found []account
	_, err := w.g.AdminAPI(ctx, http.MethodGet, "/admin/users?"+q.Encode(), nil, &found)
	return found, err
}

// allAccounts lists every Gitea user, page by page.
func (w *world) allAccounts(ctx context.Context) ([]account, error) {
	var all []account
	for page := 1; ; page++ {
		var batch []account
		if _, err := w.g.AdminAPI(ctx, http.MethodGet, fmt.Sprintf("/admin/users?limit=50&page=%d", page), nil, &batch); err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) == 0 {
			return all, nil
		}
	}
}

func (w *world) userCount(t *testing.T) int {
	t.Helper()
	n, err := w.g.UserCount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type team struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// team returns the organization's team called name.
func (w *world) team(ctx context.Context, name string) (team, error) {
	return w.teamOf(ctx, e2eOrg, name)
}

// teamOf returns org's team called name.
func (w *world) teamOf(ctx context.Context, org, name string) (team, error) {
	var teams []team
	if _, err := w.g.AdminAPI(ctx, http.MethodGet, "/orgs/"+org+"/teams?limit=50", nil, &teams); err != nil {
		return team{}, err
	}
	for _, tm := range teams {
		if tm.Name == name {
			return tm, nil
		}
	}
	return team{}, fmt.Errorf("organization %s has no team %q (it has %v)", org, name, teams)
}

// teamMembers returns the sorted logins of the team called name.
func (w *world) teamMembers(ctx context.Context, name string) ([]string, error) {
	return w.teamMembersOf(ctx, e2eOrg, name)
}

// teamMembersOf returns the sorted logins of org's team called name.
func (w *world) teamMembersOf(ctx context.Context, org, name string) ([]string, error) {
	tm, err := w.teamOf(ctx, org, name)
	if err != nil {
		return nil, err
	}
	var users []account
	if _, err := w.g.AdminAPI(ctx, http.MethodGet, fmt.Sprintf("/teams/%d/members?limit=50", tm.ID), nil, &users); err != nil {
		return nil, err
	}
	logins := make([]string, 0, len(users))
	for _, u := range users {
		logins = append(logins, u.Login)
	}
	slices.Sort(logins)
	return logins, nil
}

// callLog records the requests the connector sends to Gitea, so a test
// can prove which calls a pass made and which it did not.
type callLog struct {
	mu    sync.Mutex
	calls []string // "POST /api/v1/admin/users"
}

func (c *callLog) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.calls = append(c.calls, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *callLog) reset() {
	c.mu.Lock()
	c.calls = nil
	c.mu.Unlock()
}

// to returns the calls to a path that starts with pathPrefix, made with
// method ("" for any).
func (c *callLog) to(method, pathPrefix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, call := range c.calls {
		m, path, _ := strings.Cut(call, " ")
		if (method == "" || m == method) && strings.HasPrefix(path, pathPrefix) {
			out = append(out, call)
		}
	}
	return out
}

// bridge is the real program, run in this process on 127.0.0.1:0.
type bridge struct {
	base  string // http://127.0.0.1:port
	log   *syncBuffer
	calls *callLog
	http  *http.Client
}

// startBridge runs Main with the Gitea connector pointed at w, short
// fanout timings and no periodic resync; the test's cleanup stops it.
func startBridge(t *testing.T, w *world) *bridge {
	t.Helper()
	return startBridgeWith(t, w, nil)
}

// startBridgeWith is startBridge with more configuration: more, when not
// nil, may change the configuration and add to the environment.
func startBridgeWith(t *testing.T, w *world, more func(cfg *Config, env map[string]string)) *bridge {
	t.Helper()
	calls := &callLog{}
	logs := &syncBuffer{}
	cfg := defaultConfig()
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	cfg.Fanout = FanoutConfig{Workers: 4, MaxBackoff: 2 * time.Second, ResyncInterval: -1}
	cfg.Connectors.Gitea = &gitea.Config{
		URL:          w.g.URL + "/",
		AuthSourceID: w.g.AuthSourceID,
		Organization: e2eOrg,
		Timeout:      5 * time.Second,
		Transport:    calls,
	}
	env := map[string]string{
		gitea.TokenEnv:           w.g.AdminToken,
		"SCIMBRIDGE_SCIM_TOKEN":  e2eSCIMToken,
		"SCIMBRIDGE_ADMIN_TOKEN": e2eAdminToken,
	}
	if more != nil {
		more(&cfg, env)
	}
	m := &Main{Config: cfg, Logger: newLogger(LogConfig{Level: "info", Format: "text"}, logs), Stdout: logs, Getenv: envOf(env)}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	b := &bridge{base: "http://" + m.Addr(), log: logs, calls: calls, http: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("bridge log (last lines):\n%s", lastLines(logs.String(), 80))
		}
	})
	waitReady(t, b.base)
	return b
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// do sends a JSON request with a bearer token and decodes a JSON answer
// into out (when not nil). It returns the status, or an error for a
// request that got no answer or an answer that does not decode.
func do(ctx context.Context, client *http.Client, method, u, token string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(data) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %q: %w", method, u, data, err)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, &httpError{status: resp.StatusCode, body: string(data)}
	}
	return resp.StatusCode, nil
}

// httpError is an answer outside 2xx.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

// scim calls the SCIM API and fails the test unless it answers one of
// want.
func (b *bridge) scim(t *testing.T, method, path string, in any, want ...int) map[string]any {
	t.Helper()
	var out map[string]any
	code, err := do(t.Context(), b.http, method, b.base+"/scim/v2"+path, e2eSCIMToken, in, &out)
	if !slices.Contains(want, code) {
		t.Fatalf("%s /scim/v2%s: status %d, want %v (%v)", method, path, code, want, err)
	}
	return out
}

// scimUser is a SCIM user document: subject is the externalId (the OIDC
// "sub"), the email is login@example.com.
func scimUser(login, subject string) map[string]any {
	return map[string]any{
		"schemas":     []string{userSchema},
		"userName":    login + "@example.com",
		"externalId":  subject,
		"displayName": strings.ToUpper(login[:1]) + login[1:],
		"name":        map[string]any{"givenName": login, "familyName": "Example"},
		"emails":      []map[string]any{{"value": login + "@example.com", "type": "work", "primary": true}},
		"active":      true,
	}
}

// createUser POSTs a user and returns its SCIM id.
func (b *bridge) createUser(t *testing.T, login, subject string) string {
	t.Helper()
	out := b.scim(t, http.MethodPost, "/Users", scimUser(login, subject), http.StatusCreated)
	id, _ := out["id"].(string)
	if id == "" {
		t.Fatalf("POST /Users %s: no id in %v", login, out)
	}
	return id
}

func patchOp(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

// summary is GET /admin/v1/status.
func (b *bridge) summary(ctx context.Context) (admin.Summary, error) {
	var s admin.Summary
	_, err := do(ctx, b.http, http.MethodGet, b.base+"/admin/v1/status", e2eAdminToken, nil, &s)
	return s, err
}

// userStatus is GET /admin/v1/users/{ref}.
func (b *bridge) userStatus(ctx context.Context, ref string) (admin.UserStatus, error) {
	var us admin.UserStatus
	_, err := do(ctx, b.http, http.MethodGet, b.base+"/admin/v1/users/"+url.PathEscape(ref), e2eAdminToken, nil, &us)
	return us, err
}

// giteaStatus returns ref's status with the Gitea connector.
func (b *bridge) giteaStatus(ctx context.Context, ref string) (admin.StatusView, error) {
	us, err := b.userStatus(ctx, ref)
	if err != nil {
		return admin.StatusView{}, err
	}
	for _, s := range us.Statuses {
		if s.Connector == "gitea" {
			return s, nil
		}
	}
	return admin.StatusView{}, fmt.Errorf("user %s has no gitea status yet (%+v)", ref, us.Statuses)
}

// allOK reports nil when the Gitea connector has exactly want keys, all
// ok.
func allOK(s admin.Summary, want int) error {
	for _, c := range s.Connectors {
		if c.Name != "gitea" {
			continue
		}
		if c.Counts["ok"] != want || len(c.Problems) != 0 {
			return fmt.Errorf("gitea counts %v (want %d ok), problems %+v", c.Counts, want, c.Problems)
		}
		return nil
	}
	return fmt.Errorf("no gitea connector in %+v", s)
}

// statusCommand runs "scimbridge status [args] --url base" and returns
// what it printed, failing the test when it exits non-zero.
func statusCommand(t *testing.T, base string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	env := envOf(map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": e2eAdminToken})
	args = append(append([]string{"status"}, args...), "--url", base)
	if code := run(t.Context(), args, &out, &errb, env); code != 0 {
		t.Fatalf("scimbridge %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// eventually polls cond until it returns nil, and fails the test with
// cond's last error and the tail of Gitea's log when e2eWait passes.
func eventually(t *testing.T, g *harness.Gitea, what string, cond func() error) {
	t.Helper()
	eventuallyWithin(t, g, e2eWait, what, cond)
}

func eventuallyWithin(t *testing.T, g *harness.Gitea, wait time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v\n%s", what, wait, err, g.LogTail())
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}
