package mattermostfake

import (
	"net/http"
	"slices"

	"github.com/mattermost/mattermost/server/public/model"
)

// minPasswordLength is PasswordSettings.MinimumLength's default
// (server/public/model/config.go).
const minPasswordLength = 8

func (f *Fake) routeUsers(c *call, segs []string) {
	m := c.r.Method
	switch {
	case len(segs) == 0 && m == http.MethodPost:
		f.createUser(c)
	case len(segs) == 1 && segs[0] == "me" && m == http.MethodGet:
		f.writeUser(c, c.session)
	case len(segs) == 1 && m == http.MethodGet:
		f.getUser(c, segs[0])
	case len(segs) == 2 && segs[0] == "email" && m == http.MethodGet:
		f.getUserByEmail(c, segs[1])
	case len(segs) == 2 && segs[0] == "username" && m == http.MethodGet:
		f.getUserByUsername(c, segs[1])
	case len(segs) == 2 && segs[1] == "patch" && m == http.MethodPut:
		f.patchUser(c, segs[0])
	case len(segs) == 2 && segs[1] == "active" && m == http.MethodPut:
		f.updateUserActive(c, segs[0])
	case len(segs) == 2 && segs[1] == "auth" && m == http.MethodPut:
		f.updateUserAuth(c, segs[0])
	default:
		writeErr(c.w, notFound())
	}
}

// writeUser answers with u as another user sees it: a system
// administrator sees the email, the full name and the auth service, and
// nobody sees the auth data, the password or the MFA secret
// (server/channels/app/user.go, SanitizeProfile and GetSanitizeOptions;
// server/public/model/user.go, Sanitize: auth data is blanked unless the
// options ask for it, and no caller does).
func (f *Fake) writeUser(c *call, u *model.User) {
	out := u.DeepCopy()
	if c.session.Id == u.Id {
		out.Sanitize(map[string]bool{})
	} else {
		opts := map[string]bool{"email": true, "fullname": true, "authservice": c.isAdmin()}
		out.SanitizeProfile(opts, c.isAdmin())
	}
	writeJSON(c.w, http.StatusOK, out)
}

// createUser is POST /users as a system administrator calls it
// (server/channels/api4/user.go createUser -> app CreateUserAsAdmin ->
// users.CreateUser and store Save). Open sign-up is not modelled: other
// sessions get 403.
func (f *Fake) createUser(c *call) {
	var u model.User
	if !c.decode("user", &u) {
		return
	}
	u.SanitizeInput(c.isAdmin())
	if !c.requireAdmin() {
		return
	}
	u.Roles = model.SystemUserRoleId
	ru, err := f.saveUser(&u)
	if err != nil {
		writeErr(c.w, err)
		return
	}
	// users.createUser answers with ruser.Sanitize(map[string]bool{}):
	// the password goes, the auth data stays.
	out := ru.DeepCopy()
	out.Sanitize(map[string]bool{})
	writeJSON(c.w, http.StatusCreated, out)
}

