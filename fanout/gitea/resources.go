package gitea

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/formulas"
)

var _ fanout.ResourceConnector = (*Connector)(nil)

// Kinds of the changes PlanResources reports.
const (
	kindRepo = "repo"
	kindTeam = "team"
)

// EnsureResources converges the Gitea part of the resources of the
// formulas bound to u's groups (want.Gitea): repositories and team
// memberships. had is what the previous call returned. It returns what
// is applied now: the Gitea part of want, and any resource of had whose
// removal failed; on an error, what is applied so far.
//
// # Formula resources
//
// A repository (gitea.repos) belongs to the user's own account when the
// formula gives no owner, else to an organization, which must exist (a
// terminal error names it). A repository of that owner and name that
// already exists, made by hand or by another binding, is adopted and
// never recreated; one that does not is created, from the template
// repository when the formula names one (its default branch's content,
// topics and labels; not its git hooks nor its webhooks), else empty.
// The template must exist and be marked as a template in Gitea (a
// terminal error names it and the formula otherwise). After generating
// a repository the connector lists its branches once: Gitea v1.26
// records a generated repository's branches only then, and until it
// does its contents API answers 404 for every file. The description
// and visibility are set when the connector creates the repository, and
// changed afterwards only when the formula changes them: an adopted
// repository keeps its own, and edits made in Gitea stay. On a
// repository of an organization the user is a collaborator with the
// formula's permission (read, write or admin), kept equal to it; when a
// team of the organization gives the user more access than that, the
// team's access is left alone.
//
// A team membership (gitea.teams) makes the user a member of an existing
// team; a team that does not exist is a terminal error naming it, as
// are the Owners team and a team whose members follow a SCIM group (see
// Groups: the group's pass would take the user out again).
//
// A resource no formula asks for any more gets its onRemove policy:
//
//   - keep: nothing changes;
//   - suspend (the default): team memberships and collaborator access to
//     organization repositories are removed; the user's own repositories
//     stay as they are;
//   - delete: repositories, the user's own and those of organizations,
//     are deleted, and team memberships are removed. An organization
//     repository that has other collaborators is not deleted, since it
//     is shared: only the user's access is removed.
//
// A repository, team or organization already gone counts as removed. A
// resource two formulas ask for stays while either does.
//
// Gitea is read first and written only where it differs, so a second
// call with the same want and had makes no write. PlanResources reports
// what EnsureResources would do, from the same reads, and writes
// nothing. Errors are classified as for accounts; a resource Gitea
// refuses for a reason retrying cannot fix is a terminal error naming
// the resource and its formula.
func (c *Connector) EnsureResources(ctx context.Context, u fanout.User, want, had formulas.Resources) (formulas.Resources, error) {
	w, h := want.Gitea, had.Gitea
	st := newApplied(w, h)
	if len(w.Repos)+len(w.Teams)+len(h.Repos)+len(h.Teams) == 0 {
		return st.result(), nil
	}
	p, err := c.newPass(ctx, u)
	if err != nil {
		return st.result(), err
	}
	if p.user == nil && len(w.Repos)+len(w.Teams) > 0 {
		if u.RemoteID == "" {
			return st.result(), fanout.Terminal(fmt.Errorf("gitea: user %q has no gitea account to give formula resources to", u.UserName))
		}
		// EnsureUser found it a moment ago: deleted meanwhile; its next
		// pass creates it again.
		return st.result(), fmt.Errorf("gitea: user %q: account %s not found", u.UserName, u.RemoteID)
	}
	for _, it := range p.items(w, h) {
		s, err := it.plan(ctx)
		if err != nil {
			return st.result(), err
		}
		if s.apply != nil {
			if err := s.apply(ctx); err != nil {
				return st.result(), err
			}
		}
		st.settle(it)
	}
	return st.result(), nil
}

