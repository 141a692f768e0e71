package twenty

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	twentyfake "github.com/scimbridge/scimbridge/conformance/fakes/twenty"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/formulas"
)

var (
	srcML    = formulas.Source{Formula: "ml-research", Version: "2.0.0", GroupID: "g1", Group: "ml"}
	srcSales = formulas.Source{Formula: "sales", Version: "1.0.0", GroupID: "g2", Group: "sales"}
)

// wants is a user's resources with a Twenty person (p may be nil) and,
// to show that other services' parts are not the connector's, a Coder
// workspace.
func wants(p *formulas.Person) formulas.Resources {
	return formulas.Resources{
		Coder:  formulas.CoderResources{Workspaces: []formulas.Workspace{{Name: "ml-ada", Template: "ml", Origin: formulas.Origin{Source: srcML}}}},
		Twenty: formulas.TwentyResources{Person: p},
	}
}

func formulaPersonOf(jobTitle, city string, src formulas.Source, onRemove formulas.RemovePolicy) *formulas.Person {
	return &formulas.Person{JobTitle: jobTitle, City: city, Origin: formulas.Origin{Source: src, OnRemove: onRemove}}
}

// mutations returns the mutations the fake ran since n calls.
func mutations(f *twentyfake.Fake, n int) []string {
	var out []string
	for _, c := range calls(f, n) {
		if strings.HasPrefix(c, "mutation ") {
			out = append(out, c)
		}
	}
	return out
}

// provisioned opens a connector and provisions ada's person.
func provisioned(t *testing.T, f *twentyfake.Fake, cfg Config) (*Connector, fanout.User) {
	t.Helper()
	c := open(t, f, cfg)
	u := user("ada")
	u.RemoteID = mustEnsure(t, c, u).RemoteID
	return c, u
}

func ensureRes(t *testing.T, c *Connector, u fanout.User, want, had formulas.Resources) formulas.Resources {
	t.Helper()
	got, err := c.EnsureResources(t.Context(), u, want, had)
	if err != nil {
		t.Fatalf("EnsureResources: %v", err)
	}
	return got
}

// planNoWrites plans and fails the test if planning wrote anything.
func planNoWrites(t *testing.T, f *twentyfake.Fake, c *Connector, u fanout.User, want, had formulas.Resources) []fanout.Change {
	t.Helper()
	n := len(f.Calls())
	changes, err := c.PlanResources(t.Context(), u, want, had)
	if err != nil {
		t.Fatalf("PlanResources: %v", err)
	}
	if m := mutations(f, n); len(m) > 0 {
		t.Fatalf("planning wrote: %v", m)
	}
	return changes
}

func wantTwentyOnly(t *testing.T, got, want formulas.Resources) {
	t.Helper()
	exp := formulas.Resources{Twenty: want.Twenty}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("applied %+v, want %+v", got, exp)
	}
}

func fields(t *testing.T, f *twentyfake.Fake, id string) (jobTitle, city string) {
	t.Helper()
	p := fakePerson(t, f, id)
	return p.JobTitle, p.City
}

func TestResourcesCreateThenIdempotent(t *testing.T) {
	f := startFake(t)
	c := open(t, f, Config{})
	u := user("ada")
	want := wants(formulaPersonOf("Researcher", "Oslo", srcML, formulas.OnRemoveSuspend))

	// Before the user is provisioned, the plan creates the person.
	changes := planNoWrites(t, f, c, u, want, formulas.Resources{})
	exp := []fanout.Change{{Connector: "twenty", Action: fanout.ActionCreate, Kind: "person", Name: "ada@example.com",
		Detail: `with jobTitle "Researcher" and city "Oslo"`, Source: srcML.String()}}
	if !reflect.DeepEqual(changes, exp) {
		t.Fatalf("plan %+v, want %+v", changes, exp)
	}

	u.RemoteID = mustEnsure(t, c, u).RemoteID
	changes = planNoWrites(t, f, c, u, want, formulas.Resources{})
	if len(changes) != 1 || changes[0].Action != fanout.ActionUpdate ||
		changes[0].Detail != `jobTitle: (empty) -> "Researcher"; city: (empty) -> "Oslo"` {
		t.Fatalf("plan %+v", changes)
	}
	n := len(f.Calls())
	applied := ensureRes(t, c, u, want, formulas.Resources{})
	wantTwentyOnly(t, applied, want)
	if got := calls(f, n); !slices.Equal(got, []string{"query people", "mutation updatePerson"}) {
		t.Fatalf("calls %v, want one read and one write", got)
	}
	if jt, city := fields(t, f, u.RemoteID); jt != "Researcher" || city != "Oslo" {
		t.Fatalf("person has jobTitle %q, city %q", jt, city)
	}

	// Again: one read, no write, and nothing planned.
	n = len(f.Calls())
	applied = ensureRes(t, c, u, want, applied)
	wantTwentyOnly(t, applied, want)
	if got := calls(f, n); !slices.Equal(got, []string{"query people"}) {
		t.Fatalf("second pass: calls %v, want one read", got)
	}
	if changes := planNoWrites(t, f, c, u, want, applied); len(changes) != 0 {
		t.Fatalf("plan of a converged person: %+v", changes)
	}
	if len(f.People()) != 1 {
		t.Fatalf("%d people, want 1", len(f.People()))
	}
}

