package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// writers is how many goroutines the concurrency tests run.
const writers = 16

// createUsers creates n users named user-0000... from `workers`
// goroutines and returns their ids in creation-call order.
func createUsers(t *testing.T, s store.Store, n, workers int) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				u := newUser(fmt.Sprintf("user-%04d", i))
				errs[i] = s.CreateUser(t.Context(), actor, u)
				ids[i] = u.ID
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("creating %d users: %v", n, err)
	}
	return ids
}

// parallel runs fn(i) for i in [0, n) on n goroutines and returns their
// errors by i.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

var concurrencyTests = []test{
	{"CreateUsers", func(t *testing.T, s store.Store) {
		const perWriter = 20
		ids := createUsers(t, s, writers*perWriter, writers)
		seen := make(map[string]bool)
		for i, id := range ids {
			if seen[id] {
				t.Fatalf("id %q given twice", id)
			}
			seen[id] = true
			u := mustGetUser(t, s, id)
			if want := fmt.Sprintf("user-%04d", i); u.UserName != want || u.Meta.Version != 1 {
				t.Errorf("user %s = %q version %d, want %q version 1", id, u.UserName, u.Meta.Version, want)
			}
		}
		wantCount(t, s, writers*perWriter, 0)
		if n := len(events(t, s)); n != writers*perWriter {
			t.Errorf("%d events for %d creates", n, writers*perWriter)
		}
		if n := len(pending(t, s)); n != writers*perWriter {
			t.Errorf("%d pending keys for %d creates", n, writers*perWriter)
		}
	}},
	{"SameUserNameOneWins", func(t *testing.T, s store.Store) {
		errs := parallel(writers, func(i int) error {
			return s.CreateUser(t.Context(), actor, newUser(fmt.Sprintf("Racer%c", "Rr"[i%2])))
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("racing create: %v, want nil or ErrConflict", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d racing creates of one userName succeeded, want 1", ok)
		}
		wantCount(t, s, 1, 0)
	}},
	{"UpdateSameUser", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "counter")
		const perWriter = 10
		errs := parallel(writers, func(int) error {
			for range perWriter {
				_, err := s.UpdateUser(t.Context(), actor, u.ID, 0, func(tx store.UserTx) error {
					var attrs map[string]any
					if err := json.Unmarshal(tx.User().Attributes, &attrs); err != nil {
						return err
					}
					n, _ := attrs["n"].(float64)
					attrs["n"] = n + 1
					b, err := json.Marshal(attrs)
					tx.User().Attributes = b
					return err
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		got := mustGetUser(t, s, u.ID)
		var attrs map[string]any
		_ = json.Unmarshal(got.Attributes, &attrs)
		if attrs["n"] != float64(writers*perWriter) || got.Meta.Version != 1+writers*perWriter {
			t.Errorf("after %d increments: n=%v version %d", writers*perWriter, attrs["n"], got.Meta.Version)
		}
	}},
	{"CallbackRerunSeesFreshCopy", func(t *testing.T, s store.Store) {
		// Callbacks append to a slice and half of them fail: a callback
		// that ran on a copy left over from an earlier run, or whose
		// failed run leaked into another write, shows up as extra emails.
		u := mustUser(t, s, "shared")
		errs := parallel(writers, func(i int) error {
			_, err := s.UpdateUser(t.Context(), actor, u.ID, 0, func(tx store.UserTx) error {
				x := tx.User()
				x.Emails = append(x.Emails, fmt.Sprintf("w%02d@example.com", i))
				if i%2 == 1 {
					return errCallback
				}
				return nil
			})
			return err
		})
		var want []string
		for i, err := range errs {
			if i%2 == 1 {
				wantErr(t, fmt.Sprintf("failing writer %d", i), err, errCallback)
				continue
			}
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
			want = append(want, fmt.Sprintf("w%02d@example.com", i))
		}
		got := mustGetUser(t, s, u.ID)
		emails := slices.Clone(got.Emails)
		slices.Sort(emails)
		if !slices.Equal(emails, want) || got.Meta.Version != uint64(1+len(want)) {
			t.Errorf("emails = %q version %d, want %q version %d", emails, got.Meta.Version, want, 1+len(want))
		}
		for i := range writers {
			e := fmt.Sprintf("w%02d@example.com", i)
			var wantFound []string
			if i%2 == 0 {
				wantFound = []string{u.ID}
			}
			wantIDs(t, "users with "+e, idsOf(t, s, nil, nil, &e), wantFound...)
		}
	}},
	{"AddMembers", func(t *testing.T, s store.Store) {
		ids := createUsers(t, s, writers, writers)
		g := mustGroup(t, s, "g")
		errs := parallel(writers, func(i int) error {
			_, err := s.UpdateGroup(t.Context(), actor, g.ID, 0, addMembers(ids[i]))
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		wantMembers(t, s, g.ID, ids, ids...)
		if v := mustGetGroup(t, s, g.ID).Meta.Version; v != 1+writers {
			t.Errorf("version after %d adds = %d", writers, v)
		}
	}},
	{"ReadersDuringWrites", func(t *testing.T, s store.Store) {
		seed := mustUser(t, s, "seed")
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var readErr error
		var mu sync.Mutex
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if _, err := s.GetUser(ctx, seed.ID); err != nil && ctx.Err() == nil {
						mu.Lock()
						readErr = err
						mu.Unlock()
						return
					}
					_ = s.ScanUsers(ctx, "", func(*store.User) bool { return true })
				}
			})
		}
		createUsers(t, s, 64, writers)
		cancel()
		wg.Wait()
		if readErr != nil {
			t.Errorf("read during writes: %v", readErr)
		}
		wantCount(t, s, 65, 0)
	}},
}

func canceled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

var contextTests = []test{
	{"CanceledWritesDoNothing", func(t *testing.T, s store.Store) {
		u := mustUser(t, s, "alice")
		g := mustGroup(t, s, "g")
		ackAll(t, s)
		nEvents := len(events(t, s))
		ctx := canceled(t)
		wantErr(t, "CreateUser", s.CreateUser(ctx, actor, newUser("bob")), context.Canceled)
		_, err := s.UpdateUser(ctx, actor, u.ID, 0, setDisplay("A"))
		wantErr(t, "UpdateUser", err, context.Canceled)
		wantErr(t, "DeleteUser", s.DeleteUser(ctx, actor, u.ID, 0), context.Canceled)
		wantErr(t, "CreateGroup", s.CreateGroup(ctx, actor, newGroup("h"), nil), context.Canceled)
		_, err = s.UpdateGroup(ctx, actor, g.ID, 0, addMembers(u.ID))
		wantErr(t, "UpdateGroup", err, context.Canceled)
		wantErr(t, "DeleteGroup", s.DeleteGroup(ctx, actor, g.ID, 0), context.Canceled)
		wantErr(t, "Enqueue", s.Enqueue(ctx, key(store.KindUser, u.ID)), context.Canceled)
		wantErr(t, "PutSetting", s.PutSetting(ctx, "k", []byte("v")), context.Canceled)

		checkUser(t, "user after canceled writes", mustGetUser(t, s, u.ID), u)
		if v := mustGetGroup(t, s, g.ID).Meta.Version; v != 1 {
			t.Errorf("group version after canceled writes = %d", v)
		}
		wantCount(t, s, 1, 1)
		if n := len(events(t, s)); n != nEvents {
			t.Errorf("canceled writes recorded %d events", n-nEvents)
		}
		if p := pendingKeys(t, s); len(p) != 0 {
			t.Errorf("canceled writes enqueued %q", p)
		}
		if _, err := s.GetSetting(t.Context(), "k"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("canceled PutSetting stored a value: %v", err)
		}
	}},
	{"CanceledScanStops", func(t *testing.T, s store.Store) {
		createUsers(t, s, 300, writers)
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		err := s.ScanUsers(ctx, "", func(*store.User) bool {
			n++
			if n == 10 {
				cancel()
			}
			return true
		})
		wantErr(t, "ScanUsers canceled midway", err, context.Canceled)
		if n >= 300 {
			t.Errorf("ScanUsers went on through all %d users after cancel", n)
		}
		err = s.ScanGroups(canceled(t), "", func(*store.Group) bool { return true })
		wantErr(t, "ScanGroups with a canceled context", err, context.Canceled)
	}},
}
