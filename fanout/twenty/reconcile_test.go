package twenty_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	twentyfake "github.com/scimbridge/scimbridge/conformance/fakes/twenty"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/twenty"
	"github.com/scimbridge/scimbridge/store"
)

const crmFormula = `apiVersion: scimbridge.dev/v1
kind: Formula
metadata: {name: crm}
spec:
  version: 1.0.0
  resources:
    twenty:
      person: {jobTitle: "Researcher (${{ group.displayName }})", city: Oslo}
  onRemove: delete
`

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestFormulaThroughReconciler runs a formula's person through the real
// reconciler: members get the fields, a member who leaves has them
// cleared and keeps the person (onRemove: delete, but the user still
// exists), and a deleted member's person goes to the trash.
func TestFormulaThroughReconciler(t *testing.T) {
	f := twentyfake.New("reconcile-api-key")
	t.Cleanup(f.Close)
	c, err := twenty.Open(twenty.Config{URL: f.URL}, f.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := connectortest.OpenStore(t)
	ctx := t.Context()

	var ids []string
	for _, name := range []string{"alice", "bob"} {
		u := &store.User{UserName: name, Active: true, Emails: []string{name + "@example.com"},
			Attributes: fmt.Appendf(nil, `{"userName":%q,"emails":[{"value":"%s@example.com","primary":true}]}`, name, name)}
		if err := st.CreateUser(ctx, "test", u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	g := &store.Group{DisplayName: "ml", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(ctx, "test", g, func(tx store.GroupTx) error {
		for _, id := range ids {
			if err := tx.AddMember(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFormula(ctx, "test", &store.Formula{Name: "crm", Version: "1.0.0", Source: []byte(crmFormula)}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutBinding(ctx, "test", &store.Binding{Group: g.ID, Formula: "crm"}, store.IfAbsent); err != nil {
		t.Fatal(err)
	}

	r := connectortest.RunReconciler(t, st, c)

	status := func(id string) store.Status {
		return connectortest.StatusOf(t, st, store.Key{Kind: store.KindUser, ID: id}, "twenty")
	}
	person := func(id string) twentyfake.Person {
		p, _ := f.Person(status(id).RemoteID)
		return p
	}
	eventually(t, "both people with the formula's fields", func() bool {
		for _, id := range ids {
			s := status(id)
			if p := person(id); s.State != store.StateOK || p.JobTitle != "Researcher (ml)" || p.City != "Oslo" {
				return false
			}
		}
		return true
	})
	plan, err := r.Plan(ctx, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range plan.Users {
		if len(up.Changes) != 0 || len(up.Errors) != 0 {
			t.Fatalf("plan of converged users: %+v", plan)
		}
	}

	// The plan of removing the binding says what happens, touching nothing.
	n := len(f.Calls())
	plan, err = r.Plan(ctx, ids[:1], &fanout.BindingChange{Binding: store.Binding{Group: g.ID, Formula: "crm"}, Remove: true})
	if err != nil {
		t.Fatal(err)
	}
	if ch := plan.Users[0].Changes; len(ch) != 1 || ch[0].Action != fanout.ActionRemove || ch[0].Kind != "person" ||
		ch[0].Detail != "clear jobTitle and city (the person stays while the user exists)" {
		t.Fatalf("plan of the removal: %+v", plan)
	}
	for _, call := range f.Calls()[n:] {
		if call != "query people" {
			t.Fatalf("planning ran %s", call)
		}
	}

	// alice leaves the group: her person stays, without the fields.
	if _, err := st.UpdateGroup(ctx, "test", g.ID, 0, func(tx store.GroupTx) error { return tx.RemoveMember(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's fields cleared", func() bool {
		p := person(ids[0])
		return status(ids[0]).State == store.StateOK && p.JobTitle == "" && p.City == ""
	})
	if p := person(ids[0]); p.Deleted {
		t.Fatal("an existing user's person went to the trash")
	}
	// Nothing is left to do: a resync queues only the group, and no
	// person was restored or trashed along the way.
	if n, err := r.Resync(ctx); err != nil || n != 1 {
		t.Fatalf("resync queued %d keys (%v), want only the group", n, err)
	}

	// bob is deleted in SCIM: the formula's delete policy trashes his
	// person, although onDelete is keep.
	if err := st.DeleteUser(ctx, "test", ids[1], 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob's person in the trash", func() bool { return person(ids[1]).Deleted })
	eventually(t, "bob's status ok", func() bool { return status(ids[1]).State == store.StateOK })
	if got := f.Calls(); slices.Contains(got, "mutation restorePerson") {
		t.Fatalf("a person was restored: %v", got)
	}
	if len(f.People()) != 2 {
		t.Fatalf("%d people, want 2", len(f.People()))
	}
}
