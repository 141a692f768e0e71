package mattermostfake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	mattermostfake "github.com/scimbridge/scimbridge/conformance/fakes/mattermost"
	"github.com/scimbridge/scimbridge/fanout"
)

func client(f *mattermostfake.Fake, token string) *model.Client4 {
	c := model.NewAPIv4Client(f.URL)
	if token != "" {
		c.SetToken(token)
	}
	return c
}

// wantAppErr fails the test unless err is an AppError with id, answered
// with status.
func wantAppErr(t *testing.T, resp *model.Response, err error, status int, id string) {
	t.Helper()
	var ae *model.AppError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want AppError %s", err, id)
	}
	if ae.Id != id || resp == nil || resp.StatusCode != status || ae.StatusCode != status {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("got %d %s (status_code %d), want %d %s", code, ae.Id, ae.StatusCode, status, id)
	}
}

func ssoUser(name, authService, authData string) *model.User {
	return &model.User{Username: name, Email: name + "@example.com", AuthService: authService, AuthData: model.NewPointer(authData)}
}

func TestAuthentication(t *testing.T) {
	f := mattermostfake.New(t)
	ctx := t.Context()
	t.Run("ErrNoToken", func(t *testing.T) {
		_, resp, err := client(f, "").GetMe(ctx, "")
		wantAppErr(t, resp, err, http.StatusUnauthorized, "api.context.session_expired.app_error")
	})
	t.Run("ErrUnknownToken", func(t *testing.T) {
		_, resp, err := client(f, "not-a-token").GetMe(ctx, "")
		wantAppErr(t, resp, err, http.StatusUnauthorized, "api.context.session_expired.app_error")
	})
	t.Run("OK", func(t *testing.T) {
		me, _, err := client(f, f.Token).GetMe(ctx, "")
		if err != nil || me.Id != f.AdminID || !me.IsSystemAdmin() {
			t.Fatalf("GetMe = %+v, %v", me, err)
		}
	})
	t.Run("TokenScheme", func(t *testing.T) {
		c := client(f, "")
		c.SetOAuthToken(f.Token) // "Token <token>"
		if _, _, err := c.GetMe(ctx, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrDeactivatedUsersToken", func(t *testing.T) {
		id := f.AddPasswordUser("leaver", "leaver@example.com")
		tok := f.AddUserToken(id)
		if _, _, err := client(f, tok).GetMe(ctx, ""); err != nil {
			t.Fatal(err)
		}
		f.SetActive(id, false)
		_, resp, err := client(f, tok).GetMe(ctx, "")
		wantAppErr(t, resp, err, http.StatusUnauthorized, "api.context.session_expired.app_error")
	})
	t.Run("ErrNotAdmin", func(t *testing.T) {
		tok := f.AddUserToken(f.AddPasswordUser("plain", "plain@example.com"))
		_, resp, err := client(f, tok).CreateUser(ctx, ssoUser("someone", "openid", "s-1"))
		wantAppErr(t, resp, err, http.StatusForbidden, "api.context.permissions.app_error")
	})
	t.Run("ErrUnknownRoute", func(t *testing.T) {
		r, err := client(f, f.Token).DoAPIGet(ctx, "/nothing/here", "")
		if err == nil || r.StatusCode != http.StatusNotFound {
			t.Fatalf("got %v, want 404", err)
		}
	})
}

func TestCreateUser(t *testing.T) {
	f := mattermostfake.New(t)
	c := client(f, f.Token)
	ctx := t.Context()

	u, resp, err := c.CreateUser(ctx, ssoUser("Alice", "openid", "Sub-Alice"))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.Username != "alice" || u.AuthService != "openid" || u.AuthData == nil || *u.AuthData != "Sub-Alice" || u.Password != "" {
		t.Fatalf("created %+v", u)
	}

	tests := []struct {
		name   string
		user   *model.User
		status int
		id     string
	}{
		{"ErrUsernameExists", &model.User{Username: "ALICE", Email: "other@example.com", AuthService: "openid", AuthData: model.NewPointer("s-2")},
			400, "app.user.save.username_exists.app_error"},
		{"ErrEmailExists", &model.User{Username: "alice2", Email: "Alice@Example.com", AuthService: "openid", AuthData: model.NewPointer("s-3")},
			400, "app.user.save.email_exists.app_error"},
		// users_authdata_key is UNIQUE (authdata), whatever the service.
		{"ErrAuthDataExists", ssoUser("alice3", "gitlab", "Sub-Alice"), 500, "app.user.save.app_error"},
		{"ErrInvalidUsername", ssoUser("bad name", "openid", "s-4"), 400, "model.user.is_valid.username.app_error"},
		{"ErrRestrictedUsername", ssoUser("channel", "openid", "s-5"), 400, "model.user.is_valid.username.app_error"},
		{"ErrInvalidEmail", &model.User{Username: "noemail", Email: "not-an-email", AuthService: "openid", AuthData: model.NewPointer("s-6")},
			400, "model.user.is_valid.email.app_error"},
		{"ErrNoPassword", &model.User{Username: "nopass", Email: "nopass@example.com"}, 400, "api.user.check_user_password.invalid.app_error"},
		{"ErrAuthDataWithoutService", &model.User{Username: "half", Email: "half@example.com", Password: "long-enough", AuthData: model.NewPointer("x")},
			400, "model.user.is_valid.auth_data_type.app_error"},
		{"ErrExistingID", &model.User{Id: model.NewId(), Username: "withid", Email: "withid@example.com", Password: "long-enough"},
			400, "app.user.save.existing.app_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := c.CreateUser(ctx, tt.user)
			wantAppErr(t, resp, err, tt.status, tt.id)
		})
	}
	if n := len(f.Users()); n != 2 {
		t.Fatalf("%d users after the refused creations, want 2", n)
	}
}

