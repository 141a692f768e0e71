package coderfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"
)

// userParamLocked finds the {user} of the path as Coder does
// (coderd/httpmw/userparam.go: ExtractUserContext): "me", a uuid (a
// deleted account included) or a username, compared without case among
// accounts that are not deleted. A caller who is not an admin sees only
// themselves.
func (f *Fake) userParamLocked(r *http.Request) *user {
	arg := r.PathValue("user")
	me := caller(r)
	var found *user
	switch id, err := uuid.Parse(arg); {
	case arg == codersdk.Me:
		found = me
	case err == nil:
		found = f.users[id]
	default:
		found = f.byUsernameLocked(arg)
	}
	if found != nil && !isAdmin(me) && found.ID != me.ID {
		return nil
	}
	return found
}

func (f *Fake) byUsernameLocked(name string) *user {
	for _, u := range f.users {
		if !u.deleted && strings.EqualFold(u.Username, name) {
			return u
		}
	}
	return nil
}

// byEmailOrUsernameLocked is Coder's GetUserByEmailOrUsername
// (coderd/database/queries/users.sql): username or, when email is not
// empty, email, both without case, among accounts that are not deleted.
func (f *Fake) byEmailOrUsernameLocked(name, email string) *user {
	for _, u := range f.users {
		if u.deleted {
			continue
		}
		if strings.EqualFold(u.Username, name) || (email != "" && strings.EqualFold(u.Email, email)) {
			return u
		}
	}
	return nil
}

// getUser answers GET /api/v2/users/{user} (coderd/users.go: userByName).
func (f *Fake) getUser(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.userParamLocked(r)
	if u == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	write(w, http.StatusOK, f.sdkUserLocked(u))
}

// userFilter is a parsed q= of GET /api/v2/users.
type userFilter struct {
	search, name string
	status       []codersdk.UserStatus
	loginType    []codersdk.LoginType
}

// parseUserQuery parses q= as Coder does (coderd/searchquery/search.go:
// Users, searchTerms): lowercased, split on spaces; "key:value" elements
// set a filter, other elements are searched for.
func parseUserQuery(q string) (userFilter, []codersdk.ValidationError) {
	var flt userFilter
	values := url.Values{}
	for _, el := range strings.Fields(strings.ToLower(q)) {
		if strings.HasPrefix(el, ":") || strings.HasSuffix(el, ":") {
			return flt, []codersdk.ValidationError{{Field: "q", Detail: fmt.Sprintf("Query element %q cannot start or end with ':'", el)}}
		}
		parts := strings.Split(el, ":")
		switch len(parts) {
		case 1:
			values.Add("search", el)
		case 2:
			values.Add(parts[0], parts[1])
		default:
			return flt, []codersdk.ValidationError{{Field: "q", Detail: fmt.Sprintf("Query element %q can only contain 1 ':'", el)}}
		}
	}
	var errs []codersdk.ValidationError
	for k, vs := range values {
		switch k {
		case "search":
			flt.search = vs[0]
		case "name":
			flt.name = vs[0]
		case "status":
			for _, v := range vs {
				for s := range strings.SplitSeq(v, ",") {
					switch st := codersdk.UserStatus(s); st {
					case codersdk.UserStatusActive, codersdk.UserStatusDormant, codersdk.UserStatusSuspended:
						flt.status = append(flt.status, st)
					default:
						errs = append(errs, codersdk.ValidationError{Field: "status", Detail: fmt.Sprintf("Query param %q has invalid values: %q is not a valid value", k, s)})
					}
				}
			}
		case "login_type":
			for _, v := range vs {
				for s := range strings.SplitSeq(v, ",") {
					flt.loginType = append(flt.loginType, codersdk.LoginType(s))
				}
			}
		default:
			// coderd/httpapi/queryparams.go: ErrorExcessParams.
			errs = append(errs, codersdk.ValidationError{Field: k, Detail: fmt.Sprintf("%q is not a valid query param", k)})
		}
	}
	return flt, errs
}

