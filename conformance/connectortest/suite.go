package connectortest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/store"
)

// retryAfter is the Retry-After the suite's 429 carries.
const retryAfter = 7 * time.Second

// maxSteps bounds how many requests of one ensure the suite fails in turn.
const maxSteps = 16

// Run checks tg's connector against its service. Each subtest uses users
// and groups of its own, with random names, so a service can be shared
// with other tests.
func Run(t *testing.T, tg Target) {
	if tg.URL == "" || tg.New == nil || tg.Service == nil {
		t.Fatal("connectortest: Target needs URL, New and Service")
	}
	s := &suite{tg: tg}
	t.Run("EnsureUserIsIdempotent", s.ensureIdempotent)
	t.Run("AdoptsExistingAccount", s.adopts)
	t.Run("RefusesConflictingAccount", s.refusesConflict)
	t.Run("DeactivateAndReactivate", s.deactivate)
	t.Run("DeletedUserKeepsAccount", s.deleted)
	t.Run("GroupMembershipConverges", s.groups)
	t.Run("FaultAtEveryStepThenConverges", s.faultAtEveryStep)
	t.Run("HonoursRetryAfter", s.retryAfter)
	t.Run("SlowAnswerIsRetried", s.slow)
	t.Run("ForbiddenIsTerminal", s.forbidden)
	t.Run("ThroughTheReconciler", s.reconciler)
}

type suite struct{ tg Target }

// connector returns a proxy in front of the service and a connector that
// talks through it.
func (s *suite) connector(t *testing.T) (*Proxy, fanout.Connector) {
	t.Helper()
	p := NewProxy(t, s.tg.URL)
	if s.tg.Background != nil {
		p.Ignore(s.tg.Background)
	}
	return p, s.tg.New(t, p.URL)
}

// token is a random lowercase name part: letters first, then digits and
// letters, so it is a valid name in every service.
func token(n int) string {
	const first, rest = "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		if i == 0 {
			b[i] = first[int(b[i])%len(first)]
		} else {
			b[i] = rest[int(b[i])%len(rest)]
		}
	}
	return string(b)
}

// NewUser returns the desired state of a fresh user with random names:
// a lowercase userName of 10 characters starting with "ct", an email at
// example.com, a mixed-case subject and a given and family name.
func NewUser() fanout.User {
	name := "ct" + token(8)
	u := fanout.User{
		ID:          fmt.Sprintf("%s-0000-7000-8000-%s", token(8), token(12)),
		UserName:    name,
		Subject:     "Sub-" + strings.ToUpper(token(4)) + token(8),
		Email:       name + "@example.com",
		GivenName:   "Ada",
		FamilyName:  "Tester" + strings.ToUpper(name[2:3]) + name[3:],
		DisplayName: "Ada Tester",
		Active:      true,
	}
	u.Attributes = map[string]any{
		"id":          u.ID,
		"userName":    u.UserName,
		"externalId":  u.Subject,
		"displayName": u.DisplayName,
		"active":      true,
		"name":        map[string]any{"givenName": u.GivenName, "familyName": u.FamilyName},
		"emails":      []any{map[string]any{"value": u.Email, "primary": true, "type": "work"}},
	}
	return u
}

// ensure provisions u and fails the test on an error; it returns u with
// its RemoteID set.
func ensure(t *testing.T, c fanout.Connector, u fanout.User) fanout.User {
	t.Helper()
	res, err := c.EnsureUser(t.Context(), u)
	if err != nil {
		t.Fatalf("EnsureUser(%s): %v", u.UserName, err)
	}
	if res.RemoteID == "" {
		t.Fatalf("EnsureUser(%s) returned no RemoteID", u.UserName)
	}
	if u.RemoteID != "" && res.RemoteID != u.RemoteID {
		t.Fatalf("EnsureUser(%s) changed the link from %s to %s", u.UserName, u.RemoteID, res.RemoteID)
	}
	u.RemoteID = res.RemoteID
	return u
}

// account reads u's account and fails the test when it is missing or
// does not carry u's email.
func (s *suite) account(t *testing.T, u fanout.User) Account {
	t.Helper()
	a, err := s.tg.Service.Account(t.Context(), u.RemoteID)
	if err != nil {
		t.Fatalf("account %s of %s: %v", u.RemoteID, u.UserName, err)
	}
	if !strings.EqualFold(a.Email, u.Email) {
		t.Fatalf("account %s has email %q, want %q", u.RemoteID, a.Email, u.Email)
	}
	return a
}

