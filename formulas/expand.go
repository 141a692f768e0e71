package formulas

import "fmt"

// Subject is whom a formula is expanded for: a member of a bound group.
type Subject struct {
	// User is the member.
	User UserView
	// Group is the bound group; it is empty when a formula is expanded
	// for a user alone (group.* then renders empty).
	Group GroupView
}

// UserView is the user attributes expressions read, as plain data.
type UserView struct {
	// ID is the scimbridge (SCIM) id: user.id.
	ID string
	// UserName is the SCIM userName: user.userName.
	UserName string
	// ExternalID is the SCIM externalId: user.externalId.
	ExternalID string
	// Email is the primary email: user.email.
	Email string
	// GivenName and FamilyName are name.givenName and name.familyName:
	// user.name.givenName, user.name.familyName.
	GivenName, FamilyName string
	// DisplayName is the SCIM displayName: user.displayName.
	DisplayName string
	// Subject is the user's OIDC subject at the identity provider:
	// user.subject.
	Subject string
}

// GroupView is the group attributes expressions read.
type GroupView struct {
	// ID is the scimbridge (SCIM) id of the group: group.id.
	ID string
	// DisplayName is its displayName: group.displayName.
	DisplayName string
}

// Resources is what one user gets from one formula (Expand) or from all
// of their bindings (Union): concrete, rendered names and values for
// each service's connector.
type Resources struct {
	Gitea      GiteaResources      `json:"gitea"`
	Coder      CoderResources      `json:"coder"`
	Mattermost MattermostResources `json:"mattermost"`
	Twenty     TwentyResources     `json:"twenty"`
	// Conflicts are the resources that two formulas define differently;
	// Union chose one definition for each and lists the other here.
	Conflicts []Conflict `json:"conflicts,omitempty"`
}

// GiteaResources are the Gitea repositories and team memberships.
type GiteaResources struct {
	Repos []Repo `json:"repos,omitempty"`
	Teams []Team `json:"teams,omitempty"`
}

// CoderResources are the user's Coder workspaces.
type CoderResources struct {
	Workspaces []Workspace `json:"workspaces,omitempty"`
}

// MattermostResources are the Mattermost channel memberships.
type MattermostResources struct {
	Channels []Channel `json:"channels,omitempty"`
}

// TwentyResources is the user's Twenty CRM record, if one is asked for.
type TwentyResources struct {
	Person *Person `json:"person,omitempty"`
}

// Source names the formula, and the binding, that asked for a resource.
type Source struct {
	// Formula and Version are the formula's metadata.name and
	// spec.version.
	Formula string `json:"formula"`
	Version string `json:"version"`
	// GroupID and Group are the SCIM id and displayName of the bound
	// group, when the formula was expanded for one.
	GroupID string `json:"groupId,omitempty"`
	Group   string `json:"group,omitempty"`
}

// String is "name@version", with the group when there is one.
func (s Source) String() string {
	out := s.Formula + "@" + s.Version
	if s.Group != "" {
		out += " (group " + s.Group + ")"
	} else if s.GroupID != "" {
		out += " (group " + s.GroupID + ")"
	}
	return out
}

// Origin is where a resource comes from and what happens when it goes.
type Origin struct {
	// Source is the formula whose definition of the resource is used.
	Source Source `json:"source"`
	// AlsoFrom are the other formulas and bindings that ask for the same
	// resource (with the same definition or, see Conflicts, another one).
	AlsoFrom []Source `json:"alsoFrom,omitempty"`
	// OnRemove is the policy when no formula asks for the resource any
	// more: the least destructive of those of every formula that asked.
	OnRemove RemovePolicy `json:"onRemove"`
}

func (o *Origin) origin() *Origin { return o }

