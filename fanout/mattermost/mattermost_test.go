package mattermost_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	mattermostfake "github.com/scimbridge/scimbridge/conformance/fakes/mattermost"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/mattermost"
)

const teamName = "platform"

// env is one fake Mattermost with the team the connector manages.
type env struct {
	f    *mattermostfake.Fake
	team *model.Team
}

func newEnv(t *testing.T) env {
	f := mattermostfake.New(t)
	return env{f: f, team: f.AddTeam(teamName)}
}

// connector opens a connector on the fake, with group channels, after
// mutate has changed its configuration.
func (e env) connector(t *testing.T, mutate func(*mattermost.Config)) *mattermost.Connector {
	t.Helper()
	cfg := mattermost.Config{URL: e.f.URL, Team: teamName, GroupChannels: true}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := mattermost.Open(cfg, e.f.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newUser(name string) fanout.User {
	return fanout.User{ID: "id-" + name, UserName: name, Subject: "Sub-" + name, Email: name + "@example.com",
		GivenName: "Given", FamilyName: "Family " + name, Active: true}
}

func ensure(t *testing.T, c *mattermost.Connector, u fanout.User) (fanout.User, fanout.Result) {
	t.Helper()
	res, err := c.EnsureUser(t.Context(), u)
	if err != nil {
		t.Fatalf("EnsureUser(%s): %v", u.UserName, err)
	}
	u.RemoteID = res.RemoteID
	return u, res
}

func wantTerminal(t *testing.T, err error, mentions ...string) {
	t.Helper()
	if !fanout.IsTerminal(err) {
		t.Fatalf("got %v, want a terminal error", err)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("error %q does not mention %q", err, m)
		}
	}
}

func TestEnsureUser(t *testing.T) {
	e := newEnv(t)
	c := e.connector(t, nil)

	t.Run("Create", func(t *testing.T) {
		u, res := ensure(t, c, newUser("Alice.Liddell"))
		got := e.f.User(u.RemoteID)
		if got == nil {
			t.Fatal("no account")
		}
		if got.Username != "alice.liddell" || got.Email != "alice.liddell@example.com" || got.FirstName != "Given" ||
			got.LastName != "Family Alice.Liddell" || got.AuthService != "openid" || *got.AuthData != "Sub-Alice.Liddell" ||
			got.Password != "" || got.DeleteAt != 0 {
			t.Fatalf("account %+v", got)
		}
		if !strings.Contains(res.Note, "created account alice.liddell") {
			t.Fatalf("note %q", res.Note)
		}
	})
	t.Run("ConvergedCostsOneReadAndTheLink", func(t *testing.T) {
		u, _ := ensure(t, c, newUser("bert"))
		start := len(e.f.Log())
		if _, res := ensure(t, c, u); res.Note != "" {
			t.Fatalf("a converged user gave note %q", res.Note)
		}
		want := []string{"GET /api/v4/users/" + u.RemoteID, "PUT /api/v4/users/" + u.RemoteID + "/auth"}
		if got := e.f.Log()[start:]; !slices.Equal(got, want) {
			t.Fatalf("requests %v, want %v", got, want)
		}
	})
	t.Run("AdoptsPasswordAccount", func(t *testing.T) {
		id := e.f.AddPasswordUser("carla-local", "carla@example.com")
		u, res := ensure(t, c, newUser("carla"))
		if u.RemoteID != id {
			t.Fatalf("linked %s, want the existing account %s", u.RemoteID, id)
		}
		got := e.f.User(id)
		if got.Password != "" || got.AuthService != "openid" || *got.AuthData != "Sub-carla" || got.Username != "carla-local" {
			t.Fatalf("adopted account %+v", got)
		}
		if !strings.Contains(res.Note, "adopted existing account carla-local") {
			t.Fatalf("note %q", res.Note)
		}
	})
	t.Run("LinksAccountOfSameService", func(t *testing.T) {
		// An administrator who already signs in through openid.
		id := e.f.AddAdminUser("dina", "dina@example.com")
		e.f.SetAuth(id, "openid", "Sub-dina")
		u, res := ensure(t, c, newUser("dina"))
		if u.RemoteID != id || !strings.Contains(res.Note, "linked existing account dina") {
			t.Fatalf("got %s, note %q", u.RemoteID, res.Note)
		}
	})
	refused := []struct {
		name string
		seed func(u fanout.User) string
		says string
	}{
		{"RefusesBot", func(u fanout.User) string { return e.f.AddBot("bot-"+u.UserName, u.Email) }, "bot"},
		{"RefusesPasswordAdmin", func(u fanout.User) string { return e.f.AddAdminUser("adm-"+u.UserName, u.Email) }, "system administrator"},
		{"RefusesOtherService", func(u fanout.User) string {
			return e.f.AddSSOUser("gl-"+u.UserName, u.Email, "gitlab", "77")
		}, "gitlab"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(strings.ToLower(tt.name))
			id := tt.seed(u)
			before := e.f.User(id)
			n := len(e.f.Users())
			_, err := c.EnsureUser(t.Context(), u)
			wantTerminal(t, err, tt.says, before.Username)
			if len(e.f.Users()) != n {
				t.Fatal("an account was created beside the refused one")
			}
			if after := e.f.User(id); after.AuthService != before.AuthService || after.Password != before.Password {
				t.Fatalf("the refused account was changed: %+v", after)
			}
		})
	}
	t.Run("UsernameTakenByAnother", func(t *testing.T) {
		id := e.f.AddPasswordUser("emil", "emil.other@example.com")
		_, err := c.EnsureUser(t.Context(), newUser("emil"))
		wantTerminal(t, err, "emil", id, "emil.other@example.com")
		if e.f.UserByEmail("emil@example.com") != nil {
			t.Fatal("an account was created")
		}
	})
	t.Run("SubjectChanged", func(t *testing.T) {
		u, _ := ensure(t, c, newUser("fritz"))
		u.Subject = "Sub-fritz-2"
		ensure(t, c, u)
		if got := e.f.User(u.RemoteID); *got.AuthData != "Sub-fritz-2" {
			t.Fatalf("auth data %q", *got.AuthData)
		}
	})
	t.Run("RepairsLink", func(t *testing.T) {
		u, _ := ensure(t, c, newUser("greta"))
		e.f.SetAuth(u.RemoteID, "openid", "someone-else")
		ensure(t, c, u)
		if got := e.f.User(u.RemoteID); *got.AuthData != "Sub-greta" {
			t.Fatalf("auth data %q", *got.AuthData)
		}
	})
	t.Run("SubjectOfAnotherAccount", func(t *testing.T) {
		ensure(t, c, newUser("hanna"))
		twin := newUser("hanna2")
		twin.Subject = "Sub-hanna"
		_, err := c.EnsureUser(t.Context(), twin) // Mattermost answers 500
		if err == nil || fanout.IsTerminal(err) || !strings.Contains(err.Error(), "already bound") {
			t.Fatalf("got %v, want a retried error that says why", err)
		}
		e.f.AddPasswordUser("hanna3", "hanna3@example.com")
		third := newUser("hanna3")
		third.Subject = "Sub-hanna"
		_, err = c.EnsureUser(t.Context(), third) // adopting, then linking: 400
		wantTerminal(t, err, "another account", "app.user.update_auth_data.email_exists.app_error")
	})
	t.Run("EmailChanged", func(t *testing.T) {
		u, _ := ensure(t, c, newUser("ida"))
		u.Email = "Ida.New@example.com"
		_, res := ensure(t, c, u)
		if got := e.f.User(u.RemoteID); got.Email != "ida.new@example.com" || !strings.Contains(res.Note, "email") {
			t.Fatalf("email %q, note %q", got.Email, res.Note)
		}
	})
	t.Run("CreatedInactive", func(t *testing.T) {
		u := newUser("jonas")
		u.Active = false
		u, _ = ensure(t, c, u)
		if e.f.User(u.RemoteID).DeleteAt == 0 {
			t.Fatal("an inactive user's new account is active")
		}
	})
	t.Run("LostLinkFindsInactiveAccount", func(t *testing.T) {
		u := newUser("karl")
		u.Active = false
		u, _ = ensure(t, c, u)
		lost := u
		lost.RemoteID, lost.Active = "", true
		again, res := ensure(t, c, lost)
		if again.RemoteID != u.RemoteID || e.f.User(u.RemoteID).DeleteAt != 0 || !strings.Contains(res.Note, "reactivated") {
			t.Fatalf("got %s, note %q", again.RemoteID, res.Note)
		}
	})
	t.Run("ErrNoSubject", func(t *testing.T) {
		u := newUser("lena")
		u.Subject = ""
		_, err := c.EnsureUser(t.Context(), u)
		wantTerminal(t, err, "externalId")
	})
	t.Run("ErrNoEmail", func(t *testing.T) {
		u := newUser("mona")
		u.Email = ""
		_, err := c.EnsureUser(t.Context(), u)
		wantTerminal(t, err, "email")
	})
	t.Run("Gitlab", func(t *testing.T) {
		gl := e.connector(t, func(cfg *mattermost.Config) {
			cfg.AuthService, cfg.AuthDataAttribute = "gitlab", "gitlab.id"
		})
		u := newUser("nils")
		u.Attributes = map[string]any{"gitlab": map[string]any{"id": float64(4130)}}
		u, _ = ensure(t, gl, u)
		if got := e.f.User(u.RemoteID); got.AuthService != "gitlab" || *got.AuthData != "4130" {
			t.Fatalf("account %+v", got)
		}
	})
}

