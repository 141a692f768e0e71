package twenty

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	twentyfake "github.com/scimbridge/scimbridge/conformance/fakes/twenty"
	"github.com/scimbridge/scimbridge/fanout"
)

const apiKey = "test-api-key"

func startFake(t *testing.T) *twentyfake.Fake {
	t.Helper()
	f := twentyfake.New(apiKey)
	t.Cleanup(f.Close)
	return f
}

func open(t *testing.T, f *twentyfake.Fake, cfg Config) *Connector {
	t.Helper()
	cfg.URL = f.URL
	c, err := Open(cfg, apiKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func user(name string) fanout.User {
	return fanout.User{ID: "id-" + name, UserName: name, Email: name + "@Example.com",
		GivenName: "Given" + name, FamilyName: "Family" + name, DisplayName: name, Active: true}
}

// calls returns the root fields the fake ran since n calls.
func calls(f *twentyfake.Fake, n int) []string { return f.Calls()[n:] }

func mustEnsure(t *testing.T, c *Connector, u fanout.User) fanout.Result {
	t.Helper()
	res, err := c.EnsureUser(t.Context(), u)
	if err != nil {
		t.Fatalf("EnsureUser(%s): %v", u.UserName, err)
	}
	return res
}

func fakePerson(t *testing.T, f *twentyfake.Fake, id string) twentyfake.Person {
	t.Helper()
	p, ok := f.Person(id)
	if !ok {
		t.Fatalf("no person %s", id)
	}
	return p
}

func TestCheck(t *testing.T) {
	f := startFake(t)
	t.Run("OK", func(t *testing.T) {
		n := len(f.Calls())
		if err := open(t, f, Config{}).Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := calls(f, n); !slices.Equal(got, []string{"query people"}) {
			t.Errorf("calls %v", got)
		}
		n = len(f.Calls())
		if err := open(t, f, Config{GroupCompanies: true}).Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := calls(f, n); !slices.Equal(got, []string{"query people", "query companies"}) {
			t.Errorf("calls %v", got)
		}
		if f.Requests() != 2 {
			t.Errorf("%d requests, want one per Check", f.Requests())
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		c, err := Open(Config{URL: f.URL}, "wrong", nil)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Check(t.Context())
		if !fanout.IsTerminal(err) || !strings.Contains(err.Error(), "Token invalid.") {
			t.Errorf("got %v, want a terminal UNAUTHENTICATED error", err)
		}
	})
}

func TestEnsureUser(t *testing.T) {
	t.Run("Create", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{})
		res := mustEnsure(t, c, user("ada"))
		p := fakePerson(t, f, res.RemoteID)
		if p.Email != "ada@example.com" || p.FirstName != "Givenada" || p.LastName != "Familyada" {
			t.Errorf("person %+v", p)
		}
		if res.Note != "created person" {
			t.Errorf("note %q", res.Note)
		}
		if got := f.Calls(); !slices.Equal(got, []string{"query people", "mutation createPerson"}) {
			t.Errorf("calls %v", got)
		}
	})
	t.Run("ConvergedCostsOneQuery", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{})
		u := user("bob")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		n := len(f.Calls())
		res := mustEnsure(t, c, u)
		if res.RemoteID != u.RemoteID || res.Note != "" {
			t.Errorf("result %+v", res)
		}
		if got := calls(f, n); !slices.Equal(got, []string{"query people"}) {
			t.Errorf("a converged user made %v", got)
		}
	})
	t.Run("EmailAndNameChange", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{})
		u := user("cy")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		u.Email, u.FamilyName = "cy.new@example.com", "Renamed"
		res := mustEnsure(t, c, u)
		if res.RemoteID != u.RemoteID || res.Note != "updated email and name" {
			t.Errorf("result %+v", res)
		}
		if p := fakePerson(t, f, u.RemoteID); p.Email != "cy.new@example.com" || p.LastName != "Renamed" {
			t.Errorf("person %+v", p)
		}
		if len(f.People()) != 1 {
			t.Errorf("%d people", len(f.People()))
		}
	})
	t.Run("NamesLeftAloneWithoutName", func(t *testing.T) {
		f := startFake(t)
		id, _ := f.AddPerson(twentyfake.Person{FirstName: "Typed", LastName: "ByHand", Email: "dee@example.com"})
		c := open(t, f, Config{})
		u := fanout.User{UserName: "dee", Email: "dee@example.com", Active: true}
		if res := mustEnsure(t, c, u); res.RemoteID != id {
			t.Fatalf("linked %s, want %s", res.RemoteID, id)
		}
		if p := fakePerson(t, f, id); p.FirstName != "Typed" || p.LastName != "ByHand" {
			t.Errorf("a user without a name renamed the person: %+v", p)
		}
		u.DisplayName = "Dee Dee"
		mustEnsure(t, c, u)
		if p := fakePerson(t, f, id); p.FirstName != "Dee Dee" || p.LastName != "" {
			t.Errorf("displayName not used: %+v", p)
		}
	})
	t.Run("AdoptByEmail", func(t *testing.T) {
		f := startFake(t)
		id, _ := f.AddPerson(twentyfake.Person{FirstName: "E", Email: "EVE@example.com"})
		c := open(t, f, Config{})
		res := mustEnsure(t, c, user("eve"))
		if res.RemoteID != id || !strings.HasPrefix(res.Note, "adopted existing person by email") {
			t.Errorf("result %+v, want adoption of %s", res, id)
		}
		if p := fakePerson(t, f, id); p.FirstName != "Giveneve" {
			t.Errorf("adopted person not updated: %+v", p)
		}
	})
	t.Run("RestoreFromTrashByEmail", func(t *testing.T) {
		f := startFake(t)
		id, _ := f.AddPerson(twentyfake.Person{Email: "fay@example.com", Deleted: true})
		c := open(t, f, Config{})
		res := mustEnsure(t, c, user("fay"))
		if res.RemoteID != id || !strings.Contains(res.Note, "restored person") {
			t.Errorf("result %+v, want %s restored", res, id)
		}
		if p := fakePerson(t, f, id); p.Deleted || p.FirstName != "Givenfay" {
			t.Errorf("person %+v", p)
		}
		if len(f.People()) != 1 {
			t.Errorf("%d people", len(f.People()))
		}
	})
	t.Run("RestoreFromTrashByLink", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{})
		u := user("gus")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		if err := f.TrashPerson(u.RemoteID); err != nil {
			t.Fatal(err)
		}
		u.Email = "gus.two@example.com"
		res := mustEnsure(t, c, u)
		if res.RemoteID != u.RemoteID || !strings.Contains(res.Note, "restored person") || !strings.Contains(res.Note, "updated email") {
			t.Errorf("result %+v", res)
		}
		if p := fakePerson(t, f, u.RemoteID); p.Deleted || p.Email != "gus.two@example.com" {
			t.Errorf("person %+v", p)
		}
	})
	t.Run("LiveNamesakeBeatsTrashedLink", func(t *testing.T) {
		f := startFake(t)
		old, _ := f.AddPerson(twentyfake.Person{Email: "old.hal@example.com", Deleted: true})
		live, _ := f.AddPerson(twentyfake.Person{Email: "hal@example.com"})
		u := user("hal")
		u.RemoteID = old
		res := mustEnsure(t, open(t, f, Config{}), u)
		if res.RemoteID != live {
			t.Errorf("linked %s, want the live person %s", res.RemoteID, live)
		}
		if fakePerson(t, f, old).Deleted != true {
			t.Error("the trashed person was restored as well")
		}
	})
	t.Run("ErrTwoPeople", func(t *testing.T) {
		f := startFake(t)
		mine, _ := f.AddPerson(twentyfake.Person{Email: "ivy.old@example.com"})
		other, _ := f.AddPerson(twentyfake.Person{Email: "ivy@example.com"})
		u := user("ivy")
		u.RemoteID = mine
		_, err := open(t, f, Config{}).EnsureUser(t.Context(), u)
		if !fanout.IsTerminal(err) || !strings.Contains(err.Error(), mine) || !strings.Contains(err.Error(), other) {
			t.Errorf("got %v, want a terminal error naming both people", err)
		}
	})
	t.Run("ErrNoEmail", func(t *testing.T) {
		f := startFake(t)
		u := user("jo")
		u.Email = " "
		_, err := open(t, f, Config{}).EnsureUser(t.Context(), u)
		if !fanout.IsTerminal(err) {
			t.Errorf("got %v, want a terminal error", err)
		}
		if f.Requests() != 0 {
			t.Errorf("%d requests", f.Requests())
		}
	})
	t.Run("InactiveKeepsPerson", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{OnDelete: OnDeleteSoftDelete})
		u := user("kim")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		n := len(f.Calls())
		u.Active = false
		if res := mustEnsure(t, c, u); res.RemoteID != u.RemoteID {
			t.Errorf("result %+v", res)
		}
		if got := calls(f, n); !slices.Equal(got, []string{"query people"}) {
			t.Errorf("deactivation made %v", got)
		}
		if fakePerson(t, f, u.RemoteID).Deleted {
			t.Error("deactivation trashed the person")
		}
	})
	for _, byIDOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("UpsertRace/byIDOnly=%v", byIDOnly), func(t *testing.T) {
			// Someone creates the person between the lookup and the
			// create: the upsert updates it, or, where Twenty's upsert
			// matches on id only, the duplicate leads to adopting it.
			f := startFake(t)
			f.UpsertByIDOnly(byIDOnly)
			c := open(t, f, Config{})
			var id string
			c.api = c.api.WithRequestModifier(func(r *http.Request) {
				r.Header.Set("Authorization", "Bearer "+apiKey)
				if id == "" && len(f.Calls()) == 1 {
					id, _ = f.AddPerson(twentyfake.Person{Email: "lou@example.com"})
				}
			})
			res := mustEnsure(t, c, user("lou"))
			if id == "" || res.RemoteID != id || len(f.People()) != 1 {
				t.Errorf("result %+v, racing person %s, %d people", res, id, len(f.People()))
			}
			if p := fakePerson(t, f, id); p.FirstName != "Givenlou" {
				t.Errorf("person %+v", p)
			}
			if byIDOnly && !strings.HasPrefix(res.Note, "adopted existing person by email") {
				t.Errorf("note %q, want an adoption after the duplicate", res.Note)
			}
		})
	}
}

