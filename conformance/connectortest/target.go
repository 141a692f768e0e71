package connectortest

import (
	"context"
	"errors"
	"testing"

	"github.com/scimbridge/scimbridge/fanout"
)

// ErrNotFound is what a Service returns for an account or group that is
// not there.
var ErrNotFound = errors.New("connectortest: not found")

// ErrUnsupported is what a Service returns from Conflict when the service
// has no kind of account that the connector must refuse to adopt.
var ErrUnsupported = errors.New("connectortest: not supported by this service")

// Target is one connector with the service it provisions into.
type Target struct {
	// URL is the service's base URL. The suite puts a fault-injecting
	// reverse proxy in front of it and gives the connector the proxy's
	// address, so every request the connector makes passes through it.
	URL string
	// New returns a connector that talks to the service at url (the
	// proxy's URL; the path of Target.URL is preserved behind it). It is
	// called several times; each connector must be independent of the
	// others but for the service they share.
	New func(t testing.TB, url string) fanout.Connector
	// Service reads and seeds the service directly, not through the
	// connector.
	Service Service
	// Suspends is true when the service can block an account
	// (active: false). When false, the suite checks that deactivation
	// leaves the account in place and succeeds.
	Suspends bool
	// Groups is true when the connector provisions groups.
	Groups bool
	// Background, when not nil, tells the requests a connector makes on
	// its own rather than for a key ("METHOD path?query", as Proxy.Log
	// gives them), such as the Gitea connector's listings of accounts:
	// the suite's proxy forwards them unharmed and does not count them, so
	// that its faults and counts concern the keys alone.
	Background func(request string) bool
}

// Account is one account as the suite sees it in the service.
type Account struct {
	// ID is the service's id for it: what EnsureUser returns as RemoteID.
	ID string
	// Email is its primary email.
	Email string
	// Active is false when the account is blocked or suspended.
	Active bool
}

// Service is the suite's own hand in the service, independent of the
// connector under test. Every method must read or write the service
// itself (its API or its database), not the connector's memory.
type Service interface {
	// Account returns the account whose id is id, or ErrNotFound.
	Account(ctx context.Context, id string) (Account, error)
	// Matching counts the accounts that share u's username or email, so
	// the suite can see a duplicate.
	Matching(ctx context.Context, u fanout.User) (int, error)
	// Precreate makes an account for u the way it exists when the user
	// reached the service before the bridge did (their first OIDC login,
	// or an admin's hand) and the connector must adopt it. It returns the
	// account's id.
	Precreate(ctx context.Context, u fanout.User) (string, error)
	// Conflict makes an account with u's username and email that the
	// connector must refuse to adopt (a password-login account, one
	// linked to another identity source), or returns ErrUnsupported.
	Conflict(ctx context.Context, u fanout.User) error
	// Members returns the ids of the accounts that are members of the
	// group whose id is group (EnsureGroup's RemoteID), or ErrNotFound
	// when the group is gone.
	Members(ctx context.Context, group string) ([]string, error)
	// RemoveMember takes an account out of a group by hand, as drift the
	// next EnsureGroup must repair.
	RemoveMember(ctx context.Context, group, account string) error
}
