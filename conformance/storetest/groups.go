package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// addMembers returns a group callback adding ids.
func addMembers(ids ...string) func(store.GroupTx) error {
	return func(tx store.GroupTx) error {
		for _, id := range ids {
			if err := tx.AddMember(id); err != nil {
				return err
			}
		}
		return nil
	}
}

// removeMembers returns a group callback removing ids.
func removeMembers(ids ...string) func(store.GroupTx) error {
	return func(tx store.GroupTx) error {
		for _, id := range ids {
			if err := tx.RemoveMember(id); err != nil {
				return err
			}
		}
		return nil
	}
}

func mustUpdateGroup(t *testing.T, s store.Store, id string, fn func(store.GroupTx) error) *store.Group {
	t.Helper()
	g, err := s.UpdateGroup(t.Context(), actor, id, 0, fn)
	if err != nil {
		t.Fatalf("UpdateGroup(%q): %v", id, err)
	}
	return g
}

// wantMembers checks a group's members in both directions: the member
// list, MemberCount, and UserGroups of each user in all.
func wantMembers(t *testing.T, s store.Store, groupID string, all []string, want ...string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	ids, _ := members(t, s, groupID)
	wantIDs(t, "members of "+groupID, ids, want...)
	if n := memberCount(t, s, groupID); n != len(want) {
		t.Errorf("MemberCount of %s = %d, want %d", groupID, n, len(want))
	}
	for _, u := range all {
		in := slices.Contains(userGroups(t, s, u), groupID)
		if in != slices.Contains(want, u) {
			t.Errorf("UserGroups(%s) contains %s: %v, want %v", u, groupID, in, !in)
		}
	}
}

var createGroupTests = []test{
	{"OK", func(t *testing.T, s store.Store) {
		a, b := newUser("alice"), mustUser(t, s, "bob")
		a.DisplayName = "Alice"
		mustCreateUser(t, s, a)
		g := mustGroup(t, s, "Engineers", b.ID, a.ID)
		if g.ID == "" || g.Meta.Version != 1 || g.Meta.Created.IsZero() || !g.Meta.Modified.Equal(g.Meta.Created) {
			t.Errorf("created group = %+v, want an id, version 1 and Created = Modified", g)
		}
		got := mustGetGroup(t, s, g.ID)
		if got.DisplayName != "Engineers" || got.Meta.Version != 1 || !sameJSON(got.Attributes, g.Attributes) {
			t.Errorf("GetGroup = %+v, want %+v", got, g)
		}
		ids, displays := members(t, s, g.ID)
		wantIDs(t, "members", ids, a.ID, b.ID)
		for i, id := range ids {
			want := map[string]string{a.ID: "Alice", b.ID: "bob"}[id]
			if displays[i] != want {
				t.Errorf("display of %s = %q, want %q", id, displays[i], want)
			}
		}
		wantMembers(t, s, g.ID, []string{a.ID, b.ID}, a.ID, b.ID)
		wantCount(t, s, 2, 1)
	}},
	{"NilCallback", func(t *testing.T, s store.Store) {
		g := newGroup("empty")
		if err := s.CreateGroup(t.Context(), actor, g, nil); err != nil {
			t.Fatalf("CreateGroup with nil fn: %v", err)
		}
		wantMembers(t, s, g.ID, nil)
	}},
	{"ErrConflictCaseInsensitive", func(t *testing.T, s store.Store) {
		mustGroup(t, s, "Admins")
		u := mustUser(t, s, "alice")
		err := s.CreateGroup(t.Context(), actor, newGroup("ADMINS"), addMembers(u.ID))
		wantErr(t, "CreateGroup(ADMINS) after Admins", err, store.ErrConflict)
		wantCount(t, s, 1, 1)
		if gs := userGroups(t, s, u.ID); len(gs) != 0 {
			t.Errorf("rejected group left memberships %q", gs)
		}
	}},
	{"ErrInvalidEmptyName", func(t *testing.T, s store.Store) {
		wantErr(t, "CreateGroup with empty displayName", s.CreateGroup(t.Context(), actor, newGroup(""), nil), store.ErrInvalid)
	}},
	{"UnknownMemberErrNotFound", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		var addErr error
		err := s.CreateGroup(t.Context(), actor, newGroup("g"), func(tx store.GroupTx) error {
			if err := tx.AddMember(u.ID); err != nil {
				return err
			}
			addErr = tx.AddMember("no-such-user")
			return addErr
		})
		wantErr(t, "AddMember(unknown)", addErr, store.ErrNotFound)
		wantErr(t, "CreateGroup returning AddMember's error", err, store.ErrNotFound)
		if _, err := s.FindGroupByName(t.Context(), "g"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("group exists after its callback failed: %v", err)
		}
		if gs := userGroups(t, s, u.ID); len(gs) != 0 {
			t.Errorf("failed create left memberships %q", gs)
		}
	}},
	{"CallbackErrorRollsBack", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		ackAll(t, s)
		nEvents := len(events(t, s))
		err := s.CreateGroup(t.Context(), actor, newGroup("g"), func(tx store.GroupTx) error {
			if err := tx.AddMember(u.ID); err != nil {
				return err
			}
			return errCallback
		})
		wantErr(t, "CreateGroup with a failing callback", err, errCallback)
		wantCount(t, s, 1, 0)
		if gs := userGroups(t, s, u.ID); len(gs) != 0 {
			t.Errorf("failed create left memberships %q", gs)
		}
		if n := len(events(t, s)); n != nEvents {
			t.Errorf("failed create recorded %d events", n-nEvents)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("failed create enqueued %q", p)
		}
		mustGroup(t, s, "g") // the name is still free
	}},
	{"EnqueuesGroupAndMembers", func(t *testing.T, s store.Store) {
		a := mustUser(t, s, "a")
		mustUser(t, s, "b") // not a member: must not be enqueued
		ackAll(t, s)
		g := mustGroup(t, s, "g", a.ID)
		wantPendingSet(t, s, groupKey(g.ID), userKey(a.ID))
		evs := events(t, s)
		last := evs[len(evs)-1]
		if last.Op != "create" || last.Kind != store.KindGroup || last.ID != g.ID || last.Actor != actor {
			t.Errorf("last event = %+v, want the group's create", last)
		}
	}},
}