// PlanResources returns what EnsureResources would do with the same
// arguments: one change per resource that differs from Gitea (created,
// updated, removed, or kept by its onRemove policy), nothing for one that
// already matches. It only reads. It goes on past a resource it cannot
// plan (a missing template, say) and returns the changes it could plan
// with the errors of the others.
func (c *Connector) PlanResources(ctx context.Context, u fanout.User, want, had formulas.Resources) ([]fanout.Change, error) {
	w, h := want.Gitea, had.Gitea
	if len(w.Repos)+len(w.Teams)+len(h.Repos)+len(h.Teams) == 0 {
		return nil, nil
	}
	p, err := c.newPass(ctx, u)
	if err != nil {
		return nil, err
	}
	var changes []fanout.Change
	var errs []error
	for _, it := range p.items(w, h) {
		s, err := it.plan(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.change.Action != "" {
			changes = append(changes, s.change)
		}
	}
	return changes, errors.Join(errs...)
}

// applied tracks what a call of EnsureResources has applied: had at
// first, then each wanted resource once converged, minus each removed one.
type applied struct {
	want, had formulas.GiteaResources
	wanted    map[string]bool // keys of want
	done      map[string]bool // wanted and converged
	removed   map[string]bool // had, not wanted, and removed
}

func newApplied(want, had formulas.GiteaResources) *applied {
	a := &applied{want: want, had: had, wanted: map[string]bool{}, done: map[string]bool{}, removed: map[string]bool{}}
	for i := range want.Repos {
		a.wanted[repoItemKey(&want.Repos[i])] = true
	}
	for i := range want.Teams {
		a.wanted[teamItemKey(&want.Teams[i])] = true
	}
	return a
}

func (a *applied) settle(it item) {
	if it.remove {
		a.removed[it.key] = true
	} else {
		a.done[it.key] = true
	}
}

// result is want's converged resources (or, for one not converged yet,
// what had of it), then what had that is neither wanted nor removed.
func (a *applied) result() formulas.Resources {
	var out formulas.GiteaResources
	hadRepos := map[string]formulas.Repo{}
	for _, r := range a.had.Repos {
		hadRepos[repoItemKey(&r)] = r
	}
	hadTeams := map[string]formulas.Team{}
	for _, t := range a.had.Teams {
		hadTeams[teamItemKey(&t)] = t
	}
	for _, r := range a.want.Repos {
		k := repoItemKey(&r)
		if a.done[k] {
			out.Repos = append(out.Repos, r)
		} else if h, ok := hadRepos[k]; ok {
			out.Repos = append(out.Repos, h)
		}
	}
	for _, r := range a.had.Repos {
		if k := repoItemKey(&r); !a.wanted[k] && !a.removed[k] {
			out.Repos = append(out.Repos, r)
		}
	}
	for _, t := range a.want.Teams {
		k := teamItemKey(&t)
		if a.done[k] {
			out.Teams = append(out.Teams, t)
		} else if h, ok := hadTeams[k]; ok {
			out.Teams = append(out.Teams, h)
		}
	}
	for _, t := range a.had.Teams {
		if k := teamItemKey(&t); !a.wanted[k] && !a.removed[k] {
			out.Teams = append(out.Teams, t)
		}
	}
	return formulas.Resources{Gitea: out}
}

func repoItemKey(r *formulas.Repo) string { return kindRepo + ":" + r.Key() }
func teamItemKey(t *formulas.Team) string { return kindTeam + ":" + t.Key() }

// item is one resource to converge (wanted) or to remove (had only).
type item struct {
	key    string
	remove bool
	// plan reads Gitea and works out the resource's step.
	plan func(ctx context.Context) (step, error)
}

// step is what converging one resource takes.
type step struct {
	// change is what a plan reports; an empty Action is nothing to say.
	change fanout.Change
	// apply makes the change; nil means no write.
	apply func(ctx context.Context) error
}

// items lists the resources of one pass: the wanted repositories and
// teams, then the removed ones.
func (p *pass) items(want, had formulas.GiteaResources) []item {
	hadRepos := map[string]*formulas.Repo{}
	for i := range had.Repos {
		hadRepos[repoItemKey(&had.Repos[i])] = &had.Repos[i]
	}
	hadTeams := map[string]bool{}
	for i := range had.Teams {
		hadTeams[teamItemKey(&had.Teams[i])] = true
	}
	wanted := map[string]bool{}
	var out []item
	for i := range want.Repos {
		r, k := &want.Repos[i], repoItemKey(&want.Repos[i])
		wanted[k] = true
		prev := hadRepos[k]
		out = append(out, item{key: k, plan: func(ctx context.Context) (step, error) { return p.repoStep(ctx, r, prev) }})
	}
	for i := range want.Teams {
		t, k := &want.Teams[i], teamItemKey(&want.Teams[i])
		wanted[k] = true
		out = append(out, item{key: k, plan: func(ctx context.Context) (step, error) { return p.teamStep(ctx, t) }})
	}
	for i := range had.Repos {
		r, k := &had.Repos[i], repoItemKey(&had.Repos[i])
		if wanted[k] {
			continue
		}
		wanted[k] = true // a duplicate in had is removed once
		out = append(out, item{key: k, remove: true, plan: func(ctx context.Context) (step, error) { return p.repoRemoval(ctx, r) }})
	}
	for i := range had.Teams {
		t, k := &had.Teams[i], teamItemKey(&had.Teams[i])
		if wanted[k] {
			continue
		}
		wanted[k] = true
		out = append(out, item{key: k, remove: true, plan: func(ctx context.Context) (step, error) { return p.teamRemoval(ctx, t) }})
	}
	return out
}

// pass reads Gitea for one call of EnsureResources or PlanResources,
// remembering the organizations, teams and templates it has read.
type pass struct {
	c *Connector
	// user is the user's account; nil when they have none yet (a plan).
	user      *sdk.User
	orgs      map[string]bool            // lowercase name -> exists
	teams     map[string][]*sdk.Team     // lowercase org -> its teams
	templates map[string]*sdk.Repository // lowercase "owner/name" -> repository, nil when missing
}

func (c *Connector) newPass(ctx context.Context, u fanout.User) (*pass, error) {
	p := &pass{c: c, orgs: map[string]bool{}, teams: map[string][]*sdk.Team{}, templates: map[string]*sdk.Repository{}}
	if u.RemoteID == "" {
		return p, nil
	}
	id, err := strconv.ParseInt(u.RemoteID, 10, 64)
	if err != nil || id <= 0 {
		return nil, fanout.Terminal(fmt.Errorf("gitea: user %q is linked to %q, which is not a gitea user id", u.UserName, u.RemoteID))
	}
	p.user, err = c.userByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// login is the user's username, or "~" when they have no account yet.
func (p *pass) login() string {
	if p.user == nil {
		return "~"
	}
	return p.user.UserName
}

// removePolicy is r's onRemove with the default applied.
func removePolicy(o *formulas.Origin) formulas.RemovePolicy {
	if o.OnRemove == "" {
		return formulas.OnRemoveSuspend
	}
	return o.OnRemove
}

// repoStep works out how to converge the wanted repository r; prev is
// its definition of last time, if it was applied.
func (p *pass) repoStep(ctx context.Context, r, prev *formulas.Repo) (step, error) {
	src := r.Source.String()
	owner := r.Owner
	if owner == "" {
		owner = p.login()
	}
	ch := fanout.Change{Connector: name, Kind: kindRepo, Name: owner + "/" + r.Name, Source: src}
	perm := sdk.AccessMode(r.Permission)
	if r.Owner != "" && perm == "" {
		perm = sdk.AccessModeWrite
	}

	var repo *sdk.Repository
	if r.Owner != "" || p.user != nil {
		var err error
		if repo, err = p.repo(ctx, src, owner, r.Name); err != nil {
			return step{}, err
		}
	}
	if repo == nil {
		if r.Owner != "" {
			if err := p.needOrg(ctx, src, ch.Name, r.Owner); err != nil {
				return step{}, err
			}
		}
		var tmpl *sdk.Repository
		if r.Template != "" {
			var err error
			if tmpl, err = p.template(ctx, src, ch.Name, r.Template); err != nil {
				return step{}, err
			}
		}
		ch.Action = fanout.ActionCreate
		ch.Detail = "empty"
		if tmpl != nil {
			ch.Detail = "from template " + r.Template
		}
		ch.Detail += map[bool]string{true: ", private", false: ", public"}[r.Private]
		if r.Owner != "" {
			ch.Detail += fmt.Sprintf("; %s access as collaborator", perm)
		}
		return step{change: ch, apply: func(ctx context.Context) error {
			return p.createRepo(ctx, r, prev, owner, tmpl, perm)
		}}, nil
	}
	return p.repoUpdate(ctx, r, prev, repo, perm)
}

// repoUpdate works out how to converge the existing repository repo to
// r: the description and visibility when the formula changed them since
// prev, and the user's collaborator access on an organization's
// repository.
func (p *pass) repoUpdate(ctx context.Context, r, prev *formulas.Repo, repo *sdk.Repository, perm sdk.AccessMode) (step, error) {
	src := r.Source.String()
	owner, rname := repoNames(repo)
	ch := fanout.Change{Connector: name, Kind: kindRepo, Name: owner + "/" + rname, Source: src}
	var edit sdk.EditRepoOption
	var parts []string
	if prev != nil && prev.Description != r.Description && repo.Description != r.Description {
		edit.Description = &r.Description
		parts = append(parts, "description")
	}
	if prev != nil && prev.Private != r.Private && repo.Private != r.Private {
		edit.Private = &r.Private
		parts = append(parts, fmt.Sprintf("private: %t -> %t", repo.Private, r.Private))
	}
	var grant sdk.AccessMode
	if r.Owner != "" {
		from, need, err := p.collaboratorChange(ctx, src, owner, rname, perm)
		if err != nil {
			return step{}, err
		}
		if need {
			grant = perm
			if from == "" {
				parts = append(parts, fmt.Sprintf("add collaborator with %s access", perm))
			} else {
				parts = append(parts, fmt.Sprintf("collaborator access %s -> %s", from, perm))
			}
		}
	}
	// A repository from a template seen for the first time may be one
	// an earlier pass generated without learning it had (its answer
	// lost): its branches are listed as after a generation.
	record := prev == nil && r.Template != "" && !repo.Empty
	if len(parts) == 0 && !record {
		return step{}, nil
	}
	if len(parts) > 0 {
		ch.Action, ch.Detail = fanout.ActionUpdate, strings.Join(parts, "; ")
	}
	return step{change: ch, apply: func(ctx context.Context) error {
		if record {
			p.recordBranches(ctx, src, owner, rname)
		}
		if edit.Description != nil || edit.Private != nil {
			err := p.c.call(ctx, fmt.Sprintf("formula %s: edit repository %s/%s", src, owner, rname), func(api *sdk.Client) (resp *sdk.Response, err error) {
				_, resp, err = api.EditRepo(owner, rname, edit)
				return resp, err
			})
			if err != nil {
				return err
			}
			p.c.log.InfoContext(ctx, "edited repository", "repo", owner+"/"+rname, "changed", parts, "formula", src)
		}
		if grant != "" {
			return p.grant(ctx, src, owner, rname, grant)
		}
		return nil
	}}, nil
}

// collaboratorChange says whether the user's collaborator access to an
// organization's repository must be set to perm, and what it is now (""
// when the user is not a collaborator). Gitea shows the user's access
// from every source at once; access above perm that a team of the
// organization (or being a site administrator) gives is left alone, so
// that setting the collaborator's own is not repeated on every pass.
func (p *pass) collaboratorChange(ctx context.Context, src, owner, repo string, perm sdk.AccessMode) (from sdk.AccessMode, need bool, err error) {
	if p.user == nil {
		return "", true, nil
	}
	login := p.user.UserName
	is, err := p.isCollaborator(ctx, src, owner, repo, login)
	if err != nil || !is {
		return "", err == nil, err
	}
	var got *sdk.CollaboratorPermissionResult
	err = p.c.call(ctx, fmt.Sprintf("formula %s: read access of %q to %s/%s", src, login, owner, repo), func(api *sdk.Client) (resp *sdk.Response, err error) {
		got, resp, err = api.CollaboratorPermission(owner, repo, login)
		return resp, err
	})
	if err != nil {
		return "", false, err
	}
	have := got.Permission
	switch {
	case have == perm:
		return have, false, nil
	case accessRank(have) < accessRank(perm) || !p.user.IsAdmin && !p.teamGives(ctx, src, owner, repo, have):
		return have, true, nil
	}
	return have, false, nil
}

// teamGives reports whether a team with access to the repository that
// the user belongs to gives at least mode. A team that cannot be read
// counts as not giving it: the collaborator's access is then set again,
// which is harmless.
func (p *pass) teamGives(ctx context.Context, src, owner, repo string, mode sdk.AccessMode) bool {
	var teams []*sdk.Team
	err := p.c.call(ctx, fmt.Sprintf("formula %s: list teams of %s/%s", src, owner, repo), func(api *sdk.Client) (resp *sdk.Response, err error) {
		teams, resp, err = api.GetRepoTeams(owner, repo)
		return resp, err
	})
	if err != nil {
		return false
	}
	for _, t := range teams {
		give := t.Permission
		if give == sdk.AccessModeAdmin {
			// A team with admin access makes its members owners of the
			// repository (models/perm/access/repo_permission.go:
			// GetIndividualUserRepoPermission).
			give = sdk.AccessModeOwner
		}
		if accessRank(give) < accessRank(mode) {
			continue
		}
		if member, err := p.isTeamMember(ctx, src, t); err == nil && member {
			return true
		}
	}
	return false
}

// accessRank orders Gitea's access modes.
func accessRank(m sdk.AccessMode) int {
	switch m {
	case sdk.AccessModeRead:
		return 1
	case sdk.AccessModeWrite:
		return 2
	case sdk.AccessModeAdmin:
		return 3
	case sdk.AccessModeOwner:
		return 4
	}
	return 0
}

// createRepo creates r for owner, from tmpl when it is not nil, and
// gives the user perm on an organization's repository. When Gitea
// answers 409 (the repository appeared meanwhile, or an earlier attempt
// succeeded without its answer arriving), that repository is adopted.
func (p *pass) createRepo(ctx context.Context, r, prev *formulas.Repo, owner string, tmpl *sdk.Repository, perm sdk.AccessMode) error {
	src := r.Source.String()
	full := owner + "/" + r.Name
	var repo *sdk.Repository
	err := p.c.call(ctx, fmt.Sprintf("formula %s: create repository %s", src, full), func(api *sdk.Client) (resp *sdk.Response, err error) {
		switch {
		case tmpl != nil:
			tOwner, tName := repoNames(tmpl)
			repo, resp, err = api.CreateRepoFromTemplate(tOwner, tName, sdk.CreateRepoFromTemplateOption{
				Owner: owner, Name: r.Name, Description: r.Description, Private: r.Private,
				GitContent: true, Topics: true, Labels: true,
			})
		case r.Owner != "":
			repo, resp, err = api.CreateOrgRepo(owner, sdk.CreateRepoOption{Name: r.Name, Description: r.Description, Private: r.Private})
		default:
			repo, resp, err = api.AdminCreateRepo(owner, sdk.CreateRepoOption{Name: r.Name, Description: r.Description, Private: r.Private})
		}
		return resp, err
	})
	if isStatus(err, http.StatusConflict) {
		// routers/api/v1/repo/repo.go (Generate, CreateUserRepo): 409
		// "The repository with the same name already exists."
		again, gerr := p.repo(ctx, src, owner, r.Name)
		if gerr != nil {
			return gerr
		}
		if again == nil {
			return err
		}
		s, uerr := p.repoUpdate(ctx, r, prev, again, perm)
		if uerr != nil || s.apply == nil {
			return uerr
		}
		return s.apply(ctx)
	}
	if err != nil {
		return err
	}
	from := "empty"
	if tmpl != nil {
		from = "template " + r.Template
	}
	p.c.log.InfoContext(ctx, "created repository", "repo", full, "from", from, "formula", src)
	o, n := repoNames(repo)
	if tmpl != nil {
		p.recordBranches(ctx, src, o, n)
	}
	if r.Owner == "" {
		return nil
	}
	return p.grant(ctx, src, o, n, perm)
}

// recordBranches lists a generated repository's branches once. Gitea
// v1.26 records the branches of a repository it generates from a
// template only when they are first listed (services/repository/
// generate.go does not, unlike creation and forks; routers/api/v1/repo/
// branch.go: ListBranches does); until then its contents API answers 404
// for every file. A failure is only logged: the repository is made.
func (p *pass) recordBranches(ctx context.Context, src, owner, repo string) {
	err := p.c.call(ctx, fmt.Sprintf("formula %s: list branches of %s/%s", src, owner, repo), func(api *sdk.Client) (resp *sdk.Response, err error) {
		_, resp, err = api.ListRepoBranches(owner, repo, sdk.ListRepoBranchesOptions{ListOptions: sdk.ListOptions{Page: 1, PageSize: 1}})
		return resp, err
	})
	if err != nil {
		p.c.log.WarnContext(ctx, "could not list the branches of a generated repository", "repo", owner+"/"+repo, "err", err)
	}
}

// grant makes the user a collaborator of an organization's repository
// with perm, or changes their access to perm.
func (p *pass) grant(ctx context.Context, src, owner, repo string, perm sdk.AccessMode) error {
	login := p.user.UserName
	err := p.c.call(ctx, fmt.Sprintf("formula %s: give %q %s access to %s/%s", src, login, perm, owner, repo), func(api *sdk.Client) (*sdk.Response, error) {
		return api.AddCollaborator(owner, repo, login, sdk.AddCollaboratorOption{Permission: &perm})
	})
	if err == nil {
		p.c.log.InfoContext(ctx, "set collaborator access", "repo", owner+"/"+repo, "account", login, "permission", perm, "formula", src)
	}
	return err
}

// repoRemoval works out what r's onRemove policy does to it.
func (p *pass) repoRemoval(ctx context.Context, r *formulas.Repo) (step, error) {
	src := r.Source.String()
	owner := r.Owner
	if owner == "" {
		owner = p.login()
	}
	ch := fanout.Change{Connector: name, Kind: kindRepo, Name: owner + "/" + r.Name, Source: src}
	policy := removePolicy(&r.Origin)
	switch {
	case policy == formulas.OnRemoveKeep:
		ch.Action, ch.Detail = fanout.ActionKeep, "keep"
		return step{change: ch}, nil
	case p.user == nil:
		return step{}, nil // no account: nothing of the user's to remove
	case r.Owner == "" && policy != formulas.OnRemoveDelete:
		ch.Action, ch.Detail = fanout.ActionKeep, "suspend: the user's own repository stays"
		return step{change: ch}, nil
	}
	repo, err := p.repo(ctx, src, owner, r.Name)
	if err != nil || repo == nil {
		return step{}, err // gone already: removed
	}
	o, n := repoNames(repo)
	ch.Name = o + "/" + n
	login := p.user.UserName
	deleteRepo := step{change: ch, apply: func(ctx context.Context) error {
		err := p.c.call(ctx, fmt.Sprintf("formula %s: delete repository %s/%s", src, o, n), func(api *sdk.Client) (*sdk.Response, error) {
			return api.DeleteRepo(o, n)
		})
		if isStatus(err, http.StatusNotFound) {
			return nil
		}
		if err == nil {
			p.c.log.InfoContext(ctx, "deleted repository", "repo", o+"/"+n, "formula", src)
		}
		return err
	}}
	deleteRepo.change.Action, deleteRepo.change.Detail = fanout.ActionRemove, "delete"
	if r.Owner == "" {
		return deleteRepo, nil
	}
	is, err := p.isCollaborator(ctx, src, o, n, login)
	if err != nil {
		return step{}, err
	}
	detail := "remove collaborator access"
	if policy == formulas.OnRemoveDelete {
		others, err := p.otherCollaborators(ctx, src, o, n, login)
		if err != nil {
			return step{}, err
		}
		if others == 0 {
			return deleteRepo, nil
		}
		detail += " (not deleted: other collaborators remain)"
	}
	if !is {
		return step{}, nil
	}
	ch.Action, ch.Detail = fanout.ActionRemove, detail
	return step{change: ch, apply: func(ctx context.Context) error {
		err := p.c.call(ctx, fmt.Sprintf("formula %s: remove %q from collaborators of %s/%s", src, login, o, n), func(api *sdk.Client) (*sdk.Response, error) {
			return api.DeleteCollaborator(o, n, login)
		})
		if isStatus(err, http.StatusNotFound) {
			return nil
		}
		if err == nil {
			p.c.log.InfoContext(ctx, "removed collaborator", "repo", o+"/"+n, "account", login, "formula", src)
		}
		return err
	}}, nil
}

// teamStep works out how to make the user a member of t.
func (p *pass) teamStep(ctx context.Context, t *formulas.Team) (step, error) {
	src := t.Source.String()
	full := t.Org + "/" + t.Team
	teams, found, err := p.orgTeams(ctx, src, t.Org)
	if err != nil {
		return step{}, err
	}
	if !found {
		return step{}, fanout.Terminal(fmt.Errorf("gitea: formula %s: team %s: organization %q does not exist", src, full, t.Org))
	}
	team := findTeamByName(teams, t.Team)
	switch {
	case team == nil:
		return step{}, fanout.Terminal(fmt.Errorf("gitea: formula %s: team %q does not exist in organization %q; create it first", src, t.Team, t.Org))
	case isOwnerTeam(team):
		return step{}, fanout.Terminal(fmt.Errorf("gitea: formula %s: team %s is the owners team of %q, which a formula never hands out", src, full, t.Org))
	case markedGroup(team.Description) != "":
		return step{}, fanout.Terminal(fmt.Errorf("gitea: formula %s: team %s is the team of scim group %s, whose members follow that group; give access through the group instead", src, full, markedGroup(team.Description)))
	}
	full = t.Org + "/" + team.Name
	if p.user != nil {
		member, err := p.isTeamMember(ctx, src, team)
		if err != nil || member {
			return step{}, err
		}
	}
	ch := fanout.Change{Connector: name, Action: fanout.ActionCreate, Kind: kindTeam, Name: full, Detail: "add to team", Source: src}
	return step{change: ch, apply: func(ctx context.Context) error {
		login := p.user.UserName
		err := p.c.call(ctx, fmt.Sprintf("formula %s: add %q to team %s", src, login, full), func(api *sdk.Client) (*sdk.Response, error) {
			return api.AddTeamMember(team.ID, login)
		})
		if err == nil {
			p.c.log.InfoContext(ctx, "added to team", "team", full, "account", login, "formula", src)
		}
		return err
	}}, nil
}

// teamRemoval works out what t's onRemove policy does to the membership.
func (p *pass) teamRemoval(ctx context.Context, t *formulas.Team) (step, error) {
	src := t.Source.String()
	ch := fanout.Change{Connector: name, Kind: kindTeam, Name: t.Org + "/" + t.Team, Source: src}
	if removePolicy(&t.Origin) == formulas.OnRemoveKeep {
		ch.Action, ch.Detail = fanout.ActionKeep, "keep"
		return step{change: ch}, nil
	}
	if p.user == nil {
		return step{}, nil
	}
	teams, found, err := p.orgTeams(ctx, src, t.Org)
	if err != nil || !found {
		return step{}, err
	}
	team := findTeamByName(teams, t.Team)
	if team == nil {
		return step{}, nil // gone: so is the membership
	}
	member, err := p.isTeamMember(ctx, src, team)
	if err != nil || !member {
		return step{}, err
	}
	ch.Name = t.Org + "/" + team.Name
	ch.Action, ch.Detail = fanout.ActionRemove, "remove membership"
	login := p.user.UserName
	return step{change: ch, apply: func(ctx context.Context) error {
		err := p.c.call(ctx, fmt.Sprintf("formula %s: remove %q from team %s", src, login, ch.Name), func(api *sdk.Client) (*sdk.Response, error) {
			return api.RemoveTeamMember(team.ID, login)
		})
		if isStatus(err, http.StatusNotFound) {
			return nil
		}
		if err == nil {
			p.c.log.InfoContext(ctx, "removed from team", "team", ch.Name, "account", login, "formula", src)
		}
		return err
	}}, nil
}

func findTeamByName(teams []*sdk.Team, name string) *sdk.Team {
	for _, t := range teams {
		if strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

// repoNames is a repository's owner and name as Gitea has them.
func repoNames(r *sdk.Repository) (owner, name string) {
	if r.Owner != nil {
		owner = r.Owner.UserName
	}
	if owner == "" {
		owner, _, _ = strings.Cut(r.FullName, "/")
	}
	return owner, r.Name
}

// repo reads owner/name; nil when it does not exist.
func (p *pass) repo(ctx context.Context, src, owner, name string) (*sdk.Repository, error) {
	var repo *sdk.Repository
	err := p.c.call(ctx, fmt.Sprintf("formula %s: read repository %s/%s", src, owner, name), func(api *sdk.Client) (resp *sdk.Response, err error) {
		repo, resp, err = api.GetRepo(owner, name)
		return resp, err
	})
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return repo, nil
}

// needOrg returns a terminal error when the organization org does not
// exist.
func (p *pass) needOrg(ctx context.Context, src, repo, org string) error {
	key := strings.ToLower(org)
	exists, seen := p.orgs[key]
	if !seen {
		err := p.c.call(ctx, fmt.Sprintf("formula %s: read organization %q", src, org), func(api *sdk.Client) (resp *sdk.Response, err error) {
			_, resp, err = api.GetOrg(org)
			return resp, err
		})
		switch {
		case isStatus(err, http.StatusNotFound):
		case err != nil:
			return err
		default:
			exists = true
		}
		p.orgs[key] = exists
	}
	if !exists {
		return fanout.Terminal(fmt.Errorf("gitea: formula %s: repository %s: organization %q does not exist", src, repo, org))
	}
	return nil
}

// template reads the template repository "owner/name"; one that is
// missing or not marked as a template is a terminal error.
func (p *pass) template(ctx context.Context, src, repo, full string) (*sdk.Repository, error) {
	key := strings.ToLower(full)
	tmpl, seen := p.templates[key]
	if !seen {
		owner, name, ok := strings.Cut(full, "/")
		if !ok || owner == "" || name == "" {
			return nil, fanout.Terminal(fmt.Errorf("gitea: formula %s: repository %s: template %q is not owner/name", src, repo, full))
		}
		var err error
		if tmpl, err = p.repo(ctx, src, owner, name); err != nil {
			return nil, err
		}
		p.templates[key] = tmpl
	}
	switch {
	case tmpl == nil:
		return nil, fanout.Terminal(fmt.Errorf("gitea: formula %s: repository %s: template repository %s does not exist", src, repo, full))
	case !tmpl.Template:
		// routers/api/v1/repo/repo.go (Generate): 422 "this is not a
		// template repo".
		return nil, fanout.Terminal(fmt.Errorf("gitea: formula %s: repository %s: %s is not a template repository (mark it as one in its settings)", src, repo, full))
	}
	return tmpl, nil
}

// orgTeams lists the teams of org; found is false when the organization
// does not exist.
func (p *pass) orgTeams(ctx context.Context, src, org string) (teams []*sdk.Team, found bool, err error) {
	key := strings.ToLower(org)
	if teams, ok := p.teams[key]; ok {
		return teams, teams != nil, nil
	}
	all := []*sdk.Team{}
	err = p.c.eachPage(ctx, fmt.Sprintf("formula %s: list teams of %q", src, org), func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		ts, resp, err := api.ListOrgTeams(org, sdk.ListTeamsOptions{ListOptions: page})
		all = append(all, ts...)
		return resp, false, err
	})
	if isStatus(err, http.StatusNotFound) {
		p.teams[key] = nil
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	p.teams[key] = all
	return all, true, nil
}

// isTeamMember reports whether the user is a member of team.
func (p *pass) isTeamMember(ctx context.Context, src string, team *sdk.Team) (bool, error) {
	login := p.user.UserName
	err := p.c.call(ctx, fmt.Sprintf("formula %s: read membership of %q in team %q", src, login, team.Name), func(api *sdk.Client) (resp *sdk.Response, err error) {
		_, resp, err = api.GetTeamMember(team.ID, login)
		return resp, err
	})
	if isStatus(err, http.StatusNotFound) {
		// routers/api/v1/org/team.go (GetTeamMember): 404 when not a
		// member.
		return false, nil
	}
	return err == nil, err
}

// isCollaborator reports whether login is a collaborator of owner/repo.
func (p *pass) isCollaborator(ctx context.Context, src, owner, repo, login string) (bool, error) {
	var is bool
	err := p.c.call(ctx, fmt.Sprintf("formula %s: read collaborator %q of %s/%s", src, login, owner, repo), func(api *sdk.Client) (*sdk.Response, error) {
		ok, resp, err := api.IsCollaborator(owner, repo, login)
		// The SDK reports every answer but a network error as a plain
		// "no"; only 204 (yes) and 404 (no) are answers here
		// (routers/api/v1/repo/collaborators.go: IsCollaborator).
		if err == nil && resp != nil && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
			return resp, fmt.Errorf("unexpected answer %s", resp.Status)
		}
		is = ok
		return resp, err
	})
	return is, err
}

// otherCollaborators counts the collaborators of owner/repo other than
// login.
func (p *pass) otherCollaborators(ctx context.Context, src, owner, repo, login string) (int, error) {
	n := 0
	err := p.c.eachPage(ctx, fmt.Sprintf("formula %s: list collaborators of %s/%s", src, owner, repo), func(api *sdk.Client, page sdk.ListOptions) (*sdk.Response, bool, error) {
		users, resp, err := api.ListCollaborators(owner, repo, sdk.ListCollaboratorsOptions{ListOptions: page})
		for _, u := range users {
			if !strings.EqualFold(u.UserName, login) {
				n++
			}
		}
		return resp, n > 0, err
	})
	return n, err
}
