// Package coderfake is a stateful stand-in for a Coder v2.36 server: an
// in-process HTTP server that answers the part of Coder's REST API the
// coder connector uses, with Coder's own JSON types (codersdk), status
// codes, messages and rules, so that tests can run without a real Coder
// and can inject the faults a real one only shows now and then.
//
// What it serves, and the rules it keeps (each taken from Coder's source,
// github.com/coder/coder v2.36.1; the handlers cite the file):
//
//   - authentication by the Coder-Session-Token header (also the
//     coder_session_token cookie or query parameter, and a Bearer
//     Authorization header); 401 with Coder's "signed out" message
//     otherwise, and for a suspended user's token; a dormant user's token
//     makes the user active;
//   - users: create (with organizations, login types password, oidc,
//     github; oidc only when the fake has OIDC configured), get by id,
//     username or "me", list with the q= search (free text, status:,
//     login_type:) and limit/offset paging ordered by username, suspend
//     and activate; usernames follow codersdk.NameValid, usernames and
//     emails are unique without regard to case among users that are not
//     deleted, a new user is dormant unless a status is given, an owner
//     and the caller cannot be suspended;
//   - organizations: get by id, name or "default", add a member;
//   - groups (Template RBAC, a Premium feature: without Options.Premium
//     every group route answers 403 as an unlicensed Coder does): create
//     in an organization, get by id or by organization and name, list,
//     patch (rename, display name, add and remove members, who must be
//     members of the group's organization), delete; every organization
//     has its "Everyone" group, whose id is the organization's and whose
//     members are the organization's;
//   - /api/v2/users/authmethods and /api/v2/entitlements;
//   - templates (seeded with AddTemplate and AddTemplateVersion: rich
//     parameters with their mutable, required, default and options,
//     presets): get by organization and name without regard to case, a
//     version's rich parameters and presets;
//   - workspaces: create for a user (from a template's active version or
//     a given version, with rich parameter values and a preset), get by
//     owner and name without regard to case (include_deleted too), new
//     builds (start, stop, delete) and a build's parameters. Parameters
//     are resolved as Coder's dynamic parameter flow does: the previous
//     build's values, then the request's, then the preset's; values of
//     no parameter are dropped; a required parameter without a value, a
//     value outside the options and a changed immutable parameter are
//     refused with Coder's 400 and one validation per parameter. A name
//     already used by the owner is a 409, a build while another is
//     pending or running a 409, an unknown template a 400 and a deleted
//     one a 404. A build succeeds at once (a delete build deletes its
//     workspace) unless HoldBuilds keeps new builds pending, as in a
//     Coder without provisioner daemons; CompleteBuilds ends them.
//     Workspace, Workspaces and Builds show the state to tests.
//
// Only owners and user admins may use the admin routes; another user's
// token gets 403 (Coder's RBAC is richer; this is the part that matters
// to a provisioning client). Other users' workspaces are an Owner's
// only: a User Admin gets 404 reading them and 403 creating one, as
// Coder's user-admin role has no workspace permission.
//
// Faults on command: Fail answers the next n requests with a status (and
// a Retry-After header), Slow holds every request for a while.
package coderfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scimbridge/scimbridge/conformance/fakes/faults"

	"github.com/coder/coder/v2/codersdk"
)

// Options configure a Fake.
type Options struct {
	// OIDC is true when the fake plays a Coder with OpenID Connect
	// configured. Without it, creating a user with login type oidc
	// answers 400 "You must configure OIDC before creating OIDC users.",
	// as Coder does.
	OIDC bool
	// Premium is true when the fake plays a Coder with a Premium licence,
	// which groups need. Without it, every group route answers 403
	// "Template RBAC is a Premium feature. Contact sales!".
	Premium bool
}

// Admin account of every fake: the first user, an owner.
const (
	AdminUsername = "admin"
	AdminEmail    = "admin@example.com"
)

// DefaultOrganizationName is the name of the organization every Coder
// creates for itself.
const DefaultOrganizationName = "coder"

// everyoneGroup is the name of each organization's built-in group
// (coderd/database: EveryoneGroup).
const everyoneGroup = "Everyone"

