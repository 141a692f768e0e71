package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	"github.com/scimbridge/scimbridge/fanout"
)

// Service returns the connector suite's hand in this Gitea: it reads and
// seeds accounts and teams through the admin API, independent of the
// connector under test. Account ids are Gitea's numeric user ids in
// decimal, group ids its team ids.
func (g *Gitea) Service() connectortest.Service { return giteaService{g} }

// giteaAccount is the part of Gitea's API user the service reads.
type giteaAccount struct {
	ID            int64  `json:"id"`
	Login         string `json:"login"`
	Email         string `json:"email"`
	LoginName     string `json:"login_name"`
	SourceID      int64  `json:"source_id"`
	ProhibitLogin bool   `json:"prohibit_login"`
}

// giteaService implements connectortest.Service over the admin API.
type giteaService struct{ g *Gitea }

func notFound(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %v", connectortest.ErrNotFound, err)
	}
	return err
}

// byID finds an account by its numeric id.
func (s giteaService) byID(ctx context.Context, id string) (giteaAccount, error) {
	var res struct {
		Data []giteaAccount `json:"data"`
	}
	if _, err := s.g.AdminAPI(ctx, http.MethodGet, "/users/search?uid="+url.QueryEscape(id), nil, &res); err != nil {
		return giteaAccount{}, err
	}
	for _, a := range res.Data {
		if strconv.FormatInt(a.ID, 10) == id {
			return a, nil
		}
	}
	return giteaAccount{}, fmt.Errorf("%w: gitea user %s", connectortest.ErrNotFound, id)
}

func (s giteaService) Account(ctx context.Context, id string) (connectortest.Account, error) {
	a, err := s.byID(ctx, id)
	if err != nil {
		return connectortest.Account{}, err
	}
	return connectortest.Account{ID: id, Email: a.Email, Active: !a.ProhibitLogin}, nil
}

// Matching pages through every account: the suite's Gitea holds a few
// dozen.
func (s giteaService) Matching(ctx context.Context, u fanout.User) (int, error) {
	n := 0
	for page := 1; ; page++ {
		var accts []giteaAccount
		if _, err := s.g.AdminAPI(ctx, http.MethodGet, fmt.Sprintf("/admin/users?limit=50&page=%d", page), nil, &accts); err != nil {
			return 0, err
		}
		for _, a := range accts {
			if strings.EqualFold(a.Login, u.UserName) || strings.EqualFold(a.Email, u.Email) ||
				(a.SourceID == s.g.AuthSourceID && a.LoginName == u.Subject) {
				n++
			}
		}
		if len(accts) < 50 {
			return n, nil
		}
	}
}

func (s giteaService) create(ctx context.Context, body map[string]any) (string, error) {
	var a giteaAccount
	if _, err := s.g.AdminAPI(ctx, http.MethodPost, "/admin/users", body, &a); err != nil {
		return "", err
	}
	return strconv.FormatInt(a.ID, 10), nil
}

// Precreate makes the local account an administrator made by hand before
// the bridge: same username and email, a password, no link.
func (s giteaService) Precreate(ctx context.Context, u fanout.User) (string, error) {
	return s.create(ctx, map[string]any{"username": u.UserName, "email": u.Email, "password": "Pr3created-" + u.Subject,
		"must_change_password": false})
}

// Conflict makes an account with u's username and email that another
// subject signed in to: taking it over would hand one person's account to
// another.
func (s giteaService) Conflict(ctx context.Context, u fanout.User) error {
	_, err := s.create(ctx, map[string]any{"username": u.UserName, "email": u.Email, "source_id": s.g.AuthSourceID,
		"login_name": "someone-else-" + u.Subject, "must_change_password": false})
	return err
}

func (s giteaService) Members(ctx context.Context, group string) ([]string, error) {
	var ids []string
	for page := 1; ; page++ {
		var accts []giteaAccount
		if _, err := s.g.AdminAPI(ctx, http.MethodGet, fmt.Sprintf("/teams/%s/members?limit=50&page=%d", url.PathEscape(group), page), nil, &accts); err != nil {
			return nil, notFound(err)
		}
		for _, a := range accts {
			ids = append(ids, strconv.FormatInt(a.ID, 10))
		}
		if len(accts) < 50 {
			return ids, nil
		}
	}
}

func (s giteaService) RemoveMember(ctx context.Context, group, id string) error {
	a, err := s.byID(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.g.AdminAPI(ctx, http.MethodDelete, "/teams/"+url.PathEscape(group)+"/members/"+url.PathEscape(a.Login), nil, nil)
	return err
}