// Repo is a Gitea repository.
type Repo struct {
	// Owner is an organization, or "" for the user's own account.
	Owner string `json:"owner,omitempty"`
	// Name is the repository's name.
	Name string `json:"name"`
	// Template is the template repository, "owner/name", or "" for an
	// empty repository.
	Template string `json:"template,omitempty"`
	// Description is the repository's description.
	Description string `json:"description,omitempty"`
	// Private is the visibility of a new repository.
	Private bool `json:"private"`
	// Permission is the user's collaborator access to a repository of
	// an organization: read, write or admin; "" for their own.
	Permission string `json:"permission,omitempty"`
	Origin
}

// Key identifies the repository: "owner/name" in lowercase, with "~"
// for the user's own account.
func (r *Repo) Key() string { return repoKey(r.Owner, r.Name) }

// Team is membership of an existing Gitea team.
type Team struct {
	// Org is the organization's name.
	Org string `json:"org"`
	// Team is the team's name.
	Team string `json:"team"`
	Origin
}

// Key identifies the team: "org/team" in lowercase.
func (t *Team) Key() string { return teamKey(t.Org, t.Team) }

// Workspace is a Coder workspace owned by the user.
type Workspace struct {
	// Name is the workspace's name.
	Name string `json:"name"`
	// Template is the name of the Coder template.
	Template string `json:"template"`
	// Parameters are the rich parameter values, as Coder takes them.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Preset is the name of a preset of the template, or "" for none.
	Preset string `json:"preset,omitempty"`
	Origin
}

// Key identifies the workspace: its name in lowercase.
func (w *Workspace) Key() string { return workspaceKey(w.Name) }

// Channel is membership of a Mattermost channel (created when missing)
// in an existing team.
type Channel struct {
	// Team is the team's name.
	Team string `json:"team"`
	// Name is the channel's name.
	Name string `json:"name"`
	// DisplayName is the display name of a new channel.
	DisplayName string `json:"displayName"`
	// Private makes a new channel private.
	Private bool `json:"private"`
	Origin
}

// Key identifies the channel: "team/name".
func (c *Channel) Key() string { return channelKey(c.Team, c.Name) }

// Person is the user's Twenty CRM Person record.
type Person struct {
	// JobTitle and City are set on the record when not empty.
	JobTitle string `json:"jobTitle,omitempty"`
	City     string `json:"city,omitempty"`
	Origin
}

// Key identifies the record: there is one per user.
func (p *Person) Key() string { return "person" }

