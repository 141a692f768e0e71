package coder

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	"github.com/scimbridge/scimbridge/fanout"
)

// pageSize is how many users one search asks for.
const pageSize = 100

// maxPages stops a search that never ends.
const maxPages = 1000

// EnsureUser converges u's Coder account (see the package documentation):
// it finds by email, adopts or creates the OIDC account, adds it to the
// configured organizations it is missing from, and suspends or activates
// it; on u.Deleted it suspends the account linked last time. The result's
// RemoteID is Coder's user id. It is idempotent; a user without an email
// and an account that signs in otherwise than through OIDC give terminal
// errors.
func (c *Connector) EnsureUser(ctx context.Context, u fanout.User) (fanout.Result, error) {
	if u.Deleted {
		return c.suspendDeleted(ctx, u)
	}
	email, err := c.email(u)
	if err != nil {
		return fanout.Result{}, err
	}
	if email == "" {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("coder: user %q has no email, and coder links the first OIDC login by email", u.UserName))
	}
	if strings.ContainsAny(email, " \t\r\n:\"") {
		// Coder's user search splits its query on spaces, ':' and quotes.
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("coder: user %q: email %q cannot be looked up in coder (spaces, ':' or quotes)", u.UserName, email))
	}
	orgs, err := c.organizations(ctx)
	if err != nil {
		return fanout.Result{}, err
	}

	var notes []string
	acct, err := c.userByEmail(ctx, email)
	if err != nil {
		return fanout.Result{}, err
	}
	switch {
	case acct != nil:
		if err := adoptable(acct, u); err != nil {
			return fanout.Result{}, err
		}
		if id := acct.ID.String(); u.RemoteID != id {
			notes = append(notes, fmt.Sprintf("adopted existing account %s (by email)", acct.Username))
			c.log.InfoContext(ctx, "adopting account", "user", u.UserName, "account", acct.Username, "account_id", id)
		}
	default:
		if acct, err = c.linkedUser(ctx, u.RemoteID); err != nil {
			return fanout.Result{}, err
		}
		if acct != nil {
			if err := adoptable(acct, u); err != nil {
				return fanout.Result{}, err
			}
			// Coder's API cannot change an email; Coder copies the
			// claim's email at each login of a linked account.
			notes = append(notes, fmt.Sprintf("account %s still has email %s: coder's api cannot change it, and coder takes %s from the identity provider at the next login", acct.Username, acct.Email, email))
			c.log.WarnContext(ctx, "account email differs", "user", u.UserName, "account", acct.Username, "account_id", acct.ID.String())
			break
		}
		var note string
		if acct, note, err = c.createUser(ctx, u, email, orgs); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, note)
	}

	for _, o := range orgs {
		if slices.Contains(acct.OrganizationIDs, o.ID) {
			continue
		}
		err := c.call(ctx, fmt.Sprintf("add account %q to organization %q", acct.Username, o.Name), func(ctx context.Context) error {
			_, err := c.api.PostOrganizationMember(ctx, o.ID, acct.ID.String())
			return err
		})
		if err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, fmt.Sprintf("added account %s to organization %s", acct.Username, o.Name))
	}

	switch {
	case !u.Active && acct.Status != codersdk.UserStatusSuspended:
		if err := c.setStatus(ctx, acct, codersdk.UserStatusSuspended); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, "suspended account "+acct.Username)
	case u.Active && acct.Status == codersdk.UserStatusSuspended:
		if err := c.setStatus(ctx, acct, codersdk.UserStatusActive); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, "activated account "+acct.Username)
	}
	return fanout.Result{RemoteID: acct.ID.String(), Note: strings.Join(notes, "; ")}, nil
}

// adoptable refuses an account whose OIDC login Coder would refuse.
func adoptable(acct *codersdk.User, u fanout.User) error {
	switch {
	case acct.LoginType == codersdk.LoginTypeOIDC:
		return nil
	case acct.IsServiceAccount:
		return fanout.Terminal(fmt.Errorf("coder: user %q: account %q (%s) is a service account, which cannot sign in; not adopting it",
			u.UserName, acct.Username, acct.Email))
	default:
		return fanout.Terminal(fmt.Errorf("coder: user %q: account %q (%s) signs in with login type %q, and coder refuses an OIDC login into it; "+
			"the person can convert it to OIDC in their account settings, or an administrator can delete it",
			u.UserName, acct.Username, acct.Email, acct.LoginType))
	}
}

