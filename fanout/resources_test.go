package fanout_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/formulas"
	"github.com/scimbridge/scimbridge/store"
)

// workspaceConn is a fake service with accounts (fakeConn) and
// workspaces, which applies the Coder part of a user's resources and
// honours each removed workspace's onRemove policy.
type workspaceConn struct {
	*fakeConn
	wmu        sync.Mutex
	workspaces map[string]*workspace // user id + "/" + name ->
	// unapplied, when set, is reported as what could not be applied.
	unapplied string
	// order records "user" and "resources" calls for deleted users.
	order []string
}

func (c *workspaceConn) EnsureUser(ctx context.Context, u fanout.User) (fanout.Result, error) {
	if u.Deleted {
		c.wmu.Lock()
		c.order = append(c.order, "user")
		c.wmu.Unlock()
	}
	return c.fakeConn.EnsureUser(ctx, u)
}

type workspace struct {
	params  map[string]string
	stopped bool
}

func newWorkspaceConn() *workspaceConn {
	return &workspaceConn{fakeConn: newFake("coder"), workspaces: map[string]*workspace{}}
}

func (c *workspaceConn) EnsureResources(_ context.Context, u fanout.User, want, had formulas.Resources) (formulas.Resources, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if u.Deleted {
		c.order = append(c.order, "resources")
	}
	wanted := map[string]bool{}
	for _, w := range want.Coder.Workspaces {
		wanted[w.Name] = true
		c.workspaces[u.ID+"/"+w.Name] = &workspace{params: maps.Clone(w.Parameters)}
	}
	for _, w := range had.Coder.Workspaces {
		if wanted[w.Name] {
			continue
		}
		switch w.OnRemove {
		case formulas.OnRemoveDelete:
			delete(c.workspaces, u.ID+"/"+w.Name)
		case formulas.OnRemoveSuspend:
			c.workspaces[u.ID+"/"+w.Name].stopped = true
		}
	}
	if c.unapplied != "" {
		return formulas.Resources{Coder: want.Coder}, fanout.Unapplied(c.unapplied)
	}
	return formulas.Resources{Coder: want.Coder}, nil
}

func (c *workspaceConn) PlanResources(_ context.Context, u fanout.User, want, had formulas.Resources) ([]fanout.Change, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var out []fanout.Change
	wanted := map[string]bool{}
	for _, w := range want.Coder.Workspaces {
		wanted[w.Name] = true
		ch := fanout.Change{Connector: c.name, Kind: "workspace", Name: w.Name, Source: w.Source.String()}
		if cur, ok := c.workspaces[u.ID+"/"+w.Name]; !ok {
			ch.Action = fanout.ActionCreate
		} else if !maps.Equal(cur.params, w.Parameters) {
			ch.Action = fanout.ActionUpdate
		} else {
			continue
		}
		out = append(out, ch)
	}
	for _, w := range had.Coder.Workspaces {
		if !wanted[w.Name] {
			out = append(out, fanout.Change{Connector: c.name, Action: fanout.ActionRemove, Kind: "workspace", Name: w.Name, Detail: string(w.OnRemove)})
		}
	}
	return out, nil
}

func (c *workspaceConn) workspace(userID, name string) *workspace {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if w := c.workspaces[userID+"/"+name]; w != nil {
		cp := *w
		return &cp
	}
	return nil
}

const gpuFormula = `apiVersion: scimbridge.dev/v1
kind: Formula
metadata: {name: gpu}
spec:
  version: %s
  parameters:
    gpu: {type: string, enum: [a100, h100], default: a100}
  resources:
    coder:
      workspaces:
        - name: "gpu-${{ user.userName }}"
          template: gpu
          parameters: {gpu: "${{ params.gpu }}", group: "${{ group.displayName }}"}
  onRemove: %s
`

func putFormula(t *testing.T, st store.Store, version, onRemove string) {
	t.Helper()
	src := strings.Replace(strings.Replace(gpuFormula, "%s", version, 1), "%s", onRemove, 1)
	if _, err := formulas.Parse([]byte(src)); err != nil {
		t.Fatalf("test formula: %v", err)
	}
	if err := st.PutFormula(t.Context(), "test", &store.Formula{Name: "gpu", Version: version, Source: []byte(src)}); err != nil {
		t.Fatal(err)
	}
}

