package gitea

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/scimbridge/scimbridge/fanout"
)

// teamDescription tells Gitea's admins where a created team's members
// come from; groupMark follows it.
const teamDescription = "Managed by scimbridge: members follow an identity provider group."

// groupMark is written at the end of the description of a team the
// connector created or adopted, to record which SCIM group owns it, so
// that two groups whose names map to the same team never share it.
func groupMark(groupID string) string { return "[scim group " + groupID + "]" }

// markedGroup returns the SCIM group id of the mark in a description, or
// "".
func markedGroup(desc string) string {
	i := strings.LastIndex(desc, "[scim group ")
	if i < 0 || !strings.HasSuffix(desc, "]") {
		return ""
	}
	return desc[i+len("[scim group ") : len(desc)-1]
}

// markDescription appends groupID's mark to desc, shortening desc to keep
// within Gitea's limit.
func markDescription(desc, groupID string) string {
	mark := groupMark(groupID)
	desc = strings.TrimSpace(desc)
	if desc == "" {
		return mark
	}
	return truncate(desc, maxTeamDescLen-len(mark)-1) + " " + mark
}

// repoUnits are the repository units a created team gets TeamPermission on.
var repoUnits = []sdk.RepoUnitType{
	sdk.RepoUnitCode, sdk.RepoUnitIssues, sdk.RepoUnitPulls, sdk.RepoUnitExtIssues,
	sdk.RepoUnitWiki, sdk.RepoUnitExtWiki, sdk.RepoUnitReleases, sdk.RepoUnitProjects,
	sdk.RepoUnitPackages, sdk.RepoUnitActions,
}

// EnsureGroup converges g's team in the organization (see the package
// documentation): it finds the team by the id of last time or by name,
// renames or creates it, and makes its members exactly g's members that
// have a Gitea account. On g.Deleted it empties the team and keeps it.
// The result's RemoteID is the team's id in decimal. It is idempotent; a
// group whose name maps to a reserved or another group's team gives a
// terminal error.
func (c *Connector) EnsureGroup(ctx context.Context, g fanout.Group) (fanout.Result, error) {
	name := teamName(g.DisplayName)
	if !g.Deleted && reservedTeamName(name) {
		return fanout.Result{}, fanout.Terminal(fmt.Errorf("gitea: group %q maps to team name %q, which gitea reserves (Owners is the organization's owners team); rename the group", g.DisplayName, name))
	}

	team, adopted, err := c.findTeam(ctx, g, name)
	if err != nil {
		return fanout.Result{}, err
	}
	var notes []string
	if g.Deleted {
		if team == nil {
			return fanout.Result{}, nil // nothing was ever provisioned
		}
		added, removed, err := c.syncMembers(ctx, team, nil)
		if err != nil {
			return fanout.Result{}, err
		}
		return fanout.Result{RemoteID: strconv.FormatInt(team.ID, 10), Note: memberNote(team.Name, added, removed)}, nil
	}

	if team == nil {
		var created bool
		team, created, err = c.createTeam(ctx, g, name)
		if err != nil {
			return fanout.Result{}, err
		}
		if created {
			notes = append(notes, "created team "+team.Name)
			c.log.InfoContext(ctx, "created team", "group", g.DisplayName, "team", team.Name, "team_id", team.ID)
		}
		adopted = !created
	}
	switch {
	case adopted:
		if g.ID != "" && markedGroup(team.Description) != g.ID {
			desc := markDescription(team.Description, g.ID)
			if err := c.editTeam(ctx, team, map[string]string{"description": desc}); err != nil {
				return fanout.Result{}, err
			}
			team.Description = desc
		}
		notes = append(notes, "adopted existing team "+team.Name)
		c.log.InfoContext(ctx, "adopted team", "group", g.DisplayName, "team", team.Name, "team_id", team.ID)
	case team.Name != name:
		old := team.Name
		if err := c.renameTeam(ctx, team, name); err != nil {
			return fanout.Result{}, err
		}
		notes = append(notes, fmt.Sprintf("renamed team %s to %s", old, name))
	}

	want := make(map[int64]bool, len(g.Members))
	for _, m := range g.Members {
		if m.RemoteID == "" {
			continue // not provisioned yet; its own pass comes first
		}
		id, err := strconv.ParseInt(m.RemoteID, 10, 64)
		if err != nil || id <= 0 {
			c.log.WarnContext(ctx, "skipping member with a bad link", "group", g.DisplayName, "member", m.UserName, "remote_id", m.RemoteID)
			continue
		}
		want[id] = true
	}
	added, removed, err := c.syncMembers(ctx, team, want)
	if err != nil {
		return fanout.Result{}, err
	}
	if n := memberNote(team.Name, added, removed); n != "" {
		notes = append(notes, n)
	}
	return fanout.Result{RemoteID: strconv.FormatInt(team.ID, 10), Note: strings.Join(notes, "; ")}, nil
}

