package coderfake

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	"github.com/scimbridge/scimbridge/fanout"
)

// Service returns the connector suite's hand in this fake, through its
// API as the admin.
func (f *Fake) Service() connectortest.Service {
	u, _ := url.Parse(f.URL) // httptest's own URL: always valid
	return newService(u, f.Token)
}

// NewService returns a connectortest.Service for any Coder, this fake or
// a real server, that works through Coder's API with token, the session
// token of an owner. Account ids are Coder's user ids, group ids its
// group ids. An account is active unless it is suspended: a dormant one
// becomes active at its first sign-in.
func NewService(baseURL, token string) (connectortest.Service, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("coderfake: service url: %w", err)
	}
	return newService(u, token), nil
}

func newService(u *url.URL, token string) service {
	c := codersdk.New(u, codersdk.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	c.SetSessionToken(token)
	return service{c}
}

type service struct{ c *codersdk.Client }

var _ connectortest.Service = service{}

func notFound(err error, what string) error {
	var se *codersdk.Error
	if errors.As(err, &se) && se.StatusCode() == http.StatusNotFound {
		return fmt.Errorf("%w: %s", connectortest.ErrNotFound, what)
	}
	return err
}

func (s service) Account(ctx context.Context, id string) (connectortest.Account, error) {
	if _, err := uuid.Parse(id); err != nil {
		return connectortest.Account{}, fmt.Errorf("%w: %q is not a coder user id", connectortest.ErrNotFound, id)
	}
	u, err := s.c.User(ctx, id)
	if err != nil {
		return connectortest.Account{}, notFound(err, "coder user "+id)
	}
	return connectortest.Account{ID: u.ID.String(), Email: u.Email, Active: u.Status != codersdk.UserStatusSuspended}, nil
}

// Matching counts the accounts whose email is u's, or whose username is
// u's userName, without case.
func (s service) Matching(ctx context.Context, u fanout.User) (int, error) {
	ids := map[uuid.UUID]bool{}
	for _, term := range []string{u.Email, u.UserName} {
		if term == "" {
			continue
		}
		for offset := 0; ; {
			res, err := s.c.Users(ctx, codersdk.UsersRequest{Search: term, Pagination: codersdk.Pagination{Limit: 100, Offset: offset}})
			if err != nil {
				return 0, err
			}
			for _, a := range res.Users {
				if (u.Email != "" && strings.EqualFold(a.Email, u.Email)) || strings.EqualFold(a.Username, u.UserName) {
					ids[a.ID] = true
				}
			}
			offset += len(res.Users)
			if len(res.Users) < 100 || offset >= res.Count {
				break
			}
		}
	}
	return len(ids), nil
}

// Precreate makes the account a person's first OIDC login makes: login
// type oidc, active, in the default organization, named u's userName.
func (s service) Precreate(ctx context.Context, u fanout.User) (string, error) {
	active := codersdk.UserStatusActive
	a, err := s.c.CreateUserWithOrgs(ctx, codersdk.CreateUserRequestWithOrgs{
		Email: u.Email, Username: u.UserName, Name: u.DisplayName,
		UserLoginType: codersdk.LoginTypeOIDC, UserStatus: &active,
		OrganizationIDs: []uuid.UUID{uuid.Nil},
	})
	if err != nil {
		return "", err
	}
	return a.ID.String(), nil
}

// Conflict makes a password account with u's userName and email: Coder
// refuses the OIDC login of an account with another login type, so the
// connector must not adopt it.
func (s service) Conflict(ctx context.Context, u fanout.User) error {
	_, err := s.c.CreateUserWithOrgs(ctx, codersdk.CreateUserRequestWithOrgs{
		Email: u.Email, Username: u.UserName, Name: u.DisplayName,
		Password:        "Pw-" + rand.Text() + "!x",
		UserLoginType:   codersdk.LoginTypePassword,
		OrganizationIDs: []uuid.UUID{uuid.Nil},
	})
	return err
}

func (s service) Members(ctx context.Context, group string) ([]string, error) {
	id, err := uuid.Parse(group)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a coder group id", connectortest.ErrNotFound, group)
	}
	g, err := s.c.Group(ctx, id, codersdk.GroupRequest{})
	if err != nil {
		return nil, notFound(err, "coder group "+group)
	}
	out := []string{}
	for _, m := range g.Members {
		out = append(out, m.ID.String())
	}
	return out, nil
}

func (s service) RemoveMember(ctx context.Context, group, account string) error {
	id, err := uuid.Parse(group)
	if err != nil {
		return fmt.Errorf("%w: %q is not a coder group id", connectortest.ErrNotFound, group)
	}
	_, err = s.c.PatchGroup(ctx, id, codersdk.PatchGroupRequest{RemoveUsers: []string{account}})
	return notFound(err, "coder group "+group)
}