func TestDeletedUser(t *testing.T) {
	for _, tc := range []struct {
		onDelete string
		trashed  bool
		calls    []string
	}{
		{OnDeleteKeep, false, []string{"query people"}},
		{OnDeleteSoftDelete, true, []string{"query people", "mutation deletePerson"}},
	} {
		t.Run(tc.onDelete, func(t *testing.T) {
			f := startFake(t)
			c := open(t, f, Config{OnDelete: tc.onDelete})
			u := user("max")
			u.RemoteID = mustEnsure(t, c, u).RemoteID
			gone := fanout.User{ID: u.ID, Deleted: true, RemoteID: u.RemoteID}
			n := len(f.Calls())
			res := mustEnsure(t, c, gone)
			if res.RemoteID != u.RemoteID {
				t.Errorf("result %+v", res)
			}
			if got := calls(f, n); !slices.Equal(got, tc.calls) {
				t.Errorf("calls %v, want %v", got, tc.calls)
			}
			if p := fakePerson(t, f, u.RemoteID); p.Deleted != tc.trashed {
				t.Errorf("person %+v, want deleted %v", p, tc.trashed)
			}
			n = len(f.Calls())
			mustEnsure(t, c, gone) // idempotent
			if got := calls(f, n); !slices.Equal(got, []string{"query people"}) {
				t.Errorf("second pass made %v", got)
			}
			// The same person comes back as a new SCIM user.
			back := user("max")
			res = mustEnsure(t, c, back)
			if res.RemoteID != u.RemoteID || len(f.People()) != 1 || fakePerson(t, f, res.RemoteID).Deleted {
				t.Errorf("result %+v, %d people", res, len(f.People()))
			}
		})
	}
	t.Run("NeverProvisioned", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{OnDelete: OnDeleteSoftDelete})
		if res := mustEnsure(t, c, fanout.User{ID: "x", Deleted: true}); res.RemoteID != "" {
			t.Errorf("result %+v", res)
		}
		res := mustEnsure(t, c, fanout.User{ID: "x", Deleted: true, RemoteID: "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"})
		if res.RemoteID != "" || f.Requests() != 1 {
			t.Errorf("result %+v, %d requests", res, f.Requests())
		}
	})
}