func TestDeletedUser(t *testing.T) {
	e := newEnv(t)
	c := e.connector(t, nil)
	u, _ := ensure(t, c, newUser("olga"))
	g, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g-1", DisplayName: "Ops", Members: []fanout.Member{{UserName: u.UserName, RemoteID: u.RemoteID}}})
	if err != nil {
		t.Fatal(err)
	}
	u.Deleted = true
	res, err := c.EnsureUser(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if res.RemoteID != u.RemoteID || e.f.User(u.RemoteID).DeleteAt == 0 {
		t.Fatalf("result %+v; the account is still active", res)
	}
	if slices.Contains(e.f.TeamMembers(e.team.Id), u.RemoteID) || slices.Contains(e.f.ChannelMembers(g.RemoteID), u.RemoteID) {
		t.Fatal("a deleted user is still in the team or its channel")
	}
	if !strings.Contains(res.Note, "deactivated olga") || !strings.Contains(res.Note, "removed olga from team platform") {
		t.Fatalf("note %q", res.Note)
	}
	if res, err := c.EnsureUser(t.Context(), u); err != nil || res.Note != "" {
		t.Fatalf("again: %+v, %v", res, err)
	}

	t.Run("WithoutAccount", func(t *testing.T) {
		n := len(e.f.Users())
		gone := newUser("pia")
		gone.Deleted = true
		res, err := c.EnsureUser(t.Context(), gone)
		if err != nil || res.RemoteID != "" || len(e.f.Users()) != n {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
	t.Run("LeavesOtherSignInsAlone", func(t *testing.T) {
		id := e.f.AddPasswordUser("quinn", "quinn@example.com")
		gone := newUser("quinn")
		gone.Deleted = true
		if _, err := c.EnsureUser(t.Context(), gone); err != nil {
			t.Fatal(err)
		}
		if e.f.User(id).DeleteAt != 0 {
			t.Fatal("a password account the connector never linked was deactivated")
		}
	})
}

// member is u as a member of a group.
func member(u fanout.User) fanout.Member {
	return fanout.Member{UserID: u.ID, UserName: u.UserName, RemoteID: u.RemoteID}
}

func TestGroupChannels(t *testing.T) {
	e := newEnv(t)
	c := e.connector(t, nil)
	a, _ := ensure(t, c, newUser("ralf"))
	b, _ := ensure(t, c, newUser("sara"))

	g := fanout.Group{ID: "g-ops", DisplayName: "Platform Ops", Members: []fanout.Member{member(a), member(b)}}
	res, err := c.EnsureGroup(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	g.RemoteID = res.RemoteID
	ch := e.f.Channel(g.RemoteID)
	if ch == nil || ch.Name != "platform-ops" || ch.DisplayName != "Platform Ops" || ch.Type != model.ChannelTypePrivate ||
		!strings.HasSuffix(ch.Purpose, "[scim group g-ops]") || ch.TeamId != e.team.Id {
		t.Fatalf("channel %+v", ch)
	}
	want := []string{a.RemoteID, b.RemoteID}
	slices.Sort(want)
	if got := e.f.ChannelMembers(ch.Id); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v (without the token's user)", got, want)
	}
	for _, id := range want {
		if !slices.Contains(e.f.TeamMembers(e.team.Id), id) {
			t.Fatalf("%s is in the channel but not the team", id)
		}
	}

	t.Run("Rename", func(t *testing.T) {
		g.DisplayName = "Platform Operations"
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		got := e.f.Channel(g.RemoteID)
		if res.RemoteID != g.RemoteID || got.DisplayName != "Platform Operations" || got.Name != "platform-ops" {
			t.Fatalf("after the rename: %+v", got)
		}
	})
	t.Run("LeavingTheGroupKeepsTheTeam", func(t *testing.T) {
		g.Members = []fanout.Member{member(a)}
		if _, err := c.EnsureGroup(t.Context(), g); err != nil {
			t.Fatal(err)
		}
		if got := e.f.ChannelMembers(g.RemoteID); !slices.Equal(got, []string{a.RemoteID}) {
			t.Fatalf("members %v", got)
		}
		if !slices.Contains(e.f.TeamMembers(e.team.Id), b.RemoteID) {
			t.Fatal("leaving a group took the user out of the team")
		}
	})
	t.Run("RejoinsTeam", func(t *testing.T) {
		// Someone who left the team must join it again before the channel.
		cl := newEnvClient(e)
		if _, err := cl.RemoveTeamMember(t.Context(), e.team.Id, b.RemoteID); err != nil {
			t.Fatal(err)
		}
		g.Members = []fanout.Member{member(a), member(b)}
		if _, err := c.EnsureGroup(t.Context(), g); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(e.f.ChannelMembers(g.RemoteID), b.RemoteID) || !slices.Contains(e.f.TeamMembers(e.team.Id), b.RemoteID) {
			t.Fatal("not back in the team and channel")
		}
	})
	t.Run("DeactivatedMemberIsKept", func(t *testing.T) {
		b.Active = false
		ensure(t, c, b)
		if _, err := c.EnsureGroup(t.Context(), g); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(e.f.ChannelMembers(g.RemoteID), b.RemoteID) {
			t.Fatal("an inactive member left the channel")
		}
	})
	t.Run("Deleted", func(t *testing.T) {
		g.Deleted = true
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		got := e.f.Channel(g.RemoteID)
		if res.RemoteID != g.RemoteID || got == nil || got.DeleteAt != 0 || len(e.f.ChannelMembers(g.RemoteID)) != 0 {
			t.Fatalf("a deleted group's channel: %+v, members %v", got, e.f.ChannelMembers(g.RemoteID))
		}
	})
}

func newEnvClient(e env) *model.Client4 {
	cl := model.NewAPIv4Client(e.f.URL)
	cl.SetToken(e.f.Token)
	return cl
}

func TestGroupChannelFound(t *testing.T) {
	e := newEnv(t)
	c := e.connector(t, nil)
	a, _ := ensure(t, c, newUser("tom"))
	outsider := e.f.AddSSOUser("outsider", "outsider@example.com", "openid", "sub-outsider")
	e.f.JoinTeam(e.team.Id, outsider)

	t.Run("AdoptsUnmarkedChannel", func(t *testing.T) {
		ch := e.f.AddChannel(e.team.Id, "sre", "SRE crew", model.ChannelTypeOpen, "Site reliability")
		e.f.JoinChannel(ch.Id, outsider)
		res, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g-sre", DisplayName: "SRE", Members: []fanout.Member{member(a)}})
		if err != nil {
			t.Fatal(err)
		}
		got := e.f.Channel(ch.Id)
		if res.RemoteID != ch.Id || got.Purpose != "Site reliability [scim group g-sre]" || got.DisplayName != "SRE crew" || got.Type != model.ChannelTypeOpen {
			t.Fatalf("adopted %+v", got)
		}
		if members := e.f.ChannelMembers(ch.Id); !slices.Equal(members, []string{a.RemoteID}) {
			t.Fatalf("members %v, want only the group's", members)
		}
		if !strings.Contains(res.Note, "adopted existing channel sre") {
			t.Fatalf("note %q", res.Note)
		}
	})
	t.Run("LostLinkFindsItsChannel", func(t *testing.T) {
		g := fanout.Group{ID: "g-db", DisplayName: "DB"}
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.EnsureGroup(t.Context(), g)
		if err != nil || again.RemoteID != res.RemoteID {
			t.Fatalf("got %+v, %v; want %s", again, err, res.RemoteID)
		}
	})
	t.Run("ErrAnotherGroupsChannel", func(t *testing.T) {
		if _, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g-web1", DisplayName: "Web Team"}); err != nil {
			t.Fatal(err)
		}
		_, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g-web2", DisplayName: "web-team"})
		wantTerminal(t, err, "web-team", "g-web1")
	})
	t.Run("ErrArchived", func(t *testing.T) {
		ch := e.f.AddChannel(e.team.Id, "legacy", "Legacy", model.ChannelTypePrivate, "")
		e.f.ArchiveChannel(ch.Id)
		_, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g-legacy", DisplayName: "Legacy", Members: []fanout.Member{member(a)}})
		wantTerminal(t, err, "archived", "legacy")
	})
	t.Run("ErrTownSquare", func(t *testing.T) {
		_, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g-ts", DisplayName: "Town Square"})
		wantTerminal(t, err, "town-square")
	})
	t.Run("DeletedNeverAdopts", func(t *testing.T) {
		ch := e.f.AddChannel(e.team.Id, "finance", "Finance", model.ChannelTypePrivate, "")
		e.f.JoinChannel(ch.Id, outsider)
		res, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g-fin", DisplayName: "Finance", Deleted: true})
		if err != nil || res.RemoteID != "" || len(e.f.ChannelMembers(ch.Id)) != 1 {
			t.Fatalf("got %+v, %v; members %v", res, err, e.f.ChannelMembers(ch.Id))
		}
	})
	t.Run("PublicChannels", func(t *testing.T) {
		pc := e.connector(t, func(cfg *mattermost.Config) { cfg.ChannelType = mattermost.ChannelPublic })
		res, err := pc.EnsureGroup(t.Context(), fanout.Group{ID: "g-all", DisplayName: "Everyone Else"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.f.Channel(res.RemoteID); got.Type != model.ChannelTypeOpen {
			t.Fatalf("type %q", got.Type)
		}
	})
	t.Run("PendingAndUnknownMembersSkipped", func(t *testing.T) {
		g := fanout.Group{ID: "g-pend", DisplayName: "Pending", Members: []fanout.Member{
			member(a), {UserName: "later"}, {UserName: "bad", RemoteID: "not-an-id"}, {UserName: "gone", RemoteID: model.NewId()},
		}}
		res, err := c.EnsureGroup(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.f.ChannelMembers(res.RemoteID); !slices.Equal(got, []string{a.RemoteID}) {
			t.Fatalf("members %v", got)
		}
	})
}

func TestGroupsWithoutChannels(t *testing.T) {
	e := newEnv(t)
	c := e.connector(t, func(cfg *mattermost.Config) { cfg.GroupChannels = false })
	a, _ := ensure(t, c, newUser("uwe"))
	b, _ := ensure(t, c, newUser("vera"))
	g := fanout.Group{ID: "g-1", DisplayName: "Staff", Members: []fanout.Member{member(a), member(b)}}
	res, err := c.EnsureGroup(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	if res.RemoteID != e.team.Id || !strings.Contains(res.Note, "team platform: added uwe, vera") {
		t.Fatalf("result %+v", res)
	}
	if got := e.f.TeamMembers(e.team.Id); !slices.Contains(got, a.RemoteID) || !slices.Contains(got, b.RemoteID) {
		t.Fatalf("team members %v", got)
	}
	if len(e.f.Channels(e.team.Id)) != 2 {
		t.Fatalf("channels %v, want only the team's default ones", e.f.Channels(e.team.Id))
	}
	g.Members = []fanout.Member{member(a)}
	g.RemoteID = res.RemoteID
	if res, err := c.EnsureGroup(t.Context(), g); err != nil || res.Note != "" {
		t.Fatalf("got %+v, %v", res, err)
	}
	if !slices.Contains(e.f.TeamMembers(e.team.Id), b.RemoteID) {
		t.Fatal("leaving the group took vera out of the team")
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	t.Run("BadToken", func(t *testing.T) {
		c, err := mattermost.Open(mattermost.Config{URL: e.f.URL, Team: teamName}, "wrong-secret-token", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.EnsureUser(t.Context(), newUser("wim"))
		wantTerminal(t, err, "401", "api.context.session_expired.app_error", "access token")
		if strings.Contains(err.Error(), "wrong-secret-token") {
			t.Fatalf("the error shows the token: %v", err)
		}
	})
	t.Run("CheckOK", func(t *testing.T) {
		if err := e.connector(t, nil).Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CheckNotAdmin", func(t *testing.T) {
		tok := e.f.AddUserToken(e.f.AddPasswordUser("xaver", "xaver@example.com"))
		c, err := mattermost.Open(mattermost.Config{URL: e.f.URL, Team: teamName}, tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantTerminal(t, c.Check(t.Context()), "not a system administrator")
	})
	t.Run("MissingTeam", func(t *testing.T) {
		c := e.connector(t, func(cfg *mattermost.Config) { cfg.Team = "nowhere" })
		wantTerminal(t, c.Check(t.Context()), "nowhere")
		_, err := c.EnsureGroup(t.Context(), fanout.Group{ID: "g", DisplayName: "G"})
		wantTerminal(t, err, "nowhere", "does not exist")
	})
	t.Run("WrongURL", func(t *testing.T) {
		// A 404 for the route is no "user not found": nothing is created.
		c := e.connector(t, func(cfg *mattermost.Config) { cfg.URL = e.f.URL + "/not-mattermost" })
		n := len(e.f.Users())
		_, err := c.EnsureUser(t.Context(), newUser("yvonne"))
		wantTerminal(t, err, "404")
		if len(e.f.Users()) != n {
			t.Fatal("an account was created")
		}
	})
	t.Run("TimeoutBoundsEachRequest", func(t *testing.T) {
		c := e.connector(t, func(cfg *mattermost.Config) { cfg.Timeout = 100 * time.Millisecond })
		e.f.Slow(2 * time.Second)
		defer e.f.Slow(0)
		start := time.Now()
		_, err := c.EnsureUser(t.Context(), newUser("zora"))
		if err == nil || fanout.IsTerminal(err) || time.Since(start) > time.Second {
			t.Fatalf("got %v after %v, want a retried error within the timeout", err, time.Since(start))
		}
	})
	t.Run("Unavailable", func(t *testing.T) {
		e.f.Fail(1, 503, "")
		_, err := e.connector(t, nil).EnsureUser(t.Context(), newUser("zeno"))
		var ra *fanout.RetryAfterError
		if err == nil || fanout.IsTerminal(err) || !errors.As(err, &ra) || ra.After != 30*time.Second {
			t.Fatalf("a 503 gave %v, want a retry after 30s", err)
		}
	})
}
