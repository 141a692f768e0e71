package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

var createUserTests = []test{
	{"OK", func(t *testing.T, s store.Store) {
		before := time.Now().Add(-time.Second)
		u := newUser("alice")
		u.ExternalID = "sub-alice"
		u.Emails = []string{"Alice@Example.com", "a@example.org"}
		u.DisplayName = "Alice A."
		mustCreateUser(t, s, u)
		if u.ID == "" {
			t.Fatal("CreateUser left ID empty")
		}
		if u.Meta.Version != 1 {
			t.Errorf("Version = %d, want 1", u.Meta.Version)
		}
		if u.Meta.Created.Before(before) || u.Meta.Created.After(time.Now().Add(time.Second)) {
			t.Errorf("Created = %v, want about now", u.Meta.Created)
		}
		if !u.Meta.Modified.Equal(u.Meta.Created) {
			t.Errorf("Modified = %v, want Created %v", u.Meta.Modified, u.Meta.Created)
		}
		if u.Meta.Created.Location() != time.UTC {
			t.Errorf("Created in %v, want UTC", u.Meta.Created.Location())
		}
		checkUser(t, "GetUser", mustGetUser(t, s, u.ID), u)
		wantCount(t, s, 1, 0)
	}},
	{"KeepsGivenID", func(t *testing.T, s store.Store) {
		u := newUser("bob")
		u.ID = "given-id-1"
		mustCreateUser(t, s, u)
		if u.ID != "given-id-1" {
			t.Errorf("ID = %q, want the given one", u.ID)
		}
		mustGetUser(t, s, "given-id-1")
	}},
	{"DistinctIDs", func(t *testing.T, s store.Store) {
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		if a.ID == b.ID {
			t.Errorf("two users got the same id %q", a.ID)
		}
	}},
	{"ErrConflictCaseInsensitive", func(t *testing.T, s store.Store) {
		mustUser(t, s, "Alice")
		err := s.CreateUser(t.Context(), actor, newUser("aLICE"))
		wantErr(t, "CreateUser(aLICE) after Alice", err, store.ErrConflict)
		wantCount(t, s, 1, 0)
		wantIDs(t, "users named alice", idsOf(t, s, ptr("alice"), nil, nil), mustFindOne(t, s, "Alice").ID)
	}},
	{"ErrConflictID", func(t *testing.T, s store.Store) {
		a := newUser("a")
		a.ID = "same"
		mustCreateUser(t, s, a)
		b := newUser("b")
		b.ID = "same"
		wantErr(t, "CreateUser with a taken id", s.CreateUser(t.Context(), actor, b), store.ErrConflict)
		if got := mustGetUser(t, s, "same"); got.UserName != "a" {
			t.Errorf("user %q overwritten: userName %q", "same", got.UserName)
		}
		wantIDs(t, "users named b", idsOf(t, s, ptr("b"), nil, nil))
	}},
	{"ErrInvalidEmptyUserName", func(t *testing.T, s store.Store) {
		wantErr(t, "CreateUser with empty userName", s.CreateUser(t.Context(), actor, newUser("")), store.ErrInvalid)
		wantCount(t, s, 0, 0)
	}},
	{"RecordsEventAndEnqueues", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		evs := events(t, s)
		if len(evs) != 1 || evs[0].Op != "create" || evs[0].Kind != store.KindUser || evs[0].ID != u.ID || evs[0].Actor != actor {
			t.Errorf("events = %+v, want one create of user %s by %s", evs, u.ID, actor)
		}
		wantPendingSet(t, s, userKey(u.ID))
	}},
}

var getUserTests = []test{
	{"ErrNotFound", func(t *testing.T, s store.Store) {
		_, err := s.GetUser(t.Context(), "no-such-user")
		wantErr(t, "GetUser(unknown)", err, store.ErrNotFound)
	}},
	{"ReturnsCopy", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		got := mustGetUser(t, s, u.ID)
		got.UserName = "mallory"
		if len(got.Attributes) > 0 {
			got.Attributes[0] = ' '
		}
		checkUser(t, "GetUser after editing an earlier result", mustGetUser(t, s, u.ID), u)
	}},
}

// idsOf runs FindUsers with the one field given.
func idsOf(t *testing.T, s store.Store, userName, externalID, email *string) []string {
	t.Helper()
	return findIDs(t, s, store.UserQuery{UserName: userName, ExternalID: externalID, Email: email})
}