// single fails the test unless exactly one account matches u.
func (s *suite) single(t *testing.T, u fanout.User) {
	t.Helper()
	n, err := s.tg.Service.Matching(t.Context(), u)
	if err != nil {
		t.Fatalf("counting accounts of %s: %v", u.UserName, err)
	}
	if n != 1 {
		t.Fatalf("%d accounts match %s (%s), want exactly 1", n, u.UserName, u.Email)
	}
}

func (s *suite) ensureIdempotent(t *testing.T) {
	_, c := s.connector(t)
	u := ensure(t, c, NewUser())
	if a := s.account(t, u); !a.Active {
		t.Fatalf("a new active user's account is not active: %+v", a)
	}
	again := ensure(t, c, u)
	if again.RemoteID != u.RemoteID {
		t.Fatalf("second ensure linked %s, first %s", again.RemoteID, u.RemoteID)
	}
	// A lost link (a restored backup, a new store) finds the same account.
	lost := u
	lost.RemoteID = ""
	if found := ensure(t, c, lost); found.RemoteID != u.RemoteID {
		t.Fatalf("ensure without the link found %s, want %s", found.RemoteID, u.RemoteID)
	}
	s.single(t, u)
}

func (s *suite) adopts(t *testing.T) {
	_, c := s.connector(t)
	u := NewUser()
	id, err := s.tg.Service.Precreate(t.Context(), u)
	if err != nil {
		t.Fatalf("precreating %s: %v", u.UserName, err)
	}
	u = ensure(t, c, u)
	if u.RemoteID != id {
		t.Fatalf("ensure linked %s, want the existing account %s", u.RemoteID, id)
	}
	s.account(t, u)
	s.single(t, u)
}

func (s *suite) refusesConflict(t *testing.T) {
	_, c := s.connector(t)
	u := NewUser()
	err := s.tg.Service.Conflict(t.Context(), u)
	if errors.Is(err, ErrUnsupported) {
		t.Skip("the service has no account the connector must refuse to adopt")
	}
	if err != nil {
		t.Fatalf("making a conflicting account for %s: %v", u.UserName, err)
	}
	_, err = c.EnsureUser(t.Context(), u)
	if !fanout.IsTerminal(err) {
		t.Fatalf("EnsureUser over a conflicting account: got %v, want a terminal error", err)
	}
	s.single(t, u)
}

func (s *suite) deactivate(t *testing.T) {
	_, c := s.connector(t)
	u := ensure(t, c, NewUser())
	u.Active = false
	u.Attributes["active"] = false
	u = ensure(t, c, u)
	a := s.account(t, u)
	if s.tg.Suspends && a.Active {
		t.Fatalf("account of an inactive user is still active: %+v", a)
	}
	u = ensure(t, c, u) // idempotent while inactive
	u.Active = true
	u.Attributes["active"] = true
	u = ensure(t, c, u)
	if a := s.account(t, u); !a.Active {
		t.Fatalf("account of a reactivated user is not active: %+v", a)
	}
	s.single(t, u)
}

func (s *suite) deleted(t *testing.T) {
	_, c := s.connector(t)
	u := ensure(t, c, NewUser())
	u.Deleted = true
	if _, err := c.EnsureUser(t.Context(), u); err != nil {
		t.Fatalf("EnsureUser of a deleted user: %v", err)
	}
	a := s.account(t, u) // kept, with its data
	if s.tg.Suspends && a.Active {
		t.Fatalf("account of a deleted user is still active: %+v", a)
	}
	if _, err := c.EnsureUser(t.Context(), u); err != nil {
		t.Fatalf("EnsureUser of a deleted user, again: %v", err)
	}
}

// members reads a group's members and fails the test unless they are
// exactly want's RemoteIDs.
func (s *suite) members(t *testing.T, group string, want ...fanout.User) {
	t.Helper()
	got, err := s.tg.Service.Members(t.Context(), group)
	if err != nil {
		t.Fatalf("members of group %s: %v", group, err)
	}
	var ids []string
	for _, u := range want {
		ids = append(ids, u.RemoteID)
	}
	slices.Sort(got)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("group %s has members %v, want %v", group, got, ids)
	}
}

func member(u fanout.User) fanout.Member {
	return fanout.Member{UserID: u.ID, UserName: u.UserName, RemoteID: u.RemoteID}
}

