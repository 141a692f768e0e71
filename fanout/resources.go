package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/scimbridge/scimbridge/formulas"
	"github.com/scimbridge/scimbridge/store"
)

// ResourceConnector is a Connector that also gives a user the resources
// of the formulas bound to their groups (repositories, workspaces,
// channels, ...). The reconciler calls EnsureResources after EnsureUser
// succeeded, with u.RemoteID set.
type ResourceConnector interface {
	Connector
	// EnsureResources converges the user's resources in this service.
	// want is what every formula bound to one of the user's groups asks
	// for now (the connector reads its own service's part); had is what
	// the last call returned, empty the first time. A resource in had
	// that is not in want gets its Origin.OnRemove policy. It returns
	// what is applied now, which the reconciler stores and passes back as
	// had next time: on an error, what is applied so far (a resource it
	// failed to remove stays in it, so the next pass tries again).
	EnsureResources(ctx context.Context, u User, want, had formulas.Resources) (formulas.Resources, error)
	// PlanResources says what EnsureResources would do, reading the
	// service but changing nothing.
	PlanResources(ctx context.Context, u User, want, had formulas.Resources) ([]Change, error)
}

// formulaCache holds parsed formulas by name and version; stored versions
// are immutable, so an entry never goes stale.
type formulaCache struct {
	mu     sync.Mutex
	parsed map[string]*formulas.Formula
}

func (fc *formulaCache) get(ctx context.Context, st Store, name, version string) (*formulas.Formula, error) {
	key := name + "@" + version
	fc.mu.Lock()
	f, ok := fc.parsed[key]
	fc.mu.Unlock()
	if ok {
		return f, nil
	}
	sf, err := st.GetFormula(ctx, name, version)
	if err != nil {
		return nil, err
	}
	f, err = formulas.Parse(sf.Source)
	if err != nil {
		return nil, fmt.Errorf("stored formula %s does not parse: %w", key, err)
	}
	fc.mu.Lock()
	if fc.parsed == nil {
		fc.parsed = map[string]*formulas.Formula{}
	}
	fc.parsed[key] = f
	fc.mu.Unlock()
	return f, nil
}

// LatestVersions maps each stored formula's name to its highest version:
// the version that a binding without a pinned one follows.
func LatestVersions(ctx context.Context, st interface {
	ListFormulas(context.Context) ([]store.Formula, error)
}) (map[string]string, error) {
	all, err := st.ListFormulas(ctx)
	if err != nil {
		return nil, err
	}
	latest := map[string]string{}
	for _, f := range all {
		if cur, ok := latest[f.Name]; !ok || formulas.CompareVersions(f.Version, cur) > 0 {
			latest[f.Name] = f.Version
		}
	}
	return latest, nil
}

// assume is what resourcesOf is to take as given instead of reading it:
// a binding or membership change not yet made (for plans), and the
// latest version of each formula (read once for a whole resync).
type assume struct {
	change     *BindingChange
	membership *MembershipChange
	latest     map[string]string
}

// resourcesOf expands every binding of the user's groups and unites the
// results. Bindings that do not apply to this user (a missing formula,
// parameters that no longer validate, a name a service refuses) are
// returned as problems, one line each, not as an error: one broken
// binding must not hold back the others, nor the account.
func (r *Reconciler) resourcesOf(ctx context.Context, u User, a assume) (formulas.Resources, []string, error) {
	change, m := a.change, a.membership
	gids, err := r.st.UserGroups(ctx, u.ID)
	if err != nil {
		return formulas.Resources{}, nil, err
	}
	if m != nil {
		gids = slices.DeleteFunc(gids, func(g string) bool { return g == m.Group })
		if m.Join {
			gids = append(gids, m.Group)
		}
	}
	var bindings []store.Binding
	for _, gid := range gids {
		bs, err := r.st.Bindings(ctx, gid)
		if err != nil {
			return formulas.Resources{}, nil, err
		}
		bindings = append(bindings, bs...)
	}
	if change != nil {
		bindings = applyChange(bindings, gids, change)
	}
	if len(bindings) == 0 {
		return formulas.Resources{}, nil, nil
	}
	latest := a.latest
	if latest == nil {
		if latest, err = LatestVersions(ctx, r.st); err != nil {
			return formulas.Resources{}, nil, err
		}
	}
	view := formulas.UserView{ID: u.ID, UserName: u.UserName, ExternalID: attrString(u.Attributes, "externalId"),
		Email: u.Email, GivenName: u.GivenName, FamilyName: u.FamilyName, DisplayName: u.DisplayName, Subject: u.Subject}
	var parts []formulas.Resources
	var problems []string
	for _, b := range bindings {
		g, err := r.st.GetGroup(ctx, b.Group)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile: its bindings go with it
		}
		if err != nil {
			return formulas.Resources{}, nil, err
		}
		version := b.Version
		if version == "" {
			version = latest[b.Formula]
		}
		where := fmt.Sprintf("formula %s bound to group %s", b.Formula, g.DisplayName)
		if version == "" {
			problems = append(problems, where+": no version of it is stored")
			continue
		}
		f, err := r.formulas.get(ctx, r.st, b.Formula, version)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s@%s: %v", where, version, err))
			continue
		}
		params, err := f.ResolveParams(b.Params)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s@%s: parameters: %v", where, version, err))
			continue
		}
		res, err := formulas.Expand(f, params, formulas.Subject{User: view,
			Group: formulas.GroupView{ID: g.ID, DisplayName: g.DisplayName}})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s@%s: %v", where, version, err))
			continue
		}
		parts = append(parts, res)
	}
	if len(parts) == 0 {
		return formulas.Resources{}, problems, nil
	}
	return formulas.Union(parts...), problems, nil
}

