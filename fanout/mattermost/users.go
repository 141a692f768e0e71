package mattermost

import (
	"context"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/fanout"
)

// found says how findUser found an account.
type found int

const (
	foundByRemoteID found = iota + 1 // the id of last time
	foundLinked                      // by email, already bound to AuthService
	foundAdopted                     // by email, a password account
)

// EnsureUser converges u's Mattermost account (see the package
// documentation): it finds, adopts or creates the account, binds it to
// AuthService with u's auth data, keeps its email and active state, and on
// u.Deleted deactivates it and removes it from Team. The result's RemoteID
// is Mattermost's user id ("" for a deleted user without an account). It
// is idempotent; a user without auth data or email, and an account that
// is someone else's, give terminal errors.
func (c *Connector) EnsureUser(ctx context.Context, u fanout.User) (fanout.Result, error) {
	authData, err := c.authData(u)
	if err != nil {
		return fanout.Result{}, err
	}
	if u.Deleted {
		return c.removeUser(ctx, u)
	}
	if authData == "" {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("mattermost: user %q has no %s (the identity the provider signs them in with)", u.UserName, c.authDataAttributeName()))
	}

	acct, how, err := c.findUser(ctx, u)
	if err != nil {
		return fanout.Result{}, err
	}
	var notes []string
	created := false
	if acct == nil {
		acct, how, created, err = c.createUser(ctx, u, authData)
		if err != nil {
			return fanout.Result{}, err
		}
	}
	switch {
	case created:
		notes = append(notes, "created account "+acct.Username)
		c.log.InfoContext(ctx, "created account", "user", u.UserName, "account", acct.Username, "account_id", acct.Id)
	case how == foundLinked && u.RemoteID != acct.Id:
		notes = append(notes, fmt.Sprintf("linked existing account %s (found by email, already signing in through %s)", acct.Username, c.cfg.AuthService))
		c.log.InfoContext(ctx, "linking account", "user", u.UserName, "account", acct.Username, "account_id", acct.Id)
	case how == foundAdopted:
		notes = append(notes, fmt.Sprintf("adopted existing account %s (by email); it signs in through %s from now on", acct.Username, c.cfg.AuthService))
		c.log.InfoContext(ctx, "adopting account", "user", u.UserName, "account", acct.Username, "account_id", acct.Id)
	}

	if !created {
		if err := c.link(ctx, acct, u, authData); err != nil {
			return fanout.Result{}, err
		}
		if u.Email != "" && !strings.EqualFold(u.Email, acct.Email) {
			if err := c.setEmail(ctx, acct, u.Email); err != nil {
				return fanout.Result{}, err
			}
			notes = append(notes, fmt.Sprintf("changed the email of %s", acct.Username))
		}
	}
	if active := acct.DeleteAt == 0; active != u.Active {
		if err := c.setActive(ctx, acct, u.Active); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, map[bool]string{true: "reactivated ", false: "deactivated "}[u.Active]+acct.Username)
	}
	return fanout.Result{RemoteID: acct.Id, Note: strings.Join(notes, "; ")}, nil
}

// findUser looks for u's account by the id of last time, then by email.
// It returns nil when there is none, and a terminal error when the account
// it finds by email may not be taken over.
func (c *Connector) findUser(ctx context.Context, u fanout.User) (*model.User, found, error) {
	if model.IsValidId(u.RemoteID) {
		acct, err := c.userByID(ctx, u.RemoteID)
		if err != nil {
			return nil, 0, err
		}
		// Only while it is still bound to AuthService: an id alone is no
		// proof that the account is still this person's.
		if acct != nil && acct.AuthService == c.cfg.AuthService {
			return acct, foundByRemoteID, nil
		}
	}
	if u.Email == "" {
		return nil, 0, nil
	}
	acct, err := c.userByEmail(ctx, u.Email)
	if err != nil || acct == nil {
		return nil, 0, err
	}
	how, err := c.adoptable(acct, u)
	if err != nil {
		return nil, 0, err
	}
	return acct, how, nil
}