func TestReadUsers(t *testing.T) {
	f := mattermostfake.New(t)
	c := client(f, f.Token)
	ctx := t.Context()
	id := f.AddSSOUser("bob", "Bob@Example.com", "openid", "sub-bob")
	f.SetActive(id, false)

	for name, get := range map[string]func() (*model.User, *model.Response, error){
		"ByID":       func() (*model.User, *model.Response, error) { return c.GetUser(ctx, id, "") },
		"ByEmail":    func() (*model.User, *model.Response, error) { return c.GetUserByEmail(ctx, "BOB@example.com", "") },
		"ByUsername": func() (*model.User, *model.Response, error) { return c.GetUserByUsername(ctx, "bob", "") },
	} {
		t.Run(name, func(t *testing.T) {
			u, _, err := get()
			if err != nil {
				t.Fatal(err)
			}
			// Deactivated users are found; an administrator sees the
			// auth service but never the auth data.
			if u.Id != id || u.DeleteAt == 0 || u.AuthService != "openid" || u.AuthData == nil || *u.AuthData != "" {
				t.Fatalf("got %+v (auth data %v)", u, u.AuthData)
			}
		})
	}
	t.Run("NotAdminSeesNoAuthService", func(t *testing.T) {
		tok := f.AddUserToken(f.AddPasswordUser("carol", "carol@example.com"))
		u, _, err := client(f, tok).GetUser(ctx, id, "")
		if err != nil || u.AuthService != "" {
			t.Fatalf("got %+v, %v", u, err)
		}
	})
	t.Run("ErrMissing", func(t *testing.T) {
		_, resp, err := c.GetUserByEmail(ctx, "nobody@example.com", "")
		wantAppErr(t, resp, err, 404, "app.user.missing_account.const")
		_, resp, err = c.GetUser(ctx, model.NewId(), "")
		wantAppErr(t, resp, err, 404, "app.user.missing_account.const")
	})
	t.Run("ErrBadID", func(t *testing.T) {
		_, resp, err := c.GetUser(ctx, "short", "")
		wantAppErr(t, resp, err, 400, "api.context.invalid_url_param.app_error")
	})
}