func memberNote(team string, added, removed []string) string {
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("team %s: %s", team, strings.Join(parts, "; "))
}

// isOwnerTeam reports whether t is the organization's owners team, which
// this connector never changes.
func isOwnerTeam(t *sdk.Team) bool {
	return t.Permission == sdk.AccessModeOwner || strings.EqualFold(t.Name, "owners")
}

// findTeam returns g's team: the one of last time (by id) if it is still
// in the organization, else, unless g is deleted, the team named name.
// adopted is true for a team found by name that was not g's before.
func (c *Connector) findTeam(ctx context.Context, g fanout.Group, name string) (team *sdk.Team, adopted bool, err error) {
	if id, perr := strconv.ParseInt(g.RemoteID, 10, 64); perr == nil && id > 0 {
		err := c.call(ctx, fmt.Sprintf("get team %d", id), func(api *sdk.Client) (resp *sdk.Response, err error) {
			team, resp, err = api.GetTeam(id)
			return resp, err
		})
		switch {
		case isStatus(err, http.StatusNotFound):
			team = nil // deleted in Gitea
		case err != nil:
			return nil, false, err
		case team.Organization == nil || !strings.EqualFold(team.Organization.UserName, c.cfg.Organization) && !strings.EqualFold(team.Organization.Name, c.cfg.Organization):
			team = nil // the organization changed in the configuration
		case isOwnerTeam(team):
			return nil, false, fanout.Terminal(fmt.Errorf("gitea: group %q is linked to the owners team of %q, which this connector never manages", g.DisplayName, c.cfg.Organization))
		default:
			return team, false, nil
		}
	}
	if g.Deleted {
		return nil, false, nil // never adopt a team only to empty it
	}
	teams, err := c.orgTeams(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, t := range teams {
		if !strings.EqualFold(t.Name, name) {
			continue
		}
		if owner := markedGroup(t.Description); owner != "" && owner != g.ID {
			return nil, false, fanout.Terminal(fmt.Errorf("gitea: group %q maps to team %q, which belongs to scim group %s; rename one of the groups", g.DisplayName, t.Name, owner))
		}
		return t, g.RemoteID != strconv.FormatInt(t.ID, 10), nil
	}
	return nil, false, nil
}

// orgTeams lists every team of the organization.
func (c *Connector) orgTeams(ctx context.Context) ([]*sdk.Team, error) {
	var all []*sdk.Team
	err := c.eachPage(ctx, fmt.Sprintf("list teams of %q", c.cfg.Organization), func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		teams, resp, err := api.ListOrgTeams(c.cfg.Organization, sdk.ListTeamsOptions{ListOptions: page})
		all = append(all, teams...)
		return resp, false, err
	})
	return all, err
}

// createTeam creates g's team. When Gitea answers 422 because a team of
// that name appeared meanwhile, that team is returned, with created false,
// unless it belongs to another group.
func (c *Connector) createTeam(ctx context.Context, g fanout.Group, name string) (team *sdk.Team, created bool, err error) {
	units := make(map[string]string, len(repoUnits))
	for _, u := range repoUnits {
		units[string(u)] = c.cfg.TeamPermission
	}
	opt := sdk.CreateTeamOption{
		Name:        name,
		Description: teamDescription,
		Permission:  sdk.AccessMode(c.cfg.TeamPermission),
		// Gitea v1.26 answers 500 to a non-admin team without units.
		UnitsMap:                units,
		IncludesAllRepositories: false,
		CanCreateOrgRepo:        false,
	}
	if g.ID != "" {
		opt.Description = markDescription(teamDescription, g.ID)
	}
	err = c.call(ctx, fmt.Sprintf("create team %q", name), func(api *sdk.Client) (resp *sdk.Response, err error) {
		team, resp, err = api.CreateTeam(c.cfg.Organization, opt)
		return resp, err
	})
	if isStatus(err, http.StatusUnprocessableEntity) {
		if teams, lerr := c.orgTeams(ctx); lerr == nil {
			for _, t := range teams {
				if owner := markedGroup(t.Description); strings.EqualFold(t.Name, name) && (owner == "" || owner == g.ID) {
					return t, false, nil
				}
			}
		}
	}
	if err != nil {
		return nil, false, err
	}
	return team, true, nil
}

