// Package fanout turns stored SCIM state into accounts and access in
// downstream services. A level-triggered reconciler consumes the store's
// durable queue: it is told a key ("user/123"), reads the current desired
// state from the store and asks each connector to converge on it, so a
// missed, repeated or reordered change, a crash or a restart is repaired
// by the next pass.
//
// Each service is its own package (fanout/gitea, ...) implementing
// Connector. Connectors know nothing of SCIM or HTTP routing: they get
// plain desired state and must make every operation idempotent.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/formulas"
)

// User is the desired state of one user, as a connector sees it.
type User struct {
	// ID is the scimbridge (SCIM) id.
	ID string
	// UserName is the SCIM userName.
	UserName string
	// Subject is the user's OIDC subject at the identity provider, taken
	// from the SCIM attribute the connector is configured with (externalId
	// by default). Connectors that link by subject must use it verbatim:
	// case matters.
	Subject string
	// Email is the primary email (or the first one).
	Email string
	// GivenName, FamilyName and DisplayName come from name.* and
	// displayName.
	GivenName, FamilyName, DisplayName string
	// Active is false for a suspended user.
	Active bool
	// Deleted is true when the user was deleted in SCIM: the connector
	// suspends the account and removes group-derived access, but keeps
	// the account and its data unless its own policy says otherwise.
	Deleted bool
	// Attributes is the full SCIM document, for connectors configured to
	// read another attribute (Subject source, numeric ids, ...).
	Attributes map[string]any
	// RemoteID is what the connector returned last time (its link), or "".
	RemoteID string
	// Resources is what the formulas bound to the user's groups ask for,
	// all services together; a ResourceConnector applies its part.
	Resources formulas.Resources
}

// Group is the desired state of one group.
type Group struct {
	ID          string
	DisplayName string
	// Members are the group's members with their links in this connector
	// (members not yet provisioned there have an empty RemoteID and are
	// reconciled once their user key has run).
	Members []Member
	// Deleted is true when the group was deleted in SCIM.
	Deleted bool
	// RemoteID is the connector's id for the group from last time, or "".
	RemoteID string
}

// Member is one member of a Group.
type Member struct {
	UserID   string
	UserName string
	RemoteID string
}

// Result is what a connector reports after converging one object.
type Result struct {
	// RemoteID is the object's id in the service (stored as its link).
	RemoteID string
	// Note is a short human-readable account of what was done when it is
	// worth recording ("adopted existing account by email"); it goes to
	// the audit log. Empty for "nothing to do".
	Note string
}

// Connector provisions into one service. Every method must be idempotent:
// calling it again with the same state is a no-op; an object that already
// exists downstream is adopted and linked, never duplicated and never an
// error. Errors are retried with backoff unless marked Terminal.
type Connector interface {
	// Name is the connector's name in configuration, status and metrics.
	Name() string
	// EnsureUser converges the user's account (create, adopt, update,
	// suspend or reactivate; on Deleted, suspend and drop group access).
	EnsureUser(ctx context.Context, u User) (Result, error)
	// EnsureGroup converges the group's downstream form (a team, ...)
	// and its membership to exactly Members. On Deleted it removes
	// what the group granted, per the connector's policy.
	EnsureGroup(ctx context.Context, g Group) (Result, error)
}

// TerminalError marks an error that retrying cannot fix (bad
// configuration, a 4xx the service will repeat): the key is parked with
// the error until an operator retries it.
type TerminalError struct{ Err error }

func (e *TerminalError) Error() string { return "terminal: " + e.Err.Error() }
func (e *TerminalError) Unwrap() error { return e.Err }

// Terminal wraps err as a TerminalError (nil stays nil).
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &TerminalError{Err: err}
}

// IsTerminal reports whether err is, or wraps, a TerminalError.
func IsTerminal(err error) bool {
	var t *TerminalError
	return errors.As(err, &t)
}

// RetryAfterError asks for the next attempt no sooner than After (a 429
// or 503 with Retry-After).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err with a minimum delay before the next attempt.
func RetryAfter(err error, after time.Duration) error {
	return &RetryAfterError{Err: err, After: after}
}

// UnappliedError reports what a connector left as it was because the
// service cannot change it (an immutable workspace parameter), while
// everything else converged. The reconciler counts the attempt as a
// success and keeps the message in the status (Status.Unapplied) and the
// audit log, until a pass applies everything.
type UnappliedError struct{ Msg string }

func (e *UnappliedError) Error() string { return "not applied: " + e.Msg }

// Unapplied returns an UnappliedError with msg.
func Unapplied(msg string) error { return &UnappliedError{Msg: msg} }
