package gitea

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/scimbridge/scimbridge/fanout"
)

// found says how findUser found an account.
type found int

const (
	foundBySubject  found = iota + 1 // source_id and login_name
	foundByRemoteID                  // the id of last time
	foundByUsername                  // adopted
	foundByEmail                     // adopted
)

// EnsureUser converges u's Gitea account (see the package documentation):
// it finds, adopts or creates the account linked to u's OIDC subject,
// updates its email, full name and prohibit_login, and on u.Deleted
// suspends it (or deletes it, with onDelete: delete) and removes it from
// the organization's teams. The result's RemoteID is Gitea's numeric user
// id in decimal ("" after a deletion, or for a deleted user without an
// account). It is idempotent; a user without a subject, and an account
// that belongs to someone else, give terminal errors.
func (c *Connector) EnsureUser(ctx context.Context, u fanout.User) (fanout.Result, error) {
	c.ensuring.Add(1)
	defer c.ensuring.Add(-1)
	subject, err := c.subject(u)
	if err != nil {
		return fanout.Result{}, err
	}
	if subject != strings.TrimSpace(subject) {
		// Gitea trims the login_name of a search, so it could never be
		// found again and would be created on every pass.
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("gitea: user %q: the subject has leading or trailing white space", u.UserName))
	}
	if u.Deleted {
		return c.removeUser(ctx, u, subject)
	}
	if subject == "" {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("gitea: user %q has no %s (the OIDC subject)", u.UserName, c.subjectAttributeName()))
	}

	// The link (and the id of last time) first; an account to adopt by
	// username or email is looked for only when creating collides with
	// one (Gitea answers 422). The link is looked up in the index, so a
	// new user costs a create and a share of one listing.
	acct, how, err := c.findUser(ctx, u, subject, false)
	if err != nil {
		return fanout.Result{}, err
	}
	var notes []string
	if acct == nil {
		var created bool
		acct, how, created, err = c.createUser(ctx, u, subject)
		if err != nil {
			return fanout.Result{}, err
		}
		if created {
			notes = append(notes, "created account "+acct.UserName)
			c.log.InfoContext(ctx, "created account", "user", u.UserName, "account", acct.UserName, "account_id", acct.ID)
		}
	}
	switch {
	case how == 0:
	case how == foundByUsername || how == foundByEmail:
		by := map[found]string{foundByUsername: "username", foundByEmail: "email"}[how]
		notes = append(notes, fmt.Sprintf("adopted existing account %s (by %s)", acct.UserName, by))
		c.log.InfoContext(ctx, "adopting account", "user", u.UserName, "account", acct.UserName, "account_id", acct.ID, "by", by)
	case how == foundByRemoteID:
		notes = append(notes, fmt.Sprintf("relinked account %s to the user's new subject", acct.UserName))
	case how == foundBySubject && u.RemoteID != strconv.FormatInt(acct.ID, 10):
		notes = append(notes, fmt.Sprintf("linked existing account %s (found by subject)", acct.UserName))
	}

	changed, err := c.updateUser(ctx, acct, u, subject)
	if err != nil {
		return fanout.Result{}, err
	}
	if len(changed) > 0 && how != foundByUsername && how != foundByEmail {
		notes = append(notes, fmt.Sprintf("updated account %s: %s", acct.UserName, strings.Join(changed, ", ")))
	}
	return fanout.Result{RemoteID: strconv.FormatInt(acct.ID, 10), Note: strings.Join(notes, "; ")}, nil
}

func (c *Connector) subjectAttributeName() string {
	if c.subjectPath == nil {
		return "externalId"
	}
	return c.cfg.SubjectAttribute
}