// Fake is one fake Coder server. Its methods are safe for concurrent use.
type Fake struct {
	// URL is the server's base URL, without a trailing slash.
	URL string
	// Token is a session token of the admin account, an owner.
	Token string
	// AdminID is the admin account's id.
	AdminID uuid.UUID

	srv  *httptest.Server
	opts Options

	mu     sync.Mutex
	orgs   []*organization
	users  map[uuid.UUID]*user
	groups map[uuid.UUID]*group
	tokens map[string]token // by key id

	templates  map[uuid.UUID]*template
	versions   map[uuid.UUID]*templateVersion
	workspaces map[uuid.UUID]*workspace
	holdBuilds bool

	faults   faults.Injector
	requests []string
}

type organization struct {
	codersdk.Organization
}

type user struct {
	codersdk.User
	password string
	deleted  bool
}

type group struct {
	codersdk.Group // without Members
	members        map[uuid.UUID]bool
}

type token struct {
	secretHash [32]byte
	userID     uuid.UUID
}

// New starts a fake Coder. Close stops it.
func New(opts Options) *Fake {
	f := &Fake{
		opts:   opts,
		users:  map[uuid.UUID]*user{},
		groups: map[uuid.UUID]*group{},
		tokens: map[string]token{},

		templates:  map[uuid.UUID]*template{},
		versions:   map[uuid.UUID]*templateVersion{},
		workspaces: map[uuid.UUID]*workspace{},
	}
	now := time.Now().UTC()
	def := &organization{codersdk.Organization{
		MinimalOrganization: codersdk.MinimalOrganization{ID: uuid.New(), Name: DefaultOrganizationName, DisplayName: DefaultOrganizationName},
		CreatedAt:           now, UpdatedAt: now, IsDefault: true,
	}}
	f.orgs = append(f.orgs, def)
	admin := f.addUserLocked(Seed{
		Username: AdminUsername, Email: AdminEmail, LoginType: codersdk.LoginTypePassword,
		Password: "Admin-" + rand.Text(), Status: codersdk.UserStatusActive, Roles: []string{codersdk.RoleOwner},
	})
	f.AdminID = admin.ID
	f.Token = f.newTokenLocked(admin.ID)
	f.srv = httptest.NewServer(f.handler())
	f.URL = f.srv.URL
	return f
}

// Start starts a fake Coder that stops when the test ends.
func Start(t testing.TB, opts Options) *Fake {
	t.Helper()
	f := New(opts)
	t.Cleanup(f.Close)
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// Fail answers the next n requests with status, without serving them,
// with a Retry-After header when retryAfter is not empty and a
// codersdk.Response body.
func (f *Fake) Fail(n, status int, retryAfter string) {
	f.faults.Fail(n, status, retryAfter)
}

// Slow holds every request for d before serving it (0 ends it). A
// request whose client gives up meanwhile is not served.
func (f *Fake) Slow(d time.Duration) {
	f.faults.Slow(d)
}

// Requests returns "METHOD /path" of every request served or failed so
// far, in order.
func (f *Fake) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Seed describes an account to put in the fake directly.
type Seed struct {
	Username string
	Email    string
	Name     string
	// LoginType defaults to password.
	LoginType codersdk.LoginType
	// Password is kept for password accounts; Seed does not check it.
	Password string
	// Status defaults to active (an account that has signed in).
	Status codersdk.UserStatus
	// Roles are site roles such as codersdk.RoleOwner.
	Roles []string
	// Organizations default to the default organization.
	Organizations []uuid.UUID
}

// AddUser puts an account in the fake as if it had been made by hand or
// by the person's own first login, without any of the API's checks, and
// returns it.
func (f *Fake) AddUser(s Seed) codersdk.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addUserLocked(s).User
}

