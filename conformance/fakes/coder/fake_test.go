package coderfake_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
)

func client(t *testing.T, f *coderfake.Fake, token string) *codersdk.Client {
	t.Helper()
	u, err := url.Parse(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := codersdk.New(u)
	if token != "" {
		c.SetSessionToken(token)
	}
	return c
}

// wantErr checks that err is Coder's answer with status and a message
// that contains msg.
func wantErr(t *testing.T, err error, status int, msg string) *codersdk.Error {
	t.Helper()
	var ce *codersdk.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a coder error %d", err, status)
	}
	if ce.StatusCode() != status || !strings.Contains(ce.Message, msg) {
		t.Fatalf("got %d %q, want %d with %q", ce.StatusCode(), ce.Message, status, msg)
	}
	return ce
}

func oidcUser(name string) codersdk.CreateUserRequestWithOrgs {
	return codersdk.CreateUserRequestWithOrgs{Username: name, Email: name + "@example.com",
		UserLoginType: codersdk.LoginTypeOIDC, OrganizationIDs: []uuid.UUID{uuid.Nil}}
}

func TestAuth(t *testing.T) {
	f := coderfake.Start(t, coderfake.Options{})
	ctx := t.Context()
	for name, tok := range map[string]string{
		"NoToken":     "",
		"BadFormat":   "not-a-token",
		"UnknownKey":  "abcdefghij-abcdefghijabcdefghijab",
		"WrongSecret": f.Token[:11] + strings.Repeat("x", 22),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client(t, f, tok).User(ctx, codersdk.Me)
			wantErr(t, err, http.StatusUnauthorized, "You are signed out")
		})
	}
	t.Run("OK", func(t *testing.T) {
		me, err := client(t, f, f.Token).User(ctx, codersdk.Me)
		if err != nil || me.Username != coderfake.AdminUsername || me.ID != f.AdminID {
			t.Fatalf("me = %+v, %v", me, err)
		}
	})
	t.Run("SuspendedUser", func(t *testing.T) {
		u := f.AddUser(coderfake.Seed{Username: "sus", Email: "sus@example.com", Status: codersdk.UserStatusSuspended})
		_, err := client(t, f, f.NewToken(u.ID)).User(ctx, codersdk.Me)
		wantErr(t, err, http.StatusUnauthorized, "User is not active")
	})
	t.Run("MemberIsForbidden", func(t *testing.T) {
		u := f.AddUser(coderfake.Seed{Username: "mem", Email: "mem@example.com"})
		c := client(t, f, f.NewToken(u.ID))
		_, err := c.CreateUserWithOrgs(ctx, oidcUser("x"))
		wantErr(t, err, http.StatusForbidden, "Forbidden.")
		res, err := c.Users(ctx, codersdk.UsersRequest{})
		if err != nil || len(res.Users) != 1 || res.Users[0].ID != u.ID {
			t.Fatalf("a member lists %+v, %v; want only themselves", res, err)
		}
		_, err = c.User(ctx, f.AdminID.String())
		wantErr(t, err, http.StatusNotFound, "Resource not found")
	})
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	t.Run("OIDC", func(t *testing.T) {
		f := coderfake.Start(t, coderfake.Options{OIDC: true})
		c := client(t, f, f.Token)
		req := oidcUser("ada")
		req.Name = "Ada Lovelace"
		u, err := c.CreateUserWithOrgs(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != codersdk.UserStatusDormant || u.LoginType != codersdk.LoginTypeOIDC || u.Name != "Ada Lovelace" ||
			!slices.Equal(u.OrganizationIDs, []uuid.UUID{f.DefaultOrganization().ID}) {
			t.Errorf("created %+v", u)
		}
		for name, dup := range map[string]codersdk.CreateUserRequestWithOrgs{
			"SameUsernameOtherCase": {Username: "ADA", Email: "other@example.com", UserLoginType: codersdk.LoginTypeOIDC, OrganizationIDs: []uuid.UUID{uuid.Nil}},
			"SameEmailOtherCase":    {Username: "other", Email: "Ada@Example.com", UserLoginType: codersdk.LoginTypeOIDC, OrganizationIDs: []uuid.UUID{uuid.Nil}},
		} {
			t.Run("ErrDuplicate"+name, func(t *testing.T) {
				_, err := c.CreateUserWithOrgs(ctx, dup)
				wantErr(t, err, http.StatusConflict, "User already exists.")
			})
		}
	})
	t.Run("ErrNoOIDC", func(t *testing.T) {
		f := coderfake.Start(t, coderfake.Options{})
		_, err := client(t, f, f.Token).CreateUserWithOrgs(ctx, oidcUser("ada"))
		wantErr(t, err, http.StatusBadRequest, "You must configure OIDC before creating OIDC users.")
	})
	f := coderfake.Start(t, coderfake.Options{OIDC: true})
	c := client(t, f, f.Token)
	t.Run("ErrValidation", func(t *testing.T) {
		req := oidcUser("bad name")
		req.Email = "not-an-email"
		req.Name = " padded "
		ce := wantErr(t, mustFail(c.CreateUserWithOrgs(ctx, req)), http.StatusBadRequest, "Validation failed.")
		var fields []string
		for _, v := range ce.Validations {
			fields = append(fields, v.Field)
		}
		if !slices.Equal(fields, []string{"email", "username", "name"}) {
			t.Errorf("validations %+v", ce.Validations)
		}
		for _, name := range []string{"new", "create", strings.Repeat("a", 33), "a--b", "-a"} {
			wantErr(t, mustFail(c.CreateUserWithOrgs(ctx, oidcUser(name))), http.StatusBadRequest, "Validation failed.")
		}
	})
	t.Run("ErrNoOrganization", func(t *testing.T) {
		req := oidcUser("bob")
		req.OrganizationIDs = nil
		wantErr(t, mustFail(c.CreateUserWithOrgs(ctx, req)), http.StatusBadRequest, "No organization specified")
		req.OrganizationIDs = []uuid.UUID{uuid.New()}
		wantErr(t, mustFail(c.CreateUserWithOrgs(ctx, req)), http.StatusNotFound, "Organization does not exist")
	})
	t.Run("Password", func(t *testing.T) {
		req := oidcUser("cy")
		req.UserLoginType, req.Password = codersdk.LoginTypePassword, "short"
		wantErr(t, mustFail(c.CreateUserWithOrgs(ctx, req)), http.StatusBadRequest, "Password is invalid")
		req.Password = "Correct-Horse-Battery-9"
		if _, err := c.CreateUserWithOrgs(ctx, req); err != nil {
			t.Fatal(err)
		}
		req = oidcUser("dee")
		req.Password = "Correct-Horse-Battery-9"
		wantErr(t, mustFail(c.CreateUserWithOrgs(ctx, req)), http.StatusBadRequest, "Password cannot be set for non-password")
	})
}