func ensureGroup(t *testing.T, c fanout.Connector, g fanout.Group) fanout.Group {
	t.Helper()
	res, err := c.EnsureGroup(t.Context(), g)
	if err != nil {
		t.Fatalf("EnsureGroup(%s): %v", g.DisplayName, err)
	}
	if res.RemoteID == "" {
		t.Fatalf("EnsureGroup(%s) returned no RemoteID", g.DisplayName)
	}
	if g.RemoteID != "" && res.RemoteID != g.RemoteID {
		t.Fatalf("EnsureGroup(%s) changed the link from %s to %s", g.DisplayName, g.RemoteID, res.RemoteID)
	}
	g.RemoteID = res.RemoteID
	return g
}

func (s *suite) groups(t *testing.T) {
	if !s.tg.Groups {
		t.Skip("the connector is configured without groups")
	}
	_, c := s.connector(t)
	a, b, d := ensure(t, c, NewUser()), ensure(t, c, NewUser()), ensure(t, c, NewUser())
	pending := NewUser() // a member not yet provisioned: skipped, not an error
	g := fanout.Group{ID: NewUser().ID, DisplayName: "ct-team-" + token(6),
		Members: []fanout.Member{member(a), member(b), member(pending)}}
	g = ensureGroup(t, c, g)
	s.members(t, g.RemoteID, a, b)

	g = ensureGroup(t, c, g) // idempotent
	s.members(t, g.RemoteID, a, b)
	lost := g
	lost.RemoteID = "" // a lost link finds the same group
	if again := ensureGroup(t, c, lost); again.RemoteID != g.RemoteID {
		t.Fatalf("EnsureGroup without the link found %s, want %s", again.RemoteID, g.RemoteID)
	}

	g.Members = []fanout.Member{member(b), member(d)}
	g = ensureGroup(t, c, g)
	s.members(t, g.RemoteID, b, d)

	if err := s.tg.Service.RemoveMember(t.Context(), g.RemoteID, d.RemoteID); err != nil {
		t.Fatalf("removing a member by hand: %v", err)
	}
	s.members(t, g.RemoteID, b)
	g = ensureGroup(t, c, g) // drift is repaired
	s.members(t, g.RemoteID, b, d)

	g.Deleted = true
	if _, err := c.EnsureGroup(t.Context(), g); err != nil {
		t.Fatalf("EnsureGroup of a deleted group: %v", err)
	}
	got, err := s.tg.Service.Members(t.Context(), g.RemoteID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatalf("members of a deleted group: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("a deleted group still grants membership to %v", got)
	}
	// The users themselves are untouched.
	for _, u := range []fanout.User{a, b, d} {
		if acct := s.account(t, u); !acct.Active {
			t.Fatalf("deleting a group deactivated %s", u.UserName)
		}
	}
}

// faultAtEveryStep counts the requests of one clean ensure of a new user,
// then, for each of them in turn, ensures a fresh user with that request
// failing with a 502: the ensure fails (or copes), and the next one
// converges on exactly one account. A connector that creates an account
// and loses track of it when a later request fails shows up here as a
// duplicate.
func (s *suite) faultAtEveryStep(t *testing.T) {
	p, c := s.connector(t)
	before := p.Requests()
	ensure(t, c, NewUser())
	steps := p.Requests() - before
	if steps == 0 {
		t.Fatal("ensuring a new user made no request through the proxy: does Target.New use the url it is given?")
	}
	t.Logf("a new user takes %d requests: %v", steps, p.Log(before))
	if steps > maxSteps {
		t.Logf("a new user takes %d requests; failing the first %d in turn", steps, maxSteps)
		steps = maxSteps
	}
	for k := 1; k <= steps; k++ {
		u := NewUser()
		start := p.Requests()
		p.FailRequest(start+k, 502)
		_, err := c.EnsureUser(t.Context(), u)
		log := p.Log(start)
		p.Clear()
		if fanout.IsTerminal(err) {
			t.Fatalf("a 502 at request %d of %v gave a terminal error: %v", k, log, err)
		}
		u = ensure(t, c, u)
		s.account(t, u)
		s.single(t, u)
	}
}

func (s *suite) retryAfter(t *testing.T) {
	p, c := s.connector(t)
	p.FailNext(1, 429, retryAfterSeconds(retryAfter))
	_, err := c.EnsureUser(t.Context(), NewUser())
	var ra *fanout.RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("a 429 with Retry-After gave %v, want a fanout.RetryAfterError", err)
	}
	if ra.After < retryAfter {
		t.Fatalf("a 429 with Retry-After: %d asks to retry after %v", int(retryAfter/time.Second), ra.After)
	}
	if fanout.IsTerminal(err) {
		t.Fatalf("a 429 gave a terminal error: %v", err)
	}
	p.FailNext(1, 503, "")
	if _, err := c.EnsureUser(t.Context(), NewUser()); err == nil || fanout.IsTerminal(err) {
		t.Fatalf("a 503 gave %v, want an error that is retried", err)
	}
}

