// Package mattermostfake is an in-process Mattermost: an HTTP server that
// answers the part of API v4 that model.Client4 calls to provision users,
// team memberships and channels, keeps their state, and enforces the rules
// a real Mattermost server enforces on those calls (authentication,
// permissions, uniqueness, validation, paging), answering with the same
// status codes and AppError ids. Every rule is taken from Mattermost's
// server sources (github.com/mattermost/mattermost, under server/); the
// comments name the file.
//
// It is not a mock: tests do not tell it what to answer. They seed it
// (AddTeam, AddPasswordUser, AddSSOUser, ...), call it through a real
// client, read its state back (User, TeamMembers, ChannelMembers, ...) and
// inject faults on command (Fail, Slow).
//
// Endpoints (all under /api/v4, all requiring a bearer token):
//
//	GET    /users/me
//	POST   /users
//	GET    /users/{id}
//	GET    /users/email/{email}
//	GET    /users/username/{username}
//	PUT    /users/{id}/patch
//	PUT    /users/{id}/active
//	PUT    /users/{id}/auth
//	GET    /teams/{id}
//	GET    /teams/name/{name}
//	GET    /teams/{id}/members
//	POST   /teams/{id}/members
//	POST   /teams/{id}/members/ids
//	GET    /teams/{id}/members/{user_id}
//	DELETE /teams/{id}/members/{user_id}
//	GET    /teams/{id}/channels/name/{name}
//	POST   /channels
//	GET    /channels/{id}
//	PUT    /channels/{id}/patch
//	GET    /channels/{id}/members
//	POST   /channels/{id}/members
//	GET    /channels/{id}/members/{user_id}
//	DELETE /channels/{id}/members/{user_id}
//
// Simplifications, on purpose: the server is configured as Mattermost's
// defaults are (ShowEmailAddress and ShowFullName on, minimum password
// length 8, no license, no group-constrained teams or channels); a token
// that is not a system administrator's may read itself and other users but
// gets 403 on everything else; no posts, preferences or websocket events.
package mattermostfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/scimbridge/scimbridge/conformance/fakes/faults"
)

// Paging as Mattermost's web layer applies it (server/channels/web/params.go):
// per_page defaults to 60 and is capped at 200.
const (
	perPageDefault = 60
	perPageMaximum = 200
)

// AdminUsername is the username of the system administrator New seeds.
const AdminUsername = "sysadmin"

// Fake is one Mattermost server. It is safe for concurrent use.
type Fake struct {
	// URL is the server's base URL, as model.NewAPIv4Client takes it (the
	// API is under URL + "/api/v4").
	URL string
	// Token is a personal access token of the seeded system
	// administrator (AdminID).
	Token string
	// AdminID is the user id of the seeded system administrator.
	AdminID string

	t   testing.TB
	srv *httptest.Server

	mu             sync.Mutex
	users          map[string]*model.User // by id; Password holds a hash
	tokens         map[string]string      // token -> user id
	teams          map[string]*model.Team
	teamMembers    map[string]map[string]*model.TeamMember // team id -> user id ->
	channels       map[string]*model.Channel
	channelMembers map[string]map[string]*model.ChannelMember // channel id -> user id ->

	faults   faults.Injector
	requests int
	log      []string
}

// New starts a fake Mattermost with one system administrator (AdminUsername,
// with Token) and no team, and stops it when the test ends.
func New(t testing.TB) *Fake {
	t.Helper()
	f := &Fake{
		t:              t,
		users:          map[string]*model.User{},
		tokens:         map[string]string{},
		teams:          map[string]*model.Team{},
		teamMembers:    map[string]map[string]*model.TeamMember{},
		channels:       map[string]*model.Channel{},
		channelMembers: map[string]map[string]*model.ChannelMember{},
	}
	admin := &model.User{Username: AdminUsername, Email: AdminUsername + "@example.com", Password: "sysadmin-password",
		Roles: model.SystemAdminRoleId + " " + model.SystemUserRoleId}
	f.mu.Lock()
	ru, appErr := f.saveUser(admin)
	f.mu.Unlock()
	if appErr != nil {
		t.Fatalf("mattermostfake: seeding the administrator: %v", appErr)
	}
	f.AdminID = ru.Id
	f.Token = f.AddUserToken(ru.Id)
	f.srv = httptest.NewServer(f)
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Fail answers the next n requests with status, without acting on them,
// and with a Retry-After header when retryAfter is not empty.
func (f *Fake) Fail(n, status int, retryAfter string) {
	f.faults.Fail(n, status, retryAfter)
}

// Slow holds every request for d before answering it (0 ends it). A
// request whose client gives up meanwhile is dropped unanswered.
func (f *Fake) Slow(d time.Duration) {
	f.faults.Slow(d)
}

// Requests is the number of requests the server has received.
func (f *Fake) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Log returns "METHOD /path" of every request received, in order.
func (f *Fake) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// ServeHTTP answers one API request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.log = append(f.log, r.Method+" "+r.URL.Path)
	f.mu.Unlock()

	status, ok := f.faults.Take(w, r)
	if !ok {
		return
	}
	if status != 0 {
		writeErr(w, appErr("ServeHTTP", "fake.injected_fault", "Fault injected by the test.", status))
		return
	}

	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), model.APIURLSuffix+"/")
	if !ok {
		writeErr(w, notFound())
		return
	}
	var segs []string
	for s := range strings.SplitSeq(strings.TrimSuffix(rest, "/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			writeErr(w, notFound())
			return
		}
		segs = append(segs, u)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	session, aerr := f.authenticate(r)
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	c := &call{f: f, w: w, r: r, session: session}
	switch segs[0] {
	case "users":
		f.routeUsers(c, segs[1:])
	case "teams":
		f.routeTeams(c, segs[1:])
	case "channels":
		f.routeChannels(c, segs[1:])
	default:
		writeErr(w, notFound())
	}
}