func TestResourcesNothingAskedCostsNothing(t *testing.T) {
	f := startFake(t)
	c, u := provisioned(t, f, Config{})
	n := f.Requests()
	for _, want := range []formulas.Resources{wants(nil), wants(formulaPersonOf("", "", srcML, formulas.OnRemoveDelete))} {
		applied := ensureRes(t, c, u, want, want)
		wantTwentyOnly(t, applied, want)
		if changes := planNoWrites(t, f, c, u, want, want); len(changes) != 0 {
			t.Fatalf("plan %+v", changes)
		}
	}
	if f.Requests() != n {
		t.Fatalf("%d requests for a user whose formulas set no field", f.Requests()-n)
	}
}

func TestResourcesUpdate(t *testing.T) {
	f := startFake(t)
	c, u := provisioned(t, f, Config{})
	v1 := wants(formulaPersonOf("Researcher", "Oslo", srcML, formulas.OnRemoveSuspend))
	had := ensureRes(t, c, u, v1, formulas.Resources{})

	t.Run("OK", func(t *testing.T) {
		v2 := wants(formulaPersonOf("Engineer", "Oslo", srcML, formulas.OnRemoveSuspend))
		changes := planNoWrites(t, f, c, u, v2, had)
		if len(changes) != 1 || changes[0].Action != fanout.ActionUpdate || changes[0].Detail != `jobTitle: "Researcher" -> "Engineer"` {
			t.Fatalf("plan %+v", changes)
		}
		n := len(f.Calls())
		had = ensureRes(t, c, u, v2, had)
		wantTwentyOnly(t, had, v2)
		if m := mutations(f, n); len(m) != 1 {
			t.Fatalf("writes %v, want one", m)
		}
		if jt, city := fields(t, f, u.RemoteID); jt != "Engineer" || city != "Oslo" {
			t.Fatalf("person has jobTitle %q, city %q", jt, city)
		}
	})
	t.Run("FieldNoLongerSet", func(t *testing.T) {
		// The formula stops setting city: suspend clears it.
		v3 := wants(formulaPersonOf("Engineer", "", srcML, formulas.OnRemoveSuspend))
		changes := planNoWrites(t, f, c, u, v3, had)
		if len(changes) != 1 || changes[0].Detail != `city: "Oslo" -> (empty)` {
			t.Fatalf("plan %+v", changes)
		}
		had = ensureRes(t, c, u, v3, had)
		if jt, city := fields(t, f, u.RemoteID); jt != "Engineer" || city != "" {
			t.Fatalf("person has jobTitle %q, city %q", jt, city)
		}
	})
	t.Run("FieldNoLongerSetKeep", func(t *testing.T) {
		keep := wants(formulaPersonOf("Engineer", "Oslo", srcML, formulas.OnRemoveKeep))
		had = ensureRes(t, c, u, keep, had)
		v4 := wants(formulaPersonOf("Engineer", "", srcML, formulas.OnRemoveKeep))
		n := len(f.Calls())
		if changes := planNoWrites(t, f, c, u, v4, had); len(changes) != 0 {
			t.Fatalf("plan %+v", changes)
		}
		had = ensureRes(t, c, u, v4, had)
		if m := mutations(f, n); len(m) != 0 {
			t.Fatalf("writes %v", m)
		}
		if _, city := fields(t, f, u.RemoteID); city != "Oslo" {
			t.Fatalf("city %q, want it kept", city)
		}
	})
}