func TestUpdateUsers(t *testing.T) {
	f := mattermostfake.New(t)
	c := client(f, f.Token)
	ctx := t.Context()
	pw := f.AddPasswordUser("dave", "dave@example.com")
	sso := f.AddSSOUser("erin", "erin@example.com", "openid", "sub-erin")

	t.Run("AuthClearsPassword", func(t *testing.T) {
		if _, _, err := c.UpdateUserAuth(ctx, pw, &model.UserAuth{AuthService: "openid", AuthData: model.NewPointer("sub-dave")}); err != nil {
			t.Fatal(err)
		}
		u := f.User(pw)
		if u.Password != "" || u.AuthService != "openid" || *u.AuthData != "sub-dave" {
			t.Fatalf("after UpdateUserAuth: %+v", u)
		}
	})
	t.Run("ErrAuthDataInUse", func(t *testing.T) {
		_, resp, err := c.UpdateUserAuth(ctx, pw, &model.UserAuth{AuthService: "gitlab", AuthData: model.NewPointer("sub-erin")})
		wantAppErr(t, resp, err, 400, "app.user.update_auth_data.email_exists.app_error")
	})
	t.Run("ErrAuthIncomplete", func(t *testing.T) {
		_, resp, err := c.UpdateUserAuth(ctx, pw, &model.UserAuth{AuthService: "openid"})
		wantAppErr(t, resp, err, 400, "api.user.update_user_auth.invalid_request")
	})
	t.Run("PatchEmail", func(t *testing.T) {
		email := "Erin.New@example.com"
		u, _, err := c.PatchUser(ctx, sso, &model.UserPatch{Email: &email})
		if err != nil || u.Email != "erin.new@example.com" {
			t.Fatalf("PatchUser = %+v, %v", u, err)
		}
	})
	t.Run("ErrPatchEmailTaken", func(t *testing.T) {
		email := "dave@example.com"
		_, resp, err := c.PatchUser(ctx, sso, &model.UserPatch{Email: &email})
		wantAppErr(t, resp, err, 400, "app.user.save.email_exists.app_error")
	})
	t.Run("ErrPatchOAuthName", func(t *testing.T) {
		first := "Erin"
		_, resp, err := c.PatchUser(ctx, sso, &model.UserPatch{FirstName: &first})
		wantAppErr(t, resp, err, 409, "api.user.patch_user.login_provider_attribute_set.app_error")
	})
	t.Run("Active", func(t *testing.T) {
		if _, err := c.UpdateUserActive(ctx, sso, false); err != nil {
			t.Fatal(err)
		}
		if f.User(sso).DeleteAt == 0 {
			t.Fatal("still active")
		}
		if _, err := c.UpdateUserActive(ctx, sso, true); err != nil {
			t.Fatal(err)
		}
		if f.User(sso).DeleteAt != 0 {
			t.Fatal("still inactive")
		}
	})
	t.Run("ErrActiveNotAdmin", func(t *testing.T) {
		tok := f.AddUserToken(f.AddPasswordUser("frank", "frank@example.com"))
		resp, err := client(f, tok).UpdateUserActive(ctx, sso, false)
		wantAppErr(t, resp, err, 403, "api.user.update_active.permissions.app_error")
	})
}

