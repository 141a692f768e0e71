package twenty

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/scimbridge/scimbridge/fanout"
)

// The GraphQL types of the variables the connector sends. The client
// declares each variable with the name GetGraphQLType returns, and
// Twenty checks it against its schema (input type names are
// <Object><Kind>Input, packages/twenty-server/src/engine/api/graphql/
// workspace-schema-builder/utils/compute-stored-gql-type-key-utils/
// compute-object-metadata-input-type.util.ts).
type (
	uuid          string
	personFilter  map[string]any
	personCreate  map[string]any
	personUpdate  map[string]any
	companyFilter map[string]any
	companyCreate map[string]any
	companyUpdate map[string]any
)

func (uuid) GetGraphQLType() string          { return "UUID" }
func (personFilter) GetGraphQLType() string  { return "PersonFilterInput" }
func (personCreate) GetGraphQLType() string  { return "PersonCreateInput" }
func (personUpdate) GetGraphQLType() string  { return "PersonUpdateInput" }
func (companyFilter) GetGraphQLType() string { return "CompanyFilterInput" }
func (companyCreate) GetGraphQLType() string { return "CompanyCreateInput" }
func (companyUpdate) GetGraphQLType() string { return "CompanyUpdateInput" }

// pageSize is Twenty's largest page (QUERY_MAX_RECORDS).
const pageSize = 60

// maxPages stops a listing whose pageInfo never ends.
const maxPages = 10000

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// isUUID reports whether s can be a Twenty id; anything else in a filter
// would fail the whole query.
func isUUID(s string) bool { return uuidPattern.MatchString(s) }

// withTrash widens a filter to soft-deleted records too: Twenty leaves
// them out unless the filter mentions deletedAt
// (GraphqlQueryParser.applyDeletedAtToBuilder).
func withTrash(filter map[string]any) []any {
	return []any{filter, map[string]any{"or": []any{
		map[string]any{"deletedAt": map[string]any{"is": "NULL"}},
		map[string]any{"deletedAt": map[string]any{"is": "NOT_NULL"}},
	}}}
}

// person is the part of a Person the connector reads.
type person struct {
	ID   string `graphql:"id"`
	Name *struct {
		FirstName string `graphql:"firstName"`
		LastName  string `graphql:"lastName"`
	} `graphql:"name"`
	Emails *struct {
		PrimaryEmail *string `graphql:"primaryEmail"`
	} `graphql:"emails"`
	CompanyID *string `graphql:"companyId"`
	DeletedAt *string `graphql:"deletedAt"`
}

func (p *person) email() string {
	if p.Emails == nil || p.Emails.PrimaryEmail == nil {
		return ""
	}
	return strings.ToLower(*p.Emails.PrimaryEmail)
}

func (p *person) names() (first, last string) {
	if p.Name == nil {
		return "", ""
	}
	return p.Name.FirstName, p.Name.LastName
}

func (p *person) trashed() bool { return p.DeletedAt != nil }

// userFilter selects the people, trashed or not, whose id is id (when it
// is a UUID) or whose primary email is email (when not empty); ok is
// false when it would select nobody.
func userFilter(id, email string) (filter personFilter, ok bool) {
	var or []any
	if isUUID(id) {
		or = append(or, map[string]any{"id": map[string]any{"eq": strings.ToLower(id)}})
	}
	if email != "" {
		or = append(or, map[string]any{"emails": map[string]any{"primaryEmail": map[string]any{"eq": email}}})
	}
	if len(or) == 0 {
		return nil, false
	}
	return personFilter{"and": withTrash(map[string]any{"or": or})}, true
}

// findPeople returns the people, trashed or not, whose id is id (when it
// is a UUID) or whose primary email is email (when not empty).
func (c *Connector) findPeople(ctx context.Context, id, email string) ([]person, error) {
	filter, ok := userFilter(id, email)
	if !ok {
		return nil, nil
	}
	var q struct {
		People struct {
			Edges []struct {
				Node person `graphql:"node"`
			} `graphql:"edges"`
		} `graphql:"people(filter: $filter, first: 60)"`
	}
	if err := c.query(ctx, "find person", &q, map[string]any{"filter": filter}); err != nil {
		return nil, err
	}
	out := make([]person, len(q.People.Edges))
	for i, e := range q.People.Edges {
		out[i] = e.Node
	}
	return out, nil
}