func TestResourcesOnRemove(t *testing.T) {
	type expect struct {
		action, detail string
		jobTitle, city string
		trashed        bool
	}
	for _, tc := range []struct {
		name     string
		policy   formulas.RemovePolicy
		onDelete string
		deleted  bool   // the user is deleted in SCIM
		handCity string // a city someone entered in Twenty meanwhile
		expect   expect
	}{
		{name: "Keep", policy: formulas.OnRemoveKeep,
			expect: expect{action: fanout.ActionKeep, detail: "the person and its fields stay as they are", jobTitle: "Researcher", city: "Oslo"}},
		{name: "Suspend", policy: formulas.OnRemoveSuspend,
			expect: expect{action: fanout.ActionRemove, detail: "clear jobTitle and city"}},
		{name: "DefaultIsSuspend", policy: "",
			expect: expect{action: fanout.ActionRemove, detail: "clear jobTitle and city"}},
		{name: "SuspendLeavesHandEdits", policy: formulas.OnRemoveSuspend, handCity: "Bergen",
			expect: expect{action: fanout.ActionRemove, detail: "clear jobTitle", city: "Bergen"}},
		{name: "DeleteActiveUserClears", policy: formulas.OnRemoveDelete,
			expect: expect{action: fanout.ActionRemove, detail: "clear jobTitle and city (the person stays while the user exists)"}},
		{name: "DeleteDeletedUserTrashes", policy: formulas.OnRemoveDelete, deleted: true,
			expect: expect{action: fanout.ActionRemove, detail: "delete (to Twenty's trash)", jobTitle: "Researcher", city: "Oslo", trashed: true}},
		{name: "SuspendDeletedUserClears", policy: formulas.OnRemoveSuspend, deleted: true,
			expect: expect{action: fanout.ActionRemove, detail: "clear jobTitle and city"}},
		{name: "DeletedUserAlreadyInTrash", policy: formulas.OnRemoveSuspend, deleted: true, onDelete: OnDeleteSoftDelete,
			expect: expect{jobTitle: "Researcher", city: "Oslo", trashed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t)
			c, u := provisioned(t, f, Config{OnDelete: tc.onDelete})
			want := wants(formulaPersonOf("Researcher", "Oslo", srcML, tc.policy))
			had := ensureRes(t, c, u, want, formulas.Resources{})
			if tc.handCity != "" {
				if err := f.SetPersonText(u.RemoteID, "city", tc.handCity); err != nil {
					t.Fatal(err)
				}
			}
			if tc.deleted {
				u = fanout.User{ID: u.ID, Deleted: true, RemoteID: u.RemoteID}
				mustEnsure(t, c, u)
			}

			changes := planNoWrites(t, f, c, u, formulas.Resources{}, had)
			var exp []fanout.Change
			if tc.expect.action != "" {
				exp = []fanout.Change{{Connector: "twenty", Action: tc.expect.action, Kind: "person",
					Name: "ada@example.com", Detail: tc.expect.detail, Source: srcML.String()}}
			}
			if !reflect.DeepEqual(changes, exp) {
				t.Fatalf("plan %+v, want %+v", changes, exp)
			}

			// The plan said exactly what is done: one write for each
			// change other than keep.
			n := len(f.Calls())
			applied := ensureRes(t, c, u, formulas.Resources{}, had)
			if !reflect.DeepEqual(applied, formulas.Resources{}) {
				t.Fatalf("applied %+v after the removal, want nothing", applied)
			}
			writes := 0
			if tc.expect.action == fanout.ActionRemove {
				writes = 1
			}
			if m := mutations(f, n); len(m) != writes {
				t.Fatalf("writes %v, want %d", m, writes)
			}
			p := fakePerson(t, f, u.RemoteID)
			if p.JobTitle != tc.expect.jobTitle || p.City != tc.expect.city || p.Deleted != tc.expect.trashed {
				t.Fatalf("person %+v, want %+v", p, tc.expect)
			}

			// Done once: the next pass, given what this one returned,
			// does nothing, and neither does the account's.
			n = len(f.Calls())
			ensureRes(t, c, u, formulas.Resources{}, applied)
			mustEnsure(t, c, u)
			if m := mutations(f, n); len(m) != 0 {
				t.Fatalf("the pass after the removal wrote %v", m)
			}
			if len(f.People()) != 1 {
				t.Fatalf("%d people", len(f.People()))
			}
		})
	}
}

