package formulas

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Conflict is a resource that two formulas (or two bindings of one)
// define differently: the same workspace name with another template, the
// same repository with another template or visibility.
type Conflict struct {
	// Kind is "gitea repository", "gitea team", "coder workspace",
	// "mattermost channel" or "twenty person".
	Kind string `json:"kind"`
	// Key is the resource's key (see the Key methods).
	Key string `json:"key"`
	// Fields are the fields whose values differ, such as "template" or
	// "parameters.gpu_type".
	Fields []string `json:"fields"`
	// Chosen is the formula whose definition is used; Dropped the one
	// whose definition is not.
	Chosen  Source `json:"chosen"`
	Dropped Source `json:"dropped"`
}

// String says what conflicts and which definition is used, for status
// and plans.
func (c Conflict) String() string {
	return fmt.Sprintf("%s %s: %s and %s differ in %s; the definition of %s is used",
		c.Kind, c.Key, c.Chosen, c.Dropped, strings.Join(c.Fields, ", "), c.Chosen)
}

// Union merges what several formulas (or bindings) give one user. Items
// with the same key (see the Key methods: a Gitea repository's
// owner/name, a team's org/team, a Coder workspace's name, a Mattermost
// channel's team/name, and the one Twenty person) become one.
//
// When their definitions differ, one is chosen by a fixed rule that does
// not depend on the order of rs: the definition of the formula whose name
// sorts first; for two versions of one formula, the higher version; then
// the group id that sorts first; then the definition whose JSON encoding
// sorts first. Every other definition is reported in Conflicts, so that
// an operator can see and fix it; it is never an error, since one bad
// pair of formulas must not stop everyone's provisioning.
//
// The merged item's Source is the chosen definition's; AlsoFrom lists
// every other formula that asked for it; OnRemove is the least
// destructive policy among them all (keep, then suspend, then delete), so
// that no formula's resource is deleted because another one said so.
// Items come out sorted by key.
func Union(rs ...Resources) Resources {
	var out Resources
	var conflicts []Conflict
	collect := func(c []Conflict) { conflicts = append(conflicts, c...) }

	var repos []Repo
	var teams []Team
	var workspaces []Workspace
	var channels []Channel
	var people []Person
	for _, r := range rs {
		repos = append(repos, r.Gitea.Repos...)
		teams = append(teams, r.Gitea.Teams...)
		workspaces = append(workspaces, r.Coder.Workspaces...)
		channels = append(channels, r.Mattermost.Channels...)
		if r.Twenty.Person != nil {
			people = append(people, *r.Twenty.Person)
		}
		conflicts = append(conflicts, r.Conflicts...)
	}
	var c []Conflict
	out.Gitea.Repos, c = merge("gitea repository", repos, diffRepo)
	collect(c)
	out.Gitea.Teams, c = merge("gitea team", teams, diffTeam)
	collect(c)
	out.Coder.Workspaces, c = merge("coder workspace", workspaces, diffWorkspace)
	collect(c)
	out.Mattermost.Channels, c = merge("mattermost channel", channels, diffChannel)
	collect(c)
	merged, c := merge("twenty person", people, diffPerson)
	collect(c)
	if len(merged) > 0 {
		out.Twenty.Person = &merged[0]
	}
	out.Conflicts = sortConflicts(conflicts)
	return out
}

// resource is what merge needs of an item type.
type resource[T any] interface {
	*T
	Key() string
	origin() *Origin
}