func TestTeamsAndChannels(t *testing.T) {
	f := mattermostfake.New(t)
	c := client(f, f.Token)
	ctx := t.Context()
	team := f.AddTeam("platform")
	a := f.AddSSOUser("anna", "anna@example.com", "openid", "sub-anna")
	b := f.AddSSOUser("ben", "ben@example.com", "openid", "sub-ben")

	if got, _, err := c.GetTeamByName(ctx, "platform", ""); err != nil || got.Id != team.Id {
		t.Fatalf("GetTeamByName = %+v, %v", got, err)
	}
	_, resp, err := c.GetTeamByName(ctx, "nope", "")
	wantAppErr(t, resp, err, 404, "app.team.get_by_name.missing.app_error")

	ch, resp, err := c.CreateChannel(ctx, &model.Channel{TeamId: team.Id, Name: "ops", DisplayName: "Ops", Type: model.ChannelTypePrivate})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("CreateChannel: %v", err)
	}
	if got := f.ChannelMembers(ch.Id); !slices.Equal(got, []string{f.AdminID}) {
		t.Fatalf("a new channel's members are %v, want its creator", got)
	}

	t.Run("ErrChannelExists", func(t *testing.T) {
		f.ArchiveChannel(f.AddChannel(team.Id, "old", "Old", model.ChannelTypeOpen, "").Id)
		for _, name := range []string{"ops", "old"} { // archived names stay taken
			_, resp, err := c.CreateChannel(ctx, &model.Channel{TeamId: team.Id, Name: name, DisplayName: "X", Type: model.ChannelTypeOpen})
			wantAppErr(t, resp, err, 400, "store.sql_channel.save_channel.exists.app_error")
		}
		if _, _, err := c.GetChannelByName(ctx, "old", team.Id, ""); err == nil {
			t.Fatal("an archived channel is found without include_deleted")
		}
		if got, _, err := c.GetChannelByNameIncludeDeleted(ctx, "old", team.Id, ""); err != nil || got.DeleteAt == 0 {
			t.Fatalf("GetChannelByNameIncludeDeleted = %+v, %v", got, err)
		}
	})
	t.Run("ErrChannelName", func(t *testing.T) {
		_, resp, err := c.CreateChannel(ctx, &model.Channel{TeamId: team.Id, Name: "Bad Name", DisplayName: "X", Type: model.ChannelTypeOpen})
		wantAppErr(t, resp, err, 400, "model.channel.is_valid.1_or_more.app_error")
	})
	t.Run("ErrNotTeamMember", func(t *testing.T) {
		_, resp, err := c.AddChannelMember(ctx, ch.Id, a)
		wantAppErr(t, resp, err, 404, "app.team.get_member.missing.app_error")
	})
	t.Run("JoinTeamJoinsDefaultChannels", func(t *testing.T) {
		if _, resp, err := c.AddTeamMember(ctx, team.Id, a); err != nil || resp.StatusCode != 201 {
			t.Fatal(err)
		}
		ts := f.ChannelByName(team.Id, model.DefaultChannelName)
		if !slices.Contains(f.ChannelMembers(ts.Id), a) {
			t.Fatal("not in town-square after joining the team")
		}
		if _, _, err := c.AddChannelMember(ctx, ch.Id, a); err != nil {
			t.Fatal(err)
		}
		resp, err := c.RemoveUserFromChannel(ctx, ts.Id, a)
		wantAppErr(t, resp, err, 400, "api.channel.remove.default.app_error")
	})
	t.Run("ErrDeactivatedUserJoinsChannel", func(t *testing.T) {
		// A deactivated account may join a team, and keeps its channels,
		// but AddChannelMember (server/channels/app/channel.go) refuses to
		// give it a new one.
		f.SetActive(b, false)
		defer f.SetActive(b, true)
		if _, _, err := c.AddTeamMember(ctx, team.Id, b); err != nil {
			t.Fatal(err)
		}
		_, resp, err := c.AddChannelMember(ctx, ch.Id, b)
		wantAppErr(t, resp, err, 403, "app.channel.add_member.deleted_user.app_error")
		f.SetActive(b, true)
		if _, _, err := c.AddChannelMember(ctx, ch.Id, b); err != nil {
			t.Fatal(err)
		}
		f.SetActive(b, false)
		if _, _, err := c.AddChannelMember(ctx, ch.Id, b); err != nil {
			t.Fatalf("a member is answered as is, deactivated or not: %v", err)
		}
	})
	t.Run("GetMembers", func(t *testing.T) {
		if m, _, err := c.GetChannelMember(ctx, ch.Id, a, ""); err != nil || m.UserId != a || m.ChannelId != ch.Id {
			t.Fatalf("GetChannelMember = %+v, %v", m, err)
		}
		if m, _, err := c.GetTeamMember(ctx, team.Id, a, ""); err != nil || m.UserId != a || m.DeleteAt != 0 {
			t.Fatalf("GetTeamMember = %+v, %v", m, err)
		}
		stranger := f.AddSSOUser("dora", "dora@example.com", "openid", "sub-dora")
		_, resp, err := c.GetChannelMember(ctx, ch.Id, stranger, "")
		wantAppErr(t, resp, err, 404, "app.channel.get_member.missing.app_error")
		_, resp, err = c.GetTeamMember(ctx, team.Id, stranger, "")
		wantAppErr(t, resp, err, 404, "app.team.get_member.missing.app_error")
		_, resp, err = c.GetTeamMember(ctx, model.NewId(), a, "")
		wantAppErr(t, resp, err, 404, "app.team.get.find.app_error")
	})
	t.Run("ErrRemoveNonMember", func(t *testing.T) {
		c2 := f.AddSSOUser("cleo", "cleo@example.com", "openid", "sub-cleo")
		resp, err := c.RemoveUserFromChannel(ctx, ch.Id, c2)
		wantAppErr(t, resp, err, 404, "app.channel.get_member.missing.app_error")
		resp, err = c.RemoveTeamMember(ctx, team.Id, c2)
		wantAppErr(t, resp, err, 400, "api.team.remove_user_from_team.missing.app_error")
	})
	t.Run("LeavingTheTeamLeavesItsChannels", func(t *testing.T) {
		if _, err := c.RemoveTeamMember(ctx, team.Id, a); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(f.ChannelMembers(ch.Id), a) {
			t.Fatal("still in the channel after leaving the team")
		}
		if slices.Contains(f.TeamMembers(team.Id), a) {
			t.Fatal("still in the team")
		}
		_, resp, err := c.AddChannelMember(ctx, ch.Id, a)
		wantAppErr(t, resp, err, 400, "api.channel.add_user.to.channel.failed.deleted.app_error")
		// The row of one who left stays, with delete_at set.
		if m, _, err := c.GetTeamMember(ctx, team.Id, a, ""); err != nil || m.DeleteAt == 0 {
			t.Fatalf("GetTeamMember of one who left = %+v, %v", m, err)
		}
		ms, _, err := c.GetTeamMembersByIds(ctx, team.Id, []string{a, b})
		if err != nil || len(ms) != 1 || ms[0].UserId != b {
			t.Fatalf("GetTeamMembersByIds = %+v, %v", ms, err)
		}
	})
	t.Run("PatchChannel", func(t *testing.T) {
		d := "Operations"
		got, _, err := c.PatchChannel(ctx, ch.Id, &model.ChannelPatch{DisplayName: &d})
		if err != nil || got.DisplayName != d || f.Channel(ch.Id).DisplayName != d {
			t.Fatalf("PatchChannel = %+v, %v", got, err)
		}
	})
}

