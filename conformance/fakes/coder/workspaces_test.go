package coderfake_test

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"

	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
)

// wsFixture is a fake with a template of three parameters and a preset,
// and a member to own workspaces.
type wsFixture struct {
	f     *coderfake.Fake
	admin *codersdk.Client
	tmpl  codersdk.Template
	owner codersdk.User
}

func newWSFixture(t *testing.T) *wsFixture {
	t.Helper()
	f := coderfake.Start(t, coderfake.Options{OIDC: true})
	tmpl, err := f.AddTemplate(coderfake.TemplateSeed{
		Name: "ML-Research",
		Parameters: []codersdk.TemplateVersionParameter{
			{Name: "gpu", Mutable: true, DefaultValue: "a100", Options: []codersdk.TemplateVersionParameterOption{{Name: "A", Value: "a100"}, {Name: "H", Value: "h100"}}},
			{Name: "region", DefaultValue: "eu"},
			{Name: "repo", Mutable: true, Required: true},
		},
		Presets: []codersdk.Preset{{Name: "big", Parameters: []codersdk.PresetParameter{{Name: "gpu", Value: "h100"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	owner := f.AddUser(coderfake.Seed{Username: "ada", Email: "ada@example.com", LoginType: codersdk.LoginTypeOIDC})
	return &wsFixture{f: f, admin: client(t, f, f.Token), tmpl: tmpl, owner: owner}
}

func (x *wsFixture) create(t *testing.T, name string, params map[string]string) (codersdk.Workspace, error) {
	t.Helper()
	req := codersdk.CreateWorkspaceRequest{TemplateID: x.tmpl.ID, Name: name}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		req.RichParameterValues = append(req.RichParameterValues, codersdk.WorkspaceBuildParameter{Name: k, Value: params[k]})
	}
	return x.admin.CreateUserWorkspace(t.Context(), x.owner.ID.String(), req)
}

func validationFields(ce *codersdk.Error) []string {
	var out []string
	for _, v := range ce.Validations {
		out = append(out, v.Field)
	}
	return out
}

func TestWorkspaces(t *testing.T) {
	t.Run("TemplateByNameIgnoresCase", func(t *testing.T) {
		x := newWSFixture(t)
		got, err := x.admin.TemplateByName(t.Context(), x.f.DefaultOrganization().ID, "ml-research")
		if err != nil || got.ID != x.tmpl.ID {
			t.Fatalf("got %v, %v", got.ID, err)
		}
		_, err = x.admin.TemplateByName(t.Context(), x.f.DefaultOrganization().ID, "nope")
		wantErr(t, err, http.StatusNotFound, "Resource not found")
		x.f.DeleteTemplate(x.tmpl.ID)
		_, err = x.admin.TemplateByName(t.Context(), x.f.DefaultOrganization().ID, "ML-Research")
		wantErr(t, err, http.StatusNotFound, "Resource not found")
	})

	t.Run("CreateResolvesParameters", func(t *testing.T) {
		x := newWSFixture(t)
		w, err := x.create(t, "dev", map[string]string{"repo": "r", "unknown": "dropped"})
		if err != nil {
			t.Fatal(err)
		}
		if w.LatestBuild.Transition != codersdk.WorkspaceTransitionStart || w.LatestBuild.Status != codersdk.WorkspaceStatusRunning ||
			w.LatestBuild.TemplateVersionID != x.tmpl.ActiveVersionID || w.OwnerName != "ada" || w.TemplateName != "ML-Research" {
			t.Errorf("workspace %+v", w)
		}
		params, err := x.admin.WorkspaceBuildParameters(t.Context(), w.LatestBuild.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []codersdk.WorkspaceBuildParameter{{Name: "gpu", Value: "a100"}, {Name: "region", Value: "eu"}, {Name: "repo", Value: "r"}}
		if !slices.Equal(params, want) {
			t.Errorf("parameters %v, want %v (defaults filled, unknown dropped)", params, want)
		}
	})

	t.Run("ErrCreate", func(t *testing.T) {
		x := newWSFixture(t)
		_, err := x.create(t, "dev", nil)
		ce := wantErr(t, err, http.StatusBadRequest, "Unable to validate parameters")
		if f := validationFields(ce); !slices.Equal(f, []string{"repo"}) || ce.Validations[0].Detail != "Required parameter not provided; parameter value is null" {
			t.Errorf("validations %+v", ce.Validations)
		}
		_, err = x.create(t, "dev", map[string]string{"repo": "r", "gpu": "tpu"})
		ce = wantErr(t, err, http.StatusBadRequest, "Unable to validate parameters")
		if f := validationFields(ce); !slices.Equal(f, []string{"gpu"}) {
			t.Errorf("validations %+v", ce.Validations)
		}
		_, err = x.create(t, "bad name", map[string]string{"repo": "r"})
		ce = wantErr(t, err, http.StatusBadRequest, "Validation failed.")
		if f := validationFields(ce); !slices.Equal(f, []string{"name"}) {
			t.Errorf("validations %+v", ce.Validations)
		}
		_, err = x.admin.CreateUserWorkspace(t.Context(), x.owner.ID.String(), codersdk.CreateWorkspaceRequest{TemplateID: uuid.New(), Name: "dev"})
		ce = wantErr(t, err, http.StatusBadRequest, "doesn't exist.")
		if f := validationFields(ce); !slices.Equal(f, []string{"template_id"}) {
			t.Errorf("validations %+v", ce.Validations)
		}
		if _, err := x.create(t, "dev", map[string]string{"repo": "r"}); err != nil {
			t.Fatal(err)
		}
		_, err = x.create(t, "DEV", map[string]string{"repo": "r"})
		ce = wantErr(t, err, http.StatusConflict, `Workspace "DEV" already exists.`)
		if f := validationFields(ce); !slices.Equal(f, []string{"name"}) {
			t.Errorf("validations %+v", ce.Validations)
		}
		x.f.DeleteTemplate(x.tmpl.ID)
		_, err = x.create(t, "other", map[string]string{"repo": "r"})
		wantErr(t, err, http.StatusNotFound, "has been deleted!")
	})

	t.Run("OnlyOwnersManageOthersWorkspaces", func(t *testing.T) {
		x := newWSFixture(t)
		ua := x.f.AddUser(coderfake.Seed{Username: "ua", Email: "ua@example.com", Roles: []string{codersdk.RoleUserAdmin}})
		c := client(t, x.f, x.f.NewToken(ua.ID))
		_, err := c.CreateUserWorkspace(t.Context(), x.owner.ID.String(), codersdk.CreateWorkspaceRequest{TemplateID: x.tmpl.ID, Name: "dev"})
		wantErr(t, err, http.StatusForbidden, "Unauthorized to create workspace.")
		if _, err := x.create(t, "dev", map[string]string{"repo": "r"}); err != nil {
			t.Fatal(err)
		}
		_, err = c.WorkspaceByOwnerAndName(t.Context(), x.owner.ID.String(), "dev", codersdk.WorkspaceOptions{})
		wantErr(t, err, http.StatusNotFound, "Resource not found")
		// The owner sees their own.
		own := client(t, x.f, x.f.NewToken(x.owner.ID))
		if _, err := own.WorkspaceByOwnerAndName(t.Context(), codersdk.Me, "DEV", codersdk.WorkspaceOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Builds", func(t *testing.T) {
		x := newWSFixture(t)
		w, err := x.create(t, "dev", map[string]string{"repo": "r"})
		if err != nil {
			t.Fatal(err)
		}
		build := func(tr codersdk.WorkspaceTransition, params map[string]string) (codersdk.WorkspaceBuild, error) {
			req := codersdk.CreateWorkspaceBuildRequest{Transition: tr}
			for _, k := range slices.Sorted(maps.Keys(params)) {
				req.RichParameterValues = append(req.RichParameterValues, codersdk.WorkspaceBuildParameter{Name: k, Value: params[k]})
			}
			return x.admin.CreateWorkspaceBuild(t.Context(), w.ID, req)
		}
		// An immutable parameter cannot change; a mutable one can.
		_, err = build(codersdk.WorkspaceTransitionStart, map[string]string{"region": "us"})
		ce := wantErr(t, err, http.StatusBadRequest, "Unable to validate parameters")
		if f := validationFields(ce); !slices.Equal(f, []string{"region"}) {
			t.Errorf("validations %+v", ce.Validations)
		}
		b, err := build(codersdk.WorkspaceTransitionStop, map[string]string{"gpu": "h100"})
		if err != nil {
			t.Fatal(err)
		}
		if b.BuildNumber != 2 || b.Status != codersdk.WorkspaceStatusStopped {
			t.Errorf("build %d %s", b.BuildNumber, b.Status)
		}
		_, params, _ := x.f.Workspace(x.owner.ID, "dev")
		if want := map[string]string{"gpu": "h100", "region": "eu", "repo": "r"}; !maps.Equal(params, want) {
			t.Errorf("parameters %v, want %v (previous values kept)", params, want)
		}
		// A preset's values win over the request's.
		preset := x.f.Presets(x.tmpl.ActiveVersionID)[0]
		b, err = x.admin.CreateWorkspaceBuild(t.Context(), w.ID, codersdk.CreateWorkspaceBuildRequest{Transition: codersdk.WorkspaceTransitionStart,
			TemplateVersionPresetID: preset.ID, RichParameterValues: []codersdk.WorkspaceBuildParameter{{Name: "gpu", Value: "a100"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, params, _ := x.f.Workspace(x.owner.ID, "dev"); params["gpu"] != "h100" || b.TemplateVersionPresetID == nil || *b.TemplateVersionPresetID != preset.ID {
			t.Errorf("parameters %v, preset %v", params, b.TemplateVersionPresetID)
		}
		// One build at a time.
		x.f.HoldBuilds(true)
		b, err = build(codersdk.WorkspaceTransitionStop, nil)
		if err != nil || b.Status != codersdk.WorkspaceStatusPending {
			t.Fatalf("build %s, %v", b.Status, err)
		}
		_, err = build(codersdk.WorkspaceTransitionStart, nil)
		wantErr(t, err, http.StatusConflict, "A workspace build is already active.")
		x.f.CompleteBuilds()
		x.f.HoldBuilds(false)
		_, err = build("restart", nil)
		wantErr(t, err, http.StatusBadRequest, "Validation failed.")

		// A delete build deletes; the name is free again.
		if _, err := build(codersdk.WorkspaceTransitionDelete, nil); err != nil {
			t.Fatal(err)
		}
		_, err = x.admin.WorkspaceByOwnerAndName(t.Context(), x.owner.ID.String(), "dev", codersdk.WorkspaceOptions{})
		wantErr(t, err, http.StatusNotFound, "Resource not found")
		gone, err := x.admin.WorkspaceByOwnerAndName(t.Context(), x.owner.ID.String(), "dev", codersdk.WorkspaceOptions{IncludeDeleted: true})
		if err != nil || gone.ID != w.ID || gone.LatestBuild.Status != codersdk.WorkspaceStatusDeleted {
			t.Errorf("deleted workspace %v %s, %v", gone.ID, gone.LatestBuild.Status, err)
		}
		_, err = build(codersdk.WorkspaceTransitionStart, nil)
		wantErr(t, err, http.StatusConflict, "Cannot start a deleted workspace!")
		if _, err := x.create(t, "dev", map[string]string{"repo": "r"}); err != nil {
			t.Fatalf("the name of a deleted workspace is free: %v", err)
		}
		if n := len(x.f.Builds(w.ID)); n != 5 {
			t.Errorf("%d builds of the deleted workspace, want 5", n)
		}
	})

	t.Run("VersionRoutes", func(t *testing.T) {
		x := newWSFixture(t)
		params, err := x.admin.TemplateVersionRichParameters(t.Context(), x.tmpl.ActiveVersionID)
		if err != nil || len(params) != 3 || params[2].Name != "repo" || !params[2].Required || params[1].Mutable {
			t.Errorf("parameters %+v, %v", params, err)
		}
		presets, err := x.admin.TemplateVersionPresets(t.Context(), x.tmpl.ActiveVersionID)
		if err != nil || len(presets) != 1 || presets[0].Name != "big" || presets[0].ID == uuid.Nil {
			t.Errorf("presets %+v, %v", presets, err)
		}
		_, err = x.admin.TemplateVersionPresets(t.Context(), uuid.New())
		wantErr(t, err, http.StatusNotFound, "Resource not found")
	})
}