func mustFindOne(t *testing.T, s store.Store, userName string) *store.User {
	t.Helper()
	us, err := s.FindUsers(t.Context(), store.UserQuery{UserName: &userName})
	if err != nil || len(us) != 1 {
		t.Fatalf("FindUsers(userName %q) = %d users, %v; want 1", userName, len(us), err)
	}
	return us[0]
}

// setDisplay returns a callback that sets DisplayName (and the matching
// attribute) to name.
func setDisplay(name string) func(tx store.UserTx) error {
	return func(tx store.UserTx) error {
		u := tx.User()
		u.DisplayName = name
		var attrs map[string]any
		if err := json.Unmarshal(u.Attributes, &attrs); err != nil {
			return err
		}
		attrs["displayName"] = name
		b, err := json.Marshal(attrs)
		u.Attributes = b
		return err
	}
}

var updateUserTests = []test{
	{"OK", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		time.Sleep(2 * time.Millisecond) // so that Modified can move
		got, err := s.UpdateUser(t.Context(), actor, u.ID, 0, setDisplay("Alice"))
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		if got.Meta.Version != 2 || got.DisplayName != "Alice" {
			t.Errorf("UpdateUser returned version %d displayName %q, want 2 Alice", got.Meta.Version, got.DisplayName)
		}
		if !got.Meta.Created.Equal(u.Meta.Created) || !got.Meta.Modified.After(u.Meta.Modified) {
			t.Errorf("Meta after update = %+v, created %v: want same Created and later Modified", got.Meta, u.Meta)
		}
		checkUser(t, "GetUser after update", mustGetUser(t, s, u.ID), got)
	}},
	{"VersionIncreasesByOne", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		for i := 2; i <= 5; i++ {
			got, err := s.UpdateUser(t.Context(), actor, u.ID, uint64(i-1), setDisplay(fmt.Sprint("name ", i)))
			if err != nil {
				t.Fatalf("UpdateUser with ifVersion %d: %v", i-1, err)
			}
			if got.Meta.Version != uint64(i) {
				t.Fatalf("version = %d, want %d", got.Meta.Version, i)
			}
		}
	}},
	{"NoOpWritesNothing", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		ackAll(t, s)
		nEvents := len(events(t, s))
		for _, fn := range []func(store.UserTx) error{
			func(store.UserTx) error { return nil },
			func(tx store.UserTx) error { tx.User().UserName = "alice"; return nil },
			func(tx store.UserTx) error { tx.User().Meta.Version = 99; return nil },
		} {
			got, err := s.UpdateUser(t.Context(), actor, u.ID, 0, fn)
			if err != nil {
				t.Fatalf("no-op UpdateUser: %v", err)
			}
			checkUser(t, "no-op UpdateUser result", got, u)
		}
		checkUser(t, "GetUser after no-op updates", mustGetUser(t, s, u.ID), u)
		if n := len(events(t, s)); n != nEvents {
			t.Errorf("events grew from %d to %d on no-op updates", nEvents, n)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("no-op updates enqueued %q", p)
		}
	}},
	{"IfVersionMatches", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		if _, err := s.UpdateUser(t.Context(), actor, u.ID, 1, setDisplay("A")); err != nil {
			t.Fatalf("UpdateUser with the current version: %v", err)
		}
	}},
	{"ErrVersionMismatch", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		if _, err := s.UpdateUser(t.Context(), actor, u.ID, 0, setDisplay("A")); err != nil {
			t.Fatal(err)
		}
		called := false
		_, err := s.UpdateUser(t.Context(), actor, u.ID, 1, func(tx store.UserTx) error {
			called = true
			return setDisplay("B")(tx)
		})
		wantErr(t, "UpdateUser with a stale version", err, store.ErrVersionMismatch)
		if called {
			t.Error("callback ran despite the version mismatch")
		}
		if got := mustGetUser(t, s, u.ID); got.DisplayName != "A" || got.Meta.Version != 2 {
			t.Errorf("user after mismatch: %q version %d, want A 2", got.DisplayName, got.Meta.Version)
		}
	}},
	{"ErrNotFound", func(t *testing.T, s store.Store) {
		_, err := s.UpdateUser(t.Context(), actor, "no-such-user", 0, setDisplay("x"))
		wantErr(t, "UpdateUser(unknown)", err, store.ErrNotFound)
	}},
	{"CallbackErrorRollsBack", func(t *testing.T, s store.Store) {
		u := newUser("alice")
		u.Emails = []string{"alice@example.com"}
		mustCreateUser(t, s, u)
		ackAll(t, s)
		nEvents := len(events(t, s))
		_, err := s.UpdateUser(t.Context(), actor, u.ID, 0, func(tx store.UserTx) error {
			tx.User().UserName = "renamed"
			tx.User().Emails = []string{"new@example.com"}
			return fmt.Errorf("wrapped: %w", errCallback)
		})
		wantErr(t, "UpdateUser with a failing callback", err, errCallback)
		checkUser(t, "user after failed update", mustGetUser(t, s, u.ID), u)
		wantIDs(t, "users named alice", idsOf(t, s, ptr("alice"), nil, nil), u.ID)
		wantIDs(t, "users named renamed", idsOf(t, s, ptr("renamed"), nil, nil))
		wantIDs(t, "users with new email", idsOf(t, s, nil, nil, ptr("new@example.com")))
		if n := len(events(t, s)); n != nEvents {
			t.Errorf("a failed update recorded %d events", n-nEvents)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("a failed update enqueued %q", p)
		}
	}},
	{"ErrConflictOnRenameCaseInsensitive", func(t *testing.T, s store.Store) {
		mustUser(t, s, "alice")
		bob := mustUser(t, s, "bob")
		_, err := s.UpdateUser(t.Context(), actor, bob.ID, 0, func(tx store.UserTx) error {
			tx.User().UserName = "ALICE"
			return nil
		})
		wantErr(t, "rename bob to ALICE", err, store.ErrConflict)
		checkUser(t, "bob after failed rename", mustGetUser(t, s, bob.ID), bob)
		wantIDs(t, "users named bob", idsOf(t, s, ptr("bob"), nil, nil), bob.ID)
	}},
	{"RenameCaseOnly", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		got, err := s.UpdateUser(t.Context(), actor, u.ID, 0, func(tx store.UserTx) error {
			tx.User().UserName = "Alice"
			return nil
		})
		if err != nil {
			t.Fatalf("rename alice to Alice: %v", err)
		}
		if got.UserName != "Alice" {
			t.Errorf("userName = %q, want Alice", got.UserName)
		}
		wantIDs(t, "users named aLiCe", idsOf(t, s, ptr("aLiCe"), nil, nil), u.ID)
	}},
	{"IndexesFollowChanges", func(t *testing.T, s store.Store) {
		u := newUser("alice")
		u.ExternalID = "sub-1"
		u.Emails = []string{"old@example.com", "kept@example.com"}
		mustCreateUser(t, s, u)
		_, err := s.UpdateUser(t.Context(), actor, u.ID, 0, func(tx store.UserTx) error {
			x := tx.User()
			x.UserName = "alicia"
			x.ExternalID = "sub-2"
			x.Emails = []string{"kept@example.com", "New@Example.com"}
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		wantIDs(t, "by old userName", idsOf(t, s, ptr("alice"), nil, nil))
		wantIDs(t, "by new userName", idsOf(t, s, ptr("ALICIA"), nil, nil), u.ID)
		wantIDs(t, "by old externalId", idsOf(t, s, nil, ptr("sub-1"), nil))
		wantIDs(t, "by new externalId", idsOf(t, s, nil, ptr("sub-2"), nil), u.ID)
		wantIDs(t, "by old email", idsOf(t, s, nil, nil, ptr("old@example.com")))
		wantIDs(t, "by kept email", idsOf(t, s, nil, nil, ptr("kept@example.com")), u.ID)
		wantIDs(t, "by new email", idsOf(t, s, nil, nil, ptr("new@example.com")), u.ID)
		// The old userName is free again.
		mustUser(t, s, "alice")
	}},
	{"DisplayFollowsInGroups", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		g1 := mustGroup(t, s, "g1", u.ID)
		g2 := mustGroup(t, s, "g2", u.ID)
		if _, err := s.UpdateUser(t.Context(), actor, u.ID, 0, setDisplay("Alice Liddell")); err != nil {
			t.Fatal(err)
		}
		for _, g := range []string{g1.ID, g2.ID} {
			if _, d := members(t, s, g); !slices.Equal(d, []string{"Alice Liddell"}) {
				t.Errorf("group %s member display = %q, want the new displayName", g, d)
			}
		}
		if _, err := s.UpdateUser(t.Context(), actor, u.ID, 0, func(tx store.UserTx) error {
			tx.User().DisplayName = ""
			tx.User().UserName = "alice2"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, d := members(t, s, g1.ID); !slices.Equal(d, []string{"alice2"}) {
			t.Errorf("member display without displayName = %q, want the userName", d)
		}
	}},
	{"EnqueuesAndRecordsEvent", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		ackAll(t, s)
		if _, err := s.UpdateUser(t.Context(), "token-a", u.ID, 0, setDisplay("A")); err != nil {
			t.Fatal(err)
		}
		wantPendingSet(t, s, userKey(u.ID))
		evs := events(t, s)
		last := evs[len(evs)-1]
		if len(evs) != 2 || last.Op != "update" || last.Actor != "token-a" || last.ID != u.ID || last.Kind != store.KindUser {
			t.Errorf("events = %+v, want create then update by token-a", evs)
		}
	}},
}

var deleteUserTests = []test{
	{"OK", func(t *testing.T, s store.Store) {
		u := newUser("alice")
		u.ExternalID = "sub-1"
		u.Emails = []string{"alice@example.com"}
		mustCreateUser(t, s, u)
		other := mustUser(t, s, "bob")
		if err := s.DeleteUser(t.Context(), actor, u.ID, 0); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		_, err := s.GetUser(t.Context(), u.ID)
		wantErr(t, "GetUser after delete", err, store.ErrNotFound)
		wantIDs(t, "by userName", idsOf(t, s, ptr("alice"), nil, nil))
		wantIDs(t, "by externalId", idsOf(t, s, nil, ptr("sub-1"), nil))
		wantIDs(t, "by email", idsOf(t, s, nil, nil, ptr("alice@example.com")))
		wantCount(t, s, 1, 0)
		mustGetUser(t, s, other.ID)
		// The userName can be taken again.
		mustUser(t, s, "ALICE")
	}},
	{"ErrNotFound", func(t *testing.T, s store.Store) {
		wantErr(t, "DeleteUser(unknown)", s.DeleteUser(t.Context(), actor, "no-such-user", 0), store.ErrNotFound)
	}},
	{"ErrVersionMismatch", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		wantErr(t, "DeleteUser with a wrong version", s.DeleteUser(t.Context(), actor, u.ID, 7), store.ErrVersionMismatch)
		mustGetUser(t, s, u.ID)
		if err := s.DeleteUser(t.Context(), actor, u.ID, 1); err != nil {
			t.Errorf("DeleteUser with the right version: %v", err)
		}
	}},
	{"CleansMembershipsAndEnqueuesGroups", func(t *testing.T, s store.Store) {
		u, v := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		g1 := mustGroup(t, s, "g1", u.ID, v.ID)
		g2 := mustGroup(t, s, "g2", u.ID)
		g3 := mustGroup(t, s, "g3", v.ID)
		ackAll(t, s)
		if err := s.DeleteUser(t.Context(), actor, u.ID, 0); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if ids, _ := members(t, s, g1.ID); !slices.Equal(ids, []string{v.ID}) {
			t.Errorf("g1 members = %q, want only bob", ids)
		}
		if ids, _ := members(t, s, g2.ID); len(ids) != 0 {
			t.Errorf("g2 members = %q, want none", ids)
		}
		if n := memberCount(t, s, g1.ID); n != 1 {
			t.Errorf("g1 MemberCount = %d, want 1", n)
		}
		if n := memberCount(t, s, g2.ID); n != 0 {
			t.Errorf("g2 MemberCount = %d, want 0", n)
		}
		wantPendingSet(t, s, userKey(u.ID), groupKey(g1.ID), groupKey(g2.ID))
		if gs, err := s.UserGroups(t.Context(), u.ID); len(gs) > 0 || (err != nil && !errors.Is(err, store.ErrNotFound)) {
			t.Errorf("UserGroups of a deleted user = %q, %v; want none or ErrNotFound", gs, err)
		}
		if ids, _ := members(t, s, g3.ID); !slices.Equal(ids, []string{v.ID}) {
			t.Errorf("g3 members = %q, want bob untouched", ids)
		}
		// A new user under the old name starts with no groups.
		w := mustUser(t, s, "alice")
		if gs := userGroups(t, s, w.ID); len(gs) != 0 {
			t.Errorf("new alice is in %q", gs)
		}
	}},
}

