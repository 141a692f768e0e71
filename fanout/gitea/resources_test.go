package gitea_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/conformance/harness"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/gitea"
	"github.com/scimbridge/scimbridge/formulas"
)

// faulty counts the requests the connector sends and, when failAt is
// set, answers the failAt-th one with a 502 after Gitea has handled it,
// as a proxy losing the answer would: the write is made, the connector
// is told it failed.
type faulty struct {
	gets, writes atomic.Int64
	n, failAt    atomic.Int64
}

func (f *faulty) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		f.gets.Add(1)
	} else {
		f.writes.Add(1)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if n := f.n.Add(1); err == nil && n == f.failAt.Load() {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return &http.Response{
			Status: "502 Bad Gateway", StatusCode: http.StatusBadGateway,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"text/plain"}},
			Body:    io.NopCloser(strings.NewReader("bad gateway")),
			Request: r,
		}, nil
	}
	return resp, err
}

func (f *faulty) reset() {
	f.gets.Store(0)
	f.writes.Store(0)
	f.n.Store(0)
	f.failAt.Store(0)
}

// formula names a formula bound to a group of the same name.
func formula(name string) formulas.Source {
	return formulas.Source{Formula: name, Version: "1.0.0", GroupID: "g-" + name, Group: name}
}

func origin(name string, p formulas.RemovePolicy) formulas.Origin {
	return formulas.Origin{Source: formula(name), OnRemove: p}
}

func giteaPart(repos []formulas.Repo, teams []formulas.Team) formulas.Resources {
	return formulas.Resources{Gitea: formulas.GiteaResources{Repos: repos, Teams: teams}}
}

// resUser is a local account, as a user the reconciler hands to
// EnsureResources after EnsureUser.
func (s *server) resUser(t *testing.T, login string) fanout.User {
	t.Helper()
	a := s.createLocal(t, login, login+"@example.com", nil)
	return fanout.User{ID: "scim-" + login, UserName: login + "@example.com", Email: login + "@example.com", RemoteID: id(a), Active: true}
}

// exists reports whether GET path answers 2xx, failing on anything but
// 404.
func (s *server) exists(t *testing.T, path string, out any) bool {
	t.Helper()
	_, err := s.g.AdminAPI(t.Context(), http.MethodGet, path, nil, out)
	var apiErr *harness.APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func (s *server) must(t *testing.T, method, path string, in, out any) {
	t.Helper()
	if _, err := s.g.AdminAPI(t.Context(), method, path, in, out); err != nil {
		t.Fatal(err)
	}
}

type repoInfo struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Private     bool   `json:"private"`
	Template    bool   `json:"template"`
}

func (s *server) repo(t *testing.T, full string) (repoInfo, bool) {
	t.Helper()
	var r repoInfo
	ok := s.exists(t, "/repos/"+full, &r)
	return r, ok
}

// access is the user's access to an organization's repository, and
// whether they are a collaborator.
func (s *server) access(t *testing.T, full, login string) (string, bool) {
	t.Helper()
	if !s.exists(t, "/repos/"+full+"/collaborators/"+login, nil) {
		return "", false
	}
	var p struct {
		Permission string `json:"permission"`
	}
	s.must(t, http.MethodGet, "/repos/"+full+"/collaborators/"+login+"/permission", nil, &p)
	return p.Permission, true
}

func (s *server) inTeam(t *testing.T, teamID int64, login string) bool {
	t.Helper()
	return s.exists(t, fmt.Sprintf("/teams/%d/members/%s", teamID, login), nil)
}

func wantChanges(t *testing.T, got []fanout.Change, want ...fanout.Change) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\n got %+v\nwant %+v", got, want)
	}
}

func wantApplied(t *testing.T, got, want formulas.Resources) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("applied:\n got %+v\nwant %+v", got, want)
	}
}

func (f *faulty) wantNoWrites(t *testing.T, what string) {
	t.Helper()
	if w := f.writes.Load(); w != 0 {
		t.Errorf("%s made %d writes, want none", what, w)
	}
}