var updateGroupTests = []test{
	{"AddAndRemoveMembers", func(t *testing.T, s store.Store) {
		a, b, c := mustUser(t, s, "a"), mustUser(t, s, "b"), mustUser(t, s, "c")
		all := []string{a.ID, b.ID, c.ID}
		g := mustGroup(t, s, "g", a.ID)
		got := mustUpdateGroup(t, s, g.ID, addMembers(b.ID, c.ID))
		if got.Meta.Version != 2 {
			t.Errorf("version after adding members = %d, want 2", got.Meta.Version)
		}
		wantMembers(t, s, g.ID, all, a.ID, b.ID, c.ID)
		got = mustUpdateGroup(t, s, g.ID, removeMembers(a.ID, c.ID))
		if got.Meta.Version != 3 {
			t.Errorf("version after removing members = %d, want 3", got.Meta.Version)
		}
		wantMembers(t, s, g.ID, all, b.ID)
		if v := mustGetGroup(t, s, g.ID).Meta.Version; v != 3 {
			t.Errorf("stored version = %d, want 3", v)
		}
	}},
	{"AddExistingIsNoOp", func(t *testing.T, s store.Store) {
		a := mustUser(t, s, "a")
		g := mustGroup(t, s, "g", a.ID)
		ackAll(t, s)
		nEvents := len(events(t, s))
		got := mustUpdateGroup(t, s, g.ID, addMembers(a.ID, a.ID))
		if got.Meta.Version != 1 {
			t.Errorf("version after re-adding a member = %d, want 1", got.Meta.Version)
		}
		wantMembers(t, s, g.ID, []string{a.ID}, a.ID)
		if n := len(events(t, s)); n != nEvents {
			t.Errorf("re-adding a member recorded %d events", n-nEvents)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("re-adding a member enqueued %q", p)
		}
	}},
	{"RemoveNonMemberIsNoOp", func(t *testing.T, s store.Store) {
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		g := mustGroup(t, s, "g", a.ID)
		got := mustUpdateGroup(t, s, g.ID, removeMembers(b.ID, "no-such-user"))
		if got.Meta.Version != 1 {
			t.Errorf("version after removing a non-member = %d, want 1", got.Meta.Version)
		}
		wantMembers(t, s, g.ID, []string{a.ID, b.ID}, a.ID)
	}},
	{"AddThenRemoveIsNoOp", func(t *testing.T, s store.Store) {
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		g := mustGroup(t, s, "g", a.ID)
		ackAll(t, s)
		got := mustUpdateGroup(t, s, g.ID, func(tx store.GroupTx) error {
			if err := tx.AddMember(b.ID); err != nil {
				return err
			}
			if err := tx.RemoveMember(b.ID); err != nil {
				return err
			}
			if err := tx.RemoveMember(a.ID); err != nil {
				return err
			}
			return tx.AddMember(a.ID)
		})
		if got.Meta.Version != 1 {
			t.Errorf("version after changes that cancel out = %d, want 1", got.Meta.Version)
		}
		wantMembers(t, s, g.ID, []string{a.ID, b.ID}, a.ID)
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("changes that cancel out enqueued %q", p)
		}
	}},
	{"TxSeesItsChanges", func(t *testing.T, s store.Store) {
		a, b, c := mustUser(t, s, "a"), mustUser(t, s, "b"), mustUser(t, s, "c")
		g := mustGroup(t, s, "g", a.ID, b.ID)
		mustUpdateGroup(t, s, g.ID, func(tx store.GroupTx) error {
			if !tx.HasMember(a.ID) || tx.HasMember(c.ID) || tx.MemberCount() != 2 {
				t.Errorf("before changes: HasMember(a)=%v HasMember(c)=%v MemberCount=%d", tx.HasMember(a.ID), tx.HasMember(c.ID), tx.MemberCount())
			}
			if err := tx.AddMember(c.ID); err != nil {
				return err
			}
			if err := tx.RemoveMember(a.ID); err != nil {
				return err
			}
			if tx.HasMember(a.ID) || !tx.HasMember(c.ID) || tx.MemberCount() != 2 {
				t.Errorf("after changes: HasMember(a)=%v HasMember(c)=%v MemberCount=%d", tx.HasMember(a.ID), tx.HasMember(c.ID), tx.MemberCount())
			}
			ms, err := tx.Members()
			if err != nil {
				return err
			}
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.UserID)
			}
			want := []string{b.ID, c.ID}
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("Members() in tx = %q, want %q in id order", ids, want)
			}
			return nil
		})
		wantMembers(t, s, g.ID, []string{a.ID, b.ID, c.ID}, b.ID, c.ID)
	}},
	{"UnknownMemberErrNotFound", func(t *testing.T, s store.Store) {
		g := mustGroup(t, s, "g")
		_, err := s.UpdateGroup(t.Context(), actor, g.ID, 0, addMembers("no-such-user"))
		wantErr(t, "AddMember(unknown)", err, store.ErrNotFound)
		if v := mustGetGroup(t, s, g.ID).Meta.Version; v != 1 {
			t.Errorf("version after failed update = %d, want 1", v)
		}
	}},
	{"CallbackErrorRollsBackMembers", func(t *testing.T, s store.Store) {
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		g := mustGroup(t, s, "g", a.ID)
		ackAll(t, s)
		nEvents := len(events(t, s))
		_, err := s.UpdateGroup(t.Context(), actor, g.ID, 0, func(tx store.GroupTx) error {
			tx.Group().DisplayName = "renamed"
			if err := tx.RemoveMember(a.ID); err != nil {
				return err
			}
			if err := tx.AddMember(b.ID); err != nil {
				return err
			}
			return fmt.Errorf("late failure: %w", errCallback)
		})
		wantErr(t, "UpdateGroup with a failing callback", err, errCallback)
		wantMembers(t, s, g.ID, []string{a.ID, b.ID}, a.ID)
		got := mustGetGroup(t, s, g.ID)
		if got.DisplayName != "g" || got.Meta.Version != 1 {
			t.Errorf("group after failed update = %q version %d, want g 1", got.DisplayName, got.Meta.Version)
		}
		if _, err := s.FindGroupByName(t.Context(), "renamed"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindGroupByName(renamed) after failed rename: %v, want ErrNotFound", err)
		}
		if n := len(events(t, s)); n != nEvents {
			t.Errorf("failed update recorded %d events", n-nEvents)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("failed update enqueued %q", p)
		}
	}},
	{"ErrConflictOnRenameCaseInsensitive", func(t *testing.T, s store.Store) {
		mustGroup(t, s, "Admins")
		g := mustGroup(t, s, "Users")
		_, err := s.UpdateGroup(t.Context(), actor, g.ID, 0, func(tx store.GroupTx) error {
			tx.Group().DisplayName = "aDMINS"
			return nil
		})
		wantErr(t, "rename Users to aDMINS", err, store.ErrConflict)
		if got, err := s.FindGroupByName(t.Context(), "users"); err != nil || got.ID != g.ID {
			t.Errorf("FindGroupByName(users) = %v, %v; want the unrenamed group", got, err)
		}
	}},
	{"Rename", func(t *testing.T, s store.Store) {
		g := mustGroup(t, s, "Users")
		got := mustUpdateGroup(t, s, g.ID, func(tx store.GroupTx) error {
			tx.Group().DisplayName = "USERS"
			return nil
		})
		if got.DisplayName != "USERS" || got.Meta.Version != 2 {
			t.Errorf("after case-only rename: %q version %d", got.DisplayName, got.Meta.Version)
		}
		mustUpdateGroup(t, s, g.ID, func(tx store.GroupTx) error {
			tx.Group().DisplayName = "Staff"
			return nil
		})
		if _, err := s.FindGroupByName(t.Context(), "users"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindGroupByName(old name) = %v, want ErrNotFound", err)
		}
		if f, err := s.FindGroupByName(t.Context(), "staff"); err != nil || f.ID != g.ID {
			t.Errorf("FindGroupByName(staff) = %v, %v", f, err)
		}
		mustGroup(t, s, "users") // the old name is free
	}},
	{"ErrVersionMismatch", func(t *testing.T, s store.Store) {
		a := mustUser(t, s, "a")
		g := mustGroup(t, s, "g")
		called := false
		_, err := s.UpdateGroup(t.Context(), actor, g.ID, 5, func(tx store.GroupTx) error {
			called = true
			return tx.AddMember(a.ID)
		})
		wantErr(t, "UpdateGroup with a wrong version", err, store.ErrVersionMismatch)
		if called {
			t.Error("callback ran despite the version mismatch")
		}
		if _, err := s.UpdateGroup(t.Context(), actor, g.ID, 1, addMembers(a.ID)); err != nil {
			t.Errorf("UpdateGroup with the current version: %v", err)
		}
	}},
	{"ErrNotFound", func(t *testing.T, s store.Store) {
		_, err := s.UpdateGroup(t.Context(), actor, "no-such-group", 0, addMembers())
		wantErr(t, "UpdateGroup(unknown)", err, store.ErrNotFound)
		_, err = s.GetGroup(t.Context(), "no-such-group")
		wantErr(t, "GetGroup(unknown)", err, store.ErrNotFound)
	}},
	{"NoOpWritesNothing", func(t *testing.T, s store.Store) {
		g := mustGroup(t, s, "g")
		ackAll(t, s)
		nEvents := len(events(t, s))
		got := mustUpdateGroup(t, s, g.ID, func(tx store.GroupTx) error {
			tx.Group().DisplayName = "g"
			tx.Group().Meta.Version = 42
			return nil
		})
		if got.Meta.Version != 1 || !got.Meta.Modified.Equal(g.Meta.Modified) {
			t.Errorf("no-op update returned %+v, want the stored meta %+v", got.Meta, g.Meta)
		}
		if n := len(events(t, s)); n != nEvents {
			t.Errorf("no-op update recorded %d events", n-nEvents)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("no-op update enqueued %q", p)
		}
	}},
	{"EnqueuesChangedMembersOnly", func(t *testing.T, s store.Store) {
		a, b, c := mustUser(t, s, "a"), mustUser(t, s, "b"), mustUser(t, s, "c")
		g := mustGroup(t, s, "g", a.ID, b.ID)
		ackAll(t, s)
		nEvents := len(events(t, s))
		mustUpdateGroup(t, s, g.ID, func(tx store.GroupTx) error {
			if err := tx.RemoveMember(b.ID); err != nil {
				return err
			}
			return tx.AddMember(c.ID)
		})
		wantPendingSet(t, s, groupKey(g.ID), userKey(b.ID), userKey(c.ID))
		evs := events(t, s)
		if len(evs) != nEvents+1 {
			t.Fatalf("update recorded %d events, want 1", len(evs)-nEvents)
		}
		if e := evs[nEvents]; e.Op != "update" || e.Kind != store.KindGroup || e.ID != g.ID || e.Actor != actor {
			t.Errorf("event = %+v, want the group's update", e)
		}
	}},
	{"LargeGroup", func(t *testing.T, s store.Store) {
		ids := createUsers(t, s, 200, 16)
		g := mustGroup(t, s, "big")
		mustUpdateGroup(t, s, g.ID, addMembers(ids...))
		wantMembers(t, s, g.ID, nil, ids...)
		mustUpdateGroup(t, s, g.ID, removeMembers(ids[:150]...))
		wantMembers(t, s, g.ID, ids[:3], ids[150:]...)
	}},
}

