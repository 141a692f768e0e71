package coderfake

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"
)

// signedOut is Coder's message for every 401
// (coderd/httpmw/apikey.go: SignedOutErrorMessage).
const signedOut = "You are signed out or your session has expired. Please sign in again to continue."

type callerKey struct{}

// caller is the account whose token authenticated the request.
func caller(r *http.Request) *user {
	u, _ := r.Context().Value(callerKey{}).(*user)
	return u
}

func (f *Fake) routes(mux *http.ServeMux) {
	type mw = func(http.Handler) http.Handler
	chain := func(h http.HandlerFunc, mws ...mw) http.Handler {
		var out http.Handler = h
		for i := len(mws) - 1; i >= 0; i-- {
			out = mws[i](out)
		}
		return out
	}
	auth, admin, premium := f.authenticated, f.adminOnly, f.premiumOnly

	// coderd/coderd.go: /api/v2/users, /api/v2/organizations.
	mux.HandleFunc("GET /api/v2/users/authmethods", f.authMethods)
	mux.Handle("GET /api/v2/users", chain(f.listUsers, auth))
	mux.Handle("POST /api/v2/users", chain(f.postUser, auth, admin))
	mux.Handle("GET /api/v2/users/{user}", chain(f.getUser, auth))
	mux.Handle("PUT /api/v2/users/{user}/status/suspend", chain(f.putStatus(codersdk.UserStatusSuspended), auth, admin))
	mux.Handle("PUT /api/v2/users/{user}/status/activate", chain(f.putStatus(codersdk.UserStatusActive), auth, admin))
	mux.Handle("GET /api/v2/organizations/{organization}", chain(f.getOrganization, auth))
	mux.Handle("POST /api/v2/organizations/{organization}/members/{user}", chain(f.postOrganizationMember, auth, admin))

	// coderd/coderd.go: templates, template versions, workspaces and
	// builds; their handlers check who may see what.
	mux.Handle("GET /api/v2/organizations/{organization}/templates/{templatename}", chain(f.templateByName, auth))
	mux.Handle("GET /api/v2/templateversions/{templateversion}/rich-parameters", chain(f.versionRichParameters, auth))
	mux.Handle("GET /api/v2/templateversions/{templateversion}/presets", chain(f.versionPresets, auth))
	mux.Handle("POST /api/v2/users/{user}/workspaces", chain(f.postUserWorkspace, auth))
	mux.Handle("GET /api/v2/users/{user}/workspace/{workspacename}", chain(f.workspaceByOwnerAndName, auth))
	mux.Handle("POST /api/v2/workspaces/{workspace}/builds", chain(f.postWorkspaceBuild, auth))
	mux.Handle("GET /api/v2/workspacebuilds/{workspacebuild}/parameters", chain(f.buildParameters, auth))

	// enterprise/coderd/coderd.go: the organization's group routes check
	// the key, then the licence; /groups checks the licence first.
	mux.HandleFunc("GET /api/v2/entitlements", f.entitlements)
	mux.Handle("POST /api/v2/organizations/{organization}/groups", chain(f.postGroup, auth, premium, admin))
	mux.Handle("GET /api/v2/organizations/{organization}/groups", chain(f.orgGroups, auth, premium, admin))
	mux.Handle("GET /api/v2/organizations/{organization}/groups/{groupName}", chain(f.groupByName, auth, premium, admin))
	mux.Handle("GET /api/v2/groups", chain(f.listGroups, premium, auth, admin))
	mux.Handle("GET /api/v2/groups/{group}", chain(f.getGroup, premium, auth, admin))
	mux.Handle("PATCH /api/v2/groups/{group}", chain(f.patchGroup, premium, auth, admin))
	mux.Handle("DELETE /api/v2/groups/{group}", chain(f.deleteGroup, premium, auth, admin))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// coderd/httpapi/httpapi.go: RouteNotFound.
		write(w, http.StatusNotFound, codersdk.Response{Message: "Route not found."})
	})
}

