package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/conformance/storetest"
	"github.com/scimbridge/scimbridge/store"
)

// openTemp opens a store on a new file in t's temporary directory and
// closes it when the test ends.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			// Run closes the store; Check needs it open, so reopen.
			s2, err := Open(s.Path(), Options{})
			if err != nil {
				t.Errorf("reopen: %v", err)
				return
			}
			defer s2.Close()
			if err := s2.Check(context.Background()); err != nil {
				t.Errorf("Check after the subtest: %v", err)
			}
		})
		return s
	})
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimbridge.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	u := &store.User{UserName: "alice", ExternalID: "sub-1", Emails: []string{"Alice@example.com"}, DisplayName: "Alice", Active: true, Attributes: []byte(`{"x":1}`)}
	if err := s.CreateUser(ctx, "test", u); err != nil {
		t.Fatal(err)
	}
	g := &store.Group{DisplayName: "Admins", Attributes: []byte(`{}`)}
	if err := s.CreateGroup(ctx, "test", g, func(tx store.GroupTx) error { return tx.AddMember(u.ID) }); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "token.a", []byte("hash")); err != nil {
		t.Fatal(err)
	}
	items, err := s.Pending(ctx, 0)
	if err != nil || len(items) != 2 {
		t.Fatalf("Pending = %v, %v", items, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.GetUser(ctx, u.ID)
	if err != nil || got.UserName != "alice" || got.Meta.Version != 1 || !got.Meta.Created.Equal(u.Meta.Created) || string(got.Attributes) != `{"x":1}` {
		t.Errorf("GetUser after reopen = %+v, %v", got, err)
	}
	if us, err := s.FindUsers(ctx, store.UserQuery{Email: ptr("alice@EXAMPLE.com")}); err != nil || len(us) != 1 {
		t.Errorf("FindUsers by email after reopen = %v, %v", us, err)
	}
	if ms, err := s.GroupMembers(ctx, g.ID); err != nil || len(ms) != 1 || ms[0] != (store.Member{UserID: u.ID, Display: "Alice"}) {
		t.Errorf("GroupMembers after reopen = %+v, %v", ms, err)
	}
	if v, err := s.GetSetting(ctx, "token.a"); err != nil || string(v) != "hash" {
		t.Errorf("GetSetting after reopen = %q, %v", v, err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers after reopen = %d, %v", n, err)
	}
	again, err := s.Pending(ctx, 0)
	if err != nil || !slices.Equal(again, items) {
		t.Errorf("Pending after reopen = %+v, %v; want %+v", again, err, items)
	}
	evs, err := s.Events(ctx, 0, 0)
	if err != nil || len(evs) != 2 {
		t.Errorf("Events after reopen = %+v, %v", evs, err)
	}
	// Sequences go on from where they were.
	u2 := &store.User{UserName: "bob"}
	if err := s.CreateUser(ctx, "test", u2); err != nil {
		t.Fatal(err)
	}
	evs, _ = s.Events(ctx, 0, 0)
	if len(evs) != 3 || evs[2].Seq <= evs[1].Seq {
		t.Errorf("event after reopen = %+v", evs)
	}
	if err := s.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func ptr(s string) *string { return &s }

func TestOpenSchemaMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimbridge.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketNames[iMeta]).Put(metaSchema, u64(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if s, err := Open(path, Options{}); err == nil {
		_ = s.Close()
		t.Fatal("Open accepted a file with a newer schema version")
	} else if !strings.Contains(err.Error(), "schema") {
		t.Errorf("Open error = %v, want it to name the schema", err)
	}
}

func TestOpenLocked(t *testing.T) {
	s := openTemp(t)
	start := time.Now()
	s2, err := Open(s.Path(), Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		_ = s2.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	if !errors.Is(err, bbolt.ErrTimeout) {
		t.Errorf("second Open: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v despite a 100ms timeout", d)
	}
}

// TestCheckFindsDamage proves that Check is not vacuous: each damage is
// done behind the store's back and Check must name it.
func TestCheckFindsDamage(t *testing.T) {
	damages := []struct {
		name string
		want string
		fn   func(b *txn, u, g string) error
	}{
		{"UserNameIndexMissing", "userName", func(b *txn, u, g string) error {
			return b.userNames().Delete([]byte("alice"))
		}},
		{"EmailIndexStale", "email index", func(b *txn, u, g string) error {
			return b.emails().Put(pair("gone@example.com", u), nil)
		}},
		{"MemberOfMissing", "no memberOf", func(b *txn, u, g string) error {
			return b.memberOf().Delete(pair(u, g))
		}},
		{"MemberCountWrong", "member count", func(b *txn, u, g string) error {
			return b.memberCounts().Put([]byte(g), u64(5))
		}},
		{"UserCounterWrong", "user counter", func(b *txn, u, g string) error {
			return b.meta().Put(metaUsers, u64(7))
		}},
		{"DisplayStale", "shows", func(b *txn, u, g string) error {
			return b.members().Put(pair(g, u), []byte("Someone Else"))
		}},
		{"QueueOrderMissing", "order entry", func(b *txn, u, g string) error {
			_, v := b.queue().Cursor().First()
			return b.queueOrder().Delete(v[:8])
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			s := openTemp(t)
			ctx := t.Context()
			u := &store.User{UserName: "alice", Emails: []string{"a@example.com"}}
			if err := s.CreateUser(ctx, "test", u); err != nil {
				t.Fatal(err)
			}
			g := &store.Group{DisplayName: "g"}
			if err := s.CreateGroup(ctx, "test", g, func(tx store.GroupTx) error { return tx.AddMember(u.ID) }); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(ctx); err != nil {
				t.Fatalf("Check before damage: %v", err)
			}
			if err := s.db.Update(func(tx *bbolt.Tx) error { return d.fn(newTxn(tx), u.ID, g.ID) }); err != nil {
				t.Fatal(err)
			}
			err := s.Check(ctx)
			if err == nil || !strings.Contains(err.Error(), d.want) {
				t.Errorf("Check after damage = %v, want a problem mentioning %q", err, d.want)
			}
		})
	}
}

// TestDetail checks what the audit log says about changes: field names
// and member counts, never values.
func TestDetail(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	u := &store.User{UserName: "alice", Attributes: []byte(`{"password":"hunter2"}`)}
	if err := s.CreateUser(ctx, "test", u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, "test", u.ID, 0, func(tx store.UserTx) error {
		tx.User().Attributes = []byte(`{"password":"hunter3"}`)
		tx.User().Active = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g := &store.Group{DisplayName: "g"}
	if err := s.CreateGroup(ctx, "test", g, func(tx store.GroupTx) error { return tx.AddMember(u.ID) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateGroup(ctx, "test", g.ID, 0, func(tx store.GroupTx) error { return tx.RemoveMember(u.ID) }); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range evs {
		details = append(details, e.Detail)
		if strings.Contains(e.Detail, "hunter") {
			t.Errorf("event detail leaks a value: %q", e.Detail)
		}
	}
	want := []string{"", "changed active,attributes", "members +1 -0", "members +0 -1"}
	if !slices.Equal(details, want) {
		t.Errorf("details = %q, want %q", details, want)
	}
}

// TestUserDeleteBumpsGroups pins the bolt-specific choice that a group
// whose member was deleted gets a new version.
func TestUserDeleteBumpsGroups(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	u := &store.User{UserName: "alice"}
	if err := s.CreateUser(ctx, "test", u); err != nil {
		t.Fatal(err)
	}
	g := &store.Group{DisplayName: "g"}
	if err := s.CreateGroup(ctx, "test", g, func(tx store.GroupTx) error { return tx.AddMember(u.ID) }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "test", u.ID, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetGroup(ctx, g.ID)
	if err != nil || got.Meta.Version != 2 {
		t.Errorf("group after its member's delete: %+v, %v; want version 2", got, err)
	}
	if err := s.Check(ctx); err != nil {
		t.Error(err)
	}
}

// TestInvalidValues covers the NUL byte that compound keys reserve.
func TestInvalidValues(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	for i, u := range []*store.User{
		{UserName: "a\x00b"},
		{UserName: "ok", ExternalID: "x\x00y"},
		{UserName: "ok", Emails: []string{"a\x00@b"}},
		{UserName: "ok", ID: "id\x00x"},
		{UserName: "ok", Attributes: []byte(`{not json`)},
	} {
		if err := s.CreateUser(ctx, "test", u); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("case %d: CreateUser = %v, want ErrInvalid", i, err)
		}
	}
	if n, _ := s.CountUsers(ctx); n != 0 {
		t.Errorf("%d users stored from invalid input", n)
	}
	u := &store.User{UserName: "ok"}
	if err := s.CreateUser(ctx, "test", u); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateUser(ctx, "test", u.ID, 0, func(tx store.UserTx) error {
		tx.User().ID = "other"
		return nil
	})
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("UpdateUser changing the id = %v, want ErrInvalid", err)
	}
	if _, err := s.FindUsers(ctx, store.UserQuery{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("FindUsers with no field = %v, want ErrInvalid", err)
	}
	if err := s.Enqueue(ctx, store.Key{Kind: "robot", ID: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Enqueue of a bad key = %v, want ErrInvalid", err)
	}
	if err := s.Check(ctx); err != nil {
		t.Error(err)
	}
}

// TestErrorMessages pins the lowercase "bolt: op %q: ..." shape.
func TestErrorMessages(t *testing.T) {
	s := openTemp(t)
	_, err := s.GetUser(t.Context(), "nope")
	if want := `bolt: get user "nope": not found`; fmt.Sprint(err) != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}