// Expand renders formula f for subject s with params, the values
// ResolveParams returned. It is pure: no I/O, and the same arguments give
// the same Resources. Names that contain expressions are checked here
// against each service's rules, as is a formula that asks twice for what
// turns out to be the same resource; the error is Errors, with paths and
// without lines.
func Expand(f *Formula, params map[string]any, s Subject) (Resources, error) {
	e := &expander{
		scope: scope{subject: s, params: params},
		origin: Origin{
			Source: Source{
				Formula: f.Metadata.Name,
				Version: f.Spec.Version,
				GroupID: s.Group.ID,
				Group:   s.Group.DisplayName,
			},
			OnRemove: f.Spec.OnRemove.effective(),
		},
	}
	var out Resources
	r := &f.Spec.Resources
	const base = "spec.resources"
	if g := r.Gitea; g != nil {
		seen := keys{}
		for i, spec := range g.Repos {
			path := fmt.Sprintf("%s.gitea.repos[%d]", base, i)
			repo := Repo{
				Owner:       e.text(path+".owner", spec.Owner, false, checkGiteaOwner),
				Name:        e.text(path+".name", spec.Name, true, checkGiteaRepoName),
				Template:    e.text(path+".template", spec.Template, false, checkGiteaTemplate),
				Description: e.text(path+".description", spec.Description, false, checkGiteaDescription),
				Private:     spec.Private == nil || *spec.Private,
				Permission:  spec.Permission,
				Origin:      e.origin,
			}
			switch {
			case repo.Owner == "":
				repo.Permission = "" // the user owns the repository
			case repo.Permission == "":
				repo.Permission = "write"
			}
			e.unique(seen, repo.Key(), path, "repository")
			out.Gitea.Repos = append(out.Gitea.Repos, repo)
		}
		seen = keys{}
		for i, spec := range g.Teams {
			path := fmt.Sprintf("%s.gitea.teams[%d]", base, i)
			team := Team{
				Org:    e.text(path+".org", spec.Org, true, checkGiteaOwner),
				Team:   e.text(path+".team", spec.Team, true, checkGiteaTeamName),
				Origin: e.origin,
			}
			e.unique(seen, team.Key(), path, "team")
			out.Gitea.Teams = append(out.Gitea.Teams, team)
		}
	}
	if c := r.Coder; c != nil {
		seen := keys{}
		for i, spec := range c.Workspaces {
			path := fmt.Sprintf("%s.coder.workspaces[%d]", base, i)
			ws := Workspace{
				Name:     e.text(path+".name", spec.Name, true, checkCoderName),
				Template: e.text(path+".template", spec.Template, true, checkCoderName),
				Preset:   e.text(path+".preset", spec.Preset, false, checkCoderPreset),
				Origin:   e.origin,
			}
			if len(spec.Parameters) > 0 {
				ws.Parameters = make(map[string]string, len(spec.Parameters))
				for _, k := range sortedKeys(spec.Parameters) {
					ws.Parameters[k] = e.text(path+".parameters."+k, spec.Parameters[k], false, nil)
				}
			}
			e.unique(seen, ws.Key(), path, "workspace")
			out.Coder.Workspaces = append(out.Coder.Workspaces, ws)
		}
	}
	if m := r.Mattermost; m != nil {
		seen := keys{}
		for i, spec := range m.Channels {
			path := fmt.Sprintf("%s.mattermost.channels[%d]", base, i)
			ch := Channel{
				Team:        e.text(path+".team", spec.Team, true, checkMattermostTeam),
				Name:        e.text(path+".name", spec.Name, true, checkMattermostChannel),
				DisplayName: e.text(path+".displayName", spec.DisplayName, false, checkMattermostDisplayName),
				Private:     spec.Private,
				Origin:      e.origin,
			}
			if ch.DisplayName == "" {
				ch.DisplayName = ch.Name
			}
			e.unique(seen, ch.Key(), path, "channel")
			out.Mattermost.Channels = append(out.Mattermost.Channels, ch)
		}
	}
	if t := r.Twenty; t != nil && t.Person != nil {
		path := base + ".twenty.person"
		out.Twenty.Person = &Person{
			JobTitle: e.text(path+".jobTitle", t.Person.JobTitle, false, nil),
			City:     e.text(path+".city", t.Person.City, false, nil),
			Origin:   e.origin,
		}
	}
	if len(e.errs) > 0 {
		return Resources{}, e.errs
	}
	return out, nil
}

// expander renders the fields of one formula for one subject.
type expander struct {
	scope  scope
	origin Origin
	errs   Errors
}

// text renders one field and checks the result with rule. An optional
// field that renders empty stays empty; a required one is a problem.
func (e *expander) text(path, s string, required bool, rule func(string) error) string {
	t, problems := parseTemplate(s)
	out, renderProblems := t.render(e.scope)
	problems = append(problems, renderProblems...)
	for _, p := range problems {
		e.errs.add(path, "%s", p)
	}
	if len(problems) > 0 {
		return out
	}
	if out == "" {
		if required {
			if s == "" {
				e.errs.add(path, "required")
			} else {
				e.errs.add(path, "%q renders empty", s)
			}
		}
		return out
	}
	if rule != nil {
		if err := rule(out); err != nil {
			if t.static() {
				e.errs.add(path, "%v", err)
			} else {
				e.errs.add(path, "%q renders %q: %v", s, out, err)
			}
		}
	}
	return out
}

// unique reports a second item of one list with the same key.
func (e *expander) unique(seen keys, key, path, what string) {
	if first, ok := seen[key]; ok {
		e.errs.add(path, "renders the same %s as %s", what, first)
		return
	}
	seen[key] = path
}
