package coder

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	"github.com/scimbridge/scimbridge/fanout"
)

// EnsureGroup converges g's Coder group in the first configured
// organization (see the package documentation): found by the id of last
// time or by name, adopted or created, renamed when the SCIM group was,
// and its members made exactly g's members that have a Coder account. A
// deleted group is emptied and kept. The result's RemoteID is Coder's
// group id.
//
// With groups: false (the default, since Coder's groups need a Premium
// licence) it does nothing and returns an empty Result.
func (c *Connector) EnsureGroup(ctx context.Context, g fanout.Group) (fanout.Result, error) {
	if !c.cfg.Groups {
		return fanout.Result{}, nil
	}
	if g.Deleted {
		return c.emptyDeleted(ctx, g)
	}
	if strings.TrimSpace(g.DisplayName) == "" {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("coder: group %s has no displayName to name its coder group after", g.ID))
	}
	orgs, err := c.organizations(ctx)
	if err != nil {
		return fanout.Result{}, err
	}
	org := orgs[0]
	name, display := GroupName(g.DisplayName), groupDisplayName(g.DisplayName)

	var notes []string
	grp, err := c.linkedGroup(ctx, g.RemoteID, org.ID)
	if err != nil {
		return fanout.Result{}, err
	}
	linked := grp != nil
	if grp == nil {
		if grp, err = c.groupByName(ctx, org, name); err != nil {
			return fanout.Result{}, err
		}
		if grp != nil {
			notes = append(notes, fmt.Sprintf("adopted existing group %s", grp.Name))
		}
	}
	if grp == nil {
		var note string
		if grp, note, err = c.createGroup(ctx, org, name, display); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, note)
	}
	if err := adoptableGroup(grp, g, display); err != nil {
		return fanout.Result{}, err
	}

	var patch codersdk.PatchGroupRequest
	var changes []string
	if linked && grp.Name != name {
		patch.Name = name
		changes = append(changes, fmt.Sprintf("renamed to %s", name))
	}
	if grp.DisplayName != display {
		patch.DisplayName = &display
		changes = append(changes, "display name")
	}
	patch.AddUsers, patch.RemoveUsers = c.memberDiff(ctx, grp, g)
	if len(patch.AddUsers) > 0 {
		changes = append(changes, fmt.Sprintf("%d members added", len(patch.AddUsers)))
	}
	if len(patch.RemoveUsers) > 0 {
		changes = append(changes, fmt.Sprintf("%d members removed", len(patch.RemoveUsers)))
	}
	if len(changes) > 0 {
		err := c.call(ctx, fmt.Sprintf("update group %q (its members must be members of organization %q)", grp.Name, org.Name), func(ctx context.Context) error {
			_, err := c.api.PatchGroup(ctx, grp.ID, patch)
			return err
		})
		if err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, fmt.Sprintf("updated group %s: %s", grp.Name, strings.Join(changes, ", ")))
	}
	return fanout.Result{RemoteID: grp.ID.String(), Note: strings.Join(notes, "; ")}, nil
}

// adoptableGroup refuses a group that is not g's to manage: the Everyone
// group, a group Coder's IdP group sync manages, and a group whose display
// name says it belongs to another SCIM group.
func adoptableGroup(grp *codersdk.Group, g fanout.Group, display string) error {
	switch {
	case grp.IsEveryone():
		return fanout.Terminal(fmt.Errorf("coder: group %q: %q is coder's Everyone group, whose members are the organization's; not managing it", g.DisplayName, grp.Name))
	case grp.Source == codersdk.GroupSourceOIDC:
		return fanout.Terminal(fmt.Errorf("coder: group %q: coder group %q is managed by coder's own IdP group sync; not managing it as well", g.DisplayName, grp.Name))
	case g.RemoteID != grp.ID.String() && grp.DisplayName != "" && grp.DisplayName != display:
		return fanout.Terminal(fmt.Errorf("coder: group %q: coder group %q belongs to %q (its display name); rename one of the two groups, or clear the coder group's display name to let this one adopt it",
			g.DisplayName, grp.Name, grp.DisplayName))
	}
	return nil
}