func (flt userFilter) match(u *user) bool {
	// ILIKE '%search%' on email or username (coderd/database/queries/users.sql: GetUsers).
	if flt.search != "" && !strings.Contains(strings.ToLower(u.Email), flt.search) &&
		!strings.Contains(strings.ToLower(u.Username), flt.search) {
		return false
	}
	if flt.name != "" && !strings.Contains(strings.ToLower(u.Name), flt.name) {
		return false
	}
	if len(flt.status) > 0 && !slices.Contains(flt.status, u.Status) {
		return false
	}
	if len(flt.loginType) > 0 && !slices.Contains(flt.loginType, u.LoginType) {
		return false
	}
	return true
}

// pagination parses after_id, limit and offset (coderd/pagination.go:
// ParsePagination); a limit of 0 means no limit.
func pagination(q url.Values) (afterID uuid.UUID, limit, offset int, errs []codersdk.ValidationError) {
	if v := q.Get("after_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			errs = append(errs, codersdk.ValidationError{Field: "after_id", Detail: fmt.Sprintf("Query param %q must be a valid uuid", "after_id")})
		}
		afterID = id
	}
	positive := func(name string) int {
		v := q.Get(name)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err == nil && n < 0 {
			err = fmt.Errorf("value is negative")
		}
		if err != nil {
			errs = append(errs, codersdk.ValidationError{Field: name,
				Detail: fmt.Sprintf("Query param %q must be a valid 32-bit positive integer: %s", name, err.Error())})
		}
		return int(n)
	}
	return afterID, positive("limit"), positive("offset"), errs
}

// listUsers answers GET /api/v2/users (coderd/users.go: users, GetUsers):
// accounts that are not deleted, ordered by username without case, with
// the total count before paging. A caller who is not an admin sees only
// themselves.
func (f *Fake) listUsers(w http.ResponseWriter, r *http.Request) {
	flt, errs := parseUserQuery(r.URL.Query().Get("q"))
	if len(errs) > 0 {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Invalid user search query.", Validations: errs})
		return
	}
	afterID, limit, offset, errs := pagination(r.URL.Query())
	if len(errs) > 0 {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Query parameters have invalid values.", Validations: errs})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	me := caller(r)
	var after string
	if afterID != uuid.Nil {
		if u, ok := f.users[afterID]; ok {
			after = strings.ToLower(u.Username)
		}
	}
	var matched []*user
	for _, u := range f.sortedUsersLocked() {
		if !isAdmin(me) && u.ID != me.ID {
			continue
		}
		if after != "" && strings.ToLower(u.Username) <= after {
			continue
		}
		if flt.match(u) {
			matched = append(matched, u)
		}
	}
	resp := codersdk.GetUsersResponse{Users: []codersdk.User{}, Count: len(matched)}
	if offset < len(matched) {
		matched = matched[offset:]
	} else {
		matched = nil
	}
	if limit > 0 && len(matched) > limit {
		matched = matched[:limit]
	}
	for _, u := range matched {
		resp.Users = append(resp.Users, f.sdkUserLocked(u))
	}
	if len(resp.Users) == 0 {
		resp.Count = 0 // GetUsers counts with a window function: no row, no count
	}
	write(w, http.StatusOK, resp)
}

// validateCreate applies the struct tags of
// codersdk.CreateUserRequestWithOrgs as coderd/httpapi/httpapi.go: Read
// reports them.
func validateCreate(req codersdk.CreateUserRequestWithOrgs) []codersdk.ValidationError {
	var errs []codersdk.ValidationError
	fail := func(field, tag, value string) {
		errs = append(errs, codersdk.ValidationError{Field: field,
			Detail: fmt.Sprintf("Validation failed for tag %q with value: \"%v\"", tag, value)})
	}
	switch {
	case req.Email == "" && !req.ServiceAccount:
		fail("email", "required_unless", req.Email)
	case req.Email != "" && !validEmail(req.Email):
		fail("email", "email", req.Email)
	}
	switch {
	case req.Username == "":
		fail("username", "required", req.Username)
	case codersdk.NameValid(req.Username) != nil:
		fail("username", "username", req.Username)
	}
	if codersdk.UserRealNameValid(req.Name) != nil {
		fail("name", "user_real_name", req.Name)
	}
	return errs
}

// validEmail approximates the "email" validation of
// go-playground/validator: one address, nothing around it.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && !strings.ContainsAny(s, " <>")
}