// userByEmail returns the account whose email is email, compared without
// case, or nil. Coder's search matches part of an email or username, so
// the answers are filtered.
func (c *Connector) userByEmail(ctx context.Context, email string) (*codersdk.User, error) {
	offset := 0
	for range maxPages {
		var res codersdk.GetUsersResponse
		err := c.call(ctx, "find user by email", func(ctx context.Context) (err error) {
			res, err = c.api.Users(ctx, codersdk.UsersRequest{Search: email, Pagination: codersdk.Pagination{Limit: pageSize, Offset: offset}})
			return err
		})
		if err != nil {
			return nil, err
		}
		for i := range res.Users {
			if strings.EqualFold(res.Users[i].Email, email) {
				return &res.Users[i], nil
			}
		}
		offset += len(res.Users)
		if len(res.Users) < pageSize || offset >= res.Count {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("coder: find user by email: more than %d pages", maxPages)
}

// getUser returns the account whose id, or username compared without
// case among accounts not deleted, is ref; nil when there is none.
func (c *Connector) getUser(ctx context.Context, ref string) (*codersdk.User, error) {
	var acct codersdk.User
	err := c.call(ctx, fmt.Sprintf("get user %q", ref), func(ctx context.Context) (err error) {
		acct, err = c.api.User(ctx, ref)
		return err
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &acct, nil
}

// linkedUser returns the account whose id is remoteID, or nil when there
// is none or it was deleted in Coder (Coder still finds a deleted account
// by id, but not by username).
func (c *Connector) linkedUser(ctx context.Context, remoteID string) (*codersdk.User, error) {
	id, err := uuid.Parse(remoteID)
	if err != nil {
		return nil, nil
	}
	acct, err := c.getUser(ctx, id.String())
	if err != nil || acct == nil {
		return nil, err
	}
	live, err := c.getUser(ctx, acct.Username)
	if err != nil {
		return nil, err
	}
	if live == nil || live.ID != acct.ID {
		return nil, nil
	}
	return live, nil
}

// createUser creates u's OIDC account. When Coder answers 409 because
// the email or the username is taken, it adopts the account that has the
// email (created meanwhile), or retries once with the alternate username.
// It returns the account and a note for the result.
func (c *Connector) createUser(ctx context.Context, u fanout.User, email string, orgs []codersdk.Organization) (*codersdk.User, string, error) {
	req := codersdk.CreateUserRequestWithOrgs{
		Email:         email,
		Username:      Username(u.UserName, email),
		Name:          realName(u.DisplayName, u.GivenName, u.FamilyName),
		UserLoginType: codersdk.LoginTypeOIDC,
		// No password: Coder refuses one for an OIDC account.
	}
	if !u.Active {
		suspended := codersdk.UserStatusSuspended
		req.UserStatus = &suspended
	}
	for _, o := range orgs {
		req.OrganizationIDs = append(req.OrganizationIDs, o.ID)
	}
	var taken *codersdk.User // the holder of the first username tried
	for {
		var acct codersdk.User
		err := c.call(ctx, fmt.Sprintf("create user %q", req.Username), func(ctx context.Context) (err error) {
			acct, err = c.api.CreateUserWithOrgs(ctx, req)
			return err
		})
		if err == nil {
			c.log.InfoContext(ctx, "created account", "user", u.UserName, "account", acct.Username, "account_id", acct.ID.String())
			return &acct, "created account " + acct.Username, nil
		}
		if !isStatus(err, http.StatusConflict) {
			return nil, "", err
		}
		// 409: the email or the username is taken.
		again, ferr := c.userByEmail(ctx, email)
		if ferr != nil {
			return nil, "", ferr
		}
		if again != nil {
			if err := adoptable(again, u); err != nil {
				return nil, "", err
			}
			c.log.InfoContext(ctx, "adopting account", "user", u.UserName, "account", again.Username, "account_id", again.ID.String())
			return again, fmt.Sprintf("adopted existing account %s (by email)", again.Username), nil
		}
		holder, ferr := c.getUser(ctx, req.Username)
		if ferr != nil {
			return nil, "", ferr
		}
		switch {
		case holder == nil:
			// Neither is taken any more: the other account went away.
			return nil, "", fmt.Errorf("coder: create user %q: %w", req.Username, errors.New("coder answered 409 but no account has that username or email now"))
		case taken == nil:
			taken = holder
			req.Username = alternateUsername(req.Username, email)
		default:
			return nil, "", fanout.Terminal(fmt.Errorf("coder: user %q: username %q belongs to account %s (%s) and %q to account %s (%s); not creating a third name",
				u.UserName, taken.Username, taken.ID, taken.Email, holder.Username, holder.ID, holder.Email))
		}
	}
}

// setStatus suspends or activates acct.
func (c *Connector) setStatus(ctx context.Context, acct *codersdk.User, status codersdk.UserStatus) error {
	verb := map[codersdk.UserStatus]string{codersdk.UserStatusSuspended: "suspend", codersdk.UserStatusActive: "activate"}[status]
	err := c.call(ctx, fmt.Sprintf("%s account %q", verb, acct.Username), func(ctx context.Context) error {
		_, err := c.api.UpdateUserStatus(ctx, acct.ID.String(), status)
		return err
	})
	if err == nil {
		c.log.InfoContext(ctx, verb+" account", "account", acct.Username, "account_id", acct.ID.String())
	}
	return err
}

// suspendDeleted suspends the account of a user deleted in SCIM and keeps
// it. A user never linked, or whose account is gone, needs nothing.
func (c *Connector) suspendDeleted(ctx context.Context, u fanout.User) (fanout.Result, error) {
	id, err := uuid.Parse(u.RemoteID)
	if err != nil {
		return fanout.Result{}, nil
	}
	acct, err := c.getUser(ctx, id.String())
	if err != nil {
		return fanout.Result{}, err
	}
	if acct == nil {
		return fanout.Result{}, nil
	}
	res := fanout.Result{RemoteID: acct.ID.String()}
	if acct.Status == codersdk.UserStatusSuspended {
		return res, nil
	}
	if err := c.setStatus(ctx, acct, codersdk.UserStatusSuspended); err != nil {
		return fanout.Result{}, err
	}
	res.Note = fmt.Sprintf("suspended account %s (user deleted; the account and its workspaces are kept)", acct.Username)
	return res, nil
}