var deleteGroupTests = []test{
	{"OK", func(t *testing.T, s store.Store) {
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		g := mustGroup(t, s, "Admins", a.ID, b.ID)
		other := mustGroup(t, s, "Other", a.ID)
		ackAll(t, s)
		if err := s.DeleteGroup(t.Context(), actor, g.ID, 0); err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		_, err := s.GetGroup(t.Context(), g.ID)
		wantErr(t, "GetGroup after delete", err, store.ErrNotFound)
		_, err = s.FindGroupByName(t.Context(), "admins")
		wantErr(t, "FindGroupByName after delete", err, store.ErrNotFound)
		if gs := userGroups(t, s, a.ID); !slices.Equal(gs, []string{other.ID}) {
			t.Errorf("UserGroups(a) = %q, want only the other group", gs)
		}
		if gs := userGroups(t, s, b.ID); len(gs) != 0 {
			t.Errorf("UserGroups(b) = %q, want none", gs)
		}
		wantPendingSet(t, s, groupKey(g.ID), userKey(a.ID), userKey(b.ID))
		wantCount(t, s, 2, 1)
		evs := events(t, s)
		if e := evs[len(evs)-1]; e.Op != "delete" || e.Kind != store.KindGroup || e.ID != g.ID {
			t.Errorf("last event = %+v, want the group's delete", e)
		}
		n := mustGroup(t, s, "ADMINS") // the name is free again, with no members
		wantMembers(t, s, n.ID, []string{a.ID, b.ID})
	}},
	{"ErrNotFound", func(t *testing.T, s store.Store) {
		wantErr(t, "DeleteGroup(unknown)", s.DeleteGroup(t.Context(), actor, "no-such-group", 0), store.ErrNotFound)
	}},
	{"ErrVersionMismatch", func(t *testing.T, s store.Store) {
		g := mustGroup(t, s, "g")
		wantErr(t, "DeleteGroup with a wrong version", s.DeleteGroup(t.Context(), actor, g.ID, 2), store.ErrVersionMismatch)
		mustGetGroup(t, s, g.ID)
	}},
}

