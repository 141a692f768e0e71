package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

var eventTests = []test{
	{"RecordsEveryWrite", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const who store.Actor = "token-okta"
		start := time.Now().Add(-time.Second)
		u := newUser("alice")
		if err := s.CreateUser(ctx, who, u); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateUser(ctx, who, u.ID, 0, setDisplay("Alice")); err != nil {
			t.Fatal(err)
		}
		g := newGroup("g")
		if err := s.CreateGroup(ctx, who, g, addMembers(u.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateGroup(ctx, who, g.ID, 0, removeMembers(u.ID)); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGroup(ctx, who, g.ID, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, who, u.ID, 0); err != nil {
			t.Fatal(err)
		}
		want := []struct {
			op   string
			kind store.Kind
			id   string
		}{
			{"create", store.KindUser, u.ID},
			{"update", store.KindUser, u.ID},
			{"create", store.KindGroup, g.ID},
			{"update", store.KindGroup, g.ID},
			{"delete", store.KindGroup, g.ID},
			{"delete", store.KindUser, u.ID},
		}
		evs := events(t, s)
		if len(evs) != len(want) {
			t.Fatalf("got %d events %+v, want %d", len(evs), evs, len(want))
		}
		var last uint64
		for i, e := range evs {
			w := want[i]
			if e.Op != w.op || e.Kind != w.kind || e.ID != w.id || e.Actor != who {
				t.Errorf("event %d = %+v, want %s %s %s by %s", i, e, w.op, w.kind, w.id, who)
			}
			if e.Seq <= last {
				t.Errorf("event %d has seq %d after %d", i, e.Seq, last)
			}
			last = e.Seq
			if e.Time.Before(start) || e.Time.After(time.Now().Add(time.Second)) {
				t.Errorf("event %d time %v, want about now", i, e.Time)
			}
		}
	}},
	{"AfterAndLimit", func(t *testing.T, s store.Store) {
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			mustUser(t, s, n)
		}
		all := events(t, s)
		if len(all) != 5 {
			t.Fatalf("got %d events, want 5", len(all))
		}
		got, err := s.Events(t.Context(), all[1].Seq, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Seq != all[2].Seq || got[1].Seq != all[3].Seq {
			t.Errorf("Events(after %d, 2) = %+v, want events 3 and 4", all[1].Seq, got)
		}
		got, err = s.Events(t.Context(), all[4].Seq, 10)
		if err != nil || len(got) != 0 {
			t.Errorf("Events after the last = %+v, %v; want none", got, err)
		}
	}},
	{"FailedWriteRecordsNothing", func(t *testing.T, s store.Store) {
		mustUser(t, s, "alice")
		_ = s.CreateUser(t.Context(), actor, newUser("ALICE"))
		_ = s.DeleteUser(t.Context(), actor, "no-such-user", 0)
		if n := len(events(t, s)); n != 1 {
			t.Errorf("got %d events, want only the first create", n)
		}
	}},
}

func key(kind store.Kind, id string) store.Key { return store.Key{Kind: kind, ID: id} }

var queueTests = []test{
	{"OldestFirst", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a, b, c := key(store.KindUser, "a"), key(store.KindGroup, "b"), key(store.KindUser, "c")
		for _, k := range []store.Key{a, b, c, a} {
			if err := s.Enqueue(ctx, k); err != nil {
				t.Fatalf("Enqueue(%v): %v", k, err)
			}
		}
		items := pending(t, s)
		var got []string
		for _, it := range items {
			got = append(got, it.Key.String())
			if it.Since.IsZero() || it.Seq == 0 {
				t.Errorf("item %+v lacks Since or Seq", it)
			}
		}
		if want := []string{"group/b", "user/c", "user/a"}; !slices.Equal(got, want) {
			t.Errorf("Pending = %q, want %q (a re-enqueued key moves to the back)", got, want)
		}
		first, err := s.Pending(ctx, 2)
		if err != nil || len(first) != 2 || first[0].Key != b || first[1].Key != c {
			t.Errorf("Pending(2) = %+v, %v; want b, c", first, err)
		}
	}},
	{"AckRemoves", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		if err := s.Enqueue(ctx, key(store.KindUser, "a"), key(store.KindUser, "b")); err != nil {
			t.Fatal(err)
		}
		items := pending(t, s)
		if len(items) != 2 {
			t.Fatalf("Pending = %+v, want 2 items", items)
		}
		if err := s.Ack(ctx, items[0]); err != nil {
			t.Fatal(err)
		}
		if got := pendingKeys(t, s); !slices.Equal(got, []string{items[1].Key.String()}) {
			t.Errorf("after one ack, pending = %q", got)
		}
		// Acking again, or acking what was never queued, is harmless.
		if err := s.Ack(ctx, items[0], store.QueueItem{Key: key(store.KindGroup, "zz"), Seq: 12345}); err != nil {
			t.Errorf("Ack of gone items: %v", err)
		}
	}},
	{"StaleAckKeepsItem", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a, b := key(store.KindUser, "a"), key(store.KindUser, "b")
		if err := s.Enqueue(ctx, a, b); err != nil {
			t.Fatal(err)
		}
		read := pending(t, s)
		// a changes again while the reconciler works on what it read.
		if err := s.Enqueue(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(ctx, read...); err != nil {
			t.Fatal(err)
		}
		after := pending(t, s)
		if len(after) != 1 || after[0].Key != a {
			t.Fatalf("after a stale ack, pending = %+v, want only a", after)
		}
		old := read[slices.IndexFunc(read, func(it store.QueueItem) bool { return it.Key == a })]
		if after[0].Seq == old.Seq {
			t.Errorf("re-enqueued item kept seq %d", old.Seq)
		}
		if err := s.Ack(ctx, after...); err != nil {
			t.Fatal(err)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("after acking the fresh item, pending = %q", p)
		}
	}},
	{"WritesEnqueueAgainAfterAck", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		ackAll(t, s)
		if _, err := s.UpdateUser(t.Context(), actor, u.ID, 0, setDisplay("A")); err != nil {
			t.Fatal(err)
		}
		wantPendingSet(t, s, userKey(u.ID))
	}},
}

