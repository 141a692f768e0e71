package twenty

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/fanout"
)

// errNoCompany is returned when a group has no name to give its company.
var errNoCompany = errors.New("the group has no displayName to name its company")

// company is the part of a Company the connector reads.
type company struct {
	ID        string  `graphql:"id"`
	Name      *string `graphql:"name"`
	DeletedAt *string `graphql:"deletedAt"`
}

func (co *company) name() string {
	if co.Name == nil {
		return ""
	}
	return *co.Name
}

// EnsureGroup converges g's company and its people (see the package
// documentation) when GroupCompanies is set, and does nothing otherwise.
// The result's RemoteID is the company's id. It is idempotent.
func (c *Connector) EnsureGroup(ctx context.Context, g fanout.Group) (fanout.Result, error) {
	if !c.cfg.GroupCompanies {
		return fanout.Result{}, nil
	}
	name := strings.TrimSpace(g.DisplayName)
	if name == "" && !g.Deleted {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("twenty: group %s: %w", g.ID, errNoCompany))
	}
	co, notes, err := c.findCompany(ctx, g, name)
	if err != nil || co == nil {
		return fanout.Result{}, err
	}
	added, removed, elsewhere, err := c.syncMembers(ctx, g, co.ID)
	if err != nil {
		return fanout.Result{}, err
	}
	if added > 0 {
		notes = append(notes, fmt.Sprintf("added %d %s", added, people(added)))
	}
	if removed > 0 {
		notes = append(notes, fmt.Sprintf("removed %d %s", removed, people(removed)))
	}
	if elsewhere > 0 {
		notes = append(notes, fmt.Sprintf("left %d %s in another company", elsewhere, people(elsewhere)))
	}
	return fanout.Result{RemoteID: co.ID, Note: strings.Join(notes, "; ")}, nil
}

func people(n int) string {
	if n == 1 {
		return "person"
	}
	return "people"
}

// findCompany finds g's company by the id of last time, else by name
// (the oldest live one), restoring, renaming or creating it as needed.
// For a deleted group it only finds, by id: nil means there is nothing to
// undo.
func (c *Connector) findCompany(ctx context.Context, g fanout.Group, name string) (*company, []string, error) {
	var or []any
	if isUUID(g.RemoteID) {
		or = append(or, map[string]any{"id": map[string]any{"eq": strings.ToLower(g.RemoteID)}})
	}
	// A deleted group acts on its own company only: a namesake found by
	// name may be any customer's.
	if name != "" && !g.Deleted {
		or = append(or, map[string]any{"name": map[string]any{"eq": name}})
	}
	if len(or) == 0 {
		return nil, nil, nil
	}
	var q struct {
		Companies struct {
			Edges []struct {
				Node company `graphql:"node"`
			} `graphql:"edges"`
		} `graphql:"companies(filter: $filter, orderBy: [{createdAt: AscNullsFirst}], first: 60)"`
	}
	filter := companyFilter{"and": withTrash(map[string]any{"or": or})}
	if err := c.query(ctx, "find company", &q, map[string]any{"filter": filter}); err != nil {
		return nil, nil, err
	}
	var byID, byName *company
	namesakes := 0
	for i := range q.Companies.Edges {
		co := &q.Companies.Edges[i].Node
		switch {
		case strings.EqualFold(co.ID, g.RemoteID):
			byID = co
		case co.name() == name && co.DeletedAt == nil:
			namesakes++
			if byName == nil {
				byName = co // the oldest: the answer is sorted by createdAt
			}
		}
	}

	var notes []string
	switch {
	case g.Deleted:
		return byID, nil, nil
	case byID != nil:
		if byID.DeletedAt != nil {
			var m struct {
				RestoreCompany struct {
					ID string `graphql:"id"`
				} `graphql:"restoreCompany(id: $id)"`
			}
			if err := c.mutate(ctx, "restore company", &m, map[string]any{"id": uuid(byID.ID)}); err != nil {
				return nil, nil, err
			}
			notes = append(notes, "restored company from Twenty's trash")
			c.log.InfoContext(ctx, "restored company", "group", g.DisplayName, "company", byID.ID)
		}
		if byID.name() != name {
			var m struct {
				UpdateCompany struct {
					ID string `graphql:"id"`
				} `graphql:"updateCompany(id: $id, data: $data)"`
			}
			if err := c.mutate(ctx, "rename company", &m, map[string]any{"id": uuid(byID.ID), "data": companyUpdate{"name": name}}); err != nil {
				return nil, nil, err
			}
			notes = append(notes, fmt.Sprintf("renamed company %q to %q", byID.name(), name))
		}
		return byID, notes, nil
	case byName != nil:
		note := fmt.Sprintf("adopted existing company %q", name)
		if namesakes > 1 {
			note += fmt.Sprintf(" (the oldest of %d with that name)", namesakes)
		}
		c.log.InfoContext(ctx, "adopting company", "group", g.DisplayName, "company", byName.ID, "namesakes", namesakes)
		return byName, []string{note}, nil
	}
	var m struct {
		CreateCompany company `graphql:"createCompany(data: $data)"`
	}
	if err := c.mutate(ctx, "create company", &m, map[string]any{"data": companyCreate{"name": name}}); err != nil {
		return nil, nil, err
	}
	if m.CreateCompany.ID == "" {
		return nil, nil, fmt.Errorf("twenty: create company: the answer has no id")
	}
	c.log.InfoContext(ctx, "created company", "group", g.DisplayName, "company", m.CreateCompany.ID)
	return &m.CreateCompany, []string{fmt.Sprintf("created company %q", name)}, nil
}