// postUser answers POST /api/v2/users (coderd/users.go: postUser,
// CreateUser).
func (f *Fake) postUser(w http.ResponseWriter, r *http.Request) {
	var req codersdk.CreateUserRequestWithOrgs
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Request body must be valid JSON.", Detail: err.Error()})
		return
	}
	if errs := validateCreate(req); len(errs) > 0 {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Validation failed.", Validations: errs})
		return
	}
	if req.ServiceAccount {
		if req.UserLoginType != "" && req.UserLoginType != codersdk.LoginTypeNone {
			write(w, http.StatusBadRequest, codersdk.Response{Message: "Service accounts must use login type 'none'."})
			return
		}
		if req.Password != "" {
			write(w, http.StatusBadRequest, codersdk.Response{Message: "Password cannot be set for service accounts."})
			return
		}
		if req.Email != "" {
			write(w, http.StatusBadRequest, codersdk.Response{Message: "Email cannot be set for service accounts."})
			return
		}
		req.UserLoginType = codersdk.LoginTypeNone
		if !f.opts.Premium {
			write(w, http.StatusForbidden, codersdk.Response{
				Message: fmt.Sprintf("%s is a Premium feature. Contact sales!", codersdk.FeatureServiceAccounts.Humanize())})
			return
		}
	} else if req.UserLoginType == "" {
		req.UserLoginType = codersdk.LoginTypePassword
	}
	if !req.ServiceAccount && req.UserLoginType == codersdk.LoginTypeNone {
		write(w, http.StatusBadRequest, codersdk.Response{Message: "Login type 'none' requires a service account."})
		return
	}
	if req.UserLoginType != codersdk.LoginTypePassword && req.Password != "" {
		write(w, http.StatusBadRequest, codersdk.Response{
			Message: fmt.Sprintf("Password cannot be set for non-password (%q) authentication.", req.UserLoginType)})
		return
	}
	if len(req.OrganizationIDs) == 0 {
		write(w, http.StatusBadRequest, codersdk.Response{
			Message:     "No organization specified to place the user as a member of. It is required to specify at least one organization id to place the user in.",
			Detail:      "required at least 1 value for the array 'organization_ids'",
			Validations: []codersdk.ValidationError{{Field: "organization_ids", Detail: "Missing values, this cannot be empty"}},
		})
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byEmailOrUsernameLocked(req.Username, req.Email) != nil {
		write(w, http.StatusConflict, codersdk.Response{Message: "User already exists."})
		return
	}
	orgs := make([]uuid.UUID, 0, len(req.OrganizationIDs))
	for _, id := range req.OrganizationIDs {
		o := f.orgs[0]
		if id != uuid.Nil {
			o = f.orgByIDLocked(id)
		}
		if o == nil {
			write(w, http.StatusNotFound, codersdk.Response{Message: fmt.Sprintf("Organization does not exist with the provided id %q.", id)})
			return
		}
		if !slices.Contains(orgs, o.ID) {
			orgs = append(orgs, o.ID)
		}
	}
	switch req.UserLoginType {
	case codersdk.LoginTypeNone, codersdk.LoginTypeGithub:
	case codersdk.LoginTypePassword:
		if err := validatePassword(req.Password); err != nil {
			write(w, http.StatusBadRequest, codersdk.Response{Message: "Password is invalid",
				Validations: []codersdk.ValidationError{{Field: "password", Detail: err.Error()}}})
			return
		}
	case codersdk.LoginTypeOIDC:
		if !f.opts.OIDC {
			write(w, http.StatusBadRequest, codersdk.Response{Message: "You must configure OIDC before creating OIDC users."})
			return
		}
	default:
		write(w, http.StatusBadRequest, codersdk.Response{
			Message: fmt.Sprintf("Unsupported login type %q for manually creating new users.", req.UserLoginType)})
		return
	}
	status := codersdk.UserStatusDormant // coderd/database/queries/users.sql: InsertUser
	if req.UserStatus != nil && *req.UserStatus != "" {
		status = *req.UserStatus
	}
	u := f.addUserLocked(Seed{
		Username: req.Username, Email: req.Email, Name: codersdk.NormalizeRealUsername(req.Name),
		LoginType: req.UserLoginType, Password: req.Password, Status: status,
		Roles: req.Roles, Organizations: orgs,
	})
	u.IsServiceAccount = req.ServiceAccount
	u.LastSeenAt = time.Time{}
	write(w, http.StatusCreated, f.sdkUserLocked(u))
}

