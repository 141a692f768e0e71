package fanout

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

// Actions a Change can take.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionRemove = "remove"
	// ActionKeep is a resource that leaves the desired state but stays
	// (onRemove: keep), said so that a plan never hides it.
	ActionKeep = "keep"
)

// Change is one thing a reconcile would do in one service.
type Change struct {
	// Connector is the service's connector name ("gitea", ...).
	Connector string `json:"connector"`
	// Action is ActionCreate, ActionUpdate, ActionRemove or ActionKeep.
	Action string `json:"action"`
	// Kind is what changes: "account", "repo", "team", "workspace",
	// "channel", "person", ...
	Kind string `json:"kind"`
	// Name names the object in the service ("alice-research",
	// "research/ml", ...).
	Name string `json:"name"`
	// Detail says what changes, for an update ("parameters gpu_type:
	// nvidia-a100 -> nvidia-h100"), or how a removal is done ("stop",
	// "delete").
	Detail string `json:"detail,omitempty"`
	// Source is the formula that asks for it ("ml-research@2.0.0 via
	// group ml"); empty for the account itself.
	Source string `json:"source,omitempty"`
}

// UserPlan is what reconciling one user would do in every service.
type UserPlan struct {
	UserID   string   `json:"userId"`
	UserName string   `json:"userName"`
	Changes  []Change `json:"changes"`
	// Errors are problems that would stop part of the reconcile (a
	// formula that does not expand for this user, a service that could
	// not be read), one line each.
	Errors []string `json:"errors,omitempty"`
}

// Plan is what reconciling a set of users would do, touching nothing.
type Plan struct {
	Users []UserPlan `json:"users"`
}

// BindingChange is a binding change to assume while planning, before it
// is made: Binding replaces the stored binding of its group and formula,
// or, with Remove, the stored one is assumed gone.
type BindingChange struct {
	Binding store.Binding
	Remove  bool
}

// Planner computes plans. The reconciler implements it, and
// MembershipPlanner too.
type Planner interface {
	// Plan returns what reconciling each of the users (SCIM ids) would
	// do, in the order given, touching nothing in any service. change,
	// when not nil, is assumed made.
	Plan(ctx context.Context, userIDs []string, change *BindingChange) (Plan, error)
}

// MembershipPlanner plans a group membership change before it is made.
type MembershipPlanner interface {
	// PlanMembership returns what reconciling the user (a SCIM id) would
	// do once the membership change m were made, touching nothing.
	PlanMembership(ctx context.Context, userID string, m MembershipChange) (Plan, error)
}
