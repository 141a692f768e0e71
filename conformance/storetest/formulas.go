package storetest

import (
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

func mustPutFormula(t *testing.T, s store.Store, name, version, source string) *store.Formula {
	t.Helper()
	f := &store.Formula{Name: name, Version: version, Source: []byte(source)}
	if err := s.PutFormula(t.Context(), actor, f); err != nil {
		t.Fatalf("PutFormula(%s %s): %v", name, version, err)
	}
	return f
}

func mustBind(t *testing.T, s store.Store, b store.Binding, ifVersion uint64) *store.Binding {
	t.Helper()
	if err := s.PutBinding(t.Context(), actor, &b, ifVersion); err != nil {
		t.Fatalf("PutBinding(%s, %s): %v", b.Group, b.Formula, err)
	}
	return &b
}

var formulaTests = []test{
	{"VersionsAreImmutable", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		f := mustPutFormula(t, s, "ml", "1.0.0", "a: 1")
		if f.Meta.Version != 1 || f.Meta.Created.IsZero() {
			t.Errorf("PutFormula set Meta %+v", f.Meta)
		}
		mustPutFormula(t, s, "ml", "1.0.0", "a: 1") // same source: no-op
		err := s.PutFormula(ctx, actor, &store.Formula{Name: "ml", Version: "1.0.0", Source: []byte("a: 2")})
		wantErr(t, "PutFormula with another source", err, store.ErrConflict)
		got, err := s.GetFormula(ctx, "ml", "1.0.0")
		if err != nil || string(got.Source) != "a: 1" {
			t.Fatalf("GetFormula = %+v, %v; want the first source", got, err)
		}
		mustPutFormula(t, s, "ml", "1.1.0", "a: 3")
		mustPutFormula(t, s, "data", "0.1.0", "b: 1")
		all, err := s.ListFormulas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range all {
			names = append(names, f.Name+"@"+f.Version)
		}
		if want := []string{"data@0.1.0", "ml@1.0.0", "ml@1.1.0"}; !slices.Equal(names, want) {
			t.Errorf("ListFormulas = %q, want %q", names, want)
		}
		_, err = s.GetFormula(ctx, "ml", "9.9.9")
		wantErr(t, "GetFormula(unknown version)", err, store.ErrNotFound)
		err = s.PutFormula(ctx, actor, &store.Formula{Name: "", Version: "1.0.0"})
		wantErr(t, "PutFormula without a name", err, store.ErrInvalid)
	}},
	{"BindingVersionsAndPreconditions", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		g := mustGroup(t, s, "ml")
		b := mustBind(t, s, store.Binding{Group: g.ID, Formula: "ml", Params: map[string]string{"gpu": "a100"}}, store.IfAbsent)
		if b.Meta.Version == 0 {
			t.Fatalf("new binding has version %d", b.Meta.Version)
		}
		err := s.PutBinding(ctx, actor, &store.Binding{Group: g.ID, Formula: "ml"}, store.IfAbsent)
		wantErr(t, "PutBinding IfAbsent over an existing binding", err, store.ErrVersionMismatch)
		b2 := mustBind(t, s, store.Binding{Group: g.ID, Formula: "ml", Version: "1.0.0", Params: map[string]string{"gpu": "h100"}}, b.Meta.Version)
		if b2.Meta.Version <= b.Meta.Version || !b2.Meta.Created.Equal(b.Meta.Created) {
			t.Fatalf("replaced binding has Meta %+v, want a higher version than %d and the first Created", b2.Meta, b.Meta.Version)
		}
		err = s.PutBinding(ctx, actor, &store.Binding{Group: g.ID, Formula: "ml"}, b.Meta.Version) // stale
		wantErr(t, "PutBinding with a stale version", err, store.ErrVersionMismatch)
		got, err := s.GetBinding(ctx, g.ID, "ml")
		if err != nil || got.Params["gpu"] != "h100" || got.Version != "1.0.0" {
			t.Fatalf("GetBinding = %+v, %v; want the second write", got, err)
		}
		err = s.DeleteBinding(ctx, actor, g.ID, "ml", b.Meta.Version)
		wantErr(t, "DeleteBinding with a stale version", err, store.ErrVersionMismatch)
		if err := s.DeleteBinding(ctx, actor, g.ID, "ml", b2.Meta.Version); err != nil {
			t.Fatal(err)
		}
		// Made again, it never reuses a version of the one deleted.
		b3 := mustBind(t, s, store.Binding{Group: g.ID, Formula: "ml"}, store.IfAbsent)
		if b3.Meta.Version <= b2.Meta.Version {
			t.Fatalf("a binding made again has version %d, not above the deleted one's %d", b3.Meta.Version, b2.Meta.Version)
		}
		if err := s.DeleteBinding(ctx, actor, g.ID, "ml", 0); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetBinding(ctx, g.ID, "ml")
		wantErr(t, "GetBinding after delete", err, store.ErrNotFound)
		err = s.DeleteBinding(ctx, actor, g.ID, "ml", 0)
		wantErr(t, "DeleteBinding of nothing", err, store.ErrNotFound)
		err = s.PutBinding(ctx, actor, &store.Binding{Group: "no-such-group", Formula: "ml"}, 0)
		wantErr(t, "PutBinding to an unknown group", err, store.ErrNotFound)
	}},
	{"BindingEnqueuesMembers", func(t *testing.T, s store.Store) {
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		g := mustGroup(t, s, "ml", a.ID, b.ID)
		other := mustGroup(t, s, "other")
		ackAll(t, s)
		mustBind(t, s, store.Binding{Group: g.ID, Formula: "ml"}, 0)
		got := pendingKeys(t, s)
		slices.Sort(got)
		want := []string{"group/" + g.ID, "user/" + a.ID, "user/" + b.ID}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("after binding, pending = %q, want %q", got, want)
		}
		ackAll(t, s)
		// A new version reaches groups that follow the latest, not those
		// pinned to another version.
		mustBind(t, s, store.Binding{Group: other.ID, Formula: "ml", Version: "1.0.0"}, 0)
		ackAll(t, s)
		mustPutFormula(t, s, "ml", "2.0.0", "x: 1")
		got = pendingKeys(t, s)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("after a new version, pending = %q, want %q", got, want)
		}
		ackAll(t, s)
		if err := s.DeleteBinding(t.Context(), actor, g.ID, "ml", 0); err != nil {
			t.Fatal(err)
		}
		got = pendingKeys(t, s)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("after unbinding, pending = %q, want %q", got, want)
		}
	}},
	{"PinnedVersionCannotBeDeleted", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		g := mustGroup(t, s, "ml")
		mustPutFormula(t, s, "ml", "1.0.0", "a: 1")
		mustPutFormula(t, s, "ml", "2.0.0", "a: 2")
		mustBind(t, s, store.Binding{Group: g.ID, Formula: "ml", Version: "1.0.0"}, 0)
		err := s.DeleteFormula(ctx, actor, "ml", "1.0.0")
		wantErr(t, "DeleteFormula of a pinned version", err, store.ErrConflict)
		if err := s.DeleteFormula(ctx, actor, "ml", "2.0.0"); err != nil {
			t.Fatalf("DeleteFormula of an unpinned version: %v", err)
		}
		err = s.DeleteFormula(ctx, actor, "ml", "2.0.0")
		wantErr(t, "DeleteFormula again", err, store.ErrNotFound)
	}},
	{"DeletingGroupDeletesBindings", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		g, keep := mustGroup(t, s, "ml"), mustGroup(t, s, "keep")
		mustBind(t, s, store.Binding{Group: g.ID, Formula: "ml"}, 0)
		mustBind(t, s, store.Binding{Group: g.ID, Formula: "data"}, 0)
		mustBind(t, s, store.Binding{Group: keep.ID, Formula: "ml"}, 0)
		if err := s.DeleteGroup(ctx, actor, g.ID, 0); err != nil {
			t.Fatal(err)
		}
		all, err := s.Bindings(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].Group != keep.ID {
			t.Fatalf("after deleting a group, bindings = %+v, want only the other group's", all)
		}
		mine, err := s.Bindings(ctx, g.ID)
		if err != nil || len(mine) != 0 {
			t.Fatalf("Bindings(deleted group) = %+v, %v", mine, err)
		}
		// The pinned-version check must not see the deleted group's binding.
		mustPutFormula(t, s, "data", "1.0.0", "d: 1")
		if err := s.DeleteFormula(ctx, actor, "data", "1.0.0"); err != nil {
			t.Fatalf("DeleteFormula after its group went: %v", err)
		}
	}},
}