// applyChange replaces or removes the binding change names, among the
// bindings of the groups gids.
func applyChange(bindings []store.Binding, gids []string, change *BindingChange) []store.Binding {
	out := bindings[:0:0]
	for _, b := range bindings {
		if b.Group == change.Binding.Group && b.Formula == change.Binding.Formula {
			continue
		}
		out = append(out, b)
	}
	if change.Remove {
		return out
	}
	for _, gid := range gids {
		if gid == change.Binding.Group {
			return append(out, change.Binding)
		}
	}
	return out
}

func attrString(attrs map[string]any, name string) string {
	s, _ := attrs[name].(string)
	return s
}

// decodeApplied reads a status's applied resources; an empty or
// unreadable value is no resources (the next pass rebuilds it).
func decodeApplied(raw []byte) formulas.Resources {
	var res formulas.Resources
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &res)
	}
	return res
}

// MembershipChange is a group membership change to assume while
// planning: the user joins Group, or leaves it.
type MembershipChange struct {
	Group string
	Join  bool
}

// PlanMembership is what reconciling userID would do once they joined
// or left a group (m), touching nothing.
func (r *Reconciler) PlanMembership(ctx context.Context, userID string, m MembershipChange) (Plan, error) {
	up, err := r.planUser(ctx, userID, nil, &m)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Users: []UserPlan{up}}, nil
}

// Plan implements Planner: for each user, the account change the
// status implies and the resource changes each ResourceConnector reports.
func (r *Reconciler) Plan(ctx context.Context, userIDs []string, change *BindingChange) (Plan, error) {
	plan := Plan{Users: []UserPlan{}}
	for _, id := range userIDs {
		up, err := r.planUser(ctx, id, change, nil)
		if err != nil {
			return Plan{}, err
		}
		plan.Users = append(plan.Users, up)
	}
	return plan, nil
}

func (r *Reconciler) planUser(ctx context.Context, id string, change *BindingChange, m *MembershipChange) (UserPlan, error) {
	u, err := r.desiredUser(ctx, id)
	if err != nil {
		return UserPlan{}, err
	}
	up := UserPlan{UserID: id, UserName: u.UserName, Changes: []Change{}}
	// The account is compared with the state as stored, so that a
	// binding change shows as its resources, not as an account update.
	current := u
	if !u.Deleted {
		var problems []string
		if current.Resources, problems, err = r.resourcesOf(ctx, u, assume{}); err != nil {
			return UserPlan{}, err
		}
		u.Resources, up.Errors = current.Resources, problems
		if change != nil || m != nil {
			if u.Resources, up.Errors, err = r.resourcesOf(ctx, u, assume{change: change, membership: m}); err != nil {
				return UserPlan{}, err
			}
		}
	}
	sts, err := r.st.Statuses(ctx, store.Key{Kind: store.KindUser, ID: id})
	if err != nil {
		return UserPlan{}, err
	}
	byConn := map[string]store.Status{}
	for _, s := range sts {
		byConn[s.Connector] = s
	}
	hash := UserHash(current)
	for _, c := range r.conns {
		s, seen := byConn[c.Name()]
		account := Change{Connector: c.Name(), Kind: "account", Name: u.UserName}
		switch {
		case u.Deleted && s.RemoteID != "":
			account.Action, account.Detail = ActionUpdate, "suspend: the user was deleted"
		case u.Deleted:
		case !seen || s.RemoteID == "":
			account.Action = ActionCreate
		case s.AppliedHash != hash || s.State != store.StateOK:
			account.Action, account.Detail = ActionUpdate, "a change is not applied yet ("+string(s.State)+")"
		}
		if account.Action != "" {
			up.Changes = append(up.Changes, account)
		}
		rc, ok := c.(ResourceConnector)
		if !ok {
			continue
		}
		uu := u
		uu.RemoteID = s.RemoteID
		// A connector may report the changes it could plan along with an
		// error about the others: both are shown.
		changes, err := rc.PlanResources(ctx, uu, u.Resources, decodeApplied(s.Applied))
		if err != nil {
			up.Errors = append(up.Errors, fmt.Sprintf("%s: %v", c.Name(), err))
		}
		up.Changes = append(up.Changes, changes...)
	}
	sort.SliceStable(up.Changes, func(i, j int) bool { return up.Changes[i].Connector < up.Changes[j].Connector })
	return up, nil
}
