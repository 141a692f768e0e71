package store

import (
	"context"
	"encoding/json"
	"time"
)

// State is where one key stands with one connector.
type State string

// The states of a Status.
const (
	// StatePending: a change is waiting to be applied.
	StatePending State = "pending"
	// StateOK: the desired state was applied and confirmed.
	StateOK State = "ok"
	// StateFailed: the last attempt failed; another is scheduled.
	StateFailed State = "failed"
	// StateParked: the last attempt failed in a way retrying cannot fix;
	// nothing happens until the key changes again or an operator retries.
	StateParked State = "parked"
)

// Status is what one connector did with one key: its link (RemoteID) and
// where the reconcile stands. It is also the connector's queue: a key is
// due while its State is pending or failed.
type Status struct {
	Connector string `json:"connector"`
	Key       Key    `json:"-"`
	State     State  `json:"state"`
	// Attempts counts consecutive failed attempts (0 after a success).
	Attempts  int    `json:"attempts"`
	LastError string `json:"lastError,omitempty"`
	// LastAttempt, LastSuccess and NextAttempt are zero when never.
	LastAttempt time.Time `json:"lastAttempt"`
	LastSuccess time.Time `json:"lastSuccess"`
	NextAttempt time.Time `json:"nextAttempt"`
	// AppliedHash is the hash of the desired state last applied and
	// confirmed; a pass whose desired state hashes the same skips the
	// downstream calls.
	AppliedHash string `json:"appliedHash,omitempty"`
	// RemoteID is the object's id in the service (its link).
	RemoteID string `json:"remoteId,omitempty"`
	// Applied is what the connector reported applying of the formula
	// resources of a user (a JSON document the store does not read), so
	// that the next pass knows what was removed from the desired state.
	Applied json.RawMessage `json:"applied,omitempty"`
	// Unapplied is what the connector could not apply while the rest
	// converged (an immutable workspace parameter that changed), shown
	// with the ok status until a pass applies everything.
	Unapplied string `json:"unapplied,omitempty"`
	// Inactive is true when the user last applied was inactive (active:
	// false): once a pass applies it active again, the reconciler runs
	// its groups again, since a service may have left a deactivated
	// member out of them.
	Inactive bool `json:"inactive,omitempty"`
	// Gen increases on every dispatch of the key to the connector; a
	// Settle written for an older generation does not clear a newer
	// dispatch.
	Gen uint64 `json:"gen"`
	// Note, when the reconciler sets it, is recorded by Settle as an
	// audit event of the connector ("adopted existing account by email").
	// It is not stored in the status.
	Note string `json:"-"`
}

// StatusStore keeps the per-connector reconcile state. It is part of
// Store.
type StatusStore interface {
	// Dispatch moves items from the main queue to the due queue of each
	// named connector (marking them pending) and acknowledges them, in one
	// transaction. A key already backing off keeps its NextAttempt; a
	// parked key is unparked (the new change may fix it).
	Dispatch(ctx context.Context, items []QueueItem, connectors []string) error
	// Due returns up to limit statuses of connector whose NextAttempt is
	// at or before now, earliest first.
	Due(ctx context.Context, connector string, now time.Time, limit int) ([]Status, error)
	// Settle records the outcome of an attempt. When the key was
	// dispatched again since st was read (Gen differs), the outcome is
	// recorded but the key stays due now.
	Settle(ctx context.Context, st Status) error
	// Statuses lists the status of key with every connector.
	Statuses(ctx context.Context, key Key) ([]Status, error)
	// ScanStatuses calls fn for every status of connector ("" for all).
	ScanStatuses(ctx context.Context, connector string, fn func(Status) bool) error
	// Retry makes key due now with every connector that has a status for
	// it (or the named ones), clears its attempts and its applied hash so
	// the next pass calls the service, and unparks it.
	Retry(ctx context.Context, key Key, connectors ...string) error
}