func (f *Fake) addUserLocked(s Seed) *user {
	now := time.Now().UTC()
	if s.LoginType == "" {
		s.LoginType = codersdk.LoginTypePassword
	}
	if s.Status == "" {
		s.Status = codersdk.UserStatusActive
	}
	if len(s.Organizations) == 0 {
		s.Organizations = []uuid.UUID{f.orgs[0].ID}
	}
	u := &user{User: codersdk.User{
		ReducedUser: codersdk.ReducedUser{
			MinimalUser: codersdk.MinimalUser{ID: uuid.New(), Username: s.Username, Name: s.Name},
			Email:       s.Email, CreatedAt: now, UpdatedAt: now,
			Status: s.Status, LoginType: s.LoginType,
		},
		OrganizationIDs: slices.Clone(s.Organizations),
		Roles:           slimRoles(s.Roles),
	}, password: s.Password}
	if s.Status == codersdk.UserStatusActive {
		u.LastSeenAt = now
	}
	f.users[u.ID] = u
	return u
}

// NewToken returns a new session token of the account id, for tests
// that call the API as someone other than the admin.
func (f *Fake) NewToken(id uuid.UUID) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.newTokenLocked(id)
}

// newTokenLocked makes a token in Coder's format: a 10-character key id,
// '-', a 22-character secret (coderd/httpmw/apikey.go: SplitAPIToken).
func (f *Fake) newTokenLocked(id uuid.UUID) string {
	keyID := strings.ToLower(rand.Text())[:10]
	secret := rand.Text()[:22]
	f.tokens[keyID] = token{secretHash: sha256.Sum256([]byte(secret)), userID: id}
	return keyID + "-" + secret
}

// User returns the account whose id is id, deleted or not.
func (f *Fake) User(id uuid.UUID) (codersdk.User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return codersdk.User{}, false
	}
	return f.sdkUserLocked(u), true
}

// Users returns every account that is not deleted, ordered by username.
func (f *Fake) Users() []codersdk.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []codersdk.User
	for _, u := range f.sortedUsersLocked() {
		out = append(out, f.sdkUserLocked(u))
	}
	return out
}

// DeleteUser marks an account deleted, as Coder's DELETE /users/{user}
// does: it is kept in the database, still found by id, and its username
// and email are free again.
func (f *Fake) DeleteUser(id uuid.UUID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if ok {
		u.deleted = true
	}
	return ok
}

// RemoveFromOrganization takes an account out of an organization and its
// groups, as an administrator can.
func (f *Fake) RemoveFromOrganization(userID, orgID uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.users[userID]; ok {
		u.OrganizationIDs = slices.DeleteFunc(u.OrganizationIDs, func(id uuid.UUID) bool { return id == orgID })
	}
	for _, g := range f.groups {
		if g.OrganizationID == orgID {
			delete(g.members, userID)
		}
	}
}

// DefaultOrganization returns the default organization.
func (f *Fake) DefaultOrganization() codersdk.Organization {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.orgs[0].Organization
}

// AddOrganization creates an organization named name.
func (f *Fake) AddOrganization(name string) codersdk.Organization {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now().UTC()
	o := &organization{codersdk.Organization{
		MinimalOrganization: codersdk.MinimalOrganization{ID: uuid.New(), Name: name, DisplayName: name},
		CreatedAt:           now, UpdatedAt: now,
	}}
	f.orgs = append(f.orgs, o)
	return o.Organization
}

// AddGroup creates a group directly (source "user" or "oidc"), as an
// administrator or Coder's IdP group sync would, and returns it.
func (f *Fake) AddGroup(org uuid.UUID, name, displayName string, source codersdk.GroupSource, members ...uuid.UUID) codersdk.Group {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgByIDLocked(org)
	g := &group{Group: codersdk.Group{ID: uuid.New(), Name: name, DisplayName: displayName, OrganizationID: org, Source: source}, members: map[uuid.UUID]bool{}}
	if o != nil {
		g.OrganizationName, g.OrganizationDisplayName = o.Name, o.DisplayName
	}
	for _, m := range members {
		g.members[m] = true
	}
	f.groups[g.ID] = g
	return f.sdkGroupLocked(g, true)
}

// Group returns the group whose id is id, with its members.
func (f *Fake) Group(id uuid.UUID) (codersdk.Group, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groupLocked(id)
	if g == nil {
		return codersdk.Group{}, false
	}
	return f.sdkGroupLocked(g, true), true
}

// Groups returns the groups of an organization, Everyone included.
func (f *Fake) Groups(org uuid.UUID) []codersdk.Group {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []codersdk.Group
	for _, g := range f.allGroupsLocked() {
		if g.OrganizationID == org {
			out = append(out, f.sdkGroupLocked(g, true))
		}
	}
	return out
}