func TestPaging(t *testing.T) {
	f := mattermostfake.New(t)
	c := client(f, f.Token)
	ctx := t.Context()
	team := f.AddTeam("big")
	ch := f.AddChannel(team.Id, "all-hands", "All hands", model.ChannelTypeOpen, "")
	for i := range 250 {
		id := f.AddSSOUser(fmt.Sprintf("user%03d", i), fmt.Sprintf("user%03d@example.com", i), "openid", fmt.Sprintf("sub-%d", i))
		f.JoinTeam(team.Id, id)
		f.JoinChannel(ch.Id, id)
	}
	members, _, err := c.GetTeamMembers(ctx, team.Id, 0, 1000, "")
	if err != nil || len(members) != 200 {
		t.Fatalf("per_page 1000 gave %d members, %v; want the maximum, 200", len(members), err)
	}
	r, err := c.DoAPIGet(ctx, "/teams/"+team.Id+"/members", "")
	if err != nil {
		t.Fatal(err)
	}
	def, _, err := model.DecodeJSONFromResponse[[]*model.TeamMember](r)
	if err != nil || len(def) != 60 {
		t.Fatalf("no per_page gave %d members, %v; want the default, 60", len(def), err)
	}
	seen := map[string]bool{}
	for page := 0; ; page++ {
		ms, _, err := c.GetChannelMembers(ctx, ch.Id, page, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if seen[m.UserId] {
				t.Fatalf("member %s on two pages", m.UserId)
			}
			seen[m.UserId] = true
		}
		if len(ms) < 100 {
			break
		}
	}
	if len(seen) != 250 {
		t.Fatalf("paging saw %d channel members, want 250", len(seen))
	}
}

