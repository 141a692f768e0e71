package twentyfake

import (
	"context"
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	"github.com/scimbridge/scimbridge/fanout"
)

// Service returns the connector suite's hand in the fake workspace. A
// person's Account is active unless it is in the trash (Twenty has no
// suspension); a group is a company, and its members are the live people
// whose companyId is that company. Twenty has no kind of person the
// connector must refuse to adopt, so Conflict is unsupported.
func (f *Fake) Service() connectortest.Service { return service{f} }

type service struct{ f *Fake }

func (s service) Account(_ context.Context, id string) (connectortest.Account, error) {
	p, ok := s.f.Person(id)
	if !ok {
		return connectortest.Account{}, fmt.Errorf("%w: person %s", connectortest.ErrNotFound, id)
	}
	return connectortest.Account{ID: p.ID, Email: p.Email, Active: !p.Deleted}, nil
}

// Matching counts the people, trashed ones included, whose primary email
// is u's: a person has no username.
func (s service) Matching(_ context.Context, u fanout.User) (int, error) {
	n := 0
	for _, p := range s.f.People() {
		if u.Email != "" && strings.EqualFold(p.Email, u.Email) {
			n++
		}
	}
	return n, nil
}

// Precreate makes the person a salesperson would have typed in: the
// user's email in capitals and only a first name.
func (s service) Precreate(_ context.Context, u fanout.User) (string, error) {
	return s.f.AddPerson(Person{FirstName: u.GivenName, Email: strings.ToUpper(u.Email)})
}

func (s service) Conflict(context.Context, fanout.User) error { return connectortest.ErrUnsupported }

func (s service) Members(_ context.Context, group string) ([]string, error) {
	if _, ok := s.f.Company(group); !ok {
		return nil, fmt.Errorf("%w: company %s", connectortest.ErrNotFound, group)
	}
	var ids []string
	for _, p := range s.f.People() {
		if p.CompanyID == group && !p.Deleted {
			ids = append(ids, p.ID)
		}
	}
	return ids, nil
}

func (s service) RemoveMember(_ context.Context, group, account string) error {
	p, ok := s.f.Person(account)
	if !ok || p.CompanyID != group {
		return fmt.Errorf("twentyfake: person %s is not in company %s", account, group)
	}
	return s.f.SetCompany(account, "")
}
