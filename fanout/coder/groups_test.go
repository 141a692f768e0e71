package coder_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/coder/coder/v2/codersdk"
	"github.com/google/uuid"

	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
)

func memberIDs(g codersdk.Group) []string {
	var ids []string
	for _, m := range g.Members {
		ids = append(ids, m.ID.String())
	}
	slices.Sort(ids)
	return ids
}

func (e *env) group(t *testing.T, id string) codersdk.Group {
	t.Helper()
	g, ok := e.f.Group(uuid.MustParse(id))
	if !ok {
		t.Fatalf("no group %s", id)
	}
	return g
}

func mustEnsureGroup(t *testing.T, c *coder.Connector, g fanout.Group) fanout.Result {
	t.Helper()
	res, err := c.EnsureGroup(t.Context(), g)
	if err != nil {
		t.Fatalf("EnsureGroup(%s): %v", g.DisplayName, err)
	}
	return res
}

// provision creates accounts for the named people and returns them as
// group members.
func provision(t *testing.T, c *coder.Connector, names ...string) []fanout.Member {
	t.Helper()
	var out []fanout.Member
	for _, n := range names {
		u := person(n)
		out = append(out, fanout.Member{UserID: u.ID, UserName: u.UserName, RemoteID: mustEnsure(t, c, u).RemoteID})
	}
	return out
}

func sortedIDs(ms ...fanout.Member) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.RemoteID)
	}
	slices.Sort(ids)
	return ids
}