var findUsersTests = []test{
	{"ByUserNameCaseInsensitive", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "Alice")
		mustUser(t, s, "alicia")
		wantIDs(t, "by userName ALICE", idsOf(t, s, ptr("ALICE"), nil, nil), u.ID)
		wantIDs(t, "by userName ali", idsOf(t, s, ptr("ali"), nil, nil))
	}},
	{"ByExternalIDExact", func(t *testing.T, s store.Store) {
		a, b, c := newUser("a"), newUser("b"), newUser("c")
		a.ExternalID, b.ExternalID, c.ExternalID = "Sub-1", "Sub-1", "sub-1"
		mustCreateUser(t, s, a)
		mustCreateUser(t, s, b)
		mustCreateUser(t, s, c)
		mustUser(t, s, "d")
		wantIDs(t, "by externalId Sub-1", idsOf(t, s, nil, ptr("Sub-1"), nil), a.ID, b.ID)
		wantIDs(t, "by externalId sub-1", idsOf(t, s, nil, ptr("sub-1"), nil), c.ID)
		wantIDs(t, "by externalId Sub", idsOf(t, s, nil, ptr("Sub"), nil))
	}},
	{"ByEmailCaseInsensitive", func(t *testing.T, s store.Store) {
		a, b, c := newUser("a"), newUser("b"), newUser("c")
		a.Emails = []string{"Shared@Example.com", "a@example.com"}
		b.Emails = []string{"shared@example.com"}
		c.Emails = []string{"shared@example.co"}
		mustCreateUser(t, s, a)
		mustCreateUser(t, s, b)
		mustCreateUser(t, s, c)
		wantIDs(t, "by shared email", idsOf(t, s, nil, nil, ptr("SHARED@example.com")), a.ID, b.ID)
		wantIDs(t, "by a's second email", idsOf(t, s, nil, nil, ptr("a@example.com")), a.ID)
	}},
	{"ReturnsWholeUsers", func(t *testing.T, s store.Store) {
		u := newUser("alice")
		u.Emails = []string{"alice@example.com"}
		u.DisplayName = "Alice"
		mustCreateUser(t, s, u)
		us, err := s.FindUsers(t.Context(), store.UserQuery{Email: ptr("alice@example.com")})
		if err != nil || len(us) != 1 {
			t.Fatalf("FindUsers = %d, %v; want 1 user", len(us), err)
		}
		checkUser(t, "FindUsers result", us[0], u)
	}},
}