// TestResources drives EnsureResources and PlanResources against a real
// Gitea. The subtests share the server and run in order.
func TestResources(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	rt := &faulty{}
	conn := s.open(t, gitea.Config{}, rt)

	// A template repository with content, a repository that is not a
	// template, and a team, all made by hand.
	s.must(t, http.MethodPost, "/orgs/"+org+"/repos", map[string]any{"name": "ml-template", "auto_init": true}, nil)
	s.must(t, http.MethodPatch, "/repos/"+org+"/ml-template", map[string]any{"template": true}, nil)
	s.must(t, http.MethodPost, "/orgs/"+org+"/repos", map[string]any{"name": "plain", "auto_init": true}, nil)
	var ml team
	s.must(t, http.MethodPost, "/orgs/"+org+"/teams", map[string]any{"name": "ml", "permission": "read", "units": []string{"repo.code"}}, &ml)

	// standard is what the tests give a user: their own repository from
	// the template, a repository of the organization, and the team.
	standard := func(login string, p formulas.RemovePolicy) formulas.Resources {
		return giteaPart([]formulas.Repo{
			{Name: login + "-research", Template: org + "/ml-template", Description: "ML research", Private: true, Origin: origin("ml", p)},
			{Owner: org, Name: login + "-notes", Private: true, Permission: "write", Origin: origin("ml", p)},
		}, []formulas.Team{{Org: org, Team: "ml", Origin: origin("ml", p)}})
	}
	none := formulas.Resources{}
	src := formula("ml").String()

	alice := s.resUser(t, "alice")
	want := standard("alice", formulas.OnRemoveSuspend)
	var applied formulas.Resources

	t.Run("PlanThenCreate", func(t *testing.T) {
		rt.reset()
		plan, err := conn.PlanResources(ctx, alice, want, none)
		if err != nil {
			t.Fatal(err)
		}
		rt.wantNoWrites(t, "planning")
		wantChanges(t, plan,
			fanout.Change{Connector: "gitea", Action: fanout.ActionCreate, Kind: "repo", Name: "alice/alice-research", Detail: "from template platform/ml-template, private", Source: src},
			fanout.Change{Connector: "gitea", Action: fanout.ActionCreate, Kind: "repo", Name: "platform/alice-notes", Detail: "empty, private; write access as collaborator", Source: src},
			fanout.Change{Connector: "gitea", Action: fanout.ActionCreate, Kind: "team", Name: "platform/ml", Detail: "add to team", Source: src},
		)

		rt.reset()
		applied, err = conn.EnsureResources(ctx, alice, want, none)
		if err != nil {
			t.Fatal(err)
		}
		wantApplied(t, applied, want)
		// The three creations: generate; create and add the
		// collaborator; add to the team.
		if w := rt.writes.Load(); w != 4 {
			t.Errorf("applying the plan made %d writes, want 4", w)
		}

		r, ok := s.repo(t, "alice/alice-research")
		if !ok || !r.Private || r.Description != "ML research" {
			t.Errorf("alice/alice-research: %+v (exists %t)", r, ok)
		}
		var readme struct {
			Name    string `json:"name"`
			Content string `json:"content"`
		}
		s.must(t, http.MethodGet, "/repos/alice/alice-research/contents/README.md", nil, &readme)
		text, _ := base64.StdEncoding.DecodeString(readme.Content)
		if !strings.Contains(string(text), "ml-template") {
			t.Errorf("README.md of the generated repository: %q, want the template's", text)
		}
		if r, ok := s.repo(t, "platform/alice-notes"); !ok || !r.Private {
			t.Errorf("platform/alice-notes: %+v (exists %t)", r, ok)
		}
		if p, ok := s.access(t, "platform/alice-notes", "alice"); !ok || p != "write" {
			t.Errorf("alice's access to platform/alice-notes: %q (collaborator %t), want write", p, ok)
		}
		if !s.inTeam(t, ml.ID, "alice") {
			t.Error("alice is not in team ml")
		}

		rt.reset()
		plan, err = conn.PlanResources(ctx, alice, want, applied)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, plan)
	})

	t.Run("Idempotent", func(t *testing.T) {
		rt.reset()
		again, err := conn.EnsureResources(ctx, alice, want, applied)
		if err != nil {
			t.Fatal(err)
		}
		wantApplied(t, again, want)
		rt.wantNoWrites(t, "a converged pass")
		if rt.gets.Load() == 0 {
			t.Error("a converged pass read nothing")
		}
	})

	t.Run("Update", func(t *testing.T) {
		changed := standard("alice", formulas.OnRemoveSuspend)
		changed.Gitea.Repos[0].Description = "Deep learning research"
		changed.Gitea.Repos[0].Private = false
		changed.Gitea.Repos[1].Permission = "read"

		rt.reset()
		plan, err := conn.PlanResources(ctx, alice, changed, applied)
		if err != nil {
			t.Fatal(err)
		}
		rt.wantNoWrites(t, "planning")
		wantChanges(t, plan,
			fanout.Change{Connector: "gitea", Action: fanout.ActionUpdate, Kind: "repo", Name: "alice/alice-research", Detail: "description; private: true -> false", Source: src},
			fanout.Change{Connector: "gitea", Action: fanout.ActionUpdate, Kind: "repo", Name: "platform/alice-notes", Detail: "collaborator access write -> read", Source: src},
		)
		got, err := conn.EnsureResources(ctx, alice, changed, applied)
		if err != nil {
			t.Fatal(err)
		}
		wantApplied(t, got, changed)
		if r, _ := s.repo(t, "alice/alice-research"); r.Private || r.Description != "Deep learning research" {
			t.Errorf("alice/alice-research after the update: %+v", r)
		}
		if p, ok := s.access(t, "platform/alice-notes", "alice"); !ok || p != "read" {
			t.Errorf("alice's access: %q (collaborator %t), want read", p, ok)
		}

		rt.reset()
		if _, err := conn.EnsureResources(ctx, alice, changed, got); err != nil {
			t.Fatal(err)
		}
		rt.wantNoWrites(t, "a converged pass after the update")

		// An edit made in Gitea stays while the formula does not change
		// the field.
		s.must(t, http.MethodPatch, "/repos/alice/alice-research", map[string]any{"description": "edited by alice"}, nil)
		rt.reset()
		if _, err := conn.EnsureResources(ctx, alice, changed, got); err != nil {
			t.Fatal(err)
		}
		rt.wantNoWrites(t, "a pass after a hand edit")
		if r, _ := s.repo(t, "alice/alice-research"); r.Description != "edited by alice" {
			t.Errorf("description %q, want alice's edit kept", r.Description)
		}
		want, applied = changed, got
	})

	t.Run("Drift", func(t *testing.T) {
		s.must(t, http.MethodDelete, fmt.Sprintf("/teams/%d/members/alice", ml.ID), nil, nil)
		s.must(t, http.MethodDelete, "/repos/platform/alice-notes/collaborators/alice", nil, nil)
		plan, err := conn.PlanResources(ctx, alice, want, applied)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, plan,
			fanout.Change{Connector: "gitea", Action: fanout.ActionUpdate, Kind: "repo", Name: "platform/alice-notes", Detail: "add collaborator with read access", Source: src},
			fanout.Change{Connector: "gitea", Action: fanout.ActionCreate, Kind: "team", Name: "platform/ml", Detail: "add to team", Source: src},
		)
		if _, err := conn.EnsureResources(ctx, alice, want, applied); err != nil {
			t.Fatal(err)
		}
		if p, ok := s.access(t, "platform/alice-notes", "alice"); !ok || p != "read" {
			t.Errorf("alice's access: %q (collaborator %t), want read", p, ok)
		}
		if !s.inTeam(t, ml.ID, "alice") {
			t.Error("alice is not back in team ml")
		}
	})

	t.Run("TeamGivesMore", func(t *testing.T) {
		// A team gives alice admin on the repository where the formula
		// says read: the team's access is left alone, and the
		// collaborator's own is not set again on every pass.
		var leads team
		s.must(t, http.MethodPost, "/orgs/"+org+"/teams", map[string]any{"name": "leads", "permission": "admin"}, &leads)
		s.must(t, http.MethodPut, fmt.Sprintf("/teams/%d/repos/%s/alice-notes", leads.ID, org), nil, nil)
		s.must(t, http.MethodPut, fmt.Sprintf("/teams/%d/members/alice", leads.ID), nil, nil)
		// Gitea shows a member of a team with admin access as an owner
		// of the repository.
		if p, _ := s.access(t, "platform/alice-notes", "alice"); p != "owner" {
			t.Fatalf("alice's access through the team: %q, want owner", p)
		}
		for range 2 {
			rt.reset()
			if _, err := conn.EnsureResources(ctx, alice, want, applied); err != nil {
				t.Fatal(err)
			}
			rt.wantNoWrites(t, "a pass with more access from a team")
		}
		s.must(t, http.MethodDelete, fmt.Sprintf("/teams/%d", leads.ID), nil, nil)
		if p, _ := s.access(t, "platform/alice-notes", "alice"); p != "read" {
			t.Errorf("alice's access without the team: %q, want read", p)
		}
	})

	t.Run("Adopt", func(t *testing.T) {
		var mine, theirs repoInfo
		s.must(t, http.MethodPost, "/admin/users/alice/repos", map[string]any{"name": "handmade", "description": "mine", "private": false}, &mine)
		s.must(t, http.MethodPost, "/orgs/"+org+"/repos", map[string]any{"name": "existing", "description": "the org's"}, &theirs)
		adopt := giteaPart([]formulas.Repo{
			{Name: "handmade", Template: org + "/ml-template", Description: "from the formula", Private: true, Origin: origin("hand", "")},
			{Owner: org, Name: "existing", Description: "from the formula", Private: true, Permission: "admin", Origin: origin("hand", "")},
		}, nil)
		plan, err := conn.PlanResources(ctx, alice, adopt, none)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, plan, fanout.Change{Connector: "gitea", Action: fanout.ActionUpdate, Kind: "repo", Name: "platform/existing",
			Detail: "add collaborator with admin access", Source: formula("hand").String()})
		rt.reset()
		got, err := conn.EnsureResources(ctx, alice, adopt, none)
		if err != nil {
			t.Fatal(err)
		}
		wantApplied(t, got, adopt)
		if w := rt.writes.Load(); w != 1 {
			t.Errorf("adopting made %d writes, want 1 (the collaborator)", w)
		}
		if r, _ := s.repo(t, "alice/handmade"); r.ID != mine.ID || r.Description != "mine" || r.Private {
			t.Errorf("alice/handmade: %+v, want %d kept as it was", r, mine.ID)
		}
		if r, _ := s.repo(t, "platform/existing"); r.ID != theirs.ID || r.Description != "the org's" || r.Private {
			t.Errorf("platform/existing: %+v, want %d kept as it was", r, theirs.ID)
		}
		if p, ok := s.access(t, "platform/existing", "alice"); !ok || p != "admin" {
			t.Errorf("alice's access to platform/existing: %q (collaborator %t)", p, ok)
		}
	})

	t.Run("ErrRefused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			res  formulas.Resources
			msg  string
		}{
			{"ErrTemplateMissing", giteaPart([]formulas.Repo{{Name: "x1", Template: org + "/nope", Private: true, Origin: origin("bad", "")}}, nil),
				"template repository platform/nope does not exist"},
			{"ErrNotATemplate", giteaPart([]formulas.Repo{{Name: "x2", Template: org + "/plain", Private: true, Origin: origin("bad", "")}}, nil),
				"platform/plain is not a template repository"},
			{"ErrNoOrganization", giteaPart([]formulas.Repo{{Owner: "nope-org", Name: "x3", Permission: "write", Origin: origin("bad", "")}}, nil),
				`organization "nope-org" does not exist`},
			{"ErrNoTeam", giteaPart(nil, []formulas.Team{{Org: org, Team: "ghosts", Origin: origin("bad", "")}}),
				`team "ghosts" does not exist in organization "platform"`},
			{"ErrOwnersTeam", giteaPart(nil, []formulas.Team{{Org: org, Team: "Owners", Origin: origin("bad", "")}}),
				"owners team"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rt.reset()
				got, err := conn.EnsureResources(ctx, alice, tc.res, none)
				wantTerminal(t, err)
				if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), formula("bad").String()) {
					t.Errorf("err = %v, want %q and the formula", err, tc.msg)
				}
				rt.wantNoWrites(t, "a refused resource")
				wantApplied(t, got, formulas.Resources{})
			})
		}

		// A plan shows what it can plan along with the error; a pass
		// returns what it applied before the error.
		mixed := giteaPart([]formulas.Repo{
			{Name: "fine", Private: true, Origin: origin("ok", "")},
			{Name: "x1", Template: org + "/nope", Private: true, Origin: origin("bad", "")},
		}, nil)
		plan, err := conn.PlanResources(ctx, alice, mixed, none)
		if err == nil || !strings.Contains(err.Error(), "platform/nope") {
			t.Errorf("plan err = %v", err)
		}
		wantChanges(t, plan, fanout.Change{Connector: "gitea", Action: fanout.ActionCreate, Kind: "repo", Name: "alice/fine", Detail: "empty, private", Source: formula("ok").String()})
		got, err := conn.EnsureResources(ctx, alice, mixed, none)
		wantTerminal(t, err)
		wantApplied(t, got, giteaPart(mixed.Gitea.Repos[:1], nil))
		if _, ok := s.repo(t, "alice/fine"); !ok {
			t.Error("alice/fine was not created")
		}
	})

	// removeAll gives a user the standard resources with policy p, then
	// takes them all away, checking the plan of the removal.
	removeAll := func(t *testing.T, login string, p formulas.RemovePolicy, changes func(src string) []fanout.Change) fanout.User {
		t.Helper()
		u := s.resUser(t, login)
		res := standard(login, p)
		had, err := conn.EnsureResources(ctx, u, res, none)
		if err != nil {
			t.Fatal(err)
		}
		rt.reset()
		plan, err := conn.PlanResources(ctx, u, none, had)
		if err != nil {
			t.Fatal(err)
		}
		rt.wantNoWrites(t, "planning")
		wantChanges(t, plan, changes(src)...)
		got, err := conn.EnsureResources(ctx, u, none, had)
		if err != nil {
			t.Fatal(err)
		}
		wantApplied(t, got, formulas.Resources{})
		rt.reset()
		if _, err := conn.EnsureResources(ctx, u, none, got); err != nil {
			t.Fatal(err)
		}
		rt.wantNoWrites(t, "a pass after the removal")
		return u
	}

	t.Run("OnRemoveKeep", func(t *testing.T) {
		rt.reset()
		removeAll(t, "bob", formulas.OnRemoveKeep, func(src string) []fanout.Change {
			return []fanout.Change{
				{Connector: "gitea", Action: fanout.ActionKeep, Kind: "repo", Name: "bob/bob-research", Detail: "keep", Source: src},
				{Connector: "gitea", Action: fanout.ActionKeep, Kind: "repo", Name: "platform/bob-notes", Detail: "keep", Source: src},
				{Connector: "gitea", Action: fanout.ActionKeep, Kind: "team", Name: "platform/ml", Detail: "keep", Source: src},
			}
		})
		if _, ok := s.repo(t, "bob/bob-research"); !ok {
			t.Error("bob/bob-research is gone")
		}
		if p, ok := s.access(t, "platform/bob-notes", "bob"); !ok || p != "write" {
			t.Errorf("bob's access: %q (collaborator %t), want write kept", p, ok)
		}
		if !s.inTeam(t, ml.ID, "bob") {
			t.Error("bob left team ml")
		}
	})

	t.Run("OnRemoveSuspend", func(t *testing.T) {
		removeAll(t, "carol", formulas.OnRemoveSuspend, func(src string) []fanout.Change {
			return []fanout.Change{
				{Connector: "gitea", Action: fanout.ActionKeep, Kind: "repo", Name: "carol/carol-research", Detail: "suspend: the user's own repository stays", Source: src},
				{Connector: "gitea", Action: fanout.ActionRemove, Kind: "repo", Name: "platform/carol-notes", Detail: "remove collaborator access", Source: src},
				{Connector: "gitea", Action: fanout.ActionRemove, Kind: "team", Name: "platform/ml", Detail: "remove membership", Source: src},
			}
		})
		if _, ok := s.repo(t, "carol/carol-research"); !ok {
			t.Error("carol/carol-research is gone")
		}
		if _, ok := s.repo(t, "platform/carol-notes"); !ok {
			t.Error("platform/carol-notes is gone")
		}
		if p, ok := s.access(t, "platform/carol-notes", "carol"); ok {
			t.Errorf("carol is still a collaborator (%s)", p)
		}
		if s.inTeam(t, ml.ID, "carol") {
			t.Error("carol is still in team ml")
		}
	})

	t.Run("OnRemoveDelete", func(t *testing.T) {
		removeAll(t, "dave", formulas.OnRemoveDelete, func(src string) []fanout.Change {
			return []fanout.Change{
				{Connector: "gitea", Action: fanout.ActionRemove, Kind: "repo", Name: "dave/dave-research", Detail: "delete", Source: src},
				{Connector: "gitea", Action: fanout.ActionRemove, Kind: "repo", Name: "platform/dave-notes", Detail: "delete", Source: src},
				{Connector: "gitea", Action: fanout.ActionRemove, Kind: "team", Name: "platform/ml", Detail: "remove membership", Source: src},
			}
		})
		if _, ok := s.repo(t, "dave/dave-research"); ok {
			t.Error("dave/dave-research still exists")
		}
		if _, ok := s.repo(t, "platform/dave-notes"); ok {
			t.Error("platform/dave-notes still exists")
		}
		if s.inTeam(t, ml.ID, "dave") {
			t.Error("dave is still in team ml")
		}
	})

	t.Run("OnRemoveDeleteShared", func(t *testing.T) {
		// One organization repository given to two people: when one
		// leaves, the other still works in it.
		shared := giteaPart([]formulas.Repo{{Owner: org, Name: "handbook", Private: true, Permission: "read", Origin: origin("docs", formulas.OnRemoveDelete)}}, nil)
		erin, fred := s.resUser(t, "erin"), s.resUser(t, "fred")
		had, err := conn.EnsureResources(ctx, erin, shared, none)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.EnsureResources(ctx, fred, shared, none); err != nil {
			t.Fatal(err)
		}
		plan, err := conn.PlanResources(ctx, erin, none, had)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, plan, fanout.Change{Connector: "gitea", Action: fanout.ActionRemove, Kind: "repo", Name: "platform/handbook",
			Detail: "remove collaborator access (not deleted: other collaborators remain)", Source: formula("docs").String()})
		if _, err := conn.EnsureResources(ctx, erin, none, had); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.repo(t, "platform/handbook"); !ok {
			t.Fatal("platform/handbook was deleted while fred still uses it")
		}
		if _, ok := s.access(t, "platform/handbook", "erin"); ok {
			t.Error("erin is still a collaborator")
		}
		if _, err := conn.EnsureResources(ctx, fred, none, shared); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.repo(t, "platform/handbook"); ok {
			t.Error("platform/handbook still exists after its last collaborator left")
		}
	})

	t.Run("RemovedAlreadyGone", func(t *testing.T) {
		gina := s.resUser(t, "gina")
		res := giteaPart([]formulas.Repo{{Name: "scratch", Private: true, Origin: origin("tmp", formulas.OnRemoveDelete)}}, nil)
		had, err := conn.EnsureResources(ctx, gina, res, none)
		if err != nil {
			t.Fatal(err)
		}
		s.must(t, http.MethodDelete, "/repos/gina/scratch", nil, nil)
		rt.reset()
		plan, err := conn.PlanResources(ctx, gina, none, had)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, plan)
		got, err := conn.EnsureResources(ctx, gina, none, had)
		if err != nil {
			t.Fatal(err)
		}
		wantApplied(t, got, formulas.Resources{})
		rt.wantNoWrites(t, "removing a repository already gone")
	})

	t.Run("TwoFormulasOneGoes", func(t *testing.T) {
		hugo := s.resUser(t, "hugo")
		mk := func(f string) formulas.Resources {
			return giteaPart([]formulas.Repo{{Name: "hugo-lab", Template: org + "/ml-template", Private: true, Origin: origin(f, formulas.OnRemoveDelete)}},
				[]formulas.Team{{Org: org, Team: "ml", Origin: origin(f, formulas.OnRemoveDelete)}})
		}
		a, b := mk("alpha"), mk("beta")
		both := formulas.Union(a, b)
		if len(both.Gitea.Repos) != 1 || len(both.Gitea.Repos[0].AlsoFrom) != 1 {
			t.Fatalf("union: %+v", both.Gitea)
		}
		had, err := conn.EnsureResources(ctx, hugo, both, none)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := s.repo(t, "hugo/hugo-lab")

		// alpha, the formula whose definition is used, goes; beta stays.
		onlyB := formulas.Union(b)
		rt.reset()
		plan, err := conn.PlanResources(ctx, hugo, onlyB, had)
		if err != nil {
			t.Fatal(err)
		}
		wantChanges(t, plan)
		got, err := conn.EnsureResources(ctx, hugo, onlyB, had)
		if err != nil {
			t.Fatal(err)
		}
		rt.wantNoWrites(t, "one of two formulas going")
		wantApplied(t, got, onlyB)
		if again, ok := s.repo(t, "hugo/hugo-lab"); !ok || again.ID != r.ID {
			t.Errorf("hugo/hugo-lab: %+v (exists %t), want %d kept", again, ok, r.ID)
		}
		if !s.inTeam(t, ml.ID, "hugo") {
			t.Error("hugo left team ml")
		}

		// beta goes too: now its policy applies.
		if _, err := conn.EnsureResources(ctx, hugo, none, got); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.repo(t, "hugo/hugo-lab"); ok {
			t.Error("hugo/hugo-lab still exists after both formulas went")
		}
	})

	t.Run("FaultMidway", func(t *testing.T) {
		// A 502 answer to each request in turn, after Gitea made the
		// change: the next pass converges, and nothing is made twice.
		for n := int64(1); ; n++ {
			login := fmt.Sprintf("ivy%d", n)
			u := s.resUser(t, login)
			res := standard(login, formulas.OnRemoveSuspend)
			rt.reset()
			rt.failAt.Store(n)
			got, err := conn.EnsureResources(ctx, u, res, none)
			if rt.n.Load() < n {
				if err != nil {
					t.Fatal(err)
				}
				rt.reset()
				if n < 5 {
					t.Fatalf("a pass took only %d requests", n-1)
				}
				break
			}
			// A pass fails, retryably, unless the request was the
			// listing of a generated repository's branches, whose
			// failure is only logged.
			if err != nil && fanout.IsTerminal(err) {
				t.Fatalf("502 at request %d: err = %v, want a retryable error", n, err)
			}
			rt.reset()
			got, err = conn.EnsureResources(ctx, u, res, got)
			if err != nil {
				t.Fatalf("after a 502 at request %d: %v", n, err)
			}
			wantApplied(t, got, res)
			var own []repoInfo
			s.must(t, http.MethodGet, "/users/"+login+"/repos", nil, &own)
			if len(own) != 1 || own[0].Name != login+"-research" {
				t.Errorf("502 at request %d: %s owns %+v, want one repository", n, login, own)
			}
			if !s.exists(t, "/repos/"+login+"/"+login+"-research/contents/README.md", nil) {
				t.Errorf("502 at request %d: the generated repository shows no README.md", n)
			}
			if p, ok := s.access(t, "platform/"+login+"-notes", login); !ok || p != "write" {
				t.Errorf("502 at request %d: access %q (collaborator %t)", n, p, ok)
			}
			if !s.inTeam(t, ml.ID, login) {
				t.Errorf("502 at request %d: not in team ml", n)
			}
			rt.reset()
			if _, err := conn.EnsureResources(ctx, u, res, got); err != nil {
				t.Fatal(err)
			}
			rt.wantNoWrites(t, fmt.Sprintf("a pass after converging (502 at request %d)", n))
		}
	})

	t.Run("NoAccount", func(t *testing.T) {
		// A plan for someone without an account yet shows everything as
		// created; an apply refuses.
		rt.reset()
		nobody := fanout.User{ID: "scim-nobody", UserName: "nobody@example.com"}
		plan, err := conn.PlanResources(ctx, nobody, standard("nobody", ""), none)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan) != 3 || plan[0].Name != "~/nobody-research" || plan[1].Action != fanout.ActionCreate || plan[2].Detail != "add to team" {
			t.Errorf("plan %+v", plan)
		}
		_, err = conn.EnsureResources(ctx, nobody, standard("nobody", ""), none)
		wantTerminal(t, err)
	})
}