func mustFail[T any](_ T, err error) error { return err }

func TestUsers(t *testing.T) {
	ctx := context.Background()
	f := coderfake.Start(t, coderfake.Options{OIDC: true})
	c := client(t, f, f.Token)
	for _, n := range []string{"zed", "amy", "Bea", "bob", "carl"} {
		if _, err := c.CreateUserWithOrgs(ctx, oidcUser(n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("SearchAndPaging", func(t *testing.T) {
		res, err := c.Users(ctx, codersdk.UsersRequest{Search: "B", Pagination: codersdk.Pagination{Limit: 1, Offset: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != 2 || len(res.Users) != 1 || res.Users[0].Username != "bob" {
			t.Errorf("page %+v, want the second of Bea and bob", res)
		}
		all, err := c.Users(ctx, codersdk.UsersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range all.Users {
			names = append(names, u.Username)
		}
		if want := []string{"admin", "amy", "Bea", "bob", "carl", "zed"}; !slices.Equal(names, want) || all.Count != 6 {
			t.Errorf("users %v (count %d), want %v ordered without case", names, all.Count, want)
		}
		res, err = c.Users(ctx, codersdk.UsersRequest{Status: codersdk.UserStatusActive})
		if err != nil || len(res.Users) != 1 {
			t.Errorf("active users %+v, %v; want only the admin", res, err)
		}
	})
	t.Run("ErrQuery", func(t *testing.T) {
		_, err := c.Users(ctx, codersdk.UsersRequest{SearchQuery: "colour:blue"})
		wantErr(t, err, http.StatusBadRequest, "Invalid user search query.")
		_, err = c.Users(ctx, codersdk.UsersRequest{SearchQuery: "a:b:c"})
		wantErr(t, err, http.StatusBadRequest, "Invalid user search query.")
	})
	t.Run("Status", func(t *testing.T) {
		u, err := c.UpdateUserStatus(ctx, "amy", codersdk.UserStatusSuspended)
		if err != nil || u.Status != codersdk.UserStatusSuspended {
			t.Fatalf("suspend: %+v, %v", u, err)
		}
		u, err = c.UpdateUserStatus(ctx, u.ID.String(), codersdk.UserStatusActive)
		if err != nil || u.Status != codersdk.UserStatusActive {
			t.Fatalf("activate: %+v, %v", u, err)
		}
		_, err = c.UpdateUserStatus(ctx, codersdk.Me, codersdk.UserStatusSuspended)
		wantErr(t, err, http.StatusBadRequest, "You cannot suspend yourself.")
		owner := f.AddUser(coderfake.Seed{Username: "own", Email: "own@example.com", Roles: []string{codersdk.RoleOwner}})
		_, err = c.UpdateUserStatus(ctx, owner.ID.String(), codersdk.UserStatusSuspended)
		wantErr(t, err, http.StatusBadRequest, `You cannot suspend a user with the "owner" role`)
	})
	t.Run("Deleted", func(t *testing.T) {
		u, err := c.User(ctx, "carl")
		if err != nil {
			t.Fatal(err)
		}
		f.DeleteUser(u.ID)
		if _, err := c.User(ctx, u.ID.String()); err != nil {
			t.Errorf("a deleted user is no longer found by id: %v", err)
		}
		_, err = c.User(ctx, "carl")
		wantErr(t, err, http.StatusNotFound, "Resource not found")
		if _, err := c.CreateUserWithOrgs(ctx, oidcUser("carl")); err != nil {
			t.Errorf("the username and email of a deleted user are not free: %v", err)
		}
	})
	t.Run("OrganizationMember", func(t *testing.T) {
		eng := f.AddOrganization("eng")
		if _, err := c.PostOrganizationMember(ctx, eng.ID, "zed"); err != nil {
			t.Fatal(err)
		}
		_, err := c.PostOrganizationMember(ctx, eng.ID, "zed")
		wantErr(t, err, http.StatusBadRequest, "User is already an organization member")
		u, _ := c.User(ctx, "zed")
		if !slices.Contains(u.OrganizationIDs, eng.ID) {
			t.Errorf("organizations %v", u.OrganizationIDs)
		}
		o, err := c.OrganizationByName(ctx, "eng")
		if err != nil || o.ID != eng.ID {
			t.Errorf("organization by name: %+v, %v", o, err)
		}
		o, err = c.OrganizationByName(ctx, codersdk.DefaultOrganization)
		if err != nil || !o.IsDefault {
			t.Errorf("default organization: %+v, %v", o, err)
		}
	})
}

func TestGroups(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrNoPremium", func(t *testing.T) {
		f := coderfake.Start(t, coderfake.Options{OIDC: true})
		c := client(t, f, f.Token)
		_, err := c.CreateGroup(ctx, f.DefaultOrganization().ID, codersdk.CreateGroupRequest{Name: "g"})
		wantErr(t, err, http.StatusForbidden, "Template RBAC is a Premium feature. Contact sales!")
		_, err = c.Groups(ctx, codersdk.GroupArguments{})
		wantErr(t, err, http.StatusForbidden, "Premium")
		ent, err := c.Entitlements(ctx)
		if err != nil || ent.Features[codersdk.FeatureTemplateRBAC].Enabled {
			t.Errorf("entitlements %+v, %v", ent, err)
		}
	})

	f := coderfake.Start(t, coderfake.Options{OIDC: true, Premium: true})
	c := client(t, f, f.Token)
	org := f.DefaultOrganization().ID
	amy, _ := c.CreateUserWithOrgs(ctx, oidcUser("amy"))
	bob, _ := c.CreateUserWithOrgs(ctx, oidcUser("bob"))
	other := f.AddOrganization("other")
	stranger := f.AddUser(coderfake.Seed{Username: "stranger", Email: "s@example.com", Organizations: []uuid.UUID{other.ID}})

	g, err := c.CreateGroup(ctx, org, codersdk.CreateGroupRequest{Name: "devs", DisplayName: "Developers"})
	if err != nil || g.Name != "devs" || g.Source != codersdk.GroupSourceUser {
		t.Fatalf("create: %+v, %v", g, err)
	}
	t.Run("ErrCreate", func(t *testing.T) {
		_, err := c.CreateGroup(ctx, org, codersdk.CreateGroupRequest{Name: "devs"})
		wantErr(t, err, http.StatusConflict, `A group named "devs" already exists.`)
		_, err = c.CreateGroup(ctx, org, codersdk.CreateGroupRequest{Name: "Everyone"})
		wantErr(t, err, http.StatusBadRequest, "Invalid group name.")
		_, err = c.CreateGroup(ctx, org, codersdk.CreateGroupRequest{Name: "no spaces"})
		wantErr(t, err, http.StatusBadRequest, "Validation failed.")
		if _, err := c.CreateGroup(ctx, org, codersdk.CreateGroupRequest{Name: "Devs"}); err != nil {
			t.Errorf("group names are unique with case: %v", err)
		}
	})
	t.Run("Members", func(t *testing.T) {
		g, err := c.PatchGroup(ctx, g.ID, codersdk.PatchGroupRequest{AddUsers: []string{amy.ID.String(), bob.ID.String()}})
		if err != nil || len(g.Members) != 2 {
			t.Fatalf("add: %+v, %v", g, err)
		}
		_, err = c.PatchGroup(ctx, g.ID, codersdk.PatchGroupRequest{AddUsers: []string{amy.ID.String()}})
		wantErr(t, err, http.StatusBadRequest, "Cannot add the same user to a group twice!")
		_, err = c.PatchGroup(ctx, g.ID, codersdk.PatchGroupRequest{AddUsers: []string{stranger.ID.String()}})
		wantErr(t, err, http.StatusBadRequest, "User must be a member of organization")
		_, err = c.PatchGroup(ctx, g.ID, codersdk.PatchGroupRequest{AddUsers: []string{"amy"}})
		wantErr(t, err, http.StatusBadRequest, "must be a valid user UUID")
		if _, err := c.UpdateUserStatus(ctx, "bob", codersdk.UserStatusSuspended); err != nil {
			t.Fatal(err)
		}
		g, err = c.PatchGroup(ctx, g.ID, codersdk.PatchGroupRequest{RemoveUsers: []string{amy.ID.String()}})
		if err != nil || len(g.Members) != 1 || g.Members[0].ID != bob.ID {
			t.Fatalf("remove: %+v, %v; want the suspended bob kept", g, err)
		}
		byName, err := c.GroupByOrgAndName(ctx, org, "devs")
		if err != nil || byName.ID != g.ID {
			t.Errorf("by name: %+v, %v", byName, err)
		}
		_, err = c.GroupByOrgAndName(ctx, org, "DEVS-x")
		wantErr(t, err, http.StatusNotFound, "Resource not found")
	})
	t.Run("Everyone", func(t *testing.T) {
		everyone, err := c.Group(ctx, org, codersdk.GroupRequest{})
		if err != nil || !everyone.IsEveryone() || everyone.Name != "Everyone" || len(everyone.Members) != 3 {
			t.Fatalf("everyone: %+v, %v; want the admin, amy and bob", everyone, err)
		}
		_, err = c.PatchGroup(ctx, org, codersdk.PatchGroupRequest{AddUsers: []string{amy.ID.String()}})
		wantErr(t, err, http.StatusForbidden, `Cannot add or remove users from the "Everyone" group!`)
		groups, err := c.Groups(ctx, codersdk.GroupArguments{Organization: "coder", HasMember: "bob"})
		if err != nil || len(groups) != 2 {
			t.Errorf("bob's groups %+v, %v; want Everyone and devs", groups, err)
		}
	})
	t.Run("RenameAndDelete", func(t *testing.T) {
		_, err := c.PatchGroup(ctx, g.ID, codersdk.PatchGroupRequest{Name: "Devs"})
		wantErr(t, err, http.StatusConflict, `A group with name "Devs" already exists.`)
		name := "Builders"
		g2, err := c.PatchGroup(ctx, g.ID, codersdk.PatchGroupRequest{Name: "builders", DisplayName: &name})
		if err != nil || g2.Name != "builders" || g2.DisplayName != "Builders" {
			t.Fatalf("rename: %+v, %v", g2, err)
		}
		if err := c.DeleteGroup(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		_, err = c.Group(ctx, g.ID, codersdk.GroupRequest{})
		wantErr(t, err, http.StatusNotFound, "Resource not found")
	})
}

func TestFaults(t *testing.T) {
	f := coderfake.Start(t, coderfake.Options{})
	ctx := t.Context()
	f.Fail(2, http.StatusServiceUnavailable, "9")
	for range 2 {
		resp, err := http.Get(f.URL + "/api/v2/users/authmethods")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "9" {
			t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if _, err := client(t, f, f.Token).AuthMethods(ctx); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	f.Slow(time.Second)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := client(t, f, f.Token).AuthMethods(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a slow answer: %v, want the deadline", err)
	}
	f.Slow(0)
	if got := f.Requests(); len(got) != 4 || got[0] != "GET /api/v2/users/authmethods" {
		t.Errorf("requests %v", got)
	}
	resp, err := http.Get(f.URL + "/api/v2/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown route: %d", resp.StatusCode)
	}
}