// authenticate finds the session's user from the Authorization header.
// Mattermost takes "Bearer <token>" or "Token <token>", any case
// (server/channels/app/session.go, ParseAuthTokenFromRequest); a missing,
// unknown or revoked token, and the token of a deactivated user (whose
// sessions and tokens Mattermost revokes), get 401
// api.context.session_expired.app_error (server/channels/web/handlers.go).
func (f *Fake) authenticate(r *http.Request) (*model.User, *model.AppError) {
	expired := appErr("ServeHTTP", "api.context.session_expired.app_error", "Invalid or expired session, please login again.", http.StatusUnauthorized)
	scheme, token, ok := strings.Cut(r.Header.Get(model.HeaderAuth), " ")
	if !ok || (!strings.EqualFold(scheme, model.HeaderBearer) && !strings.EqualFold(scheme, model.HeaderToken)) {
		return nil, expired
	}
	id, ok := f.tokens[strings.TrimSpace(token)]
	if !ok {
		return nil, expired
	}
	u := f.users[id]
	if u == nil || u.DeleteAt != 0 {
		return nil, expired
	}
	return u, nil
}

// call is one request being answered, under f.mu.
type call struct {
	f       *Fake
	w       http.ResponseWriter
	r       *http.Request
	session *model.User
}

func (c *call) isAdmin() bool { return c.session.IsSystemAdmin() }

// requireAdmin answers 403 unless the session is a system administrator's
// (the permission every provisioning call needs; see the package doc).
func (c *call) requireAdmin() bool {
	if c.isAdmin() {
		return true
	}
	writeErr(c.w, permissionErr())
	return false
}

// decode reads the JSON body into v, answering 400 with Mattermost's
// invalid body parameter error when it cannot (server/channels/web/context.go,
// SetInvalidParamWithErr).
func (c *call) decode(param string, v any) bool {
	if err := json.NewDecoder(c.r.Body).Decode(v); err != nil {
		writeErr(c.w, invalidParam(param))
		return false
	}
	return true
}

// page reads page and per_page as server/channels/web/params.go does.
func (c *call) page() (page, perPage int) {
	q := c.r.URL.Query()
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 0 {
		page = 0
	}
	perPage, err = strconv.Atoi(q.Get("per_page"))
	switch {
	case err != nil || perPage < 0:
		perPage = perPageDefault
	case perPage > perPageMaximum:
		perPage = perPageMaximum
	}
	return page, perPage
}

func paginate[T any](all []T, page, perPage int) []T {
	start := page * perPage
	if start >= len(all) {
		return []T{}
	}
	return all[start:min(start+perPage, len(all))]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeOK answers {"status":"OK"} (server/channels/api4/api.go, ReturnStatusOK).
func writeOK(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "OK"})
}

func writeErr(w http.ResponseWriter, e *model.AppError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.StatusCode)
	w.Write([]byte(e.ToJSON()))
}

// appErr builds an AppError as the server sends it: its id, an English
// message, and the status code.
func appErr(where, id, msg string, status int) *model.AppError {
	e := model.NewAppError(where, id, nil, "", status)
	e.Message = msg
	return e
}

func notFound() *model.AppError {
	return appErr("Handler", "api.context.404.app_error", "Sorry, we could not find the page.", http.StatusNotFound)
}

func permissionErr() *model.AppError {
	return appErr("Handler", "api.context.permissions.app_error", "You do not have the appropriate permissions.", http.StatusForbidden)
}

// invalidParam is server/channels/web/context.go's SetInvalidParam.
func invalidParam(name string) *model.AppError {
	return appErr("Context", "api.context.invalid_body_param.app_error", "Invalid or missing "+name+" in request body.", http.StatusBadRequest)
}

// invalidURLParam is server/channels/web/context.go's SetInvalidURLParam.
func invalidURLParam(name string) *model.AppError {
	return appErr("Context", "api.context.invalid_url_param.app_error", "Invalid or missing "+name+" parameter in request URL.", http.StatusBadRequest)
}

func missingAccount() *model.AppError {
	// server/channels/app/user.go: MissingAccountError
	return appErr("GetUser", "app.user.missing_account.const", "Unable to find the user.", http.StatusNotFound)
}

// hasher stands in for Mattermost's bcrypt hasher: User.PreSave calls it;
// the fake keeps a SHA-256, never the password.
type hasher struct{}

func (hasher) Hash(password string) (string, error) {
	if len(password) > model.UserPasswordMaxLength {
		return "", model.ErrPasswordTooLong
	}
	sum := sha256.Sum256([]byte(password))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// withContext is a helper for Service methods: ctx is honoured by failing
// when it is already done, as a real round trip would.
func withContext(ctx context.Context) error { return ctx.Err() }