func (s *suite) slow(t *testing.T) {
	p, c := s.connector(t)
	p.Delay(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.EnsureUser(ctx, NewUser())
	took := time.Since(start)
	p.Clear()
	if err == nil {
		t.Fatal("EnsureUser succeeded through a service that never answered in time")
	}
	if fanout.IsTerminal(err) {
		t.Fatalf("a timeout gave a terminal error: %v", err)
	}
	// The context's deadline must bound the call: 300ms asked, generous
	// slack for a loaded machine, far below the 5s the proxy holds.
	if took > 3*time.Second {
		t.Fatalf("EnsureUser took %v with a 300ms deadline", took)
	}
}

func (s *suite) forbidden(t *testing.T) {
	p, c := s.connector(t)
	p.FailAll(403)
	_, err := c.EnsureUser(t.Context(), NewUser())
	p.Clear()
	if !fanout.IsTerminal(err) {
		t.Fatalf("a 403 gave %v, want a terminal error", err)
	}
}

// storeUser is u as the SCIM layer stores it.
func storeUser(t *testing.T, u fanout.User) *store.User {
	t.Helper()
	attrs := map[string]any{}
	for k, v := range u.Attributes {
		if k != "id" {
			attrs[k] = v
		}
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	return &store.User{UserName: u.UserName, ExternalID: u.Subject, Emails: []string{u.Email},
		DisplayName: u.DisplayName, Active: u.Active, Attributes: raw}
}

// reconciler runs the connector under the real reconciler over a real
// store: transient faults end in "ok", a terminal one parks the key until
// an operator retries it.
func (s *suite) reconciler(t *testing.T) {
	p, c := s.connector(t)
	st := OpenStore(t)

	p.FailNext(2, 502, "")
	u := NewUser()
	su := storeUser(t, u)
	if err := st.CreateUser(t.Context(), "connectortest", su); err != nil {
		t.Fatal(err)
	}
	r := RunReconciler(t, st, c)

	key := store.Key{Kind: store.KindUser, ID: su.ID}
	ok := waitState(t, st, key, c.Name(), store.StateOK)
	if ok.RemoteID == "" {
		t.Fatalf("status ok without a link: %+v", ok)
	}
	if n := p.Injected(); n != 2 {
		t.Fatalf("%d requests failed, want the 2 injected 502s", n)
	}
	u.RemoteID = ok.RemoteID
	s.account(t, u)
	s.single(t, u)

	p.FailAll(403)
	v := NewUser()
	sv := storeUser(t, v)
	if err := st.CreateUser(t.Context(), "connectortest", sv); err != nil {
		t.Fatal(err)
	}
	r.Kick()
	vkey := store.Key{Kind: store.KindUser, ID: sv.ID}
	parked := waitState(t, st, vkey, c.Name(), store.StateParked)
	if parked.LastError == "" {
		t.Fatalf("a parked key without its error: %+v", parked)
	}
	seen := p.Requests()
	time.Sleep(200 * time.Millisecond)
	if n := p.Requests(); n != seen {
		t.Fatalf("a parked key was retried: %d more requests: %v", n-seen, p.Log(seen))
	}
	p.Clear()
	if err := st.Retry(t.Context(), vkey); err != nil {
		t.Fatal(err)
	}
	r.Kick()
	ok = waitState(t, st, vkey, c.Name(), store.StateOK)
	v.RemoteID = ok.RemoteID
	s.account(t, v)
	s.single(t, v)
}

// waitState waits up to 30 seconds for key's status in connector to reach
// state and returns it.
func waitState(t *testing.T, st store.Store, key store.Key, connector string, state store.State) store.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last store.Status
	for time.Now().Before(deadline) {
		last = StatusOf(t, st, key, connector)
		if last.State == state {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not reach %s in %s: %+v", key, state, connector, last)
	return store.Status{}
}
