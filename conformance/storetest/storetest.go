// Package storetest is the conformance suite every store.Store
// implementation runs: one call to Run from the implementation's tests
// checks every contract stated in package store (uniqueness, indexes,
// versions, no-op updates, rollback, memberships, audit events, the
// reconcile queue, settings, scans, concurrency and contexts).
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// Run runs the suite. open must return a new, empty store each time it is
// called; Run closes it when the subtest ends, so open must not. Subtests
// call t.Parallel, so open is called concurrently.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"CreateUser", createUserTests},
		{"GetUser", getUserTests},
		{"UpdateUser", updateUserTests},
		{"DeleteUser", deleteUserTests},
		{"FindUsers", findUsersTests},
		{"ScanUsers", scanUsersTests},
		{"CreateGroup", createGroupTests},
		{"UpdateGroup", updateGroupTests},
		{"DeleteGroup", deleteGroupTests},
		{"FindGroupByName", findGroupTests},
		{"ScanGroups", scanGroupsTests},
		{"Events", eventTests},
		{"Queue", queueTests},
		{"Settings", settingTests},
		{"Status", statusTests},
		{"GroupWithMembers", groupWithMembersTests},
		{"Formulas", formulaTests},
		{"Concurrency", concurrencyTests},
		{"Context", contextTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, s)
				})
			}
		})
	}
}

// test is one subtest: a fresh store and a check.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// actor is the actor of every write the suite makes unless a test says
// otherwise.
const actor store.Actor = "storetest"

// errCallback is what failing callbacks return.
var errCallback = errors.New("storetest: callback failed")

func ptr(s string) *string { return &s }

// newUser builds a user to create; Attributes carries the userName so
// that the document is not empty.
func newUser(userName string) *store.User {
	attrs, _ := json.Marshal(map[string]any{"userName": userName, "title": "engineer"})
	return &store.User{UserName: userName, Active: true, Attributes: attrs}
}

func mustCreateUser(t *testing.T, s store.Store, u *store.User) *store.User {
	t.Helper()
	if err := s.CreateUser(t.Context(), actor, u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.UserName, err)
	}
	return u
}

func mustUser(t *testing.T, s store.Store, userName string) *store.User {
	t.Helper()
	return mustCreateUser(t, s, newUser(userName))
}

func newGroup(displayName string) *store.Group {
	attrs, _ := json.Marshal(map[string]any{"displayName": displayName})
	return &store.Group{DisplayName: displayName, Attributes: attrs}
}