func userStatus(t *testing.T, st store.Store, id, conn string) store.Status {
	t.Helper()
	sts, err := st.Statuses(t.Context(), store.Key{Kind: store.KindUser, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts {
		if s.Connector == conn {
			return s
		}
	}
	return store.Status{}
}

func TestFormulaResourcesFollowBindingsAndMembership(t *testing.T) {
	st := openStore(t)
	c := newWorkspaceConn()
	ids := createUsers(t, st, 2) // user0, user1
	g := &store.Group{DisplayName: "ml", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "test", g, func(tx store.GroupTx) error { return tx.AddMember(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	putFormula(t, st, "1.0.0", "delete")
	r := run(t, st, c)
	eventually(t, "both accounts settled", func() bool {
		return userStatus(t, st, ids[0], "coder").State == store.StateOK && userStatus(t, st, ids[1], "coder").State == store.StateOK
	})

	// The plan of a binding not yet made shows the workspace to create,
	// and nothing is created by planning.
	change := &fanout.BindingChange{Binding: store.Binding{Group: g.ID, Formula: "gpu", Params: map[string]string{"gpu": "h100"}}}
	plan, err := r.Plan(t.Context(), []string{ids[0], ids[1]}, change)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Users) != 2 || len(plan.Users[0].Changes) != 1 || plan.Users[0].Changes[0].Action != fanout.ActionCreate ||
		plan.Users[0].Changes[0].Name != "gpu-user0" || len(plan.Users[1].Changes) != 0 {
		t.Fatalf("plan of the binding: %+v", plan)
	}
	if c.workspace(ids[0], "gpu-user0") != nil {
		t.Fatal("planning created the workspace")
	}

	b := change.Binding
	if err := st.PutBinding(t.Context(), "test", &b, store.IfAbsent); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the member's workspace", func() bool {
		w := c.workspace(ids[0], "gpu-user0")
		return w != nil && w.params["gpu"] == "h100" && w.params["group"] == "ml"
	})
	if c.workspace(ids[1], "gpu-user1") != nil {
		t.Fatal("a user outside the group got the workspace")
	}
	eventually(t, "the status records what was applied", func() bool {
		s := userStatus(t, st, ids[0], "coder")
		return s.State == store.StateOK && strings.Contains(string(s.Applied), "gpu-user0")
	})
	// A resync finds both users converged, resources included: only the
	// group is queued (groups are always observed).
	if n, err := r.Resync(t.Context()); err != nil || n != 1 {
		t.Fatalf("resync of converged users queued %d keys (%v), want only the group", n, err)
	}
	// Now the plan is empty: everything is applied.
	plan, err = r.Plan(t.Context(), []string{ids[0]}, nil)
	if err != nil || len(plan.Users[0].Changes) != 0 {
		t.Fatalf("plan after apply: %+v, %v", plan, err)
	}

	// New parameter values reach the workspace.
	b.Params = map[string]string{"gpu": "a100"}
	if err := st.PutBinding(t.Context(), "test", &b, b.Meta.Version); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new parameters, settled", func() bool {
		w := c.workspace(ids[0], "gpu-user0")
		return w != nil && w.params["gpu"] == "a100" && userStatus(t, st, ids[0], "coder").State == store.StateOK
	})

	// Plans of a membership change before it is made.
	join, err := r.PlanMembership(t.Context(), ids[1], fanout.MembershipChange{Group: g.ID, Join: true})
	if err != nil || len(join.Users[0].Changes) != 1 || join.Users[0].Changes[0].Action != fanout.ActionCreate || join.Users[0].Changes[0].Name != "gpu-user1" {
		t.Fatalf("plan of user1 joining: %+v, %v", join, err)
	}
	leave, err := r.PlanMembership(t.Context(), ids[0], fanout.MembershipChange{Group: g.ID})
	if err != nil || len(leave.Users[0].Changes) != 1 || leave.Users[0].Changes[0].Action != fanout.ActionRemove || leave.Users[0].Changes[0].Detail != "delete" {
		t.Fatalf("plan of user0 leaving: %+v, %v", leave, err)
	}

	// A new member gets it; a member who leaves loses it per onRemove.
	if _, err := st.UpdateGroup(t.Context(), "test", g.ID, 0, func(tx store.GroupTx) error {
		if err := tx.AddMember(ids[1]); err != nil {
			return err
		}
		return tx.RemoveMember(ids[0])
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the joiner's workspace and the leaver's deletion", func() bool {
		return c.workspace(ids[1], "gpu-user1") != nil && c.workspace(ids[0], "gpu-user0") == nil
	})
}