var findGroupTests = []test{
	{"CaseInsensitive", func(t *testing.T, s store.Store) {
		g := mustGroup(t, s, "Platform Team")
		mustGroup(t, s, "Platform")
		got, err := s.FindGroupByName(t.Context(), "PLATFORM team")
		if err != nil || got.ID != g.ID || got.DisplayName != "Platform Team" {
			t.Errorf("FindGroupByName = %+v, %v; want %s", got, err, g.ID)
		}
	}},
	{"ErrNotFound", func(t *testing.T, s store.Store) {
		mustGroup(t, s, "Platform Team")
		_, err := s.FindGroupByName(t.Context(), "Platform")
		wantErr(t, "FindGroupByName(prefix of a name)", err, store.ErrNotFound)
	}},
}

var scanGroupsTests = []test{
	{"OrderAndAfter", func(t *testing.T, s store.Store) {
		var ids []string
		for i := range 40 {
			ids = append(ids, mustGroup(t, s, fmt.Sprintf("group %02d", i)).ID)
		}
		slices.Sort(ids)
		var got []string
		if err := s.ScanGroups(t.Context(), "", func(g *store.Group) bool {
			got = append(got, g.ID)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ids) {
			t.Errorf("ScanGroups = %d ids, want all %d in id order", len(got), len(ids))
		}
		got = nil
		if err := s.ScanGroups(t.Context(), ids[29], func(g *store.Group) bool {
			if !strings.HasPrefix(g.DisplayName, "group ") {
				t.Errorf("scanned group named %q", g.DisplayName)
			}
			got = append(got, g.ID)
			return len(got) < 5
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ids[30:35]) {
			t.Errorf("ScanGroups after the 30th, stopping at 5 = %q, want %q", got, ids[30:35])
		}
		wantCount(t, s, 0, 40)
	}},
}