// findUser looks for u's account: by subject, by the id of last time and,
// when adopt is true, by username and email. It returns nil when there
// is none, and a terminal error when the account it finds belongs to
// another identity.
func (c *Connector) findUser(ctx context.Context, u fanout.User, subject string, adopt bool) (*sdk.User, found, error) {
	if subject != "" {
		// After a collision (adopt), Gitea is searched directly: that
		// path is rare and must not depend on the index.
		find := c.userBySubjectIndexed
		if adopt {
			find = c.userBySubject
		}
		acct, err := find(ctx, subject)
		if err != nil || acct != nil {
			return acct, foundBySubject, err
		}
	}
	if id, err := strconv.ParseInt(u.RemoteID, 10, 64); err == nil && id > 0 {
		acct, err := c.userByID(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		// Only while it is still bound to the auth source: an id alone
		// is no proof that the account is still this person's.
		if acct != nil && acct.SourceID == c.cfg.AuthSourceID {
			return acct, foundByRemoteID, nil
		}
	}
	if !adopt {
		return nil, 0, nil
	}

	name := username(u.UserName, u.Email, subject)
	byName, err := c.userByName(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	var byEmail *sdk.User
	if u.Email != "" {
		if byEmail, err = c.userByEmail(ctx, u.Email); err != nil {
			return nil, 0, err
		}
	}
	var acct *sdk.User
	var how found
	switch {
	case byName != nil && byEmail != nil && byName.ID != byEmail.ID:
		return nil, 0, fanout.Terminal(fmt.Errorf("gitea: user %q: username %q is account %d but email %q is account %d (%s); not adopting either",
			u.UserName, byName.UserName, byName.ID, u.Email, byEmail.ID, byEmail.UserName))
	case byName != nil:
		acct, how = byName, foundByUsername
	case byEmail != nil:
		acct, how = byEmail, foundByEmail
	default:
		return nil, 0, nil
	}
	if err := c.adoptable(acct, u, subject); err != nil {
		return nil, 0, err
	}
	return acct, how, nil
}

// adoptable refuses to link an account that is someone else's.
func (c *Connector) adoptable(acct *sdk.User, u fanout.User, subject string) error {
	switch {
	case acct.IsAdmin:
		return fanout.Terminal(fmt.Errorf("gitea: user %q: matching account %q is a site administrator; link it by hand (source_id %d, login_name = the subject) if it is theirs",
			u.UserName, acct.UserName, c.cfg.AuthSourceID))
	case acct.SourceID == 0:
		return nil // a local account
	case acct.SourceID == c.cfg.AuthSourceID && (acct.LoginName == "" || acct.LoginName == subject):
		return nil // bound to our source, its login name lost
	default:
		return fanout.Terminal(fmt.Errorf("gitea: user %q: account %q is linked to another identity (auth source %d, login name %q); not taking it over",
			u.UserName, acct.UserName, acct.SourceID, acct.LoginName))
	}
}

// userBySubjectIndexed finds the account an OIDC login with subject
// lands in through the index, and reads it. When the index is wrong about
// it (the account was deleted or relinked since it was listed), or names
// two accounts, Gitea is searched directly.
func (c *Connector) userBySubjectIndexed(ctx context.Context, subject string) (*sdk.User, error) {
	es, ok, err := c.indexedBySubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	if !ok {
		return c.userBySubject(ctx, subject)
	}
	if len(es) == 0 {
		return nil, nil
	}
	if len(es) == 1 {
		acct, err := c.userByID(ctx, es[0].id)
		if err != nil {
			return nil, err
		}
		if acct != nil && acct.SourceID == c.cfg.AuthSourceID && acct.LoginName == subject {
			return acct, nil
		}
		c.forget(es[0].id)
	}
	return c.userBySubject(ctx, subject)
}

// userBySubject searches Gitea for the account an OIDC login with subject
// lands in.
func (c *Connector) userBySubject(ctx context.Context, subject string) (*sdk.User, error) {
	var matches []*sdk.User
	err := c.eachPage(ctx, "find user by subject", func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		users, resp, err := api.AdminListUsers(sdk.AdminListUsersOptions{ListOptions: page, SourceID: c.cfg.AuthSourceID, LoginName: subject})
		for _, acct := range users {
			// The database may compare without case; Gitea's login does
			// not on every database, so only an exact match counts.
			if acct.SourceID == c.cfg.AuthSourceID && acct.LoginName == subject {
				matches = append(matches, acct)
			}
		}
		return resp, false, err
	})
	switch {
	case err != nil:
		return nil, err
	case len(matches) > 1:
		names := make([]string, len(matches))
		for i, m := range matches {
			names[i] = m.UserName
		}
		return nil, fanout.Terminal(fmt.Errorf("gitea: accounts %s are all linked to the same subject; keep one", strings.Join(names, ", ")))
	case len(matches) == 1:
		c.remember(matches[0], false)
		return matches[0], nil
	}
	return nil, nil
}

// userByID returns the account with that id, or nil.
func (c *Connector) userByID(ctx context.Context, id int64) (*sdk.User, error) {
	var acct *sdk.User
	err := c.call(ctx, fmt.Sprintf("get user %d", id), func(api *sdk.Client) (*sdk.Response, error) {
		users, resp, err := api.SearchUsers(sdk.SearchUsersOption{UID: id})
		for _, u := range users {
			if u.ID == id {
				acct = u
			}
		}
		return resp, err
	})
	return acct, err
}

// userByName returns the individual account (not an organization) whose
// username is name, compared as Gitea does, without case.
func (c *Connector) userByName(ctx context.Context, name string) (*sdk.User, error) {
	var acct *sdk.User
	err := c.eachPage(ctx, fmt.Sprintf("find user %q", name), func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		users, resp, err := api.AdminListUsers(sdk.AdminListUsersOptions{ListOptions: page, Query: name})
		for _, u := range users {
			if strings.EqualFold(u.UserName, name) {
				acct = u
			}
		}
		return resp, acct != nil, err
	})
	return acct, err
}