func TestResourcesAlsoFrom(t *testing.T) {
	f := startFake(t)
	c, u := provisioned(t, f, Config{})
	fromML := wants(formulaPersonOf("Researcher", "", srcML, formulas.OnRemoveDelete))
	fromSales := wants(formulaPersonOf("Researcher", "", srcSales, formulas.OnRemoveSuspend))
	both := formulas.Union(fromML, fromSales)
	if p := both.Twenty.Person; p == nil || len(p.AlsoFrom) != 1 || p.OnRemove != formulas.OnRemoveSuspend {
		t.Fatalf("union %+v", both.Twenty.Person)
	}
	had := ensureRes(t, c, u, both, formulas.Resources{})

	// ml goes, sales stays: the person keeps its job title.
	salesOnly := formulas.Union(fromSales)
	if changes := planNoWrites(t, f, c, u, salesOnly, had); len(changes) != 0 {
		t.Fatalf("plan %+v", changes)
	}
	n := len(f.Calls())
	had = ensureRes(t, c, u, salesOnly, had)
	wantTwentyOnly(t, had, salesOnly)
	if m := mutations(f, n); len(m) != 0 {
		t.Fatalf("writes %v", m)
	}
	if jt, _ := fields(t, f, u.RemoteID); jt != "Researcher" {
		t.Fatalf("jobTitle %q", jt)
	}

	// sales goes too: its policy (suspend) clears the field.
	changes := planNoWrites(t, f, c, u, formulas.Resources{}, had)
	if len(changes) != 1 || changes[0].Action != fanout.ActionRemove || changes[0].Source != srcSales.String() {
		t.Fatalf("plan %+v", changes)
	}
	ensureRes(t, c, u, formulas.Resources{}, had)
	if p := fakePerson(t, f, u.RemoteID); p.JobTitle != "" || p.Deleted {
		t.Fatalf("person %+v", p)
	}
}

// faultTransport answers the request numbered at (from 1) with a 502:
// before it reaches Twenty, or, with lost, after Twenty has done it.
type faultTransport struct {
	mu   sync.Mutex
	n    int
	at   int
	lost bool
}