// mustGroup creates a group with the given members.
func mustGroup(t *testing.T, s store.Store, displayName string, members ...string) *store.Group {
	t.Helper()
	g := newGroup(displayName)
	err := s.CreateGroup(t.Context(), actor, g, func(tx store.GroupTx) error {
		for _, m := range members {
			if err := tx.AddMember(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("CreateGroup(%q): %v", displayName, err)
	}
	return g
}

func mustGetUser(t *testing.T, s store.Store, id string) *store.User {
	t.Helper()
	u, err := s.GetUser(t.Context(), id)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", id, err)
	}
	return u
}

func mustGetGroup(t *testing.T, s store.Store, id string) *store.Group {
	t.Helper()
	g, err := s.GetGroup(t.Context(), id)
	if err != nil {
		t.Fatalf("GetGroup(%q): %v", id, err)
	}
	return g
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func wantCount(t *testing.T, s store.Store, users, groups int) {
	t.Helper()
	n, err := s.CountUsers(t.Context())
	if err != nil || n != users {
		t.Errorf("CountUsers = %d, %v; want %d", n, err, users)
	}
	n, err = s.CountGroups(t.Context())
	if err != nil || n != groups {
		t.Errorf("CountGroups = %d, %v; want %d", n, err, groups)
	}
}

// findIDs returns the ids FindUsers answers for q.
func findIDs(t *testing.T, s store.Store, q store.UserQuery) []string {
	t.Helper()
	us, err := s.FindUsers(t.Context(), q)
	if err != nil {
		t.Fatalf("FindUsers: %v", err)
	}
	ids := make([]string, 0, len(us))
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if len(want) == 0 {
		want = nil
	}
	if len(got) == 0 {
		got = nil
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// members returns the user ids and displays of a group's members.
func members(t *testing.T, s store.Store, groupID string) (ids, displays []string) {
	t.Helper()
	ms, err := s.GroupMembers(t.Context(), groupID)
	if err != nil {
		t.Fatalf("GroupMembers(%q): %v", groupID, err)
	}
	for _, m := range ms {
		ids = append(ids, m.UserID)
		displays = append(displays, m.Display)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("GroupMembers(%q) not in user-id order: %q", groupID, ids)
	}
	return ids, displays
}

func userGroups(t *testing.T, s store.Store, userID string) []string {
	t.Helper()
	gs, err := s.UserGroups(t.Context(), userID)
	if err != nil {
		t.Fatalf("UserGroups(%q): %v", userID, err)
	}
	slices.Sort(gs)
	return gs
}

// memberCount reads MemberCount through a no-op UpdateGroup.
func memberCount(t *testing.T, s store.Store, groupID string) int {
	t.Helper()
	n := -1
	_, err := s.UpdateGroup(t.Context(), actor, groupID, 0, func(tx store.GroupTx) error {
		n = tx.MemberCount()
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup(%q) to read MemberCount: %v", groupID, err)
	}
	return n
}

// events returns every audit event.
func events(t *testing.T, s store.Store) []store.Event {
	t.Helper()
	evs, err := s.Events(t.Context(), 0, 1<<20)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return evs
}

// pending returns the pending queue items.
func pending(t *testing.T, s store.Store) []store.QueueItem {
	t.Helper()
	items, err := s.Pending(t.Context(), 1<<20)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return items
}

// pendingKeys returns the pending keys as strings, in queue order.
func pendingKeys(t *testing.T, s store.Store) []string {
	t.Helper()
	var out []string
	for _, it := range pending(t, s) {
		out = append(out, it.Key.String())
	}
	return out
}

// ackAll empties the queue.
func ackAll(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Ack(t.Context(), pending(t, s)...); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if p := pendingKeys(t, s); len(p) != 0 {
		t.Fatalf("after acking everything, pending = %q", p)
	}
}

func userKey(id string) string  { return store.Key{Kind: store.KindUser, ID: id}.String() }
func groupKey(id string) string { return store.Key{Kind: store.KindGroup, ID: id}.String() }

// wantPendingSet checks the pending keys as a set.
func wantPendingSet(t *testing.T, s store.Store, want ...string) {
	t.Helper()
	got := pendingKeys(t, s)
	slices.Sort(got)
	wantIDs(t, "pending keys", got, want...)
}

// sameJSON reports whether a and b encode the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// checkUser compares what a store returned with what was written.
func checkUser(t *testing.T, what string, got, want *store.User) {
	t.Helper()
	var diffs []string
	if got.ID != want.ID {
		diffs = append(diffs, fmt.Sprintf("ID %q, want %q", got.ID, want.ID))
	}
	if got.UserName != want.UserName {
		diffs = append(diffs, fmt.Sprintf("UserName %q, want %q", got.UserName, want.UserName))
	}
	if got.ExternalID != want.ExternalID {
		diffs = append(diffs, fmt.Sprintf("ExternalID %q, want %q", got.ExternalID, want.ExternalID))
	}
	if !slices.Equal(got.Emails, want.Emails) && len(got.Emails)+len(want.Emails) > 0 {
		diffs = append(diffs, fmt.Sprintf("Emails %q, want %q", got.Emails, want.Emails))
	}
	if got.DisplayName != want.DisplayName {
		diffs = append(diffs, fmt.Sprintf("DisplayName %q, want %q", got.DisplayName, want.DisplayName))
	}
	if got.Active != want.Active {
		diffs = append(diffs, fmt.Sprintf("Active %v, want %v", got.Active, want.Active))
	}
	if !sameJSON(got.Attributes, want.Attributes) {
		diffs = append(diffs, fmt.Sprintf("Attributes %s, want %s", got.Attributes, want.Attributes))
	}
	if got.Meta.Version != want.Meta.Version {
		diffs = append(diffs, fmt.Sprintf("Version %d, want %d", got.Meta.Version, want.Meta.Version))
	}
	if !got.Meta.Created.Equal(want.Meta.Created) || !got.Meta.Modified.Equal(want.Meta.Modified) {
		diffs = append(diffs, fmt.Sprintf("Meta %+v, want %+v", got.Meta, want.Meta))
	}
	if len(diffs) > 0 {
		t.Errorf("%s: %q", what, diffs)
	}
}