// userByEmail returns the account that has email as its primary or a
// secondary address, compared without case, or nil.
func (c *Connector) userByEmail(ctx context.Context, email string) (*sdk.User, error) {
	var id int64
	err := c.eachPage(ctx, "find user by email", func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		emails, resp, err := api.SearchAdminEmails(sdk.SearchAdminEmailsOptions{ListOptions: page, Query: email})
		for _, e := range emails {
			if strings.EqualFold(e.Email, email) && e.UserID > 0 {
				id = e.UserID
			}
		}
		return resp, id != 0, err
	})
	if err != nil || id == 0 {
		return nil, err
	}
	return c.userByID(ctx, id)
}

// createUser creates u's account linked to subject. When Gitea answers
// 422 because the username or email is taken, or the account appeared
// meanwhile (a concurrent pass, or the person's own first login), the
// account is looked for by link, username and email and returned with how
// it was found and created false, if it may be adopted.
func (c *Connector) createUser(ctx context.Context, u fanout.User, subject string) (acct *sdk.User, how found, created bool, err error) {
	name := username(u.UserName, u.Email, subject)
	if u.Email == "" {
		return nil, 0, false, fanout.Terminal(fmt.Errorf("gitea: user %q has no email, which gitea requires to create account %q", u.UserName, name))
	}
	no := false
	opt := sdk.CreateUserOption{
		SourceID:           c.cfg.AuthSourceID,
		LoginName:          subject,
		Username:           name,
		FullName:           truncate(fullName(u), maxFullNameLen),
		Email:              u.Email,
		MustChangePassword: &no,
		SendNotify:         false,
		// No password: Gitea asks for one only for local accounts.
	}
	err = c.call(ctx, fmt.Sprintf("create user %q", name), func(api *sdk.Client) (resp *sdk.Response, err error) {
		acct, resp, err = api.AdminCreateUser(opt)
		return resp, err
	})
	if isStatus(err, http.StatusUnprocessableEntity) {
		again, how, ferr := c.findUser(ctx, u, subject, true)
		if ferr != nil {
			return nil, 0, false, ferr
		}
		if again != nil {
			return again, how, false, nil
		}
	}
	if err != nil {
		return nil, 0, false, err
	}
	c.remember(acct, true)
	return acct, 0, true, nil
}

// fullName is the name to show in Gitea: displayName, else the given and
// family names.
func fullName(u fanout.User) string {
	if n := strings.TrimSpace(u.DisplayName); n != "" {
		return n
	}
	return strings.TrimSpace(strings.TrimSpace(u.GivenName) + " " + strings.TrimSpace(u.FamilyName))
}

// updateUser edits what differs between acct and u, in one request, and
// returns what it changed. It always resends the link, because Gitea
// v1.26 refuses an edit without login_name (and older versions blanked
// it), and must_change_password false, which the API does not show.
func (c *Connector) updateUser(ctx context.Context, acct *sdk.User, u fanout.User, subject string) ([]string, error) {
	no := false
	prohibit := !u.Active
	opt := sdk.EditUserOption{
		SourceID:           c.cfg.AuthSourceID,
		LoginName:          subject,
		MustChangePassword: &no,
	}
	var changed []string
	if acct.SourceID != c.cfg.AuthSourceID || acct.LoginName != subject {
		changed = append(changed, "link")
	}
	if u.Email != "" && !strings.EqualFold(u.Email, acct.Email) {
		opt.Email = &u.Email
		changed = append(changed, "email")
	}
	if n := truncate(fullName(u), maxFullNameLen); n != "" && n != acct.FullName {
		opt.FullName = &n
		changed = append(changed, "full name")
	}
	if acct.ProhibitLogin != prohibit {
		opt.ProhibitLogin = &prohibit
		changed = append(changed, map[bool]string{true: "suspended", false: "reactivated"}[prohibit])
	}
	if len(changed) == 0 {
		return nil, nil
	}
	err := c.call(ctx, fmt.Sprintf("edit user %q", acct.UserName), func(api *sdk.Client) (*sdk.Response, error) {
		return api.AdminEditUser(acct.UserName, opt)
	})
	if err != nil {
		return nil, err
	}
	if changed[0] == "link" {
		c.remember(&sdk.User{ID: acct.ID, UserName: acct.UserName, SourceID: c.cfg.AuthSourceID, LoginName: subject}, false)
	}
	c.log.DebugContext(ctx, "edited account", "user", u.UserName, "account", acct.UserName, "changed", changed)
	return changed, nil
}