// adoptable says how an account found by u's email may be linked, or
// refuses it with a terminal error.
func (c *Connector) adoptable(acct *model.User, u fanout.User) (found, error) {
	switch {
	case acct.IsBot:
		return 0, fanout.Terminal(fmt.Errorf("mattermost: user %q: the account with email %s is the bot %q; not taking it over", u.UserName, u.Email, acct.Username))
	case acct.AuthService == c.cfg.AuthService:
		return foundLinked, nil
	case acct.IsSystemAdmin():
		return 0, fanout.Terminal(fmt.Errorf("mattermost: user %q: matching account %q is a system administrator who signs in with a password; bind it to %s by hand (System Console or mmctl user migrate-auth) if it is theirs",
			u.UserName, acct.Username, c.cfg.AuthService))
	case acct.AuthService == "" || acct.AuthService == model.UserAuthServiceEmail:
		return foundAdopted, nil
	default:
		return 0, fanout.Terminal(fmt.Errorf("mattermost: user %q: account %q with email %s signs in through %s, not %s; not taking it over",
			u.UserName, acct.Username, u.Email, acct.AuthService, c.cfg.AuthService))
	}
}

// userByID returns the account with that id, or nil.
func (c *Connector) userByID(ctx context.Context, id string) (*model.User, error) {
	var acct *model.User
	err := c.call(ctx, "get user "+id, func(ctx context.Context) (resp *model.Response, err error) {
		acct, resp, err = c.api.GetUser(ctx, id, "")
		return resp, err
	})
	if isNotFound(err) {
		return nil, nil
	}
	return acct, err
}

// userByEmail returns the account with that email (compared without
// case by Mattermost), deactivated or not, or nil.
func (c *Connector) userByEmail(ctx context.Context, email string) (*model.User, error) {
	var acct *model.User
	err := c.call(ctx, "find user by email", func(ctx context.Context) (resp *model.Response, err error) {
		acct, resp, err = c.api.GetUserByEmail(ctx, email, "")
		return resp, err
	})
	if isNotFound(err) {
		return nil, nil
	}
	return acct, err
}

// userByUsername returns the account with that username, or nil.
func (c *Connector) userByUsername(ctx context.Context, name string) (*model.User, error) {
	var acct *model.User
	err := c.call(ctx, fmt.Sprintf("find user %q", name), func(ctx context.Context) (resp *model.Response, err error) {
		acct, resp, err = c.api.GetUserByUsername(ctx, name, "")
		return resp, err
	})
	if isNotFound(err) {
		return nil, nil
	}
	return acct, err
}

// createUser creates u's account bound to AuthService with authData. When
// Mattermost answers that the email is taken (the account appeared since
// findUser looked, or by the person's own first sign-in), that account is
// returned, created false, if it may be linked; so is the holder of a
// taken username that has u's email. A username taken by an account with
// another email is a terminal conflict that names it.
func (c *Connector) createUser(ctx context.Context, u fanout.User, authData string) (acct *model.User, how found, created bool, err error) {
	name := username(u.UserName, u.Email, authData)
	if u.Email == "" {
		return nil, 0, false, fanout.Terminal(fmt.Errorf("mattermost: user %q has no email, which mattermost requires to create account %q", u.UserName, name))
	}
	first, last := strings.TrimSpace(u.GivenName), strings.TrimSpace(u.FamilyName)
	if first == "" && last == "" {
		first = strings.TrimSpace(u.DisplayName)
	}
	want := &model.User{
		Username:            name,
		Email:               u.Email,
		EmailVerified:       true,
		FirstName:           truncateRunes(first, maxUserNameRunes),
		LastName:            truncateRunes(last, maxUserNameRunes),
		AuthService:         c.cfg.AuthService,
		AuthData:            model.NewPointer(authData),
		DisableWelcomeEmail: true,
		// No password: the account signs in through AuthService only.
	}
	err = c.call(ctx, fmt.Sprintf("create user %q", name), func(ctx context.Context) (resp *model.Response, err error) {
		acct, resp, err = c.api.CreateUser(ctx, want)
		return resp, err
	})
	switch {
	case err == nil:
		return acct, 0, true, nil
	case isAppError(err, idEmailExists):
		again, ferr := c.userByEmail(ctx, u.Email)
		if ferr != nil {
			return nil, 0, false, ferr
		}
		if again == nil {
			return nil, 0, false, err
		}
		how, aerr := c.adoptable(again, u)
		if aerr != nil {
			return nil, 0, false, aerr
		}
		return again, how, false, nil
	case isAppError(err, idUsernameExists):
		holder, ferr := c.userByUsername(ctx, name)
		if ferr != nil {
			return nil, 0, false, ferr
		}
		if holder == nil {
			return nil, 0, false, err // gone since; the next pass creates it
		}
		if strings.EqualFold(holder.Email, u.Email) {
			// Made with u's email since findUser looked.
			how, aerr := c.adoptable(holder, u)
			if aerr != nil {
				return nil, 0, false, aerr
			}
			return holder, how, false, nil
		}
		return nil, 0, false, fanout.Terminal(fmt.Errorf("mattermost: user %q: username %q is taken by account %s (email %s); not sharing it: rename one of them",
			u.UserName, name, holder.Id, holder.Email))
	case isAppError(err, idSaveUser):
		// Mattermost answers a duplicate auth_data with this 500.
		return nil, 0, false, fmt.Errorf("%w (is another account already bound to this user's %s?)", err, c.authDataAttributeName())
	}
	return nil, 0, false, err
}