func TestFaults(t *testing.T) {
	f := mattermostfake.New(t)
	c := client(f, f.Token)
	t.Run("Fail", func(t *testing.T) {
		f.Fail(2, http.StatusTooManyRequests, "7")
		for range 2 {
			_, resp, err := c.GetMe(t.Context(), "")
			if err == nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
				t.Fatalf("got %v, want an injected 429 with Retry-After", err)
			}
		}
		if _, _, err := c.GetMe(t.Context(), ""); err != nil {
			t.Fatalf("the third request failed too: %v", err)
		}
	})
	t.Run("Slow", func(t *testing.T) {
		f.Slow(2 * time.Second)
		defer f.Slow(0)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, _, err := c.GetMe(ctx, ""); err == nil {
			t.Fatal("a slow answer came within the deadline")
		}
		if time.Since(start) > time.Second {
			t.Fatal("the client waited for the slow answer")
		}
	})
}

func TestService(t *testing.T) {
	f := mattermostfake.New(t)
	team := f.AddTeam("platform")
	s := f.Service()
	ctx := t.Context()
	u := fanout.User{UserName: "Greta", Email: "greta@example.com", Subject: "sub-greta"}

	id, err := s.Precreate(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.User(id); got.AuthService != "openid" || *got.AuthData != "sub-greta" {
		t.Fatalf("precreated %+v", got)
	}
	if n, err := s.Matching(ctx, u); err != nil || n != 1 {
		t.Fatalf("Matching = %d, %v", n, err)
	}
	if err := s.Conflict(ctx, fanout.User{UserName: "hugo", Email: "hugo@example.com"}); err != nil {
		t.Fatal(err)
	}
	if got := f.UserByEmail("hugo@example.com"); got.AuthService != "ldap" {
		t.Fatalf("conflict %+v", got)
	}
	acct, err := s.Account(ctx, id)
	if err != nil || acct.Email != "greta@example.com" || !acct.Active {
		t.Fatalf("Account = %+v, %v", acct, err)
	}
	if _, err := s.Account(ctx, model.NewId()); !errors.Is(err, connectortest.ErrNotFound) {
		t.Fatalf("Account of nobody: %v", err)
	}

	ch := f.AddChannel(team.Id, "g", "G", model.ChannelTypePrivate, "")
	f.JoinTeam(team.Id, id)
	f.JoinChannel(ch.Id, id)
	for _, group := range []string{ch.Id, team.Id} {
		if got, err := s.Members(ctx, group); err != nil || !slices.Equal(got, []string{id}) {
			t.Fatalf("Members(%s) = %v, %v", group, got, err)
		}
	}
	if err := s.RemoveMember(ctx, ch.Id, id); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Members(ctx, ch.Id); len(got) != 0 {
		t.Fatalf("Members after RemoveMember = %v", got)
	}
	if err := s.RemoveMember(ctx, ch.Id, id); err == nil {
		t.Fatal("removing a non-member succeeded")
	}
	if _, err := s.Members(ctx, model.NewId()); !errors.Is(err, connectortest.ErrNotFound) {
		t.Fatalf("Members of nothing: %v", err)
	}
}