var settingTests = []test{
	{"OK", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		if err := s.PutSetting(ctx, "token.okta", []byte("hash-1")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSetting(ctx, "other", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSetting(ctx, "token.okta", []byte("hash-2")); err != nil {
			t.Fatal(err)
		}
		v, err := s.GetSetting(ctx, "token.okta")
		if err != nil || string(v) != "hash-2" {
			t.Errorf("GetSetting = %q, %v; want the overwritten value", v, err)
		}
		v[0] = 'X'
		if v, _ := s.GetSetting(ctx, "token.okta"); string(v) != "hash-2" {
			t.Errorf("editing a returned value changed the store: %q", v)
		}
		if v, err := s.GetSetting(ctx, "other"); err != nil || string(v) != "x" {
			t.Errorf("GetSetting(other) = %q, %v", v, err)
		}
	}},
	{"ErrNotFound", func(t *testing.T, s store.Store) {
		_, err := s.GetSetting(t.Context(), "unset")
		wantErr(t, "GetSetting(unset)", err, store.ErrNotFound)
	}},
	{"EmptyValue", func(t *testing.T, s store.Store) {
		if err := s.PutSetting(t.Context(), "empty", nil); err != nil {
			t.Fatal(err)
		}
		v, err := s.GetSetting(t.Context(), "empty")
		if err != nil || len(v) != 0 {
			t.Errorf("GetSetting(empty) = %q, %v; want an empty value", v, err)
		}
	}},
	{"KeepsCallerBuffer", func(t *testing.T, s store.Store) {
		buf := []byte("secret-hash")
		if err := s.PutSetting(t.Context(), "k", buf); err != nil {
			t.Fatal(err)
		}
		copy(buf, "XXXXXX")
		if v, _ := s.GetSetting(t.Context(), "k"); !bytes.Equal(v, []byte("secret-hash")) {
			t.Errorf("store kept the caller's buffer: %q", v)
		}
	}},
}
