package store

import (
	"context"
	"math"
)

// Kinds of the formula records in audit events.
const (
	KindFormula Kind = "formula"
	KindBinding Kind = "binding"
)

// Formula is one version of a formula as stored: its source, which the
// formula package parses. The store does not read the source; it keeps
// it byte for byte so that what an admin uploaded is what they get back.
type Formula struct {
	// Name is the formula's metadata.name.
	Name string `json:"name"`
	// Version is its spec.version (semantic version text).
	Version string `json:"version"`
	// Source is the formula document (YAML or JSON) as uploaded.
	Source []byte `json:"source"`
	Meta   Meta   `json:"meta"`
}

// Binding gives every member of a group what a formula describes.
type Binding struct {
	// Group is the SCIM group id.
	Group string `json:"group"`
	// Formula is the formula's name.
	Formula string `json:"formula"`
	// Version pins a formula version; "" follows the latest stored one.
	Version string `json:"version,omitempty"`
	// Params are the parameter values as given ("key" -> "value"); the
	// formula's schema types and checks them.
	Params map[string]string `json:"params,omitempty"`
	// Meta.Version is the binding's ETag: it grows with every change, and
	// a binding deleted and made again never gets a version it had.
	Meta Meta `json:"meta"`
}

// IfAbsent is the ifVersion of a write that must create: it fails with
// ErrVersionMismatch when the record exists (If-None-Match: *).
const IfAbsent uint64 = math.MaxUint64

// FormulaStore keeps formulas and their bindings to groups. Writing a
// binding, or a new version of a formula that a binding follows
// ("latest"), enqueues every member of the bound groups, so that the
// reconciler recomputes their desired state; deleting a group deletes its
// bindings.
type FormulaStore interface {
	// PutFormula stores one version of a formula. A stored version is
	// immutable: storing it again with the same source is a no-op that
	// returns the stored record's Meta in f; with another source it is
	// ErrConflict. ErrInvalid for an empty name or version.
	PutFormula(ctx context.Context, actor Actor, f *Formula) error
	// GetFormula returns one stored version, or ErrNotFound.
	GetFormula(ctx context.Context, name, version string) (*Formula, error)
	// ListFormulas returns every stored version of every formula, by
	// name, then version text.
	ListFormulas(ctx context.Context) ([]Formula, error)
	// DeleteFormula removes one stored version. It returns ErrConflict
	// while a binding pins that version.
	DeleteFormula(ctx context.Context, actor Actor, name, version string) error

	// PutBinding creates or replaces the binding of b.Formula to
	// b.Group, which must exist (ErrNotFound otherwise). ifVersion is 0
	// (no precondition), IfAbsent (create only) or the version the
	// caller read (ErrVersionMismatch when it changed). On success b.Meta
	// is the stored one.
	PutBinding(ctx context.Context, actor Actor, b *Binding, ifVersion uint64) error
	// GetBinding returns a binding, or ErrNotFound.
	GetBinding(ctx context.Context, group, formula string) (*Binding, error)
	// DeleteBinding removes a binding (ErrNotFound when there is none),
	// with the same ifVersion rule as UpdateUser.
	DeleteBinding(ctx context.Context, actor Actor, group, formula string, ifVersion uint64) error
	// Bindings lists the bindings of group ("" for every group), by group
	// then formula.
	Bindings(ctx context.Context, group string) ([]Binding, error)
}