func (ft *faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ft.mu.Lock()
	ft.n++
	hit := ft.n == ft.at
	ft.mu.Unlock()
	if hit && ft.lost {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if hit {
		return &http.Response{StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader("<html>Bad Gateway</html>")), Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestResourcesFaultMidway(t *testing.T) {
	for _, lost := range []bool{false, true} {
		for at := 1; at <= 2; at++ { // the read, then the write
			name := map[bool]string{false: "Before", true: "AnswerLost"}[lost] + map[int]string{1: "Read", 2: "Write"}[at]
			t.Run(name, func(t *testing.T) {
				f := startFake(t)
				ft := &faultTransport{}
				c, u := provisioned(t, f, Config{Transport: ft})
				want := wants(formulaPersonOf("Researcher", "Oslo", srcML, formulas.OnRemoveSuspend))
				had := ensureRes(t, c, u, wants(formulaPersonOf("Intern", "", srcML, formulas.OnRemoveSuspend)), formulas.Resources{})

				ft.mu.Lock()
				ft.n, ft.at, ft.lost = 0, at, lost
				ft.mu.Unlock()
				got, err := c.EnsureResources(t.Context(), u, want, had)
				if err == nil || fanout.IsTerminal(err) {
					t.Fatalf("error %v, want one that is retried", err)
				}
				if !reflect.DeepEqual(got, formulas.Resources{Twenty: had.Twenty}) {
					t.Fatalf("applied after the fault %+v, want what was had", got)
				}
				got = ensureRes(t, c, u, want, got)
				wantTwentyOnly(t, got, want)
				if jt, city := fields(t, f, u.RemoteID); jt != "Researcher" || city != "Oslo" {
					t.Fatalf("person has jobTitle %q, city %q", jt, city)
				}
				n := len(f.Calls())
				ensureRes(t, c, u, want, got)
				if m := mutations(f, n); len(m) != 0 {
					t.Fatalf("a converged pass wrote %v", m)
				}
				if len(f.People()) != 1 {
					t.Fatalf("%d people", len(f.People()))
				}
			})
		}
	}
	t.Run("RemovalIsRetried", func(t *testing.T) {
		f := startFake(t)
		ft := &faultTransport{}
		c, u := provisioned(t, f, Config{Transport: ft})
		had := ensureRes(t, c, u, wants(formulaPersonOf("Researcher", "", srcML, formulas.OnRemoveDelete)), formulas.Resources{})
		u = fanout.User{ID: u.ID, Deleted: true, RemoteID: u.RemoteID}
		ft.mu.Lock()
		ft.n, ft.at = 0, 2 // deletePerson
		ft.mu.Unlock()
		got, err := c.EnsureResources(t.Context(), u, formulas.Resources{}, had)
		if err == nil || got.Twenty.Person == nil {
			t.Fatalf("a failed removal returned %+v, %v: want the person kept in applied", got, err)
		}
		if fakePerson(t, f, u.RemoteID).Deleted {
			t.Fatal("trashed despite the fault")
		}
		if got = ensureRes(t, c, u, formulas.Resources{}, got); got.Twenty.Person != nil {
			t.Fatalf("applied %+v", got)
		}
		if !fakePerson(t, f, u.RemoteID).Deleted {
			t.Fatal("the retried removal did not trash the person")
		}
	})
}

func TestResourcesErrors(t *testing.T) {
	want := wants(formulaPersonOf("Researcher", "", srcML, formulas.OnRemoveSuspend))
	t.Run("ErrRateLimited", func(t *testing.T) {
		f := startFake(t)
		c, u := provisioned(t, f, Config{})
		f.Fail(1, http.StatusTooManyRequests, "7")
		_, err := c.EnsureResources(t.Context(), u, want, formulas.Resources{})
		var ra *fanout.RetryAfterError
		if !errors.As(err, &ra) || ra.After < 7*time.Second {
			t.Fatalf("error %v, want a RetryAfterError of 7s", err)
		}
	})
	t.Run("ErrRefusedNamesTheFormula", func(t *testing.T) {
		f := startFake(t)
		c, u := provisioned(t, f, Config{})
		f.Fail(1, http.StatusForbidden, "")
		_, err := c.EnsureResources(t.Context(), u, want, formulas.Resources{})
		if !fanout.IsTerminal(err) || !strings.Contains(err.Error(), srcML.String()) {
			t.Fatalf("error %v, want a terminal one naming %s", err, srcML)
		}
		f.Fail(1, http.StatusForbidden, "")
		if _, err := c.PlanResources(t.Context(), u, want, formulas.Resources{}); !fanout.IsTerminal(err) {
			t.Fatalf("plan error %v, want terminal", err)
		}
	})
	t.Run("ErrPersonGone", func(t *testing.T) {
		// Trashed by hand between EnsureUser and EnsureResources: retried,
		// and the next EnsureUser restores it.
		f := startFake(t)
		c, u := provisioned(t, f, Config{})
		if err := f.TrashPerson(u.RemoteID); err != nil {
			t.Fatal(err)
		}
		// The plan counts on EnsureUser restoring it: an update, not a
		// second person.
		if changes := planNoWrites(t, f, c, u, want, formulas.Resources{}); len(changes) != 1 ||
			changes[0].Action != fanout.ActionUpdate || changes[0].Detail != `jobTitle: (empty) -> "Researcher"` {
			t.Fatalf("plan %+v", changes)
		}
		got, err := c.EnsureResources(t.Context(), u, want, formulas.Resources{})
		if err == nil || fanout.IsTerminal(err) || got.Twenty.Person != nil {
			t.Fatalf("EnsureResources = %+v, %v; want a retried error and nothing applied", got, err)
		}
		mustEnsure(t, c, u)
		ensureRes(t, c, u, want, got)
		if p := fakePerson(t, f, u.RemoteID); p.Deleted || p.JobTitle != "Researcher" {
			t.Fatalf("person %+v", p)
		}
	})
}
