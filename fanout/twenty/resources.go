package twenty

import (
	"context"
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/formulas"
)

var _ fanout.ResourceConnector = (*Connector)(nil)

// textField is a text field of Person that a formula sets. jobTitle and
// city are TEXT fields of the standard Person object, nullable in current
// Twenty versions, where an empty text is stored as null
// (packages/twenty-server/src/modules/person/standard-objects/person.workspace-entity.ts;
// .../common-args-processors/data-arg-processor/transformer-utils/transform-text-field.util.ts).
// Older versions keep them not null, empty by default, which is why
// a field is cleared by writing "", which both accept.
type textField struct {
	name string
	// of returns the formula's value.
	of func(*formulas.Person) string
	// in returns the person's value, "" for null.
	in func(*formulaPerson) string
}

var textFields = []textField{
	{"jobTitle", func(p *formulas.Person) string { return p.JobTitle }, func(p *formulaPerson) string { return deref(p.JobTitle) }},
	{"city", func(p *formulas.Person) string { return p.City }, func(p *formulaPerson) string { return deref(p.City) }},
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// formulaPerson is a person with the fields formulas set. It is read
// only for formula resources, so that a workspace which has deactivated
// jobTitle or city still provisions people without formulas.
type formulaPerson struct {
	person
	JobTitle *string `graphql:"jobTitle"`
	City     *string `graphql:"city"`
}

// fieldChange is one field to write: from its current value to to.
type fieldChange struct {
	field    string
	from, to string
}

// personStep is what converging the formula resources of one user's
// person takes.
type personStep struct {
	// src is the formula the step is done for (its Source).
	src string
	// name names the person: its primary email, else its id.
	name string
	// id is the person's id, "" when it does not exist yet.
	id string
	// missing: the person does not exist yet (EnsureUser creates it).
	missing bool
	// trashed: the person of an active user is in the trash (EnsureUser
	// restores it).
	trashed bool
	// changes are the fields to write, in textFields order.
	changes []fieldChange
	// removal is set when no formula asks for the person any more (want
	// has none and had had one), with the policy that applies.
	removal formulas.RemovePolicy
	// trash moves the person to Twenty's trash (a deleted user's person,
	// onRemove: delete).
	trash bool
}

// policy is p with the default applied: "" is suspend.
func policy(p formulas.RemovePolicy) formulas.RemovePolicy {
	if p == "" {
		return formulas.OnRemoveSuspend
	}
	return p
}

// intents is what a pass may have to write, known before reading
// Twenty: the fields to set (want's non-empty values), the fields to
// clear if they still hold what had set, and whether the person goes to
// the trash. With none, nothing is read.
type intents struct {
	set   map[string]string
	clear map[string]string
	trash bool
}

func (in intents) empty() bool { return len(in.set) == 0 && len(in.clear) == 0 && !in.trash }

// intend works out the intents of a pass for u from want and had (see
// the package documentation, "Formula resources").
func intend(u fanout.User, want, had *formulas.Person) intents {
	in := intents{set: map[string]string{}, clear: map[string]string{}}
	if u.Deleted {
		want = nil // a deleted user is given nothing
	}
	if want == nil && had != nil && policy(had.OnRemove) == formulas.OnRemoveDelete && u.Deleted {
		in.trash = true
		return in
	}
	for _, f := range textFields {
		switch {
		case want != nil && f.of(want) != "":
			in.set[f.name] = f.of(want)
		case had != nil && f.of(had) != "" && policy(had.OnRemove) != formulas.OnRemoveKeep:
			in.clear[f.name] = f.of(had)
		}
	}
	return in
}

// findFormulaPerson returns the person EnsureUser converges for u (see
// claimants): the one linked last time, else the live one with u's
// email, else a trashed one; nil when there is none.
func (c *Connector) findFormulaPerson(ctx context.Context, u fanout.User, op string) (*formulaPerson, error) {
	email := strings.ToLower(strings.TrimSpace(u.Email))
	if u.Deleted {
		email = "" // known by its link only
	}
	filter, ok := userFilter(u.RemoteID, email)
	if !ok {
		return nil, nil
	}
	var q struct {
		People struct {
			Edges []struct {
				Node formulaPerson `graphql:"node"`
			} `graphql:"edges"`
		} `graphql:"people(filter: $filter, first: 60)"`
	}
	if err := c.query(ctx, op, &q, map[string]any{"filter": filter}); err != nil {
		return nil, err
	}
	found := make([]person, len(q.People.Edges))
	for i, e := range q.People.Edges {
		found[i] = e.Node.person
	}
	byID, live, trashed := claimants(found, u.RemoteID, email)
	var chosen *person
	switch {
	case byID != nil && !byID.trashed():
		chosen = byID
	case live != nil:
		chosen = live
	case byID != nil:
		chosen = byID
	default:
		chosen = trashed
	}
	if chosen == nil {
		return nil, nil
	}
	for i := range q.People.Edges {
		if p := &q.People.Edges[i].Node; p.ID == chosen.ID {
			return p, nil
		}
	}
	return nil, nil
}

// step reads what it must of Twenty and returns the step that converges
// u's person; ok is false when there is nothing to do.
func (c *Connector) step(ctx context.Context, u fanout.User, want, had *formulas.Person) (personStep, bool, error) {
	if u.Deleted {
		want = nil
	}
	st := personStep{name: strings.ToLower(strings.TrimSpace(u.Email))}
	switch {
	case want != nil:
		st.src = want.Source.String()
	case had != nil:
		st.src = had.Source.String()
		st.removal = policy(had.OnRemove)
	default:
		return st, false, nil
	}
	if st.name == "" {
		st.name = u.RemoteID
	}
	if st.removal == formulas.OnRemoveKeep {
		return st, true, nil // said in a plan; nothing is read or written
	}
	in := intend(u, want, had)
	if in.empty() {
		return st, false, nil
	}
	p, err := c.findFormulaPerson(ctx, u, fmt.Sprintf("formula %s: read person %s", st.src, st.name))
	if err != nil {
		return st, false, err
	}
	if p != nil {
		st.id = p.ID
		if e := p.email(); e != "" {
			st.name = e
		}
	}
	switch {
	case u.Deleted && (p == nil || p.trashed()):
		// Gone, or in the trash already (onDelete: softDelete): a record
		// in the trash is left as it is.
		return st, false, nil
	case in.trash:
		st.trash = true
		return st, true, nil
	case p == nil:
		st.missing = true
	case p.trashed():
		st.trashed = true
	}
	for _, f := range textFields {
		cur := ""
		if p != nil {
			cur = f.in(p)
		}
		if to, ok := in.set[f.name]; ok && cur != to {
			st.changes = append(st.changes, fieldChange{field: f.name, from: cur, to: to})
		}
		// A field is cleared only while it holds what the formula set:
		// a value someone entered since is theirs.
		if was, ok := in.clear[f.name]; ok && p != nil && cur == was {
			st.changes = append(st.changes, fieldChange{field: f.name, from: cur, to: ""})
		}
	}
	return st, len(st.changes) > 0, nil
}

// EnsureResources gives u's person the fields of the formulas' person
// (want.Twenty.Person) and applies the onRemove policy of one no formula
// asks for any more (see the package documentation, "Formula
// resources"). It is called after EnsureUser, with u.RemoteID the
// person's id. A converged person costs one query, and a user whose
// formulas set no field none; a pass writes at most once. It returns
// want's Twenty part, or, on an error, had's, so that the next pass
// reads again and finishes what this one did not.
func (c *Connector) EnsureResources(ctx context.Context, u fanout.User, want, had formulas.Resources) (formulas.Resources, error) {
	done := formulas.Resources{Twenty: formulas.TwentyResources{Person: want.Twenty.Person}}
	if u.Deleted {
		done.Twenty.Person = nil
	}
	failed := formulas.Resources{Twenty: had.Twenty}
	st, ok, err := c.step(ctx, u, want.Twenty.Person, had.Twenty.Person)
	if err != nil {
		return failed, err
	}
	if !ok || st.removal == formulas.OnRemoveKeep {
		return done, nil
	}
	if st.missing || st.trashed {
		// EnsureUser has just made sure of a live person: it went away
		// since. The next pass creates or restores it.
		return failed, fmt.Errorf("twenty: formula %s: the person of %s is gone or in the trash; the next pass restores it", st.src, u.UserName)
	}
	if st.trash {
		var m struct {
			DeletePerson struct {
				ID string `graphql:"id"`
			} `graphql:"deletePerson(id: $id)"`
		}
		err := c.mutate(ctx, fmt.Sprintf("formula %s: move person %s to the trash", st.src, st.name), &m, map[string]any{"id": uuid(st.id)})
		if isCode(err, codeNotFound) {
			return done, nil // deleted for good meanwhile
		}
		if err != nil {
			return failed, err
		}
		c.log.InfoContext(ctx, "moved person to the trash", "user", u.UserName, "person", st.id, "formula", st.src)
		return done, nil
	}
	data := personUpdate{}
	names := make([]string, len(st.changes))
	for i, ch := range st.changes {
		data[ch.field] = ch.to
		names[i] = ch.field
	}
	var m struct {
		UpdatePerson struct {
			ID string `graphql:"id"`
		} `graphql:"updatePerson(id: $id, data: $data)"`
	}
	op := fmt.Sprintf("formula %s: set %s of person %s", st.src, strings.Join(names, " and "), st.name)
	if err := c.mutate(ctx, op, &m, map[string]any{"id": uuid(st.id), "data": data}); err != nil {
		return failed, err
	}
	c.log.InfoContext(ctx, "set formula fields of person", "user", u.UserName, "person", st.id, "fields", names, "formula", st.src)
	return done, nil
}

// PlanResources says what EnsureResources would do, reading the person
// and writing nothing: at most one change, for the person. It is
// "create" when the user has no person yet (EnsureUser makes it and the
// fields follow), "update" with each field's old and new value, "remove"
// with "delete" or "clear ..." for a person no formula asks for any
// more, and "keep" for one whose policy is keep.
func (c *Connector) PlanResources(ctx context.Context, u fanout.User, want, had formulas.Resources) ([]fanout.Change, error) {
	st, ok, err := c.step(ctx, u, want.Twenty.Person, had.Twenty.Person)
	if err != nil || !ok {
		return nil, err
	}
	ch := fanout.Change{Connector: name, Kind: "person", Name: st.name, Source: st.src}
	switch {
	case st.removal == formulas.OnRemoveKeep:
		ch.Action, ch.Detail = fanout.ActionKeep, "the person and its fields stay as they are"
	case st.trash:
		ch.Action, ch.Detail = fanout.ActionRemove, "delete (to Twenty's trash)"
	case st.removal != "":
		fields := make([]string, len(st.changes))
		for i, fc := range st.changes {
			fields[i] = fc.field
		}
		ch.Action, ch.Detail = fanout.ActionRemove, "clear "+strings.Join(fields, " and ")
		if st.removal == formulas.OnRemoveDelete {
			ch.Detail += " (the person stays while the user exists)"
		}
	case st.missing:
		parts := make([]string, len(st.changes))
		for i, fc := range st.changes {
			parts[i] = fmt.Sprintf("%s %q", fc.field, fc.to)
		}
		ch.Action, ch.Detail = fanout.ActionCreate, "with "+strings.Join(parts, " and ")
	default:
		parts := make([]string, len(st.changes))
		for i, fc := range st.changes {
			parts[i] = fmt.Sprintf("%s: %s -> %s", fc.field, shown(fc.from), shown(fc.to))
		}
		ch.Action, ch.Detail = fanout.ActionUpdate, strings.Join(parts, "; ")
	}
	return []fanout.Change{ch}, nil
}

// shown quotes a field's value for a plan; empty is "(empty)".
func shown(s string) string {
	if s == "" {
		return "(empty)"
	}
	return fmt.Sprintf("%q", s)
}
