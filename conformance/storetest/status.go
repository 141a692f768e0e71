package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// dispatched creates a user and dispatches its queue entry to conns.
func dispatched(t *testing.T, s store.Store, conns ...string) store.Key {
	t.Helper()
	u := &store.User{UserName: "status-user", Active: true, Attributes: []byte(`{}`)}
	if err := s.CreateUser(t.Context(), actor, u); err != nil {
		t.Fatal(err)
	}
	items, err := s.Pending(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Dispatch(t.Context(), items, conns); err != nil {
		t.Fatal(err)
	}
	return store.Key{Kind: store.KindUser, ID: u.ID}
}

func due(t *testing.T, s store.Store, conn string, at time.Time) []store.Status {
	t.Helper()
	d, err := s.Due(t.Context(), conn, at, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var statusTests = []test{
	{"DispatchMakesDueAndAcks", func(t *testing.T, s store.Store) {
		k := dispatched(t, s, "a", "b")
		if items, _ := s.Pending(t.Context(), 0); len(items) != 0 {
			t.Fatalf("main queue still has %d items", len(items))
		}
		for _, c := range []string{"a", "b"} {
			d := due(t, s, c, time.Now().Add(time.Second))
			if len(d) != 1 || d[0].Key != k || d[0].State != store.StatePending || d[0].Connector != c {
				t.Fatalf("%s due = %+v", c, d)
			}
		}
		if d := due(t, s, "c", time.Now().Add(time.Second)); len(d) != 0 {
			t.Fatalf("unknown connector has due keys: %+v", d)
		}
	}},
	{"SettleOKLeavesQueue", func(t *testing.T, s store.Store) {
		k := dispatched(t, s, "a")
		st := due(t, s, "a", time.Now().Add(time.Second))[0]
		st.State, st.RemoteID, st.AppliedHash, st.LastSuccess = store.StateOK, "42", "h1", time.Now()
		if err := s.Settle(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		if d := due(t, s, "a", time.Now().Add(time.Hour)); len(d) != 0 {
			t.Fatalf("still due: %+v", d)
		}
		sts, err := s.Statuses(t.Context(), k)
		if err != nil || len(sts) != 1 || sts[0].RemoteID != "42" || sts[0].AppliedHash != "h1" || sts[0].State != store.StateOK {
			t.Fatalf("statuses = %+v, %v", sts, err)
		}
	}},
	{"SettleFailedSchedulesRetry", func(t *testing.T, s store.Store) {
		dispatched(t, s, "a")
		st := due(t, s, "a", time.Now().Add(time.Second))[0]
		next := time.Now().Add(time.Minute)
		st.State, st.Attempts, st.LastError, st.NextAttempt = store.StateFailed, 1, "boom", next
		if err := s.Settle(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		if d := due(t, s, "a", time.Now()); len(d) != 0 {
			t.Fatalf("due before its next attempt: %+v", d)
		}
		if d := due(t, s, "a", next.Add(time.Second)); len(d) != 1 || d[0].LastError != "boom" {
			t.Fatalf("due after = %+v", d)
		}
	}},
	{"ParkedUntilRetry", func(t *testing.T, s store.Store) {
		k := dispatched(t, s, "a")
		st := due(t, s, "a", time.Now().Add(time.Second))[0]
		st.State, st.LastError, st.AppliedHash = store.StateParked, "bad config", "h"
		if err := s.Settle(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		if d := due(t, s, "a", time.Now().Add(24*time.Hour)); len(d) != 0 {
			t.Fatalf("parked key is due: %+v", d)
		}
		if err := s.Retry(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		d := due(t, s, "a", time.Now().Add(time.Second))
		if len(d) != 1 || d[0].State != store.StatePending || d[0].AppliedHash != "" || d[0].Attempts != 0 {
			t.Fatalf("after retry: %+v", d)
		}
	}},
	{"RedispatchDuringAttemptStaysDue", func(t *testing.T, s store.Store) {
		k := dispatched(t, s, "a")
		st := due(t, s, "a", time.Now().Add(time.Second))[0]
		// A change arrives while the attempt runs.
		if err := s.Enqueue(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		items, _ := s.Pending(t.Context(), 0)
		if err := s.Dispatch(t.Context(), items, []string{"a"}); err != nil {
			t.Fatal(err)
		}
		st.State, st.AppliedHash = store.StateOK, "old"
		if err := s.Settle(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		d := due(t, s, "a", time.Now().Add(time.Second))
		if len(d) != 1 || d[0].State != store.StatePending {
			t.Fatalf("a newer dispatch was cleared by an older settle: %+v", d)
		}
	}},
	{"BackingOffKeepsNextAttempt", func(t *testing.T, s store.Store) {
		k := dispatched(t, s, "a")
		st := due(t, s, "a", time.Now().Add(time.Second))[0]
		next := time.Now().Add(time.Hour)
		st.State, st.NextAttempt = store.StateFailed, next
		if err := s.Settle(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		if err := s.Enqueue(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		items, _ := s.Pending(t.Context(), 0)
		if err := s.Dispatch(t.Context(), items, []string{"a"}); err != nil {
			t.Fatal(err)
		}
		if d := due(t, s, "a", time.Now().Add(time.Minute)); len(d) != 0 {
			t.Fatalf("a new change broke the backoff: %+v", d)
		}
	}},
	{"NoteBecomesAuditEvent", func(t *testing.T, s store.Store) {
		k := dispatched(t, s, "gitea")
		st := due(t, s, "gitea", time.Now().Add(time.Second))[0]
		st.State, st.Note = store.StateOK, "adopted existing account by email"
		if err := s.Settle(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(t.Context(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if last.Actor != "connector:gitea" || last.ID != k.ID || last.Detail != st.Note {
			t.Fatalf("last event %+v", last)
		}
		sts, _ := s.Statuses(t.Context(), k)
		if sts[0].Note != "" {
			t.Fatal("the note was stored in the status")
		}
	}},
	{"ScanStatusesByConnector", func(t *testing.T, s store.Store) {
		dispatched(t, s, "a", "b")
		n := 0
		if err := s.ScanStatuses(t.Context(), "b", func(st store.Status) bool {
			if st.Connector != "b" {
				t.Errorf("connector %q", st.Connector)
			}
			n++
			return true
		}); err != nil {
			t.Fatal(err)
		}
		all := 0
		_ = s.ScanStatuses(t.Context(), "", func(store.Status) bool { all++; return true })
		if n != 1 || all != 2 {
			t.Fatalf("scan b = %d, all = %d", n, all)
		}
	}},
}

var groupWithMembersTests = []test{{"OK", func(t *testing.T, s store.Store) {
	a := &store.User{UserName: "gwm-a", DisplayName: "A", Active: true, Attributes: []byte(`{}`)}
	b := &store.User{UserName: "gwm-b", Active: true, Attributes: []byte(`{}`)}
	for _, u := range []*store.User{a, b} {
		if err := s.CreateUser(t.Context(), actor, u); err != nil {
			t.Fatal(err)
		}
	}
	g := &store.Group{DisplayName: "gwm", Attributes: []byte(`{}`)}
	if err := s.CreateGroup(t.Context(), actor, g, func(tx store.GroupTx) error {
		if err := tx.AddMember(a.ID); err != nil {
			return err
		}
		return tx.AddMember(b.ID)
	}); err != nil {
		t.Fatal(err)
	}
	got, ms, err := s.GroupWithMembers(t.Context(), g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != g.ID || got.Meta.Version != g.Meta.Version || len(ms) != 2 {
		t.Fatalf("group %+v members %+v", got, ms)
	}
	disp := map[string]string{ms[0].UserID: ms[0].Display, ms[1].UserID: ms[1].Display}
	if disp[a.ID] != "A" || disp[b.ID] != "gwm-b" {
		t.Fatalf("displays %v", disp)
	}
	if _, _, err := s.GroupWithMembers(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
}}}
