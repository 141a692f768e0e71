package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// fakeConn is a stateful stand-in for a service: accounts keyed by
// subject (created once, adopted after), suspension, group membership.
// It can be switched down (transient errors) or broken (terminal ones).
type fakeConn struct {
	name string
	mu   sync.Mutex
	// accounts: remote id -> account
	accounts map[string]*account
	bySub    map[string]string
	groups   map[string][]string // group name -> remote user ids
	calls    int
	down     error
	nextID   int
	// skipInactive leaves deactivated accounts out of groups, as
	// Mattermost does.
	skipInactive bool
}

type account struct {
	sub, email string
	active     bool
}

func newFake(name string) *fakeConn {
	return &fakeConn{name: name, accounts: map[string]*account{}, bySub: map[string]string{}, groups: map[string][]string{}}
}

func (f *fakeConn) Name() string { return f.name }

func (f *fakeConn) setDown(err error) {
	f.mu.Lock()
	f.down = err
	f.mu.Unlock()
}

func (f *fakeConn) EnsureUser(_ context.Context, u fanout.User) (fanout.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down != nil {
		return fanout.Result{}, f.down
	}
	if u.Deleted {
		if a := f.accounts[u.RemoteID]; a != nil {
			a.active = false
		}
		return fanout.Result{RemoteID: u.RemoteID}, nil
	}
	id, ok := f.bySub[u.Subject]
	if !ok {
		f.nextID++
		id = fmt.Sprint(f.nextID)
		f.bySub[u.Subject] = id
		f.accounts[id] = &account{}
	}
	a := f.accounts[id]
	a.sub, a.email, a.active = u.Subject, u.Email, u.Active
	return fanout.Result{RemoteID: id}, nil
}

func (f *fakeConn) EnsureGroup(_ context.Context, g fanout.Group) (fanout.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down != nil {
		return fanout.Result{}, f.down
	}
	var ids []string
	if !g.Deleted {
		for _, m := range g.Members {
			if a := f.accounts[m.RemoteID]; m.RemoteID != "" && (!f.skipInactive || a == nil || a.active) {
				ids = append(ids, m.RemoteID)
			}
		}
	}
	slices.Sort(ids)
	f.groups[g.DisplayName] = ids
	return fanout.Result{RemoteID: "team-" + g.ID}, nil
}

func (f *fakeConn) snapshot() (accounts int, active int, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accounts {
		if a.active {
			active++
		}
	}
	return len(f.accounts), active, f.calls
}