// merge groups items by key and keeps one per key (see Union).
func merge[T any, P resource[T]](kind string, items []T, diff func(a, b *T) []string) ([]T, []Conflict) {
	if len(items) == 0 {
		return nil, nil
	}
	groups := map[string][]T{}
	for _, it := range items {
		k := P(&it).Key()
		groups[k] = append(groups[k], it)
	}
	var out []T
	var conflicts []Conflict
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		cands := groups[k]
		defs := make([]string, len(cands))
		for i := range cands {
			defs[i] = definition[T, P](cands[i])
		}
		idx := make([]int, len(cands))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			sa, sb := P(&cands[idx[a]]).origin().Source, P(&cands[idx[b]]).origin().Source
			if c := compareSources(sa, sb); c != 0 {
				return c < 0
			}
			return defs[idx[a]] < defs[idx[b]]
		})
		winner := cands[idx[0]]
		wo := P(&winner).origin()
		policy := wo.OnRemove.effective()
		also := slices.Clone(wo.AlsoFrom)
		for _, i := range idx[1:] {
			co := P(&cands[i]).origin()
			also = append(also, co.Source)
			also = append(also, co.AlsoFrom...)
			if co.OnRemove.effective().rank() < policy.rank() {
				policy = co.OnRemove.effective()
			}
			if fields := diff(&winner, &cands[i]); len(fields) > 0 {
				conflicts = append(conflicts, Conflict{Kind: kind, Key: k, Fields: fields, Chosen: wo.Source, Dropped: co.Source})
			}
		}
		wo.AlsoFrom = sortSources(also, wo.Source)
		wo.OnRemove = policy
		out = append(out, winner)
	}
	return out, conflicts
}

// definition is an item's JSON encoding without its origin: the
// tie-breaker between two definitions from one source.
func definition[T any, P resource[T]](it T) string {
	*P(&it).origin() = Origin{}
	b, err := json.Marshal(it)
	if err != nil {
		return ""
	}
	return string(b)
}

// compareSources orders sources: formula name, then higher version
// first, then group id and name.
func compareSources(a, b Source) int {
	if c := strings.Compare(a.Formula, b.Formula); c != 0 {
		return c
	}
	if c := CompareVersions(b.Version, a.Version); c != 0 {
		return c
	}
	if c := strings.Compare(a.GroupID, b.GroupID); c != 0 {
		return c
	}
	return strings.Compare(a.Group, b.Group)
}

// sortSources sorts and deduplicates, leaving out self.
func sortSources(ss []Source, self Source) []Source {
	var out []Source
	for _, s := range ss {
		if s != self && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, compareSources)
	return out
}

func sortConflicts(cs []Conflict) []Conflict {
	var out []Conflict
	for _, c := range cs {
		if !slices.ContainsFunc(out, func(o Conflict) bool {
			return o.Kind == c.Kind && o.Key == c.Key && o.Chosen == c.Chosen && o.Dropped == c.Dropped && slices.Equal(o.Fields, c.Fields)
		}) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Conflict) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return compareSources(a.Dropped, b.Dropped)
	})
	return out
}

// differ lists the names whose two values differ.
type differ []string

func (d *differ) cmp(name string, a, b any) {
	if a != b {
		*d = append(*d, name)
	}
}

func diffRepo(a, b *Repo) []string {
	var d differ
	d.cmp("owner", a.Owner, b.Owner)
	d.cmp("name", a.Name, b.Name)
	d.cmp("template", a.Template, b.Template)
	d.cmp("description", a.Description, b.Description)
	d.cmp("private", a.Private, b.Private)
	d.cmp("permission", a.Permission, b.Permission)
	return d
}

func diffTeam(a, b *Team) []string {
	var d differ
	d.cmp("org", a.Org, b.Org)
	d.cmp("team", a.Team, b.Team)
	return d
}

func diffWorkspace(a, b *Workspace) []string {
	var d differ
	d.cmp("name", a.Name, b.Name)
	d.cmp("template", a.Template, b.Template)
	d.cmp("preset", a.Preset, b.Preset)
	names := map[string]bool{}
	for k := range a.Parameters {
		names[k] = true
	}
	for k := range b.Parameters {
		names[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		va, okA := a.Parameters[k]
		vb, okB := b.Parameters[k]
		if va != vb || okA != okB {
			d = append(d, "parameters."+k)
		}
	}
	return d
}

func diffChannel(a, b *Channel) []string {
	var d differ
	d.cmp("team", a.Team, b.Team)
	d.cmp("name", a.Name, b.Name)
	d.cmp("displayName", a.DisplayName, b.DisplayName)
	d.cmp("private", a.Private, b.Private)
	return d
}

func diffPerson(a, b *Person) []string {
	var d differ
	d.cmp("jobTitle", a.JobTitle, b.JobTitle)
	d.cmp("city", a.City, b.City)
	return d
}