// syncMembers makes the live people of company equal to g's members that
// have a person. It returns how many people it added and removed, and how
// many members it left in another company.
func (c *Connector) syncMembers(ctx context.Context, g fanout.Group, companyID string) (added, removed, elsewhere int, err error) {
	want := map[string]bool{}
	if !g.Deleted {
		for _, m := range g.Members {
			if isUUID(m.RemoteID) {
				want[strings.ToLower(m.RemoteID)] = true
			}
		}
	}
	have, err := c.companyPeople(ctx, companyID)
	if err != nil {
		return 0, 0, 0, err
	}
	var drop, add []string
	for id := range have {
		if !want[id] {
			drop = append(drop, id)
		}
	}
	for id := range want {
		if !have[id] {
			add = append(add, id)
		}
	}
	slices.Sort(drop)
	slices.Sort(add)

	for chunk := range slices.Chunk(drop, pageSize) {
		// Only those still in this company: someone may have moved one
		// since the listing.
		filter := personFilter{"id": map[string]any{"in": chunk}, "companyId": map[string]any{"eq": companyID}}
		n, err := c.setCompany(ctx, "remove people from company", filter, nil)
		if err != nil {
			return added, removed, elsewhere, err
		}
		removed += n
	}
	for chunk := range slices.Chunk(add, pageSize) {
		// Only those without a company: a person holds one company, and
		// one someone set (or another group's) is not taken away.
		filter := personFilter{"id": map[string]any{"in": chunk}, "companyId": map[string]any{"is": "NULL"}}
		n, err := c.setCompany(ctx, "add people to company", filter, companyID)
		if err != nil {
			return added, removed, elsewhere, err
		}
		added += n
		if n < len(chunk) {
			other, err := c.countInOtherCompanies(ctx, chunk, companyID)
			if err != nil {
				return added, removed, elsewhere, err
			}
			elsewhere += other
		}
	}
	if elsewhere > 0 {
		c.log.InfoContext(ctx, "members left in another company", "group", g.DisplayName, "company", companyID, "count", elsewhere)
	}
	return added, removed, elsewhere, nil
}

// companyPeople lists the ids of the live people of a company.
func (c *Connector) companyPeople(ctx context.Context, companyID string) (map[string]bool, error) {
	ids := map[string]bool{}
	filter := personFilter{"companyId": map[string]any{"eq": companyID}}
	var after *string
	for range maxPages {
		var q struct {
			People struct {
				Edges []struct {
					Node struct {
						ID string `graphql:"id"`
					} `graphql:"node"`
				} `graphql:"edges"`
				PageInfo struct {
					HasNextPage bool    `graphql:"hasNextPage"`
					EndCursor   *string `graphql:"endCursor"`
				} `graphql:"pageInfo"`
			} `graphql:"people(filter: $filter, first: 60, after: $after)"`
		}
		if err := c.query(ctx, "list company people", &q, map[string]any{"filter": filter, "after": after}); err != nil {
			return nil, err
		}
		for _, e := range q.People.Edges {
			ids[strings.ToLower(e.Node.ID)] = true
		}
		if !q.People.PageInfo.HasNextPage || q.People.PageInfo.EndCursor == nil || len(q.People.Edges) == 0 {
			return ids, nil
		}
		after = q.People.PageInfo.EndCursor
	}
	return nil, fmt.Errorf("twenty: list company people: more than %d pages", maxPages)
}

// setCompany sets companyId (nil clears it) on the people filter matches,
// with updatePeople, and returns how many it changed.
func (c *Connector) setCompany(ctx context.Context, op string, filter personFilter, companyID any) (int, error) {
	var m struct {
		UpdatePeople []struct {
			ID string `graphql:"id"`
		} `graphql:"updatePeople(data: $data, filter: $filter)"`
	}
	data := personUpdate{"companyId": companyID}
	if err := c.mutate(ctx, op, &m, map[string]any{"data": data, "filter": filter}); err != nil {
		return 0, err
	}
	return len(m.UpdatePeople), nil
}

// countInOtherCompanies counts the live people among ids that belong to a
// company other than companyID.
func (c *Connector) countInOtherCompanies(ctx context.Context, ids []string, companyID string) (int, error) {
	var q struct {
		People struct {
			TotalCount int `graphql:"totalCount"`
		} `graphql:"people(filter: $filter, first: 1)"`
	}
	// One operator per field: Twenty applies only the first of a
	// field's filter and ignores the rest.
	filter := personFilter{"and": []any{
		map[string]any{"id": map[string]any{"in": ids}},
		map[string]any{"companyId": map[string]any{"is": "NOT_NULL"}},
		map[string]any{"companyId": map[string]any{"neq": companyID}},
	}}
	if err := c.query(ctx, "count members in other companies", &q, map[string]any{"filter": filter}); err != nil {
		return 0, err
	}
	return q.People.TotalCount, nil
}
