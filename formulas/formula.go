package formulas

import (
	"fmt"
	"strings"
)

// The values of apiVersion and kind that every formula carries.
const (
	APIVersion = "scimbridge.dev/v1"
	Kind       = "Formula"
)

// Formula is one version of a provisioning bundle. It is the document of
// one file, in YAML (Parse) or JSON (encoding/json, then Validate).
type Formula struct {
	// APIVersion is always "scimbridge.dev/v1".
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	// Kind is always "Formula".
	Kind string `yaml:"kind" json:"kind"`
	// Metadata names and describes the formula.
	Metadata Metadata `yaml:"metadata" json:"metadata"`
	// Spec is what the formula asks for.
	Spec Spec `yaml:"spec" json:"spec"`
}

// Metadata names and describes a formula.
type Metadata struct {
	// Name identifies the formula in bindings: lowercase letters, digits
	// and '-', at most 63 characters, starting and ending with a letter or
	// digit.
	Name string `yaml:"name" json:"name"`
	// Title is a human name for catalogs and the admin UI.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	// Description says what the formula gives and to whom.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Tags follow the Backstage catalog's tag rule (lowercase letters,
	// digits, '+', '#' and single inner '-', at most 63 characters).
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Spec is what a formula asks for.
type Spec struct {
	// Version is the formula's semantic version (semver.org), such as
	// "2.0.0"; a binding pins one or follows the latest.
	Version string `yaml:"version" json:"version"`
	// Parameters are the values a binding may set, by name.
	Parameters map[string]Parameter `yaml:"parameters,omitempty" json:"parameters,omitempty"`
	// Resources are what every member of a bound group gets.
	Resources ResourcesSpec `yaml:"resources" json:"resources"`
	// OnRemove is what happens to those resources when a member leaves
	// the group or the binding is removed; "" means OnRemoveSuspend.
	OnRemove RemovePolicy `yaml:"onRemove,omitempty" json:"onRemove,omitempty"`
}

// RemovePolicy says what happens to a formula's resources when they are
// no longer asked for (see the package documentation).
type RemovePolicy string

// The removal policies, from the least to the most destructive.
const (
	// OnRemoveKeep leaves everything as it is.
	OnRemoveKeep RemovePolicy = "keep"
	// OnRemoveSuspend stops workspaces and revokes access (team, channel
	// and collaborator membership) but keeps every repository, workspace
	// and record. It is the default.
	OnRemoveSuspend RemovePolicy = "suspend"
	// OnRemoveDelete deletes the workspaces and repositories the formula
	// created, and revokes access as OnRemoveSuspend does.
	OnRemoveDelete RemovePolicy = "delete"
)

// rank orders policies from the least destructive.
func (p RemovePolicy) rank() int {
	switch p {
	case OnRemoveKeep:
		return 0
	case OnRemoveSuspend, "":
		return 1
	default:
		return 2
	}
}

// effective is the policy with the default applied.
func (p RemovePolicy) effective() RemovePolicy {
	if p == "" {
		return OnRemoveSuspend
	}
	return p
}

// Parameter is one parameter's schema: a subset of JSON Schema.
type Parameter struct {
	// Type is "string", "integer", "number" or "boolean".
	Type string `yaml:"type" json:"type"`
	// Title and Description document the parameter for admins.
	Title       string `yaml:"title,omitempty" json:"title,omitempty"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Enum, when set, lists the only values allowed.
	Enum []any `yaml:"enum,omitempty" json:"enum,omitempty"`
	// Default is the value when a binding sets none. A parameter has a
	// default or is Required.
	Default any `yaml:"default,omitempty" json:"default,omitempty"`
	// Minimum and Maximum bound an integer or a number, inclusively.
	Minimum *float64 `yaml:"minimum,omitempty" json:"minimum,omitempty"`
	Maximum *float64 `yaml:"maximum,omitempty" json:"maximum,omitempty"`
	// Pattern is a regular expression (Go RE2 syntax) a string must
	// match somewhere, as in JSON Schema: anchor it with ^ and $ to match
	// the whole value.
	Pattern string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	// Required means every binding must set the value; such a parameter
	// has no default.
	Required bool `yaml:"required,omitempty" json:"required,omitempty"`
}

// The parameter types.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
)

// ResourcesSpec is what a formula asks of each service. Every string in
// it may contain expressions (see the package documentation).
type ResourcesSpec struct {
	// Gitea: repositories and team memberships.
	Gitea *GiteaSpec `yaml:"gitea,omitempty" json:"gitea,omitempty"`
	// Coder: workspaces.
	Coder *CoderSpec `yaml:"coder,omitempty" json:"coder,omitempty"`
	// Mattermost: channel memberships.
	Mattermost *MattermostSpec `yaml:"mattermost,omitempty" json:"mattermost,omitempty"`
	// Twenty: the user's CRM record.
	Twenty *TwentySpec `yaml:"twenty,omitempty" json:"twenty,omitempty"`
}

// GiteaSpec asks for repositories and team memberships in Gitea.
type GiteaSpec struct {
	// Repos are repositories, created when missing.
	Repos []RepoSpec `yaml:"repos,omitempty" json:"repos,omitempty"`
	// Teams are existing teams the user joins.
	Teams []TeamSpec `yaml:"teams,omitempty" json:"teams,omitempty"`
}

// RepoSpec is one repository.
type RepoSpec struct {
	// Owner is an organization; "" means the user's own account.
	Owner string `yaml:"owner,omitempty" json:"owner,omitempty"`
	// Name is the repository's name.
	Name string `yaml:"name" json:"name"`
	// Template is a template repository, "owner/name", whose content
	// the new repository starts with; "" creates an empty repository.
	Template string `yaml:"template,omitempty" json:"template,omitempty"`
	// Description is the repository's description.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Private defaults to true.
	Private *bool `yaml:"private,omitempty" json:"private,omitempty"`
	// Permission is the user's access to a repository of an
	// organization: "read", "write" (the default) or "admin". It is not
	// set for the user's own repositories.
	Permission string `yaml:"permission,omitempty" json:"permission,omitempty"`
}

// TeamSpec is membership of an existing team of a Gitea organization.
type TeamSpec struct {
	// Org is the organization's name.
	Org string `yaml:"org" json:"org"`
	// Team is the team's name; the Owners team is refused.
	Team string `yaml:"team" json:"team"`
}

// CoderSpec asks for Coder workspaces owned by the user.
type CoderSpec struct {
	// Workspaces are created when missing.
	Workspaces []WorkspaceSpec `yaml:"workspaces,omitempty" json:"workspaces,omitempty"`
}

// WorkspaceSpec is one Coder workspace.
type WorkspaceSpec struct {
	// Name is the workspace's name (codersdk.NameValid).
	Name string `yaml:"name" json:"name"`
	// Template is the name of the Coder template it is built from.
	Template string `yaml:"template" json:"template"`
	// Parameters are the template's rich parameter values; Coder takes
	// them as strings.
	Parameters map[string]string `yaml:"parameters,omitempty" json:"parameters,omitempty"`
	// Preset is the name of one of the template's presets, whose
	// parameter values the workspace gets (they win over Parameters).
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty"`
}

// MattermostSpec asks for Mattermost channel memberships.
type MattermostSpec struct {
	// Channels are joined, and created when missing.
	Channels []ChannelSpec `yaml:"channels,omitempty" json:"channels,omitempty"`
}

// ChannelSpec is membership of a channel of an existing Mattermost team;
// the channel is created when missing.
type ChannelSpec struct {
	// Team is the team's name (its URL name).
	Team string `yaml:"team" json:"team"`
	// Name is the channel's name (its URL name).
	Name string `yaml:"name" json:"name"`
	// DisplayName is shown in Mattermost; "" means Name.
	DisplayName string `yaml:"displayName,omitempty" json:"displayName,omitempty"`
	// Private makes a new channel private.
	Private bool `yaml:"private,omitempty" json:"private,omitempty"`
}

// TwentySpec asks for a record in Twenty CRM.
type TwentySpec struct {
	// Person, when set, asks for a Person record for the user.
	Person *PersonSpec `yaml:"person,omitempty" json:"person,omitempty"`
}

// PersonSpec is the user's Person record. Its name and email come from
// the user; the fields here are optional.
type PersonSpec struct {
	// JobTitle is the record's job title.
	JobTitle string `yaml:"jobTitle,omitempty" json:"jobTitle,omitempty"`
	// City is the record's city.
	City string `yaml:"city,omitempty" json:"city,omitempty"`
}

// Validate checks a formula built in Go or decoded from JSON with the
// same rules as Parse. The error is Errors, without lines.
func (f *Formula) Validate() error {
	es := f.check()
	return es.err()
}

// checker collects the problems of one formula.
type checker struct {
	errs   Errors
	params map[string]Parameter
}

// check applies every rule that does not need the source's positions.
func (f *Formula) check() Errors {
	c := &checker{params: f.Spec.Parameters}
	switch f.APIVersion {
	case APIVersion:
	case "":
		c.errs.add("apiVersion", "required (%s)", APIVersion)
	default:
		c.errs.add("apiVersion", "must be %s", APIVersion)
	}
	switch f.Kind {
	case Kind:
	case "":
		c.errs.add("kind", "required (%s)", Kind)
	default:
		c.errs.add("kind", "must be %s", Kind)
	}
	c.rule("metadata.name", f.Metadata.Name, checkFormulaName)
	seenTags := map[string]int{}
	for i, tag := range f.Metadata.Tags {
		path := fmt.Sprintf("metadata.tags[%d]", i)
		c.rule(path, tag, checkTag)
		if j, ok := seenTags[tag]; ok {
			c.errs.add(path, "duplicate of metadata.tags[%d]", j)
		}
		seenTags[tag] = i
	}
	if f.Spec.Version == "" {
		c.errs.add("spec.version", "required (a semantic version such as 1.0.0)")
	} else if _, err := parseVersion(f.Spec.Version); err != nil {
		c.errs.add("spec.version", "%v", err)
	}
	for _, name := range sortedKeys(f.Spec.Parameters) {
		path := "spec.parameters." + name
		if !paramName.MatchString(name) {
			c.errs.add(path, "a parameter name starts with a letter or '_' and contains only letters, digits and '_'")
		}
		for _, e := range f.Spec.Parameters[name].check(path) {
			c.errs = append(c.errs, e)
		}
	}
	c.resources(&f.Spec.Resources)
	switch f.Spec.OnRemove {
	case "", OnRemoveKeep, OnRemoveSuspend, OnRemoveDelete:
	default:
		c.errs.add("spec.onRemove", "must be keep, suspend or delete")
	}
	return c.errs
}

// rule checks a required field that takes no expressions.
func (c *checker) rule(path, s string, rule func(string) error) {
	if s == "" {
		c.errs.add(path, "required")
		return
	}
	if err := rule(s); err != nil {
		c.errs.add(path, "%v", err)
	}
}

// text checks a resource field that may hold expressions: their syntax
// and names, and, when the value has none, the service's rule. It
// reports whether the value is static (and valid syntax).
func (c *checker) text(path, s string, required bool, rule func(string) error) bool {
	if s == "" {
		if required {
			c.errs.add(path, "required")
		}
		return true
	}
	t, problems := parseTemplate(s)
	for _, p := range problems {
		c.errs.add(path, "%s", p)
	}
	for _, seg := range t {
		if seg.ref == nil {
			continue
		}
		if msg := checkRef(seg.ref, c.params); msg != "" {
			c.errs.add(path, "%s", msg)
		}
	}
	if len(problems) > 0 || !t.static() {
		return false
	}
	if rule != nil {
		if err := rule(s); err != nil {
			c.errs.add(path, "%v", err)
		}
	}
	return true
}

// keys detects two items of one list that name the same resource.
type keys map[string]string

// note records key for the item at path, reporting an earlier one.
func (c *checker) note(seen keys, key, path, what string) {
	if first, ok := seen[key]; ok {
		c.errs.add(path, "the same %s as %s", what, first)
		return
	}
	seen[key] = path
}

func (c *checker) resources(r *ResourcesSpec) {
	const base = "spec.resources"
	if r.Gitea == nil && r.Coder == nil && r.Mattermost == nil && r.Twenty == nil {
		c.errs.add(base, "a formula asks for at least one resource (gitea, coder, mattermost or twenty)")
		return
	}
	if g := r.Gitea; g != nil {
		seen := keys{}
		for i, repo := range g.Repos {
			path := fmt.Sprintf("%s.gitea.repos[%d]", base, i)
			ownerStatic := c.text(path+".owner", repo.Owner, false, checkGiteaOwner)
			nameStatic := c.text(path+".name", repo.Name, true, checkGiteaRepoName)
			c.text(path+".template", repo.Template, false, checkGiteaTemplate)
			c.text(path+".description", repo.Description, false, checkGiteaDescription)
			switch {
			case repo.Permission == "":
			case repo.Owner == "":
				c.errs.add(path+".permission", "applies only to a repository of an organization (owner); the user owns their own repositories")
			case repo.Permission != "read" && repo.Permission != "write" && repo.Permission != "admin":
				c.errs.add(path+".permission", "must be read, write or admin")
			}
			if ownerStatic && nameStatic && repo.Name != "" {
				c.note(seen, repoKey(repo.Owner, repo.Name), path, "repository")
			}
		}
		seen = keys{}
		for i, team := range g.Teams {
			path := fmt.Sprintf("%s.gitea.teams[%d]", base, i)
			orgStatic := c.text(path+".org", team.Org, true, checkGiteaOwner)
			teamStatic := c.text(path+".team", team.Team, true, checkGiteaTeamName)
			if orgStatic && teamStatic && team.Org != "" && team.Team != "" {
				c.note(seen, teamKey(team.Org, team.Team), path, "team")
			}
		}
		if len(g.Repos) == 0 && len(g.Teams) == 0 {
			c.errs.add(base+".gitea", "asks for nothing (repos or teams)")
		}
	}
	if cd := r.Coder; cd != nil {
		seen := keys{}
		for i, ws := range cd.Workspaces {
			path := fmt.Sprintf("%s.coder.workspaces[%d]", base, i)
			nameStatic := c.text(path+".name", ws.Name, true, checkCoderName)
			c.text(path+".template", ws.Template, true, checkCoderName)
			c.text(path+".preset", ws.Preset, false, checkCoderPreset)
			for _, k := range sortedKeys(ws.Parameters) {
				ppath := path + ".parameters." + k
				if strings.TrimSpace(k) == "" {
					c.errs.add(ppath, "a parameter name may not be blank")
				}
				c.text(ppath, ws.Parameters[k], false, nil)
			}
			if nameStatic && ws.Name != "" {
				c.note(seen, workspaceKey(ws.Name), path, "workspace")
			}
		}
		if len(cd.Workspaces) == 0 {
			c.errs.add(base+".coder", "asks for nothing (workspaces)")
		}
	}
	if m := r.Mattermost; m != nil {
		seen := keys{}
		for i, ch := range m.Channels {
			path := fmt.Sprintf("%s.mattermost.channels[%d]", base, i)
			teamStatic := c.text(path+".team", ch.Team, true, checkMattermostTeam)
			nameStatic := c.text(path+".name", ch.Name, true, checkMattermostChannel)
			c.text(path+".displayName", ch.DisplayName, false, checkMattermostDisplayName)
			if teamStatic && nameStatic && ch.Team != "" && ch.Name != "" {
				c.note(seen, channelKey(ch.Team, ch.Name), path, "channel")
			}
		}
		if len(m.Channels) == 0 {
			c.errs.add(base+".mattermost", "asks for nothing (channels)")
		}
	}
	if t := r.Twenty; t != nil {
		if t.Person == nil {
			c.errs.add(base+".twenty", "asks for nothing (person)")
		} else {
			c.text(base+".twenty.person.jobTitle", t.Person.JobTitle, false, nil)
			c.text(base+".twenty.person.city", t.Person.City, false, nil)
		}
	}
}

// The keys that identify a resource, as the services compare names:
// Gitea, Coder and Mattermost ignore case.
func repoKey(owner, name string) string {
	if owner == "" {
		owner = "~"
	}
	return strings.ToLower(owner + "/" + name)
}

func teamKey(org, team string) string     { return strings.ToLower(org + "/" + team) }
func workspaceKey(name string) string     { return strings.ToLower(name) }
func channelKey(team, name string) string { return strings.ToLower(team + "/" + name) }
