// Package store holds scimbridge's data model (users, groups, memberships,
// audit events and the reconcile queue) and the Store interface that every
// backend implements. The one backend today is store/bolt.
//
// The SCIM layer owns the meaning of a resource's attributes; the store
// keeps them as an opaque JSON document next to the few fields it indexes
// (userName, externalId, emails, group displayName). Every write is one
// transaction that also bumps the resource's version, appends an audit
// event and enqueues the reconcile keys the change affects, so a write that
// returned nil is durable together with its fan-out.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	// ErrNotFound means the named resource does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique attribute (userName, group displayName) is
	// already taken by another resource.
	ErrConflict = errors.New("already exists")
	// ErrVersionMismatch means an optimistic-concurrency precondition (the
	// version the caller read) no longer holds.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrInvalid means the caller passed a value the store cannot accept
	// (an empty userName, a member that is not a user, ...).
	ErrInvalid = errors.New("invalid")
)

// Kind names the type of a resource in audit events and reconcile keys.
type Kind string

// The resource kinds.
const (
	KindUser  Kind = "user"
	KindGroup Kind = "group"
)

// Key names one object for the reconciler: "user/<id>" or "group/<id>".
// The reconciler reads the current state of the object, never the
// contents of the change that enqueued it.
type Key struct {
	Kind Kind
	ID   string
}

// String renders the key as "kind/id".
func (k Key) String() string { return string(k.Kind) + "/" + k.ID }

// ParseKey is the inverse of Key.String.
func ParseKey(s string) (Key, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			k := Key{Kind: Kind(s[:i]), ID: s[i+1:]}
			if (k.Kind == KindUser || k.Kind == KindGroup) && k.ID != "" {
				return k, true
			}
			return Key{}, false
		}
	}
	return Key{}, false
}

// Meta is the bookkeeping every resource carries.
type Meta struct {
	// Version increases by one on every change; the SCIM ETag is derived
	// from it.
	Version uint64 `json:"version"`
	// Created is when the resource was first stored.
	Created time.Time `json:"created"`
	// Modified is the time of the last change.
	Modified time.Time `json:"modified"`
}

// User is a SCIM user as stored.
type User struct {
	// ID is the server-assigned identifier (a UUID).
	ID string `json:"id"`
	// UserName is unique case-insensitively.
	UserName string `json:"userName"`
	// ExternalID is the identifier the identity provider gave; it often
	// carries the OIDC subject. Indexed, not unique.
	ExternalID string `json:"externalId,omitempty"`
	// Emails are the values of the emails attribute, indexed
	// case-insensitively, not unique.
	Emails []string `json:"emails,omitempty"`
	// DisplayName is copied into group member entries as "display".
	DisplayName string `json:"displayName,omitempty"`
	// Active is false for a suspended user.
	Active bool `json:"active"`
	// Attributes is the whole SCIM document except id and meta.
	Attributes json.RawMessage `json:"attributes"`
	Meta       Meta            `json:"meta"`
}

// Group is a SCIM group as stored, without its members, which live in
// their own index (see GroupTx).
type Group struct {
	ID string `json:"id"`
	// DisplayName is unique case-insensitively.
	DisplayName string `json:"displayName"`
	ExternalID  string `json:"externalId,omitempty"`
	// Attributes is the SCIM document except id, meta and members.
	Attributes json.RawMessage `json:"attributes"`
	Meta       Meta            `json:"meta"`
}

// Member is one entry of a group's member list.
type Member struct {
	// UserID is the member user's id (the SCIM member "value").
	UserID string
	// Display is the user's displayName (or userName when it has none) at
	// the time the membership or the user last changed.
	Display string
}

// Actor says who made a change, for the audit log: the name of the token
// that authenticated the request, or a component name such as "resync".
type Actor string

// Event is one entry of the audit log.
type Event struct {
	// Seq orders events; it is assigned by the store.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Actor is who made the change.
	Actor Actor `json:"actor"`
	// Op is "create", "update", "delete", or a domain word such as "adopt".
	Op   string `json:"op"`
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
	// Detail is a short human-readable summary, never a secret.
	Detail string `json:"detail,omitempty"`
}

// QueueItem is one pending reconcile key.
type QueueItem struct {
	Key Key
	// Seq is the sequence of the latest enqueue of this key; Ack removes
	// the item only if no newer enqueue happened since it was read.
	Seq uint64
	// Since is when the key was last enqueued.
	Since time.Time
}

// UserTx is handed to the callback of UpdateUser. The callback edits User
// in place; the store re-indexes what changed when the callback returns
// nil and discards everything when it returns an error.
type UserTx interface {
	User() *User
}