// saveUser validates and stores a new user, under f.mu.
func (f *Fake) saveUser(u *model.User) (*model.User, *model.AppError) {
	// server/channels/store/sqlstore/user_store.go Save: a new user has no
	// id; the app maps the store's invalid "id" to app.user.save.existing.
	if u.Id != "" {
		return nil, appErr("createUserOrGuest", "app.user.save.existing.app_error", "Must call update for existing user.", http.StatusBadRequest)
	}
	// server/channels/app/users/users.go createUser: a password is
	// required, and checked, only without an auth service.
	if u.AuthService == "" && len(u.Password) < minPasswordLength {
		return nil, appErr("createUserOrGuest", "api.user.check_user_password.invalid.app_error", "Your password must contain at least 8 characters.", http.StatusBadRequest)
	}
	if err := u.PreSave(hasher{}); err != nil {
		return nil, err
	}
	if err := u.IsValid(); err != nil {
		return nil, err
	}
	// The Users table's unique constraints (users_email_key,
	// users_username_key, users_authdata_key in the schema dump under
	// server/channels/db/migrations): the store maps email and username
	// violations to errors the app turns into these ids
	// (server/channels/app/user.go createUserOrGuest). A duplicate
	// AuthData, in any auth service, is not mapped: the app answers 500
	// app.user.save.app_error.
	// When several are violated, the fake reports them in this order
	// (the database reports whichever it checks first).
	if f.userWhere(func(o *model.User) bool { return o.Email == u.Email }) != nil {
		return nil, appErr("createUserOrGuest", "app.user.save.email_exists.app_error", "An account with that email already exists.", http.StatusBadRequest)
	}
	if f.userWhere(func(o *model.User) bool { return o.Username == u.Username }) != nil {
		return nil, appErr("createUserOrGuest", "app.user.save.username_exists.app_error", "An account with that username already exists.", http.StatusBadRequest)
	}
	if u.AuthData != nil && f.userWhere(func(o *model.User) bool { return o.AuthData != nil && *o.AuthData == *u.AuthData }) != nil {
		return nil, appErr("createUserOrGuest", "app.user.save.app_error", "Unable to save the account.", http.StatusInternalServerError)
	}
	f.users[u.Id] = u
	return u, nil
}

// getUser is GET /users/{id}: an id that is not 26 characters of
// Mattermost's alphabet is a bad URL parameter (server/channels/web/context.go
// RequireUserId).
func (f *Fake) getUser(c *call, id string) {
	if !model.IsValidId(id) {
		writeErr(c.w, invalidURLParam("user_id"))
		return
	}
	u := f.users[id]
	if u == nil {
		writeErr(c.w, missingAccount())
		return
	}
	f.writeUser(c, u)
}

// getUserByEmail is GET /users/email/{email}: the email is lowercased,
// then must be valid (server/channels/web/context.go SanitizeEmail);
// deactivated users are found too (the store's GetByEmail does not filter
// on DeleteAt).
func (f *Fake) getUserByEmail(c *call, email string) {
	email = model.NormalizeEmail(email)
	if !model.IsValidEmail(email) {
		writeErr(c.w, invalidURLParam("email"))
		return
	}
	for _, u := range f.users {
		if u.Email == email {
			f.writeUser(c, u)
			return
		}
	}
	writeErr(c.w, missingAccount())
}

// getUserByUsername is GET /users/username/{username}.
func (f *Fake) getUserByUsername(c *call, name string) {
	if !model.IsValidUsername(name) {
		writeErr(c.w, invalidURLParam("username"))
		return
	}
	name = model.NormalizeUsername(name)
	for _, u := range f.users {
		if u.Username == name {
			f.writeUser(c, u)
			return
		}
	}
	writeErr(c.w, missingAccount())
}

// patchUser is PUT /users/{id}/patch (server/channels/api4/user.go
// patchUser; app CheckProviderAttributes: the names of a user who signs in
// through OAuth, and the username of any SSO user, belong to the provider:
// 409).
func (f *Fake) patchUser(c *call, id string) {
	var patch model.UserPatch
	if !c.decode("user", &patch) {
		return
	}
	if c.session.Id != id && !c.requireAdmin() {
		return
	}
	u := f.users[id]
	if u == nil {
		writeErr(c.w, invalidParam("user_id"))
		return
	}
	changes := func(cur string, p *string) bool { return p != nil && *p != cur }
	if (u.AuthService != "" && changes(u.Username, patch.Username)) ||
		(u.IsOAuthUser() && (changes(u.FirstName, patch.FirstName) || changes(u.LastName, patch.LastName))) {
		writeErr(c.w, appErr("patchUser", "api.user.patch_user.login_provider_attribute_set.app_error",
			"Field must be set through the user's login provider.", http.StatusConflict))
		return
	}
	next := u.DeepCopy()
	next.Patch(&patch)
	next.PreUpdate()
	if err := next.IsValid(); err != nil {
		writeErr(c.w, err)
		return
	}
	if f.userWhere(func(o *model.User) bool { return o.Id != id && o.Email == next.Email }) != nil {
		writeErr(c.w, appErr("UpdateUser", "app.user.save.email_exists.app_error", "An account with that email already exists.", http.StatusBadRequest))
		return
	}
	if f.userWhere(func(o *model.User) bool { return o.Id != id && o.Username == next.Username }) != nil {
		writeErr(c.w, appErr("UpdateUser", "app.user.save.username_exists.app_error", "An account with that username already exists.", http.StatusBadRequest))
		return
	}
	f.users[id] = next
	f.writeUser(c, next)
}