// renameTeam renames team to name, after making sure no other team has
// that name (Gitea answers such a rename with a 500, which would be
// retried forever).
func (c *Connector) renameTeam(ctx context.Context, team *sdk.Team, name string) error {
	if !strings.EqualFold(team.Name, name) {
		teams, err := c.orgTeams(ctx)
		if err != nil {
			return err
		}
		for _, t := range teams {
			if t.ID != team.ID && strings.EqualFold(t.Name, name) {
				return fanout.Terminal(fmt.Errorf("gitea: rename team %q: team %q (id %d) already has that name", team.Name, t.Name, t.ID))
			}
		}
	}
	if err := c.editTeam(ctx, team, map[string]string{"name": name}); err != nil {
		return err
	}
	team.Name = name
	return nil
}

// editTeam sets the given fields (name, description) of team. It does not
// go through the SDK, whose EditTeam refuses names over 30 characters and
// wants a permission, which would overwrite the team's own.
func (c *Connector) editTeam(ctx context.Context, team *sdk.Team, fields map[string]string) error {
	op := fmt.Sprintf("edit team %q", team.Name)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	body, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("gitea: %s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, fmt.Sprintf("%s/api/v1/teams/%d", c.baseURL, team.ID), bytes.NewReader(body))
	if err != nil {
		return fanout.Terminal(fmt.Errorf("gitea: %s: %w", op, err))
	}
	req.Header.Set("Authorization", "token "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "scimbridge")
	resp, err := c.client.Do(req)
	if err != nil {
		return classify(op, nil, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		var answer struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &answer) == nil && answer.Message != "" {
			msg = answer.Message
		}
		return classify(op, &sdk.Response{Response: resp}, errors.New(msg))
	}
	return nil
}

// syncMembers makes team's members exactly want (Gitea user ids) and
// returns the usernames it added and removed.
func (c *Connector) syncMembers(ctx context.Context, team *sdk.Team, want map[int64]bool) (added, removed []string, err error) {
	have := map[int64]string{}
	err = c.eachPage(ctx, fmt.Sprintf("list members of team %q", team.Name), func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		users, resp, err := api.ListTeamMembers(team.ID, sdk.ListTeamMembersOptions{ListOptions: page})
		for _, u := range users {
			have[u.ID] = u.UserName
		}
		return resp, false, err
	})
	if err != nil {
		return nil, nil, err
	}

	for _, id := range sortedKeys(have) {
		if want[id] {
			continue
		}
		login := have[id]
		err := c.call(ctx, fmt.Sprintf("remove %q from team %q", login, team.Name), func(api *sdk.Client) (*sdk.Response, error) {
			return api.RemoveTeamMember(team.ID, login)
		})
		if err != nil && !isStatus(err, http.StatusNotFound) {
			return added, removed, err
		}
		removed = append(removed, login)
	}
	for _, id := range sortedKeys(want) {
		if _, ok := have[id]; ok {
			continue
		}
		acct, err := c.userByID(ctx, id)
		if err != nil {
			return added, removed, err
		}
		if acct == nil {
			// Deleted in Gitea: the user's own pass recreates it, and
			// the group's next pass adds it.
			c.log.WarnContext(ctx, "skipping member without an account", "team", team.Name, "account_id", id)
			continue
		}
		err = c.call(ctx, fmt.Sprintf("add %q to team %q", acct.UserName, team.Name), func(api *sdk.Client) (*sdk.Response, error) {
			return api.AddTeamMember(team.ID, acct.UserName)
		})
		if err != nil {
			return added, removed, err
		}
		added = append(added, acct.UserName)
	}
	return added, removed, nil
}

func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