func TestEnsureGroup(t *testing.T) {
	t.Run("OffByDefault", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{})
		res, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "Platform"})
		if err != nil || res != (fanout.Result{}) {
			t.Fatalf("EnsureGroup with groups off: %+v, %v; want nothing", res, err)
		}
		if got := e.rec.take(); len(got) != 0 {
			t.Errorf("groups off made requests %v", got)
		}
	})

	t.Run("CreatesAndConverges", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{Groups: true})
		ms := provision(t, c, "ann", "ben", "cat")
		pending := fanout.Member{UserID: "scim-dan", UserName: "dan"}
		g := fanout.Group{ID: "g1", DisplayName: "Platform Team", Members: []fanout.Member{ms[0], ms[1], pending}}
		e.rec.take()
		res := mustEnsureGroup(t, c, g)
		got := e.group(t, res.RemoteID)
		if got.Name != "platform-team" || got.DisplayName != "Platform Team" || got.OrganizationID != e.f.DefaultOrganization().ID {
			t.Errorf("group %+v", got)
		}
		if !slices.Equal(memberIDs(got), sortedIDs(ms[0], ms[1])) {
			t.Errorf("members %v, want %v", memberIDs(got), sortedIDs(ms[0], ms[1]))
		}
		if !strings.Contains(res.Note, "created group platform-team") || !strings.Contains(res.Note, "2 members added") {
			t.Errorf("note %q", res.Note)
		}
		org := "/api/v2/organizations/" + got.OrganizationID.String()
		want := []string{"GET " + org + "/groups/platform-team", "POST " + org + "/groups", "PATCH /api/v2/groups/" + res.RemoteID}
		if reqs := e.rec.take(); !slices.Equal(reqs, want) {
			t.Errorf("requests %v, want %v", reqs, want)
		}

		g.RemoteID = res.RemoteID
		if again := mustEnsureGroup(t, c, g); again.RemoteID != g.RemoteID || again.Note != "" {
			t.Errorf("second pass %+v", again)
		}
		if reqs := e.rec.take(); len(reqs) != 1 {
			t.Errorf("a converged group cost %v, want one read", reqs)
		}

		g.Members = []fanout.Member{ms[1], ms[2]}
		res = mustEnsureGroup(t, c, g)
		if got := memberIDs(e.group(t, g.RemoteID)); !slices.Equal(got, sortedIDs(ms[1], ms[2])) {
			t.Errorf("members %v, want %v", got, sortedIDs(ms[1], ms[2]))
		}
		if !strings.Contains(res.Note, "1 members added, 1 members removed") {
			t.Errorf("note %q", res.Note)
		}

		// A suspended member stays a member.
		ben := person("ben")
		ben.RemoteID, ben.Active = ms[1].RemoteID, false
		mustEnsure(t, c, ben)
		mustEnsureGroup(t, c, g)
		if got := memberIDs(e.group(t, g.RemoteID)); !slices.Equal(got, sortedIDs(ms[1], ms[2])) {
			t.Errorf("members %v after a suspension, want %v", got, sortedIDs(ms[1], ms[2]))
		}
	})

	t.Run("Renamed", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{Groups: true})
		g := fanout.Group{ID: "g1", DisplayName: "Platform"}
		g.RemoteID = mustEnsureGroup(t, c, g).RemoteID
		g.DisplayName = "Platform Engineering"
		res := mustEnsureGroup(t, c, g)
		got := e.group(t, g.RemoteID)
		if res.RemoteID != g.RemoteID || got.Name != "platform-engineering" || got.DisplayName != "Platform Engineering" {
			t.Errorf("result %+v, group %s %q", res, got.Name, got.DisplayName)
		}
		if !strings.Contains(res.Note, "renamed to platform-engineering") {
			t.Errorf("note %q", res.Note)
		}
	})

	t.Run("AdoptsByName", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		org := e.f.DefaultOrganization().ID
		blank := e.f.AddGroup(org, "ops", "", codersdk.GroupSourceUser)
		same := e.f.AddGroup(org, "dev", "Dev", codersdk.GroupSourceUser)
		c := e.open(t, coder.Config{Groups: true})
		res := mustEnsureGroup(t, c, fanout.Group{ID: "g1", DisplayName: "Ops"})
		if res.RemoteID != blank.ID.String() || !strings.Contains(res.Note, "adopted existing group ops") {
			t.Errorf("result %+v, want %s adopted", res, blank.ID)
		}
		if got := e.group(t, res.RemoteID); got.DisplayName != "Ops" {
			t.Errorf("adopted group's display name %q, want Ops", got.DisplayName)
		}
		if res := mustEnsureGroup(t, c, fanout.Group{ID: "g2", DisplayName: "Dev"}); res.RemoteID != same.ID.String() {
			t.Errorf("result %+v, want %s adopted", res, same.ID)
		}
	})

	t.Run("ErrNameOfAnotherGroup", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{Groups: true})
		mustEnsureGroup(t, c, fanout.Group{ID: "g1", DisplayName: "Dev Ops"})
		_, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g2", DisplayName: "dev-ops"})
		wantTerminal(t, err, `"dev-ops"`, `"Dev Ops"`)
		if n := len(e.f.Groups(e.f.DefaultOrganization().ID)); n != 2 {
			t.Errorf("%d groups, want Everyone and dev-ops", n)
		}
	})

	t.Run("ErrIdPSyncedGroup", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		e.f.AddGroup(e.f.DefaultOrganization().ID, "eng", "", codersdk.GroupSourceOIDC)
		_, err := e.open(t, coder.Config{Groups: true}).EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "Eng"})
		wantTerminal(t, err, "IdP group sync")
	})

	t.Run("ErrRenameTaken", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{Groups: true})
		g := fanout.Group{ID: "g1", DisplayName: "Alpha"}
		g.RemoteID = mustEnsureGroup(t, c, g).RemoteID
		mustEnsureGroup(t, c, fanout.Group{ID: "g2", DisplayName: "Beta"})
		g.DisplayName = "Beta"
		_, err := c.EnsureGroup(t.Context(), g)
		wantTerminal(t, err, "409", `"beta" already exists`)
	})

	t.Run("DeletedIsEmptiedAndKept", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{Groups: true})
		ms := provision(t, c, "eli", "flo")
		g := fanout.Group{ID: "g1", DisplayName: "Gone", Members: ms}
		g.RemoteID = mustEnsureGroup(t, c, g).RemoteID
		deleted := fanout.Group{ID: g.ID, Deleted: true, RemoteID: g.RemoteID}
		res := mustEnsureGroup(t, c, deleted)
		got := e.group(t, g.RemoteID)
		if len(got.Members) != 0 || res.RemoteID != g.RemoteID || !strings.Contains(res.Note, "emptied group gone") {
			t.Errorf("result %+v, members %v", res, memberIDs(got))
		}
		for _, m := range ms {
			if a := e.account(t, m.RemoteID); a.Status == codersdk.UserStatusSuspended {
				t.Errorf("deleting a group suspended %s", a.Username)
			}
		}
		if res := mustEnsureGroup(t, c, deleted); res.Note != "" {
			t.Errorf("second pass note %q", res.Note)
		}
		if res := mustEnsureGroup(t, c, fanout.Group{ID: "x", Deleted: true, RemoteID: uuid.NewString()}); res != (fanout.Result{}) {
			t.Errorf("a deleted group that is gone: %+v", res)
		}
	})

	t.Run("LostLinkFindsGroup", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{Groups: true})
		g := fanout.Group{ID: "g1", DisplayName: "Data"}
		first := mustEnsureGroup(t, c, g)
		if again := mustEnsureGroup(t, c, g); again.RemoteID != first.RemoteID {
			t.Errorf("without the link: %s, want %s", again.RemoteID, first.RemoteID)
		}
	})

	t.Run("ErrMemberOutsideOrganization", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		c := e.open(t, coder.Config{Groups: true})
		ms := provision(t, c, "gus")
		e.f.RemoveFromOrganization(uuid.MustParse(ms[0].RemoteID), e.f.DefaultOrganization().ID)
		_, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "Team", Members: ms})
		wantTerminal(t, err, "must be members of organization")
	})

	t.Run("ErrNoPremium", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true})
		_, err := e.open(t, coder.Config{Groups: true}).EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "Team"})
		wantTerminal(t, err, "Template RBAC is a Premium feature")
	})

	t.Run("ErrNoDisplayName", func(t *testing.T) {
		e := newEnv(t, coderfake.Options{OIDC: true, Premium: true})
		_, err := e.open(t, coder.Config{Groups: true}).EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: " "})
		wantTerminal(t, err, "no displayName")
	})
}