// putStatus answers PUT /api/v2/users/{user}/status/suspend and
// .../activate (coderd/users.go: putUserStatus).
func (f *Fake) putStatus(status codersdk.UserStatus) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		u := f.userParamLocked(r)
		if u == nil {
			write(w, http.StatusNotFound, resourceNotFound)
			return
		}
		if status == codersdk.UserStatusSuspended {
			switch {
			case u.ID == caller(r).ID:
				write(w, http.StatusBadRequest, codersdk.Response{Message: "You cannot suspend yourself."})
				return
			case slices.ContainsFunc(u.Roles, func(r codersdk.SlimRole) bool { return r.Name == codersdk.RoleOwner }):
				write(w, http.StatusBadRequest, codersdk.Response{
					Message: fmt.Sprintf("You cannot suspend a user with the %q role. You must remove the role first.", codersdk.RoleOwner)})
				return
			}
		}
		// A suspended account keeps everything else: its organizations,
		// groups, workspaces.
		u.Status = status
		u.UpdatedAt = time.Now().UTC()
		write(w, http.StatusOK, f.sdkUserLocked(u))
	}
}

// postOrganizationMember answers POST
// /api/v2/organizations/{organization}/members/{user}
// (coderd/members.go: postOrganizationMember).
func (f *Fake) postOrganizationMember(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgParamLocked(r)
	u := f.userParamLocked(r)
	if o == nil || u == nil {
		write(w, http.StatusNotFound, resourceNotFound)
		return
	}
	if slices.Contains(u.OrganizationIDs, o.ID) {
		write(w, http.StatusBadRequest, codersdk.Response{
			Message: "User is already an organization member",
			Detail:  fmt.Sprintf("%s is already a member of %s", u.Username, o.DisplayName),
		})
		return
	}
	u.OrganizationIDs = append(u.OrganizationIDs, o.ID)
	now := time.Now().UTC()
	write(w, http.StatusOK, codersdk.OrganizationMemberWithUserData{
		Username: u.Username, Name: u.Name, Email: u.Email, Status: u.Status, LoginType: u.LoginType,
		LastSeenAt: u.LastSeenAt, UserCreatedAt: u.CreatedAt, UserUpdatedAt: u.UpdatedAt,
		GlobalRoles: slices.Clone(u.Roles),
		OrganizationMember: codersdk.OrganizationMember{
			UserID: u.ID, OrganizationID: o.ID, CreatedAt: now, UpdatedAt: now, Roles: []codersdk.SlimRole{},
		},
	})
}

// validatePassword approximates coderd/userpassword.Validate: at least
// 52 bits of entropy as github.com/wagslane/go-password-validator counts
// them (the size of the character classes used, to the power of the
// length, runs of one character counted at most twice), and at most 64
// characters.
func validatePassword(pw string) error {
	var lower, upper, digit, special, other bool
	length := 0
	var prev rune
	run := 0
	for _, r := range pw {
		if r == prev {
			run++
		} else {
			prev, run = r, 1
		}
		if run <= 2 {
			length++
		}
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r < unicode.MaxASCII && unicode.IsPrint(r):
			special = true
		default:
			other = true
		}
	}
	base := 0
	for _, c := range []struct {
		on   bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {special, 33}, {other, 1}} {
		if c.on {
			base += c.size
		}
	}
	if base == 0 || math.Log2(float64(base))*float64(length) < 52 {
		return fmt.Errorf("insecure password, try including more special characters, using uppercase letters, using numbers or using a longer password")
	}
	if len(pw) > 64 {
		return fmt.Errorf("password must be no more than %d characters", 64)
	}
	return nil
}