// GroupTx is handed to the callback of CreateGroup and UpdateGroup. All
// changes made through it commit together with the group, or not at all.
type GroupTx interface {
	// Group is the group being changed; edit it in place.
	Group() *Group
	// HasMember reports whether userID is a member, in O(log n).
	HasMember(userID string) bool
	// AddMember adds userID; adding an existing member is a no-op. It
	// returns ErrNotFound (wrapped) when no such user exists.
	AddMember(userID string) error
	// RemoveMember removes userID; removing a non-member is a no-op.
	RemoveMember(userID string) error
	// Members lists the current members in user-id order.
	Members() ([]Member, error)
	// MemberCount is the number of members.
	MemberCount() int
}

// UserQuery selects users through an index. Exactly one field is set.
type UserQuery struct {
	UserName   *string // case-insensitive
	ExternalID *string // exact
	Email      *string // case-insensitive
}

// Store is the durable state of scimbridge. Implementations are safe for
// concurrent use. Every method takes ctx first; a write method returns only
// after its transaction is on disk.
type Store interface {
	// CreateUser stores u, assigning u.ID (when empty) and u.Meta. It
	// returns ErrConflict when u.UserName is taken (case-insensitively).
	CreateUser(ctx context.Context, actor Actor, u *User) error
	// GetUser returns ErrNotFound when id is unknown.
	GetUser(ctx context.Context, id string) (*User, error)
	// UpdateUser runs fn on the current user inside one transaction. When
	// ifVersion is non-zero and differs from the stored version it returns
	// ErrVersionMismatch without calling fn. When fn returns an error
	// nothing is written and that error is returned. When fn leaves the
	// user byte-identical, nothing is written (no version bump, no event,
	// no enqueue) and the stored user is returned. fn may be called more
	// than once (write batching retries), so it must not have effects
	// outside the transaction.
	UpdateUser(ctx context.Context, actor Actor, id string, ifVersion uint64, fn func(tx UserTx) error) (*User, error)
	// DeleteUser removes the user and all of its memberships, and enqueues
	// the user and every group it was in.
	DeleteUser(ctx context.Context, actor Actor, id string, ifVersion uint64) error
	// FindUsers returns the users matching q via its index.
	FindUsers(ctx context.Context, q UserQuery) ([]*User, error)
	// ScanUsers calls fn for every user in id order, starting after the
	// id `after` ("" for the first). fn returning false stops the scan.
	ScanUsers(ctx context.Context, after string, fn func(*User) bool) error
	// CountUsers is the number of stored users.
	CountUsers(ctx context.Context) (int, error)
	// UserGroups lists the ids of the groups userID is a member of.
	UserGroups(ctx context.Context, userID string) ([]string, error)

	// CreateGroup stores g and runs fn (may be nil) in the same
	// transaction to add the initial members.
	CreateGroup(ctx context.Context, actor Actor, g *Group, fn func(tx GroupTx) error) error
	GetGroup(ctx context.Context, id string) (*Group, error)
	// GroupMembers lists a group's members in user-id order.
	GroupMembers(ctx context.Context, id string) ([]Member, error)
	// GroupWithMembers reads a group and its members (in user-id order)
	// in one consistent read: the members are those of the group's
	// version. ErrNotFound for an unknown group.
	GroupWithMembers(ctx context.Context, id string) (*Group, []Member, error)
	// UpdateGroup is UpdateUser for groups; fn may also change members.
	UpdateGroup(ctx context.Context, actor Actor, id string, ifVersion uint64, fn func(tx GroupTx) error) (*Group, error)
	DeleteGroup(ctx context.Context, actor Actor, id string, ifVersion uint64) error
	// FindGroupByName finds a group by displayName, case-insensitively.
	FindGroupByName(ctx context.Context, displayName string) (*Group, error)
	ScanGroups(ctx context.Context, after string, fn func(*Group) bool) error
	CountGroups(ctx context.Context) (int, error)

	// Events returns up to limit audit events with Seq > after, oldest
	// first.
	Events(ctx context.Context, after uint64, limit int) ([]Event, error)

	// Enqueue adds keys to the reconcile queue (used by resync).
	Enqueue(ctx context.Context, keys ...Key) error
	// Pending returns up to limit queued keys, oldest enqueue first.
	Pending(ctx context.Context, limit int) ([]QueueItem, error)
	// Ack removes items that were not enqueued again since they were read.
	Ack(ctx context.Context, items ...QueueItem) error

	// GetSetting and PutSetting keep small named values (token hashes,
	// schema version). GetSetting returns ErrNotFound for an unset name.
	GetSetting(ctx context.Context, name string) ([]byte, error)
	PutSetting(ctx context.Context, name string, value []byte) error

	// StatusStore keeps what each connector did with each key.
	StatusStore

	// FormulaStore keeps formulas and their bindings to groups.
	FormulaStore

	// Close releases the store; it waits for running transactions.
	Close() error
}