var scanUsersTests = []test{
	{"OrderAndAfter", func(t *testing.T, s store.Store) {
		const n = 300 // more than one page for implementations that page
		ids := createUsers(t, s, n, 16)
		slices.Sort(ids)
		var got []string
		if err := s.ScanUsers(t.Context(), "", func(u *store.User) bool {
			got = append(got, u.ID)
			return true
		}); err != nil {
			t.Fatalf("ScanUsers: %v", err)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("ScanUsers returned %d ids (sorted: %v), want all %d in id order", len(got), slices.IsSorted(got), n)
		}
		got = nil
		if err := s.ScanUsers(t.Context(), ids[99], func(u *store.User) bool {
			got = append(got, u.ID)
			return true
		}); err != nil {
			t.Fatalf("ScanUsers after: %v", err)
		}
		if !slices.Equal(got, ids[100:]) {
			t.Errorf("ScanUsers after the 100th id returned %d ids, want the %d after it", len(got), n-100)
		}
		got = nil
		if err := s.ScanUsers(t.Context(), ids[10]+"\x01", func(u *store.User) bool {
			got = append(got, u.ID)
			return len(got) < 5
		}); err != nil {
			t.Fatalf("ScanUsers stopped early: %v", err)
		}
		if !slices.Equal(got, ids[11:16]) {
			t.Errorf("ScanUsers after a non-existent id, stopping at 5 = %q, want %q", got, ids[11:16])
		}
		wantCount(t, s, n, 0)
	}},
	{"Empty", func(t *testing.T, s store.Store) {
		called := false
		if err := s.ScanUsers(t.Context(), "", func(*store.User) bool { called = true; return true }); err != nil {
			t.Fatal(err)
		}
		if called {
			t.Error("ScanUsers called fn on an empty store")
		}
	}},
}