func openStore(t testing.TB) *bolt.Store {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fanout.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func createUsers(t testing.TB, st store.Store, n int) []string {
	var ids []string
	for i := range n {
		u := &store.User{UserName: fmt.Sprintf("user%d", i), ExternalID: fmt.Sprintf("sub-%d", i), Active: true,
			Attributes: []byte(fmt.Sprintf(`{"userName":"user%d","emails":[{"value":"user%d@example.com","primary":true}]}`, i, i))}
		if err := st.CreateUser(context.Background(), "test", u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	return ids
}

// createGroup creates a group with members.
func createGroup(t *testing.T, st store.Store, name string, members ...string) *store.Group {
	g := &store.Group{DisplayName: name, Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "test", g, func(tx store.GroupTx) error {
		for _, id := range members {
			if err := tx.AddMember(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return g
}

func run(t *testing.T, st store.Store, conns ...fanout.Connector) *fanout.Reconciler {
	r := fanout.New(st, conns, fanout.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Poll: 10 * time.Millisecond, ResyncInterval: -1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

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

func TestConvergesEveryConnector(t *testing.T) {
	st := openStore(t)
	a, b := newFake("a"), newFake("b")
	createUsers(t, st, 50)
	run(t, st, a, b)
	for _, f := range []*fakeConn{a, b} {
		eventually(t, f.name+" has 50 accounts", func() bool { n, act, _ := f.snapshot(); return n == 50 && act == 50 })
	}
}

func TestOneConnectorDownDoesNotStallOthers(t *testing.T) {
	st := openStore(t)
	up, down := newFake("up"), newFake("down")
	down.setDown(errors.New("connection refused"))
	ids := createUsers(t, st, 20)
	run(t, st, up, down)
	eventually(t, "the healthy connector converges", func() bool { n, _, _ := up.snapshot(); return n == 20 })
	eventually(t, "the failing connector reports failed", func() bool {
		sts, _ := st.Statuses(t.Context(), store.Key{Kind: store.KindUser, ID: ids[0]})
		for _, s := range sts {
			if s.Connector == "down" && s.State == store.StateFailed && s.LastError != "" && s.Attempts > 0 {
				return true
			}
		}
		return false
	})
	// The failing connector backs off: far fewer calls than keys x time.
	_, _, calls := down.snapshot()
	time.Sleep(200 * time.Millisecond)
	_, _, calls2 := down.snapshot()
	if calls2-calls > 20 {
		t.Fatalf("%d calls in 200ms to a service that is down: no backoff", calls2-calls)
	}
	down.setDown(nil)
	eventually(t, "the recovered connector converges", func() bool { n, _, _ := down.snapshot(); return n == 20 })
}

func TestTerminalErrorParksUntilRetry(t *testing.T) {
	st := openStore(t)
	f := newFake("f")
	f.setDown(fanout.Terminal(errors.New("401 bad token")))
	ids := createUsers(t, st, 1)
	key := store.Key{Kind: store.KindUser, ID: ids[0]}
	run(t, st, f)
	eventually(t, "parked", func() bool {
		sts, _ := st.Statuses(t.Context(), key)
		return len(sts) == 1 && sts[0].State == store.StateParked
	})
	_, _, calls := f.snapshot()
	time.Sleep(150 * time.Millisecond)
	if _, _, c := f.snapshot(); c != calls {
		t.Fatalf("a parked key was retried (%d -> %d calls)", calls, c)
	}
	f.setDown(nil)
	if err := st.Retry(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ok after retry", func() bool {
		sts, _ := st.Statuses(t.Context(), key)
		return len(sts) == 1 && sts[0].State == store.StateOK && sts[0].RemoteID != ""
	})
}

func TestGroupsAndDeactivation(t *testing.T) {
	st := openStore(t)
	f := newFake("f")
	ids := createUsers(t, st, 3)
	g := createGroup(t, st, "eng", ids[0], ids[1])
	run(t, st, f)
	members := func() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.groups["eng"]) }
	// The group key may run before its members have links; each user's
	// first link queues its groups again.
	eventually(t, "2 members", func() bool { return members() == 2 })
	if _, err := st.UpdateGroup(t.Context(), "test", g.ID, 0, func(tx store.GroupTx) error { return tx.AddMember(ids[2]) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "3 members", func() bool { return members() == 3 })
	if _, err := st.UpdateGroup(t.Context(), "test", g.ID, 0, func(tx store.GroupTx) error { return tx.RemoveMember(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "2 members", func() bool { return members() == 2 })
	if _, err := st.UpdateUser(t.Context(), "test", ids[1], 0, func(tx store.UserTx) error { tx.User().Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one suspended", func() bool { _, act, _ := f.snapshot(); return act == 2 })
	if err := st.DeleteUser(t.Context(), "test", ids[2], 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted user suspended and out of the group", func() bool {
		_, act, _ := f.snapshot()
		return act == 1 && members() == 1
	})
}

// TestReactivationRequeuesGroups checks that a user's groups run again
// when the user is active again, for a service that leaves deactivated
// accounts out of its groups: without it, they would get the user back
// only at the next resync.
func TestReactivationRequeuesGroups(t *testing.T) {
	st := openStore(t)
	f := newFake("f")
	f.skipInactive = true
	ids := createUsers(t, st, 3)
	g := createGroup(t, st, "eng", ids[0], ids[1])
	run(t, st, f)
	members := func() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.groups["eng"]) }
	eventually(t, "2 members", func() bool { return members() == 2 })
	setActive := func(id string, active bool) {
		if _, err := st.UpdateUser(t.Context(), "test", id, 0, func(tx store.UserTx) error { tx.User().Active = active; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	setActive(ids[1], false)
	eventually(t, "user1 suspended", func() bool { _, act, _ := f.snapshot(); return act == 2 })
	// The next pass of the group leaves the suspended user out.
	if _, err := st.UpdateGroup(t.Context(), "test", g.ID, 0, func(tx store.GroupTx) error { return tx.AddMember(ids[2]) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "user2 in, user1 out", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		in := f.groups["eng"]
		return len(in) == 2 && f.accounts[in[0]].active && f.accounts[in[1]].active
	})
	setActive(ids[1], true)
	eventually(t, "user1 back in the group", func() bool { return members() == 3 })
}

func TestResyncSkipsConvergedUsers(t *testing.T) {
	st := openStore(t)
	f := newFake("f")
	createUsers(t, st, 200)
	r := run(t, st, f)
	eventually(t, "converged", func() bool { n, _, _ := f.snapshot(); return n == 200 })
	eventually(t, "all ok", func() bool {
		ok := 0
		_ = st.ScanStatuses(t.Context(), "f", func(s store.Status) bool {
			if s.State == store.StateOK {
				ok++
			}
			return true
		})
		return ok == 200
	})
	_, _, before := f.snapshot()
	n, err := r.Resync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("resync queued %d converged users", n)
	}
	time.Sleep(100 * time.Millisecond)
	if _, _, after := f.snapshot(); after != before {
		t.Fatalf("resync of converged users made %d calls", after-before)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	st := openStore(t)
	f := newFake("f")
	f.setDown(fanout.RetryAfter(errors.New("429 too many requests"), 2*time.Second))
	ids := createUsers(t, st, 1)
	key := store.Key{Kind: store.KindUser, ID: ids[0]}
	start := time.Now()
	run(t, st, f) // MinBackoff 20ms: only Retry-After can push the next attempt 2s out
	var failed store.Status
	eventually(t, "failed", func() bool {
		sts, _ := st.Statuses(t.Context(), key)
		if len(sts) == 1 && sts[0].State == store.StateFailed {
			failed = sts[0]
			return true
		}
		return false
	})
	if wait := failed.NextAttempt.Sub(start); wait < 1900*time.Millisecond {
		t.Fatalf("next attempt %s after start, want >= 2s (Retry-After)", wait)
	}
	_, _, calls := f.snapshot()
	time.Sleep(500 * time.Millisecond)
	if _, _, c := f.snapshot(); c != calls {
		t.Fatalf("retried before Retry-After elapsed (%d -> %d calls)", calls, c)
	}
	f.setDown(nil)
	eventually(t, "ok after Retry-After", func() bool {
		sts, _ := st.Statuses(t.Context(), key)
		return len(sts) == 1 && sts[0].State == store.StateOK
	})
}
