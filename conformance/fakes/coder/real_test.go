package coderfake_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	"github.com/scimbridge/scimbridge/conformance/harness"
)

// answer is what a call got: its status (200 for success), Coder's
// message and the fields of its validations.
type answer struct {
	Status  int
	Message string
	Fields  []string
}

func answerOf(err error) answer {
	if err == nil {
		return answer{Status: 200}
	}
	var ce *codersdk.Error
	if !errors.As(err, &ce) {
		return answer{Message: err.Error()}
	}
	a := answer{Status: ce.StatusCode(), Message: ce.Message}
	for _, v := range ce.Validations {
		a.Fields = append(a.Fields, v.Field)
	}
	slices.Sort(a.Fields)
	return a
}

// TestMatchesRealCoder sends the same requests to the fake and to a real
// Coder v2.36.1 (with OIDC, without a licence) and compares the status,
// message and validated fields of every answer.
func TestMatchesRealCoder(t *testing.T) {
	idp := harness.StartOIDC(t, harness.OIDCOptions{})
	real := harness.StartCoder(t, harness.CoderOptions{OIDC: idp})
	fake := coderfake.Start(t, coderfake.Options{OIDC: true})
	sfx := strings.ToLower(rand.Text()[:6])

	type server struct {
		name string
		c    *codersdk.Client
	}
	mk := func(name, base, token string) server {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		c := codersdk.New(u)
		c.SetSessionToken(token)
		return server{name: name, c: c}
	}
	servers := []server{mk("real", real.URL, real.SessionToken), mk("fake", fake.URL, fake.Token)}

	create := func(name, email string, lt codersdk.LoginType, pw string) func(context.Context, *codersdk.Client) error {
		return func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateUserWithOrgs(ctx, codersdk.CreateUserRequestWithOrgs{Username: name, Email: email,
				UserLoginType: lt, Password: pw, OrganizationIDs: []uuid.UUID{uuid.Nil}})
			return err
		}
	}
	steps := []struct {
		name string
		do   func(context.Context, *codersdk.Client) error
	}{
		{"CreateOIDC", create("ada"+sfx, "ada"+sfx+"@example.com", codersdk.LoginTypeOIDC, "")},
		{"DuplicateUsername", create("ADA"+sfx, "other"+sfx+"@example.com", codersdk.LoginTypeOIDC, "")},
		{"DuplicateEmail", create("other"+sfx, "Ada"+sfx+"@Example.com", codersdk.LoginTypeOIDC, "")},
		{"InvalidUsername", create("bad name", "bad"+sfx+"@example.com", codersdk.LoginTypeOIDC, "")},
		{"InvalidEmail", create("bad"+sfx, "not-an-email", codersdk.LoginTypeOIDC, "")},
		{"ReservedUsername", create("new", "new"+sfx+"@example.com", codersdk.LoginTypeOIDC, "")},
		{"PasswordForOIDC", create("pw"+sfx, "pw"+sfx+"@example.com", codersdk.LoginTypeOIDC, "Correct-Horse-Battery-9")},
		{"WeakPassword", create("pw"+sfx, "pw"+sfx+"@example.com", codersdk.LoginTypePassword, "short")},
		{"CreatePassword", create("pw"+sfx, "pw"+sfx+"@example.com", codersdk.LoginTypePassword, "Correct-Horse-Battery-9")},
		{"NoOrganization", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateUserWithOrgs(ctx, codersdk.CreateUserRequestWithOrgs{Username: "x" + sfx, Email: "x" + sfx + "@example.com", UserLoginType: codersdk.LoginTypeOIDC})
			return err
		}},
		{"UnknownOrganization", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateUserWithOrgs(ctx, codersdk.CreateUserRequestWithOrgs{Username: "x" + sfx, Email: "x" + sfx + "@example.com",
				UserLoginType: codersdk.LoginTypeOIDC, OrganizationIDs: []uuid.UUID{uuid.MustParse("11111111-2222-3333-4444-555555555555")}})
			return err
		}},
		{"GetByUsernameOtherCase", func(ctx context.Context, c *codersdk.Client) error {
			u, err := c.User(ctx, "Ada"+sfx)
			if err == nil && u.Status != codersdk.UserStatusDormant {
				return fmt.Errorf("status %s", u.Status)
			}
			return err
		}},
		{"GetUnknownUser", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.User(ctx, "nobody"+sfx)
			return err
		}},
		{"SearchByEmail", func(ctx context.Context, c *codersdk.Client) error {
			res, err := c.Users(ctx, codersdk.UsersRequest{Search: "ADA" + sfx + "@example.com", Pagination: codersdk.Pagination{Limit: 10}})
			if err == nil && (res.Count != 1 || len(res.Users) != 1 || res.Users[0].Username != "ada"+sfx) {
				return fmt.Errorf("search found %d (count %d)", len(res.Users), res.Count)
			}
			return err
		}},
		{"BadSearch", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.Users(ctx, codersdk.UsersRequest{SearchQuery: "colour:blue"})
			return err
		}},
		{"Suspend", func(ctx context.Context, c *codersdk.Client) error {
			u, err := c.UpdateUserStatus(ctx, "ada"+sfx, codersdk.UserStatusSuspended)
			if err == nil && u.Status != codersdk.UserStatusSuspended {
				return fmt.Errorf("status %s", u.Status)
			}
			return err
		}},
		{"Activate", func(ctx context.Context, c *codersdk.Client) error {
			u, err := c.UpdateUserStatus(ctx, "ada"+sfx, codersdk.UserStatusActive)
			if err == nil && u.Status != codersdk.UserStatusActive {
				return fmt.Errorf("status %s", u.Status)
			}
			return err
		}},
		{"SuspendSelf", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.UpdateUserStatus(ctx, codersdk.Me, codersdk.UserStatusSuspended)
			return err
		}},
		{"AlreadyOrganizationMember", func(ctx context.Context, c *codersdk.Client) error {
			o, err := c.OrganizationByName(ctx, codersdk.DefaultOrganization)
			if err != nil {
				return err
			}
			_, err = c.PostOrganizationMember(ctx, o.ID, "ada"+sfx)
			return err
		}},
		{"UnknownOrganizationByName", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.OrganizationByName(ctx, "nope"+sfx)
			return err
		}},
		{"GroupsNeedLicence", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateGroup(ctx, uuid.Nil, codersdk.CreateGroupRequest{Name: "g" + sfx})
			return err
		}},
		{"GroupByNameNeedsLicence", func(ctx context.Context, c *codersdk.Client) error {
			o, err := c.OrganizationByName(ctx, codersdk.DefaultOrganization)
			if err != nil {
				return err
			}
			_, err = c.GroupByOrgAndName(ctx, o.ID, "g"+sfx)
			return err
		}},
		{"OIDCEnabled", func(ctx context.Context, c *codersdk.Client) error {
			m, err := c.AuthMethods(ctx)
			if err == nil && !m.OIDC.Enabled {
				return errors.New("oidc not enabled")
			}
			return err
		}},
		{"NoTemplateRBAC", func(ctx context.Context, c *codersdk.Client) error {
			e, err := c.Entitlements(ctx)
			if err == nil && e.Features[codersdk.FeatureTemplateRBAC].Enabled {
				return errors.New("template rbac enabled")
			}
			return err
		}},
		{"UnknownTemplateByName", func(ctx context.Context, c *codersdk.Client) error {
			o, err := c.OrganizationByName(ctx, codersdk.DefaultOrganization)
			if err != nil {
				return err
			}
			_, err = c.TemplateByName(ctx, o.ID, "nope"+sfx)
			return err
		}},
		{"UnknownWorkspaceByName", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.WorkspaceByOwnerAndName(ctx, "ada"+sfx, "nope", codersdk.WorkspaceOptions{})
			return err
		}},
		{"WorkspaceOfUnknownUser", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.WorkspaceByOwnerAndName(ctx, uuid.NewString(), "nope", codersdk.WorkspaceOptions{})
			return err
		}},
		{"CreateWorkspaceUnknownTemplate", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateUserWorkspace(ctx, "ada"+sfx, codersdk.CreateWorkspaceRequest{TemplateID: uuid.MustParse("11111111-2222-3333-4444-555555555555"), Name: "dev"})
			return err
		}},
		{"CreateWorkspaceBadName", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateUserWorkspace(ctx, "ada"+sfx, codersdk.CreateWorkspaceRequest{TemplateID: uuid.New(), Name: "bad name"})
			return err
		}},
		{"CreateWorkspaceNoTemplate", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateUserWorkspace(ctx, "ada"+sfx, codersdk.CreateWorkspaceRequest{Name: "dev"})
			return err
		}},
		{"BuildUnknownWorkspace", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.CreateWorkspaceBuild(ctx, uuid.New(), codersdk.CreateWorkspaceBuildRequest{Transition: codersdk.WorkspaceTransitionStop})
			return err
		}},
		{"ParametersOfUnknownBuild", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.WorkspaceBuildParameters(ctx, uuid.New())
			return err
		}},
		{"PresetsOfUnknownVersion", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.TemplateVersionPresets(ctx, uuid.New())
			return err
		}},
		{"RichParametersOfUnknownVersion", func(ctx context.Context, c *codersdk.Client) error {
			_, err := c.TemplateVersionRichParameters(ctx, uuid.New())
			return err
		}},
		{"BadToken", func(ctx context.Context, c *codersdk.Client) error {
			bad := codersdk.New(c.URL)
			bad.SetSessionToken("abcdefghij-abcdefghijabcdefghijab")
			_, err := bad.User(ctx, codersdk.Me)
			return err
		}},
	}
	for _, st := range steps {
		var got [2]answer
		for i, s := range servers {
			got[i] = answerOf(st.do(t.Context(), s.c))
		}
		if fmt.Sprint(got[0]) != fmt.Sprint(got[1]) {
			t.Errorf("%s: real coder answered %+v, the fake %+v", st.name, got[0], got[1])
		} else {
			t.Logf("%s: both answered %+v", st.name, got[0])
		}
	}
}