// updateUserActive is PUT /users/{id}/active with {"active": bool}
// (server/channels/api4/user.go updateUserActive; app UpdateActive sets or
// clears DeleteAt and revokes the user's sessions, which the fake does by
// refusing a deactivated user's tokens).
func (f *Fake) updateUserActive(c *call, id string) {
	var props map[string]any
	if !c.decode("active", &props) {
		return
	}
	active, ok := props["active"].(bool)
	if !ok {
		writeErr(c.w, invalidParam("active"))
		return
	}
	if !model.IsValidId(id) {
		writeErr(c.w, invalidURLParam("user_id"))
		return
	}
	if !c.isAdmin() {
		writeErr(c.w, appErr("updateUserActive", "api.user.update_active.permissions.app_error", "You do not have the appropriate permissions.", http.StatusForbidden))
		return
	}
	u := f.users[id]
	if u == nil {
		writeErr(c.w, missingAccount())
		return
	}
	next := u.DeepCopy()
	if active {
		next.DeleteAt = 0
	} else {
		next.DeleteAt = model.GetMillis()
	}
	next.UpdateAt = model.GetMillis()
	f.users[id] = next
	writeOK(c.w)
}

// updateUserAuth is PUT /users/{id}/auth (server/channels/api4/user.go
// updateUserAuth; store UpdateAuthData clears the password and sets the
// service and data; a duplicate AuthData is 400
// app.user.update_auth_data.email_exists.app_error). The store's UPDATE of
// an id that does not exist changes nothing and is no error, so neither is
// it here.
func (f *Fake) updateUserAuth(c *call, id string) {
	if !c.requireAdmin() {
		return
	}
	if !model.IsValidId(id) {
		writeErr(c.w, invalidURLParam("user_id"))
		return
	}
	var ua model.UserAuth
	if !c.decode("user", &ua) {
		return
	}
	if ua.AuthData == nil || *ua.AuthData == "" || ua.AuthService == "" {
		writeErr(c.w, appErr("updateUserAuth", "api.user.update_user_auth.invalid_request", "Invalid request: auth data and auth service are required.", http.StatusBadRequest))
		return
	}
	for _, o := range f.users {
		if o.Id != id && o.AuthData != nil && *o.AuthData == *ua.AuthData {
			writeErr(c.w, appErr("UpdateUserAuth", "app.user.update_auth_data.email_exists.app_error", "Unable to switch the account: the email or auth data is in use.", http.StatusBadRequest))
			return
		}
	}
	if u := f.users[id]; u != nil {
		next := u.DeepCopy()
		next.Password = ""
		next.FailedAttempts = 0
		next.AuthService = ua.AuthService
		next.AuthData = model.NewPointer(*ua.AuthData)
		next.UpdateAt = model.GetMillis()
		next.LastPasswordUpdate = next.UpdateAt
		f.users[id] = next
	}
	writeJSON(c.w, http.StatusOK, &ua)
}

// userWhere returns a user for which match is true, or nil, under f.mu.
func (f *Fake) userWhere(match func(*model.User) bool) *model.User {
	for _, u := range f.users {
		if match(u) {
			return u
		}
	}
	return nil
}

// sortedUserIDs returns the ids of members, sorted (Mattermost orders
// member listings by user id).
func sortedUserIDs[M any](members map[string]M) []string {
	ids := make([]string, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