// members returns the ids of the live people of a company, sorted.
func members(f *twentyfake.Fake, company string) []string {
	var ids []string
	for _, p := range f.People() {
		if p.CompanyID == company && !p.Deleted {
			ids = append(ids, p.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func provision(t *testing.T, c *Connector, names ...string) []fanout.Member {
	t.Helper()
	var ms []fanout.Member
	for _, n := range names {
		u := user(n)
		ms = append(ms, fanout.Member{UserID: u.ID, UserName: n, RemoteID: mustEnsure(t, c, u).RemoteID})
	}
	return ms
}

func ids(ms []fanout.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.RemoteID)
	}
	slices.Sort(out)
	return out
}

func TestEnsureGroup(t *testing.T) {
	t.Run("Off", func(t *testing.T) {
		f := startFake(t)
		res, err := open(t, f, Config{}).EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "Team"})
		if err != nil || res.RemoteID != "" || f.Requests() != 0 {
			t.Errorf("result %+v, %v, %d requests", res, err, f.Requests())
		}
	})
	t.Run("CreateAndConverge", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{GroupCompanies: true})
		ms := provision(t, c, "a", "b")
		g := fanout.Group{ID: "g1", DisplayName: "Platform Team", Members: append(ms, fanout.Member{UserID: "pending"})}
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		if res.Note != `created company "Platform Team"; added 2 people` {
			t.Errorf("note %q", res.Note)
		}
		co, ok := f.Company(res.RemoteID)
		if !ok || co.Name != "Platform Team" {
			t.Fatalf("company %+v", co)
		}
		if got := members(f, co.ID); !slices.Equal(got, ids(ms)) {
			t.Errorf("members %v, want %v", got, ids(ms))
		}
		g.RemoteID = res.RemoteID
		n := len(f.Calls())
		res, err = c.EnsureGroup(t.Context(), g)
		if err != nil || res.Note != "" || res.RemoteID != g.RemoteID {
			t.Errorf("second pass: %+v, %v", res, err)
		}
		if got := calls(f, n); !slices.Equal(got, []string{"query companies", "query people"}) {
			t.Errorf("a converged group made %v", got)
		}
	})
	t.Run("AdoptOldestNamesake", func(t *testing.T) {
		f := startFake(t)
		oldest, _ := f.AddCompany(twentyfake.Company{Name: "Sales"})
		f.AddCompany(twentyfake.Company{Name: "Sales"})
		f.AddCompany(twentyfake.Company{Name: "Sales", Deleted: true})
		c := open(t, f, Config{GroupCompanies: true})
		res, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "Sales"})
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != oldest || res.Note != `adopted existing company "Sales" (the oldest of 2 with that name)` {
			t.Errorf("result %+v, want %s", res, oldest)
		}
		if len(f.Companies()) != 3 {
			t.Errorf("%d companies", len(f.Companies()))
		}
	})
	t.Run("RenameAndRestoreByLink", func(t *testing.T) {
		f := startFake(t)
		id, _ := f.AddCompany(twentyfake.Company{Name: "Old Name", Deleted: true})
		f.AddCompany(twentyfake.Company{Name: "New Name"}) // a namesake the link wins over
		c := open(t, f, Config{GroupCompanies: true})
		res, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "New Name", RemoteID: id})
		if err != nil {
			t.Fatal(err)
		}
		if res.RemoteID != id || !strings.Contains(res.Note, "restored company") || !strings.Contains(res.Note, `renamed company "Old Name" to "New Name"`) {
			t.Errorf("result %+v", res)
		}
		if co, _ := f.Company(id); co.Deleted || co.Name != "New Name" {
			t.Errorf("company %+v", co)
		}
	})
	t.Run("DriftAndOtherCompanies", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{GroupCompanies: true})
		ms := provision(t, c, "a", "b", "x")
		g := fanout.Group{ID: "g", DisplayName: "Team", Members: ms[:2]}
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		g.RemoteID = res.RemoteID
		// By hand: x joins the team's company, b moves to a customer.
		customer, _ := f.AddCompany(twentyfake.Company{Name: "Customer"})
		if err := f.SetCompany(ms[2].RemoteID, g.RemoteID); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCompany(ms[1].RemoteID, customer); err != nil {
			t.Fatal(err)
		}
		res, err = c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		if res.Note != "removed 1 person; left 1 person in another company" {
			t.Errorf("note %q", res.Note)
		}
		if got := members(f, g.RemoteID); !slices.Equal(got, []string{ms[0].RemoteID}) {
			t.Errorf("members %v", got)
		}
		if p := fakePerson(t, f, ms[1].RemoteID); p.CompanyID != customer {
			t.Errorf("b was taken from its company: %+v", p)
		}
	})
	t.Run("Deleted", func(t *testing.T) {
		f := startFake(t)
		c := open(t, f, Config{GroupCompanies: true})
		ms := provision(t, c, "a", "b")
		g := fanout.Group{ID: "g", DisplayName: "Team", Members: ms}
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		g.RemoteID, g.Deleted, g.Members = res.RemoteID, true, nil
		res, err = c.EnsureGroup(t.Context(), g)
		if err != nil || res.RemoteID != g.RemoteID || res.Note != "removed 2 people" {
			t.Errorf("result %+v, %v", res, err)
		}
		if co, ok := f.Company(g.RemoteID); !ok || co.Deleted || len(members(f, g.RemoteID)) != 0 {
			t.Errorf("company %+v, members %v", co, members(f, g.RemoteID))
		}
		for _, m := range ms {
			if fakePerson(t, f, m.RemoteID).Deleted {
				t.Error("deleting a group trashed a person")
			}
		}
		// A deleted group without a link touches no namesake and makes
		// no company.
		customer, _ := f.AddCompany(twentyfake.Company{Name: "Gone"})
		keep, _ := f.AddPerson(twentyfake.Person{Email: "client@example.com", CompanyID: customer})
		n := len(f.Companies())
		if res, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "h", DisplayName: "Gone", Deleted: true}); err != nil || res.RemoteID != "" {
			t.Errorf("result %+v, %v", res, err)
		}
		if len(f.Companies()) != n {
			t.Error("a deleted group created a company")
		}
		if p := fakePerson(t, f, keep); p.CompanyID != customer {
			t.Errorf("a deleted group emptied a namesake company: %+v", p)
		}
	})
	t.Run("ManyMembers", func(t *testing.T) {
		f := startFake(t)
		var ms []fanout.Member
		for i := range 130 {
			id, err := f.AddPerson(twentyfake.Person{Email: fmt.Sprintf("m%03d@example.com", i)})
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, fanout.Member{UserID: fmt.Sprint(i), RemoteID: id})
		}
		c := open(t, f, Config{GroupCompanies: true})
		g := fanout.Group{ID: "g", DisplayName: "Everyone", Members: ms}
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		if got := members(f, res.RemoteID); !slices.Equal(got, ids(ms)) {
			t.Errorf("%d members, want %d", len(got), len(ms))
		}
		g.RemoteID, g.Members = res.RemoteID, ms[:5]
		n := len(f.Calls())
		if res, err = c.EnsureGroup(t.Context(), g); err != nil || res.Note != "removed 125 people" {
			t.Errorf("result %+v, %v", res, err)
		}
		// Three pages of 60 to list the company, three updates of 60.
		want := []string{"query companies", "query people", "query people", "query people", "mutation updatePeople", "mutation updatePeople", "mutation updatePeople"}
		if got := calls(f, n); !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})
	t.Run("ErrNoName", func(t *testing.T) {
		f := startFake(t)
		_, err := open(t, f, Config{GroupCompanies: true}).EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: " "})
		if !fanout.IsTerminal(err) {
			t.Errorf("got %v, want a terminal error", err)
		}
	})
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		terminal   bool
		after      time.Duration // 0: not a RetryAfterError
	}{
		{"RateLimited", 429, "7", false, 7 * time.Second},
		{"UnavailableDefault", 503, "", false, fanout.DefaultRetryAfter},
		{"BadGateway", 502, "", false, 0},
		{"RequestTimeout", 408, "", false, 0},
		{"ErrUnauthorized", 401, "", true, 0},
		{"ErrForbidden", 403, "", true, 0},
		{"ErrBadRequest", 400, "", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t)
			f.Fail(1, tc.status, tc.retryAfter)
			_, err := open(t, f, Config{}).EnsureUser(t.Context(), user("err"))
			if err == nil {
				t.Fatal("no error")
			}
			if fanout.IsTerminal(err) != tc.terminal {
				t.Errorf("terminal %v, want %v: %v", fanout.IsTerminal(err), tc.terminal, err)
			}
			var ra *fanout.RetryAfterError
			if got := errors.As(err, &ra); got != (tc.after > 0) || (got && ra.After != tc.after) {
				t.Errorf("retry after: %v", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) {
				t.Errorf("the status is not in %q", err)
			}
			if len(f.People()) != 0 {
				t.Error("a failed lookup went on to create")
			}
		})
	}
	t.Run("Timeout", func(t *testing.T) {
		f := startFake(t)
		f.Slow(2 * time.Second)
		c := open(t, f, Config{Timeout: 100 * time.Millisecond})
		start := time.Now()
		_, err := c.EnsureUser(t.Context(), user("slow"))
		if err == nil || fanout.IsTerminal(err) || time.Since(start) > time.Second {
			t.Errorf("got %v after %v, want a quick error that is retried", err, time.Since(start))
		}
	})
	t.Run("NotJSON", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>maintenance</html>"))
		}))
		t.Cleanup(srv.Close)
		c, err := Open(Config{URL: srv.URL}, apiKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.EnsureUser(t.Context(), user("html"))
		if err == nil || fanout.IsTerminal(err) {
			t.Errorf("got %v, want an error that is retried", err)
		}
	})
	t.Run("ErrSchemaMismatch", func(t *testing.T) {
		// A workspace without the standard companyId field: the fake's
		// schema has it, so ask for a field no Person has through the
		// same path.
		f := startFake(t)
		c := open(t, f, Config{})
		var q struct {
			People struct{ TotalCount int } `graphql:"people(filter: $filter, first: 1)"`
		}
		err := c.query(t.Context(), "probe", &q, map[string]any{"filter": companyFilter{}})
		if !fanout.IsTerminal(err) || !isCode(err, codeValidationFailed) {
			t.Errorf("got %v, want a terminal GRAPHQL_VALIDATION_FAILED", err)
		}
	})
}