// handler serves the API behind the fault injection.
func (f *Fake) handler() http.Handler {
	mux := http.NewServeMux()
	f.routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		status, ok := f.faults.Take(w, r)
		if !ok {
			return
		}
		if status != 0 {
			write(w, status, codersdk.Response{Message: http.StatusText(status) + " (injected by the fake)."})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// write answers with v as JSON (coderd/httpapi/httpapi.go: Write).
func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// Coder's fixed answers (coderd/httpapi/httpapi.go).
var (
	resourceNotFound  = codersdk.Response{Message: "Resource not found or you do not have access to this resource"}
	resourceForbidden = codersdk.Response{
		Message: "Forbidden.",
		Detail:  "You don't have permission to view this content. If you believe this is a mistake, please contact your administrator or try signing in with different credentials.",
	}
)

func slimRoles(names []string) []codersdk.SlimRole {
	out := []codersdk.SlimRole{}
	for _, n := range names {
		out = append(out, codersdk.SlimRole{Name: n, DisplayName: n})
	}
	return out
}

func (f *Fake) sdkUserLocked(u *user) codersdk.User {
	out := u.User
	out.OrganizationIDs = slices.Clone(u.OrganizationIDs)
	out.Roles = slices.Clone(u.Roles)
	if out.OrganizationIDs == nil {
		out.OrganizationIDs = []uuid.UUID{}
	}
	return out
}

func (f *Fake) sortedUsersLocked() []*user {
	var out []*user
	for _, u := range f.users {
		if !u.deleted {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *user) int {
		return strings.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username))
	})
	return out
}

func (f *Fake) orgByIDLocked(id uuid.UUID) *organization {
	for _, o := range f.orgs {
		if o.ID == id {
			return o
		}
	}
	return nil
}

// groupLocked returns a group by id, the Everyone groups included.
func (f *Fake) groupLocked(id uuid.UUID) *group {
	if g, ok := f.groups[id]; ok {
		return g
	}
	if o := f.orgByIDLocked(id); o != nil {
		return f.everyoneLocked(o)
	}
	return nil
}

// everyoneLocked is the organization's Everyone group: its id is the
// organization's and its members are the organization's members
// (coderd/database/dump.sql: group_members_expanded).
func (f *Fake) everyoneLocked(o *organization) *group {
	g := &group{Group: codersdk.Group{
		ID: o.ID, Name: everyoneGroup, OrganizationID: o.ID, Source: codersdk.GroupSourceUser,
		OrganizationName: o.Name, OrganizationDisplayName: o.DisplayName,
	}, members: map[uuid.UUID]bool{}}
	for _, u := range f.users {
		if slices.Contains(u.OrganizationIDs, o.ID) {
			g.members[u.ID] = true
		}
	}
	return g
}

func (f *Fake) allGroupsLocked() []*group {
	var out []*group
	for _, o := range f.orgs {
		out = append(out, f.everyoneLocked(o))
	}
	var rest []*group
	for _, g := range f.groups {
		rest = append(rest, g)
	}
	slices.SortFunc(rest, func(a, b *group) int { return strings.Compare(a.Name, b.Name) })
	return append(out, rest...)
}

// sdkGroupLocked renders a group; members that are deleted are left out,
// as Coder's group_members_expanded view does.
func (f *Fake) sdkGroupLocked(g *group, withMembers bool) codersdk.Group {
	out := g.Group
	out.Members = []codersdk.ReducedUser{}
	var ms []*user
	for id := range g.members {
		if u, ok := f.users[id]; ok && !u.deleted {
			ms = append(ms, u)
		}
	}
	slices.SortFunc(ms, func(a, b *user) int { return strings.Compare(a.Username, b.Username) })
	out.TotalMemberCount = len(ms)
	if withMembers {
		for _, u := range ms {
			out.Members = append(out.Members, u.ReducedUser)
		}
	}
	return out
}

// String names the fake by its URL.
func (f *Fake) String() string { return fmt.Sprintf("coderfake(%s)", f.URL) }
