package mattermostfake

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	"github.com/scimbridge/scimbridge/fanout"
)

// Service returns the connector suite's hand in the fake, for a connector
// that binds accounts to the "openid" auth service:
//
//   - Account reads a user by id; Active is false once deactivated.
//   - Matching counts the users whose username is the SCIM userName (or
//     its part before '@'), lowercased, or whose email is the user's.
//   - Precreate makes the account a first OpenID Connect sign-in makes:
//     auth service "openid", auth data the subject.
//   - Conflict makes an account with the user's username and email bound
//     to LDAP, which a connector must not take over.
//   - Members reads a group: the id of a channel gives the channel's
//     members (an archived channel still has them); the id of a team gives
//     the team's members who have not left. Any other id is ErrNotFound.
//   - RemoveMember takes an account out of that channel or team by hand.
func (f *Fake) Service() connectortest.Service { return service{f} }

type service struct{ f *Fake }

var _ connectortest.Service = service{}

func (s service) Account(ctx context.Context, id string) (connectortest.Account, error) {
	if err := withContext(ctx); err != nil {
		return connectortest.Account{}, err
	}
	u := s.f.User(id)
	if u == nil {
		return connectortest.Account{}, connectortest.ErrNotFound
	}
	return connectortest.Account{ID: u.Id, Email: u.Email, Active: u.DeleteAt == 0}, nil
}

func (s service) Matching(ctx context.Context, u fanout.User) (int, error) {
	if err := withContext(ctx); err != nil {
		return 0, err
	}
	name := strings.ToLower(u.UserName)
	local, _, _ := strings.Cut(name, "@")
	email := model.NormalizeEmail(u.Email)
	n := 0
	for _, a := range s.f.Users() {
		if a.Username == name || a.Username == local || (email != "" && a.Email == email) {
			n++
		}
	}
	return n, nil
}

func (s service) Precreate(ctx context.Context, u fanout.User) (string, error) {
	return s.add(ctx, u, model.ServiceOpenid, u.Subject)
}

func (s service) Conflict(ctx context.Context, u fanout.User) error {
	_, err := s.add(ctx, u, model.UserAuthServiceLdap, "uid="+strings.ToLower(u.UserName))
	return err
}

func (s service) add(ctx context.Context, u fanout.User, authService, authData string) (string, error) {
	if err := withContext(ctx); err != nil {
		return "", err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	ru, appErr := s.f.saveUser(&model.User{Username: strings.ToLower(u.UserName), Email: u.Email,
		FirstName: u.GivenName, LastName: u.FamilyName, AuthService: authService,
		AuthData: model.NewPointer(authData), Roles: model.SystemUserRoleId})
	if appErr != nil {
		return "", fmt.Errorf("mattermostfake: %w", appErr)
	}
	return ru.Id, nil
}

func (s service) Members(ctx context.Context, group string) ([]string, error) {
	if err := withContext(ctx); err != nil {
		return nil, err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	switch {
	case s.f.channels[group] != nil:
		return sortedUserIDs(s.f.channelMembers[group]), nil
	case s.f.teams[group] != nil:
		return sortedUserIDs(s.f.activeTeamMembers(group)), nil
	}
	return nil, connectortest.ErrNotFound
}

func (s service) RemoveMember(ctx context.Context, group, account string) error {
	if err := withContext(ctx); err != nil {
		return err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	switch {
	case s.f.channels[group] != nil:
		if s.f.channelMembers[group][account] == nil {
			return errors.New("mattermostfake: not a member of the channel")
		}
		delete(s.f.channelMembers[group], account)
		return nil
	case s.f.teams[group] != nil:
		if !s.f.leaveTeam(group, account) {
			return errors.New("mattermostfake: not a member of the team")
		}
		return nil
	}
	return connectortest.ErrNotFound
}