// claimants sorts out the people found for a user with remoteID and
// email: the person linked last time (byID, live or trashed), a live
// person with the email, and a trashed one with it. Each is nil when
// there is none.
func claimants(found []person, remoteID, email string) (byID, live, trashed *person) {
	for i := range found {
		p := &found[i]
		switch {
		case strings.EqualFold(p.ID, remoteID):
			byID = p
		case p.email() == email && !p.trashed():
			live = p
		case p.email() == email && trashed == nil:
			trashed = p
		}
	}
	return byID, live, trashed
}

// desiredName is the person's name for u; ok is false when u has none,
// and the person's name is then left alone.
func desiredName(u fanout.User) (first, last string, ok bool) {
	first, last = strings.TrimSpace(u.GivenName), strings.TrimSpace(u.FamilyName)
	if first == "" && last == "" {
		first = strings.TrimSpace(u.DisplayName)
	}
	return first, last, first != "" || last != ""
}

// EnsureUser converges u's person (see the package documentation): it
// finds, adopts, restores or creates the person with u's primary email,
// updates its email and name, and on u.Deleted keeps it or moves it to
// the trash, per OnDelete. Active is not used: Twenty has no suspension.
// The result's RemoteID is the person's id ("" for a deleted user
// without a person). It is idempotent; a user without an email, and two
// people claiming the user, give terminal errors.
func (c *Connector) EnsureUser(ctx context.Context, u fanout.User) (fanout.Result, error) {
	if u.Deleted {
		return c.removeUser(ctx, u)
	}
	email := strings.ToLower(strings.TrimSpace(u.Email))
	if email == "" {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("twenty: user %q has no email: Twenty keys people by their primary email", u.UserName))
	}
	found, err := c.findPeople(ctx, u.RemoteID, email)
	if err != nil {
		return fanout.Result{}, err
	}

	byID, live, trashed := claimants(found, u.RemoteID, email)
	var target *person
	var notes []string
	switch {
	case byID != nil && !byID.trashed():
		if live != nil {
			return fanout.Result{}, fanout.Terminal(fmt.Errorf(
				"twenty: user %q: its person %s has the email %s and another person %s already has %s; merge the two in Twenty and the next pass links the one left",
				u.UserName, byID.ID, byID.email(), live.ID, email))
		}
		target = byID
	case live != nil:
		target = live
		notes = append(notes, "adopted existing person by email")
		c.log.InfoContext(ctx, "adopting person", "user", u.UserName, "person", live.ID)
	case byID != nil || trashed != nil:
		target = byID
		if target == nil {
			target = trashed
		}
		if err := c.restorePerson(ctx, target.ID); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, "restored person from Twenty's trash")
		c.log.InfoContext(ctx, "restored person", "user", u.UserName, "person", target.ID)
	default:
		p, err := c.createPerson(ctx, u, email)
		if isDuplicate(err) {
			// Someone created the person since the lookup, and this
			// Twenty's upsert matches on id only: adopt that person.
			if target, err = c.livePerson(ctx, email); err != nil {
				return fanout.Result{}, err
			}
			notes = append(notes, "adopted existing person by email")
			c.log.InfoContext(ctx, "adopting person", "user", u.UserName, "person", target.ID)
			break
		}
		if err != nil {
			return fanout.Result{}, err
		}
		c.log.InfoContext(ctx, "created person", "user", u.UserName, "person", p.ID)
		return fanout.Result{RemoteID: p.ID, Note: "created person"}, nil
	}

	changed, err := c.updatePerson(ctx, target, u, email)
	if err != nil {
		return fanout.Result{}, err
	}
	if len(changed) > 0 {
		notes = append(notes, "updated "+strings.Join(changed, " and "))
	}
	return fanout.Result{RemoteID: target.ID, Note: strings.Join(notes, "; ")}, nil
}