// memberDiff returns the ids to add to grp and to remove from it so that
// its members are exactly g's members that have a Coder account.
func (c *Connector) memberDiff(ctx context.Context, grp *codersdk.Group, g fanout.Group) (add, remove []string) {
	want := map[uuid.UUID]bool{}
	for _, m := range g.Members {
		if m.RemoteID == "" {
			continue // not provisioned yet: its own pass comes first
		}
		id, err := uuid.Parse(m.RemoteID)
		if err != nil {
			c.log.WarnContext(ctx, "member link is not a coder user id", "group", g.DisplayName, "member", m.UserName)
			continue
		}
		want[id] = true
	}
	have := map[uuid.UUID]bool{}
	for _, m := range grp.Members {
		have[m.ID] = true
		if !want[m.ID] {
			remove = append(remove, m.ID.String())
		}
	}
	for id := range want {
		if !have[id] {
			add = append(add, id.String())
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove
}

// linkedGroup returns the group whose id is remoteID, if it is still in
// organization org; else nil.
func (c *Connector) linkedGroup(ctx context.Context, remoteID string, org uuid.UUID) (*codersdk.Group, error) {
	id, err := uuid.Parse(remoteID)
	if err != nil {
		return nil, nil
	}
	var grp codersdk.Group
	err = c.call(ctx, fmt.Sprintf("get group %s", id), func(ctx context.Context) (err error) {
		grp, err = c.api.Group(ctx, id, codersdk.GroupRequest{})
		return err
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if grp.OrganizationID != org {
		return nil, nil
	}
	return &grp, nil
}

// groupByName returns the group of org named name (with case), or nil.
func (c *Connector) groupByName(ctx context.Context, org codersdk.Organization, name string) (*codersdk.Group, error) {
	var grp codersdk.Group
	err := c.call(ctx, fmt.Sprintf("get group %q", name), func(ctx context.Context) (err error) {
		grp, err = c.api.GroupByOrgAndName(ctx, org.ID, name)
		return err
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &grp, nil
}

// createGroup creates the group; when Coder answers 409 because it was
// created meanwhile, the group is looked up again.
func (c *Connector) createGroup(ctx context.Context, org codersdk.Organization, name, display string) (*codersdk.Group, string, error) {
	var grp codersdk.Group
	err := c.call(ctx, fmt.Sprintf("create group %q", name), func(ctx context.Context) (err error) {
		grp, err = c.api.CreateGroup(ctx, org.ID, codersdk.CreateGroupRequest{Name: name, DisplayName: display})
		return err
	})
	if isStatus(err, http.StatusConflict) {
		again, ferr := c.groupByName(ctx, org, name)
		if ferr != nil {
			return nil, "", ferr
		}
		if again != nil {
			return again, fmt.Sprintf("adopted existing group %s", again.Name), nil
		}
	}
	if err != nil {
		return nil, "", err
	}
	c.log.InfoContext(ctx, "created group", "group", grp.Name, "group_id", grp.ID.String())
	return &grp, "created group " + grp.Name, nil
}

// emptyDeleted removes every member from the group of a SCIM group that
// was deleted, and keeps the group with the permissions given to it.
func (c *Connector) emptyDeleted(ctx context.Context, g fanout.Group) (fanout.Result, error) {
	id, err := uuid.Parse(g.RemoteID)
	if err != nil {
		return fanout.Result{}, nil
	}
	orgs, err := c.organizations(ctx)
	if err != nil {
		return fanout.Result{}, err
	}
	grp, err := c.linkedGroup(ctx, id.String(), orgs[0].ID)
	if err != nil || grp == nil || grp.IsEveryone() {
		return fanout.Result{}, err
	}
	res := fanout.Result{RemoteID: grp.ID.String()}
	_, remove := c.memberDiff(ctx, grp, fanout.Group{})
	if len(remove) == 0 {
		return res, nil
	}
	err = c.call(ctx, fmt.Sprintf("empty group %q", grp.Name), func(ctx context.Context) error {
		_, err := c.api.PatchGroup(ctx, grp.ID, codersdk.PatchGroupRequest{RemoveUsers: remove})
		return err
	})
	if err != nil {
		return fanout.Result{}, err
	}
	res.Note = fmt.Sprintf("emptied group %s (group deleted; the group and its permissions are kept)", grp.Name)
	return res, nil
}