// authenticated checks the session token as Coder does
// (coderd/httpmw/apikey.go: APITokenFromRequest, SplitAPIToken,
// apiKeyFromRequestValidate) and refuses suspended accounts.
func (f *Fake) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := tokenFromRequest(r)
		if tok == "" {
			write(w, http.StatusUnauthorized, codersdk.Response{Message: signedOut,
				Detail: fmt.Sprintf("Cookie %q or query parameter must be provided.", codersdk.SessionTokenCookie)})
			return
		}
		keyID, secret, ok := strings.Cut(tok, "-")
		if !ok || strings.Contains(secret, "-") || len(keyID) != 10 || len(secret) != 22 {
			write(w, http.StatusUnauthorized, codersdk.Response{Message: signedOut,
				Detail: "Invalid API key format: the key must be a 10-character id, '-' and a 22-character secret"})
			return
		}
		f.mu.Lock()
		key, found := f.tokens[keyID]
		u := f.users[key.userID]
		f.mu.Unlock()
		if !found {
			write(w, http.StatusUnauthorized, codersdk.Response{Message: signedOut, Detail: "API key is invalid."})
			return
		}
		sum := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(sum[:], key.secretHash[:]) != 1 {
			write(w, http.StatusUnauthorized, codersdk.Response{Message: signedOut, Detail: "API key secret is invalid."})
			return
		}
		if u == nil || u.deleted {
			write(w, http.StatusUnauthorized, codersdk.Response{Message: signedOut, Detail: "API key is invalid."})
			return
		}
		// coderd/httpmw/apikey.go: a dormant user who uses a key becomes
		// active; a suspended user's key is refused.
		f.mu.Lock()
		if u.Status == codersdk.UserStatusDormant {
			u.Status = codersdk.UserStatusActive
		}
		status := u.Status
		f.mu.Unlock()
		if status != codersdk.UserStatusActive {
			write(w, http.StatusUnauthorized, codersdk.Response{
				Message: fmt.Sprintf("User is not active (status = %q). Contact an admin to reactivate your account.", status)})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, u)))
	})
}

func tokenFromRequest(r *http.Request) string {
	if c, err := r.Cookie(codersdk.SessionTokenCookie); err == nil && c.Value != "" {
		return c.Value
	}
	if v := r.URL.Query().Get(codersdk.SessionTokenCookie); v != "" {
		return v
	}
	if v := r.Header.Get(codersdk.SessionTokenHeader); v != "" {
		return v
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// isAdmin reports whether u may manage users: an owner or a user admin.
func isAdmin(u *user) bool {
	for _, r := range u.Roles {
		if r.Name == codersdk.RoleOwner || r.Name == codersdk.RoleUserAdmin {
			return true
		}
	}
	return false
}

func (f *Fake) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAdmin(caller(r)) {
			write(w, http.StatusForbidden, resourceForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// premiumOnly answers as an unlicensed Coder does
// (enterprise/coderd/templates.go: RequireFeatureMW).
func (f *Fake) premiumOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.opts.Premium {
			write(w, http.StatusForbidden, codersdk.Response{
				Message: fmt.Sprintf("%s is a Premium feature. Contact sales!", codersdk.FeatureTemplateRBAC.Humanize()),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authMethods answers GET /api/v2/users/authmethods
// (coderd/userauth.go: userAuthMethods), which needs no token.
func (f *Fake) authMethods(w http.ResponseWriter, _ *http.Request) {
	write(w, http.StatusOK, codersdk.AuthMethods{
		Password: codersdk.AuthMethod{Enabled: true},
		OIDC:     codersdk.OIDCAuthMethod{AuthMethod: codersdk.AuthMethod{Enabled: f.opts.OIDC}},
	})
}

// entitlements answers GET /api/v2/entitlements with Template RBAC
// entitled or not.
func (f *Fake) entitlements(w http.ResponseWriter, _ *http.Request) {
	feat := codersdk.Feature{Entitlement: codersdk.EntitlementNotEntitled}
	if f.opts.Premium {
		feat = codersdk.Feature{Entitlement: codersdk.EntitlementEntitled, Enabled: true}
	}
	write(w, http.StatusOK, codersdk.Entitlements{
		Features:   map[codersdk.FeatureName]codersdk.Feature{codersdk.FeatureTemplateRBAC: feat},
		Warnings:   []string{},
		Errors:     []string{},
		HasLicense: f.opts.Premium,
	})
}

// orgParam finds the {organization} of the path by id, name or
// "default" (coderd/httpmw/organizationparam.go).
func (f *Fake) orgParamLocked(r *http.Request) *organization {
	arg := r.PathValue("organization")
	if arg == codersdk.DefaultOrganization || arg == uuid.Nil.String() {
		return f.orgs[0]
	}
	if id, err := uuid.Parse(arg); err == nil {
		return f.orgByIDLocked(id)
	}
	for _, o := range f.orgs {
		if o.Name == arg {
			return o
		}
	}
	return nil
}

// getOrganization answers GET /api/v2/organizations/{organization}; a
// user who is not a member does not see it.
func (f *Fake) getOrganization(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgParamLocked(r)
	if o == nil || (!isAdmin(caller(r)) && !slices.Contains(caller(r).OrganizationIDs, o.ID)) {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	write(w, http.StatusOK, o.Organization)
}