func TestBrokenBindingParksOnlyTheResources(t *testing.T) {
	st := openStore(t)
	c := newWorkspaceConn()
	plain := newFake("plain") // no resources: the broken binding is not its business
	ids := createUsers(t, st, 1)
	g := &store.Group{DisplayName: "ml", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "test", g, func(tx store.GroupTx) error { return tx.AddMember(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	// Bound to a formula that was never stored.
	if err := st.PutBinding(t.Context(), "test", &store.Binding{Group: g.ID, Formula: "missing"}, 0); err != nil {
		t.Fatal(err)
	}
	run(t, st, c, plain)
	eventually(t, "the resource connector parks with the problem", func() bool {
		s := userStatus(t, st, ids[0], "coder")
		return s.State == store.StateParked && strings.Contains(s.LastError, "formula missing bound to group ml")
	})
	if n, _, _ := c.snapshot(); n != 1 {
		t.Fatalf("the account was not provisioned despite the broken binding: %d accounts", n)
	}
	eventually(t, "the other connector is ok", func() bool {
		return userStatus(t, st, ids[0], "plain").State == store.StateOK
	})
	// Storing the formula enqueues the group's members, which unparks them.
	putFormula(t, st, "1.0.0", "keep")
	if err := st.PutBinding(t.Context(), "test", &store.Binding{Group: g.ID, Formula: "gpu"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteBinding(t.Context(), "test", g.ID, "missing", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ok once the binding is fixed", func() bool {
		return userStatus(t, st, ids[0], "coder").State == store.StateOK && c.workspace(ids[0], "gpu-user0") != nil
	})
}

func TestUnappliedIsShownWithOK(t *testing.T) {
	st := openStore(t)
	c := newWorkspaceConn()
	c.unapplied = "workspace gpu-user0: immutable parameter region cannot change"
	ids := createUsers(t, st, 1)
	g := &store.Group{DisplayName: "ml", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "test", g, func(tx store.GroupTx) error { return tx.AddMember(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	putFormula(t, st, "1.0.0", "keep")
	if err := st.PutBinding(t.Context(), "test", &store.Binding{Group: g.ID, Formula: "gpu"}, 0); err != nil {
		t.Fatal(err)
	}
	run(t, st, c)
	eventually(t, "ok, with what was not applied", func() bool {
		s := userStatus(t, st, ids[0], "coder")
		return s.State == store.StateOK && s.Unapplied == c.unapplied && s.LastError == ""
	})
	events, err := st.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || (e.Op == "note" && strings.Contains(e.Detail, "not applied: "+c.unapplied))
	}
	if !found {
		t.Fatalf("no audit event says what was not applied: %+v", events)
	}
}

// A deleted user's resources are removed before the account is
// suspended or deleted: a service may refuse to delete an account that
// still owns what the formula gave it.
func TestDeletedUserResourcesGoFirst(t *testing.T) {
	st := openStore(t)
	c := newWorkspaceConn()
	ids := createUsers(t, st, 1)
	g := &store.Group{DisplayName: "ml", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "test", g, func(tx store.GroupTx) error { return tx.AddMember(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	putFormula(t, st, "1.0.0", "delete")
	if err := st.PutBinding(t.Context(), "test", &store.Binding{Group: g.ID, Formula: "gpu"}, 0); err != nil {
		t.Fatal(err)
	}
	run(t, st, c)
	eventually(t, "the workspace", func() bool {
		return c.workspace(ids[0], "gpu-user0") != nil && userStatus(t, st, ids[0], "coder").State == store.StateOK
	})
	if err := st.DeleteUser(t.Context(), "test", ids[0], 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the workspace deleted, then the account suspended", func() bool {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return len(c.order) >= 2 && c.workspaces[ids[0]+"/gpu-user0"] == nil
	})
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.order[0] != "resources" || c.order[1] != "user" {
		t.Fatalf("calls for the deleted user: %v, want resources before the account", c.order)
	}
}