// livePerson returns the live person whose primary email is email, or
// an error that is retried when there is none (it went away again).
func (c *Connector) livePerson(ctx context.Context, email string) (*person, error) {
	found, err := c.findPeople(ctx, "", email)
	if err != nil {
		return nil, err
	}
	for i := range found {
		if p := &found[i]; !p.trashed() && p.email() == email {
			return p, nil
		}
	}
	return nil, fmt.Errorf("twenty: create person: Twenty reports a duplicate of %s, but no live person has it", email)
}

// createPerson creates u's person with createPerson(upsert: true): should
// a live person with that email have appeared since the lookup, Twenty
// versions whose upsert matches unique fields update it; the others
// answer with a duplicate error, which EnsureUser handles.
func (c *Connector) createPerson(ctx context.Context, u fanout.User, email string) (*person, error) {
	data := personCreate{"emails": map[string]any{"primaryEmail": email}}
	if first, last, ok := desiredName(u); ok {
		data["name"] = map[string]any{"firstName": first, "lastName": last}
	}
	var m struct {
		CreatePerson person `graphql:"createPerson(data: $data, upsert: true)"`
	}
	if err := c.mutate(ctx, "create person", &m, map[string]any{"data": data}); err != nil {
		return nil, err
	}
	if m.CreatePerson.ID == "" {
		return nil, fmt.Errorf("twenty: create person: the answer has no id")
	}
	return &m.CreatePerson, nil
}

// updatePerson writes what differs between p and u (email, name) and
// says what it changed.
func (c *Connector) updatePerson(ctx context.Context, p *person, u fanout.User, email string) ([]string, error) {
	data := personUpdate{}
	var changed []string
	if p.email() != email {
		data["emails"] = map[string]any{"primaryEmail": email}
		changed = append(changed, "email")
	}
	if first, last, ok := desiredName(u); ok {
		if f, l := p.names(); f != first || l != last {
			data["name"] = map[string]any{"firstName": first, "lastName": last}
			changed = append(changed, "name")
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	var m struct {
		UpdatePerson struct {
			ID string `graphql:"id"`
		} `graphql:"updatePerson(id: $id, data: $data)"`
	}
	if err := c.mutate(ctx, "update person", &m, map[string]any{"id": uuid(p.ID), "data": data}); err != nil {
		return nil, err
	}
	return changed, nil
}

func (c *Connector) restorePerson(ctx context.Context, id string) error {
	var m struct {
		RestorePerson struct {
			ID string `graphql:"id"`
		} `graphql:"restorePerson(id: $id)"`
	}
	return c.mutate(ctx, "restore person", &m, map[string]any{"id": uuid(id)})
}

// removeUser handles a deleted user, known by its link only: the person
// is kept, or moved to the trash with onDelete: softDelete. Its company
// is left to the groups' passes, which know which companies are theirs.
func (c *Connector) removeUser(ctx context.Context, u fanout.User) (fanout.Result, error) {
	if !isUUID(u.RemoteID) {
		return fanout.Result{}, nil // never provisioned
	}
	found, err := c.findPeople(ctx, u.RemoteID, "")
	if err != nil {
		return fanout.Result{}, err
	}
	if len(found) == 0 {
		return fanout.Result{}, nil // deleted by hand
	}
	p := found[0]
	if c.cfg.OnDelete != OnDeleteSoftDelete || p.trashed() {
		return fanout.Result{RemoteID: p.ID}, nil
	}
	var m struct {
		DeletePerson struct {
			ID string `graphql:"id"`
		} `graphql:"deletePerson(id: $id)"`
	}
	err = c.mutate(ctx, "delete person", &m, map[string]any{"id": uuid(p.ID)})
	if isCode(err, codeNotFound) {
		return fanout.Result{}, nil
	}
	if err != nil {
		return fanout.Result{}, err
	}
	c.log.InfoContext(ctx, "moved person to the trash", "user", u.UserName, "person", p.ID)
	return fanout.Result{RemoteID: p.ID, Note: "moved person to Twenty's trash"}, nil
}