// link binds acct to AuthService with authData. It is written on every
// pass: the API never shows an account's auth_data, so whether it is
// already right cannot be read (see the package documentation).
func (c *Connector) link(ctx context.Context, acct *model.User, u fanout.User, authData string) error {
	ua := &model.UserAuth{AuthService: c.cfg.AuthService, AuthData: model.NewPointer(authData)}
	err := c.call(ctx, fmt.Sprintf("link user %q", acct.Username), func(ctx context.Context) (resp *model.Response, err error) {
		_, resp, err = c.api.UpdateUserAuth(ctx, acct.Id, ua)
		return resp, err
	})
	if isAppError(err, idAuthDataInUse) {
		return fanout.Terminal(fmt.Errorf("mattermost: user %q: another account is already bound to the same %s; keep one of the two accounts (this one is %s): %w",
			u.UserName, c.authDataAttributeName(), acct.Username, err))
	}
	return err
}

func (c *Connector) setEmail(ctx context.Context, acct *model.User, email string) error {
	return c.call(ctx, fmt.Sprintf("set email of %q", acct.Username), func(ctx context.Context) (resp *model.Response, err error) {
		_, resp, err = c.api.PatchUser(ctx, acct.Id, &model.UserPatch{Email: &email})
		return resp, err
	})
}

func (c *Connector) setActive(ctx context.Context, acct *model.User, active bool) error {
	op := map[bool]string{true: "reactivate", false: "deactivate"}[active]
	return c.call(ctx, fmt.Sprintf("%s user %q", op, acct.Username), func(ctx context.Context) (*model.Response, error) {
		return c.api.UpdateUserActive(ctx, acct.Id, active)
	})
}

// removeUser handles a user deleted in SCIM: it deactivates the account
// bound to AuthService (found by the id of last time, else by email) and
// removes it from Team, which removes it from the team's channels too.
// Without such an account there is nothing to do: nothing is adopted or
// created for a deleted user.
func (c *Connector) removeUser(ctx context.Context, u fanout.User) (fanout.Result, error) {
	var acct *model.User
	if model.IsValidId(u.RemoteID) {
		a, err := c.userByID(ctx, u.RemoteID)
		if err != nil {
			return fanout.Result{}, err
		}
		if a != nil && a.AuthService == c.cfg.AuthService {
			acct = a
		}
	}
	if acct == nil && u.Email != "" {
		a, err := c.userByEmail(ctx, u.Email)
		if err != nil {
			return fanout.Result{}, err
		}
		if a != nil && a.AuthService == c.cfg.AuthService {
			acct = a
		}
	}
	if acct == nil {
		return fanout.Result{}, nil
	}
	var notes []string
	if acct.DeleteAt == 0 {
		if err := c.setActive(ctx, acct, false); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, "deactivated "+acct.Username)
	}
	team, err := c.team(ctx)
	if err != nil {
		return fanout.Result{RemoteID: acct.Id, Note: strings.Join(notes, "; ")}, err
	}
	err = c.call(ctx, fmt.Sprintf("remove %q from team %q", acct.Username, team.Name), func(ctx context.Context) (*model.Response, error) {
		return c.api.RemoveTeamMember(ctx, team.Id, acct.Id)
	})
	switch {
	case isAppError(err, idNotTeamMember):
	case err != nil:
		return fanout.Result{RemoteID: acct.Id, Note: strings.Join(notes, "; ")}, err
	default:
		notes = append(notes, fmt.Sprintf("removed %s from team %s", acct.Username, team.Name))
	}
	return fanout.Result{RemoteID: acct.Id, Note: strings.Join(notes, "; ")}, nil
}