// removeUser handles a user deleted in SCIM: it suspends the account,
// removes it from the organization's teams and, with onDelete: delete,
// deletes it. Without an account linked to the user there is nothing to
// do: nothing is adopted or created for a deleted user.
func (c *Connector) removeUser(ctx context.Context, u fanout.User, subject string) (fanout.Result, error) {
	acct, _, err := c.findUser(ctx, u, subject, false)
	if err != nil || acct == nil {
		return fanout.Result{}, err
	}
	var notes []string
	if !acct.ProhibitLogin {
		yes := true
		opt := sdk.EditUserOption{
			// Keep the link as it is. Gitea v1.26 refuses an edit
			// without a login name (older versions blanked it).
			SourceID:      acct.SourceID,
			LoginName:     cmp.Or(acct.LoginName, subject),
			ProhibitLogin: &yes,
		}
		err := c.call(ctx, fmt.Sprintf("suspend user %q", acct.UserName), func(api *sdk.Client) (*sdk.Response, error) {
			return api.AdminEditUser(acct.UserName, opt)
		})
		if err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, "suspended account "+acct.UserName)
	}
	removed, err := c.leaveOrgTeams(ctx, acct.UserName)
	if err != nil {
		return fanout.Result{}, err
	}
	if len(removed) > 0 {
		notes = append(notes, fmt.Sprintf("removed %s from teams %s", acct.UserName, strings.Join(removed, ", ")))
	}
	remoteID := strconv.FormatInt(acct.ID, 10)
	if c.cfg.OnDelete == OnDeleteDelete {
		err := c.call(ctx, fmt.Sprintf("delete user %q", acct.UserName), func(api *sdk.Client) (*sdk.Response, error) {
			return api.AdminDeleteUser(acct.UserName)
		})
		if err != nil && !isStatus(err, http.StatusNotFound) {
			return fanout.Result{RemoteID: remoteID, Note: strings.Join(notes, "; ")}, err
		}
		notes = append(notes, "deleted account "+acct.UserName)
		c.forget(acct.ID)
		remoteID = ""
		c.log.InfoContext(ctx, "deleted account", "user", u.UserName, "account", acct.UserName, "account_id", acct.ID)
	}
	return fanout.Result{RemoteID: remoteID, Note: strings.Join(notes, "; ")}, nil
}

// leaveOrgTeams removes login from every team of the organization but its
// owners team, and returns the teams it left.
func (c *Connector) leaveOrgTeams(ctx context.Context, login string) ([]string, error) {
	var member bool
	err := c.call(ctx, fmt.Sprintf("check membership of %q in organization %q", login, c.cfg.Organization), func(api *sdk.Client) (resp *sdk.Response, err error) {
		member, resp, err = api.CheckOrgMembership(c.cfg.Organization, login)
		return resp, err
	})
	if err != nil || !member {
		return nil, err
	}
	teams, err := c.orgTeams(ctx)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, t := range teams {
		if isOwnerTeam(t) {
			continue
		}
		err := c.call(ctx, fmt.Sprintf("remove %q from team %q", login, t.Name), func(api *sdk.Client) (*sdk.Response, error) {
			_, resp, err := api.GetTeamMember(t.ID, login)
			if err != nil {
				return resp, err
			}
			return api.RemoveTeamMember(t.ID, login)
		})
		switch {
		case isStatus(err, http.StatusNotFound):
			continue // not a member
		case err != nil:
			return left, err
		}
		left = append(left, t.Name)
	}
	return left, nil
}
