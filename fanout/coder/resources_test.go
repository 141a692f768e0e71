package coder_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coder/coder/v2/codersdk"
	"github.com/google/uuid"

	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
	"github.com/scimbridge/scimbridge/formulas"
)

var (
	srcML   = formulas.Source{Formula: "ml-research", Version: "2.0.0", GroupID: "g1", Group: "ML"}
	srcData = formulas.Source{Formula: "data", Version: "1.0.0", GroupID: "g2", Group: "Data"}
)

// wsEnv is a fake Coder with two templates and one provisioned person.
type wsEnv struct {
	*env
	c     *coder.Connector
	u     fanout.User
	owner uuid.UUID
	ml    codersdk.Template // parameters gpu_type, storage_gb, region (immutable); preset "Large GPU"
	base  codersdk.Template // no parameters
}

func newWSEnv(t *testing.T) *wsEnv {
	t.Helper()
	e := &wsEnv{env: newEnv(t, coderfake.Options{OIDC: true})}
	e.c = e.open(t, coder.Config{})
	e.u = person("ada")
	e.u.RemoteID = mustEnsure(t, e.c, e.u).RemoteID
	e.owner = uuid.MustParse(e.u.RemoteID)
	var err error
	e.ml, err = e.f.AddTemplate(coderfake.TemplateSeed{
		Name: "ml-research",
		Parameters: []codersdk.TemplateVersionParameter{
			{Name: "gpu_type", Mutable: true, DefaultValue: "nvidia-a100", Options: []codersdk.TemplateVersionParameterOption{
				{Name: "A100", Value: "nvidia-a100"}, {Name: "H100", Value: "nvidia-h100"}}},
			{Name: "storage_gb", Type: "number", Mutable: true, DefaultValue: "500"},
			{Name: "region", Mutable: false, DefaultValue: "eu-west"},
		},
		Presets: []codersdk.Preset{{Name: "Large GPU", Parameters: []codersdk.PresetParameter{
			{Name: "gpu_type", Value: "nvidia-h100"}, {Name: "storage_gb", Value: "2000"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.base, err = e.f.AddTemplate(coderfake.TemplateSeed{Name: "base"}); err != nil {
		t.Fatal(err)
	}
	e.rec.take()
	return e
}

func ws(name, template string, params map[string]string, onRemove formulas.RemovePolicy, src formulas.Source) formulas.Workspace {
	return formulas.Workspace{Name: name, Template: template, Parameters: params,
		Origin: formulas.Origin{Source: src, OnRemove: onRemove}}
}

func coderRes(ws ...formulas.Workspace) formulas.Resources {
	return formulas.Resources{Coder: formulas.CoderResources{Workspaces: ws}}
}

func (e *wsEnv) ensure(t *testing.T, want, had formulas.Resources) formulas.Resources {
	t.Helper()
	got, err := e.c.EnsureResources(t.Context(), e.u, want, had)
	if err != nil {
		t.Fatalf("EnsureResources: %v", err)
	}
	return got
}

func (e *wsEnv) plan(t *testing.T, want, had formulas.Resources) []fanout.Change {
	t.Helper()
	got, err := e.c.PlanResources(t.Context(), e.u, want, had)
	if err != nil {
		t.Fatalf("PlanResources: %v", err)
	}
	return got
}

// workspace returns the owner's workspace and its latest build's
// parameters, failing when there is none.
func (e *wsEnv) workspace(t *testing.T, name string) (codersdk.Workspace, map[string]string) {
	t.Helper()
	w, params, ok := e.f.Workspace(e.owner, name)
	if !ok {
		t.Fatalf("no workspace %q", name)
	}
	return w, params
}

// writes returns the requests other than GET since the last take.
func (e *wsEnv) writes() []string {
	var out []string
	for _, r := range e.rec.take() {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r)
		}
	}
	return out
}

func names(res formulas.Resources) []string {
	var out []string
	for _, w := range res.Coder.Workspaces {
		out = append(out, w.Name)
	}
	return out
}

func wantNames(t *testing.T, res formulas.Resources, want ...string) {
	t.Helper()
	if got := names(res); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

func wantWrites(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("writes %v, want %v", got, want)
	}
}

func TestEnsureResources(t *testing.T) {
	t.Run("CreatesAtActiveVersion", func(t *testing.T) {
		e := newWSEnv(t)
		// A newer version is active; the workspace is built from it.
		v2, err := e.f.AddTemplateVersion(e.ml.ID, []codersdk.TemplateVersionParameter{
			{Name: "gpu_type", Mutable: true, DefaultValue: "nvidia-a100"},
			{Name: "storage_gb", Mutable: true, DefaultValue: "600"},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := coderRes(ws("ml-ada", "ml-research", map[string]string{"gpu_type": "nvidia-h100"}, formulas.OnRemoveDelete, srcML))
		got := e.ensure(t, want, formulas.Resources{})
		wantNames(t, got, "ml-ada")
		if got.Coder.Workspaces[0].Source != srcML || got.Coder.Workspaces[0].OnRemove != formulas.OnRemoveDelete {
			t.Errorf("applied %+v, want want's workspace as it is", got.Coder.Workspaces[0])
		}
		wantWrites(t, e.writes(), "POST /api/v2/users/"+e.u.RemoteID+"/workspaces")
		w, params := e.workspace(t, "ml-ada")
		if w.TemplateName != "ml-research" || w.OwnerID != e.owner || w.LatestBuild.TemplateVersionID != v2.ID ||
			w.LatestBuild.Transition != codersdk.WorkspaceTransitionStart {
			t.Errorf("workspace %s of %s, version %s, %s; want ml-research's active version %s, start",
				w.Name, w.TemplateName, w.LatestBuild.TemplateVersionID, w.LatestBuild.Transition, v2.ID)
		}
		if want := map[string]string{"gpu_type": "nvidia-h100", "storage_gb": "600"}; !maps.Equal(params, want) {
			t.Errorf("parameters %v, want %v", params, want)
		}
	})

	t.Run("IdempotentNoWrites", func(t *testing.T) {
		e := newWSEnv(t)
		want := coderRes(
			ws("ml-ada", "ml-research", map[string]string{"gpu_type": "nvidia-h100", "storage_gb": "500"}, "", srcML),
			ws("scratch", "base", nil, "", srcData),
		)
		applied := e.ensure(t, want, formulas.Resources{})
		e.rec.take()
		for range 2 {
			applied = e.ensure(t, want, applied)
			wantNames(t, applied, "ml-ada", "scratch")
			got := e.rec.take()
			if len(got) != 4 {
				t.Errorf("a converged pass cost %v, want two reads per workspace", got)
			}
			for _, r := range got {
				if !strings.HasPrefix(r, "GET ") {
					t.Errorf("a converged pass wrote %s", r)
				}
			}
		}
		if n := len(e.f.Workspaces(e.owner)); n != 2 {
			t.Errorf("%d workspaces, want 2", n)
		}
		if changes := e.plan(t, want, applied); len(changes) != 0 {
			t.Errorf("plan of a converged user: %+v", changes)
		}
	})

	t.Run("AdoptsExisting", func(t *testing.T) {
		e := newWSEnv(t)
		if _, err := e.f.AddWorkspace(e.owner, "ML-Ada", e.ml.ID, map[string]string{"gpu_type": "nvidia-h100", "storage_gb": "500", "region": "eu-west"}); err != nil {
			t.Fatal(err)
		}
		e.rec.take()
		want := coderRes(ws("ml-ada", "ml-research", map[string]string{"gpu_type": "nvidia-h100"}, "", srcML))
		wantNames(t, e.ensure(t, want, formulas.Resources{}), "ml-ada")
		wantWrites(t, e.writes())
		if n := len(e.f.Workspaces(e.owner)); n != 1 {
			t.Errorf("%d workspaces, want the one made by hand", n)
		}
	})

	t.Run("UpdatesParameters", func(t *testing.T) {
		e := newWSEnv(t)
		w1 := ws("ml-ada", "ml-research", map[string]string{"gpu_type": "nvidia-a100", "storage_gb": "500"}, "", srcML)
		applied := e.ensure(t, coderRes(w1), formulas.Resources{})
		e.rec.take()

		w2 := w1
		w2.Parameters = map[string]string{"gpu_type": "nvidia-h100", "storage_gb": "1000"}
		plan := e.plan(t, coderRes(w2), applied)
		wantWrites(t, e.writes())
		want := []fanout.Change{{Connector: "coder", Action: fanout.ActionUpdate, Kind: "workspace", Name: "ml-ada",
			Detail: `parameters gpu_type: "nvidia-a100" -> "nvidia-h100"; storage_gb: "500" -> "1000" (a new start build)`, Source: srcML.String()}}
		if !slices.Equal(plan, want) {
			t.Errorf("plan\n%+v\nwant\n%+v", plan, want)
		}
		w, _ := e.workspace(t, "ml-ada")
		applied = e.ensure(t, coderRes(w2), applied)
		wantWrites(t, e.writes(), "POST /api/v2/workspaces/"+w.ID.String()+"/builds")
		w, params := e.workspace(t, "ml-ada")
		if params["gpu_type"] != "nvidia-h100" || params["storage_gb"] != "1000" || params["region"] != "eu-west" ||
			w.LatestBuild.Transition != codersdk.WorkspaceTransitionStart || w.LatestBuild.BuildNumber != 2 {
			t.Errorf("after the update: build %d %s, parameters %v", w.LatestBuild.BuildNumber, w.LatestBuild.Transition, params)
		}
		e.ensure(t, coderRes(w2), applied)
		wantWrites(t, e.writes())
	})

	t.Run("UpdateKeepsStoppedWorkspaceStopped", func(t *testing.T) {
		e := newWSEnv(t)
		w1 := ws("ml-ada", "ml-research", nil, "", srcML)
		applied := e.ensure(t, coderRes(w1), formulas.Resources{})
		w, _ := e.workspace(t, "ml-ada")
		if _, err := e.adminClient(t).CreateWorkspaceBuild(t.Context(), w.ID, codersdk.CreateWorkspaceBuildRequest{Transition: codersdk.WorkspaceTransitionStop}); err != nil {
			t.Fatal(err)
		}
		e.rec.take()
		w1.Parameters = map[string]string{"storage_gb": "800"}
		if plan := e.plan(t, coderRes(w1), applied); len(plan) != 1 || !strings.Contains(plan[0].Detail, "stop build; the workspace stays stopped") {
			t.Errorf("plan %+v", plan)
		}
		e.ensure(t, coderRes(w1), applied)
		wantWrites(t, e.writes(), "POST /api/v2/workspaces/"+w.ID.String()+"/builds")
		w, params := e.workspace(t, "ml-ada")
		if w.LatestBuild.Transition != codersdk.WorkspaceTransitionStop || params["storage_gb"] != "800" {
			t.Errorf("latest build %s with %v, want a stop build with storage_gb 800", w.LatestBuild.Transition, params)
		}
	})

	t.Run("ImmutableParameterIsLeft", func(t *testing.T) {
		e := newWSEnv(t)
		w1 := ws("ml-ada", "ml-research", map[string]string{"region": "eu-west"}, "", srcML)
		applied := e.ensure(t, coderRes(w1), formulas.Resources{})
		e.rec.take()

		// Only the immutable one: said in the plan, nothing written, no error.
		w2 := w1
		w2.Parameters = map[string]string{"region": "us-east"}
		plan := e.plan(t, coderRes(w2), applied)
		want := []fanout.Change{{Connector: "coder", Action: fanout.ActionUpdate, Kind: "workspace", Name: "ml-ada",
			Detail: `immutable parameter region cannot change ("eu-west" -> "us-east"): recreate the workspace to apply`, Source: srcML.String()}}
		if !slices.Equal(plan, want) {
			t.Errorf("plan\n%+v\nwant\n%+v", plan, want)
		}
		applied, err := e.c.EnsureResources(t.Context(), e.u, coderRes(w2), applied)
		var ua *fanout.UnappliedError
		if !errors.As(err, &ua) || !strings.Contains(ua.Msg, `workspace ml-ada: immutable parameter region ("eu-west" -> "us-east") cannot change`) {
			t.Fatalf("EnsureResources with an immutable change: %v, want it reported as not applied", err)
		}
		wantNames(t, applied, "ml-ada")
		wantWrites(t, e.writes())

		// With a mutable one too: that one is applied, the other left.
		w2.Parameters = map[string]string{"region": "us-east", "gpu_type": "nvidia-h100"}
		plan = e.plan(t, coderRes(w2), applied)
		if len(plan) != 1 || !strings.Contains(plan[0].Detail, `gpu_type: "nvidia-a100" -> "nvidia-h100"`) || !strings.Contains(plan[0].Detail, "immutable parameter region cannot change") {
			t.Errorf("plan %+v", plan)
		}
		if _, err := e.c.EnsureResources(t.Context(), e.u, coderRes(w2), applied); !errors.As(err, &ua) {
			t.Fatalf("EnsureResources with a mutable and an immutable change: %v, want the immutable one reported", err)
		}
		if got := e.writes(); len(got) != 1 {
			t.Errorf("writes %v, want one build", got)
		}
		if _, params := e.workspace(t, "ml-ada"); params["region"] != "eu-west" || params["gpu_type"] != "nvidia-h100" {
			t.Errorf("parameters %v", params)
		}
	})

	t.Run("Preset", func(t *testing.T) {
		e := newWSEnv(t)
		w1 := ws("ml-ada", "ml-research", map[string]string{"storage_gb": "100"}, "", srcML)
		w1.Preset = "Large GPU"
		plan := e.plan(t, coderRes(w1), formulas.Resources{})
		if len(plan) != 1 || plan[0].Action != fanout.ActionCreate || plan[0].Detail != `from template ml-research, preset "Large GPU", parameters storage_gb=100` {
			t.Errorf("plan %+v", plan)
		}
		applied := e.ensure(t, coderRes(w1), formulas.Resources{})
		w, params := e.workspace(t, "ml-ada")
		presetID := e.f.Presets(e.ml.ActiveVersionID)[0].ID
		if w.LatestBuild.TemplateVersionPresetID == nil || *w.LatestBuild.TemplateVersionPresetID != presetID {
			t.Errorf("build preset %v, want %s", w.LatestBuild.TemplateVersionPresetID, presetID)
		}
		// The preset's values win, as in Coder, and are what is compared.
		if params["gpu_type"] != "nvidia-h100" || params["storage_gb"] != "2000" {
			t.Errorf("parameters %v, want the preset's", params)
		}
		e.rec.take()
		e.ensure(t, coderRes(w1), applied)
		wantWrites(t, e.writes())

		w1.Preset = "Tiny"
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(w1), applied)
		wantTerminal(t, err, `no preset "Tiny"`, `"Large GPU"`, srcML.String())
	})

	t.Run("OnRemove", func(t *testing.T) {
		for _, tc := range []struct {
			policy     formulas.RemovePolicy
			transition codersdk.WorkspaceTransition // of the latest build after; "" for gone
			detail     string
		}{
			{formulas.OnRemoveSuspend, codersdk.WorkspaceTransitionStop, "stop"},
			{"", codersdk.WorkspaceTransitionStop, "stop"},
			{formulas.OnRemoveDelete, "", "delete"},
			{formulas.OnRemoveKeep, codersdk.WorkspaceTransitionStart, ""},
		} {
			t.Run(fmt.Sprintf("Policy%q", tc.policy), func(t *testing.T) {
				e := newWSEnv(t)
				w1 := ws("ml-ada", "ml-research", nil, tc.policy, srcML)
				applied := e.ensure(t, coderRes(w1), formulas.Resources{})
				w, _ := e.workspace(t, "ml-ada")
				e.rec.take()

				plan := e.plan(t, formulas.Resources{}, applied)
				want := fanout.Change{Connector: "coder", Action: fanout.ActionRemove, Kind: "workspace", Name: "ml-ada", Detail: tc.detail, Source: srcML.String()}
				if tc.policy == formulas.OnRemoveKeep {
					want.Action, want.Detail = fanout.ActionKeep, "the workspace stays as it is (onRemove: keep)"
				}
				if !slices.Equal(plan, []fanout.Change{want}) {
					t.Errorf("plan %+v, want %+v", plan, want)
				}
				wantWrites(t, e.writes())

				got := e.ensure(t, formulas.Resources{}, applied)
				wantNames(t, got)
				if tc.policy == formulas.OnRemoveKeep {
					if r := e.rec.take(); len(r) != 0 {
						t.Errorf("keep cost %v, want nothing", r)
					}
				} else {
					wantWrites(t, e.writes(), "POST /api/v2/workspaces/"+w.ID.String()+"/builds")
				}
				after, _, ok := e.f.Workspace(e.owner, "ml-ada")
				switch {
				case tc.transition == "" && ok:
					t.Errorf("workspace still there (%s)", after.LatestBuild.Transition)
				case tc.transition != "" && (!ok || after.LatestBuild.Transition != tc.transition):
					t.Errorf("workspace %v %s, want %s", ok, after.LatestBuild.Transition, tc.transition)
				}
				// Told again (a status lost): stopped or gone already, so
				// nothing more is written.
				wantNames(t, e.ensure(t, formulas.Resources{}, applied))
				wantWrites(t, e.writes())
			})
		}
	})

	t.Run("AlsoFromStaysWhileOneGoes", func(t *testing.T) {
		e := newWSEnv(t)
		both := ws("ml-ada", "ml-research", nil, formulas.OnRemoveDelete, srcML)
		both.AlsoFrom = []formulas.Source{srcData}
		applied := e.ensure(t, coderRes(both), formulas.Resources{})
		e.rec.take()

		one := both
		one.AlsoFrom = nil
		if plan := e.plan(t, coderRes(one), applied); len(plan) != 0 {
			t.Errorf("plan %+v, want nothing: ml-research still asks for it", plan)
		}
		applied = e.ensure(t, coderRes(one), applied)
		wantNames(t, applied, "ml-ada")
		wantWrites(t, e.writes())
		if w, _ := e.workspace(t, "ml-ada"); w.LatestBuild.Transition != codersdk.WorkspaceTransitionStart {
			t.Errorf("workspace %s", w.LatestBuild.Transition)
		}

		wantNames(t, e.ensure(t, formulas.Resources{}, applied))
		if _, _, ok := e.f.Workspace(e.owner, "ml-ada"); ok {
			t.Error("the workspace stays after the last formula went (onRemove: delete)")
		}
	})

	t.Run("DeletedUserGetsPolicies", func(t *testing.T) {
		e := newWSEnv(t)
		applied := e.ensure(t, coderRes(ws("ml-ada", "ml-research", nil, formulas.OnRemoveSuspend, srcML)), formulas.Resources{})
		e.u.Deleted = true
		// The reconciler gives a deleted user no resources; even if want
		// had some, a deleted user gets none.
		got := e.ensure(t, applied, applied)
		wantNames(t, got)
		if w, _ := e.workspace(t, "ml-ada"); w.LatestBuild.Transition != codersdk.WorkspaceTransitionStop {
			t.Errorf("a deleted user's workspace is %s, want stopped", w.LatestBuild.Transition)
		}
	})

	t.Run("OtherWorkspacesUntouched", func(t *testing.T) {
		e := newWSEnv(t)
		// Someone else's workspace of the same name, and Ada's own one
		// that no formula made.
		bob := person("bob")
		bobID := uuid.MustParse(mustEnsure(t, e.c, bob).RemoteID)
		if _, err := e.f.AddWorkspace(bobID, "ml-ada", e.ml.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.f.AddWorkspace(e.owner, "mine", e.base.ID, nil); err != nil {
			t.Fatal(err)
		}
		applied := e.ensure(t, coderRes(ws("ml-ada", "ml-research", nil, formulas.OnRemoveDelete, srcML)), formulas.Resources{})
		e.ensure(t, formulas.Resources{}, applied)
		if n := len(e.f.Workspaces(bobID)); n != 1 {
			t.Errorf("bob has %d workspaces, want his own", n)
		}
		if _, _, ok := e.f.Workspace(e.owner, "mine"); !ok {
			t.Error("ada's own workspace went")
		}
	})
}

func (e *wsEnv) adminClient(t *testing.T) *codersdk.Client {
	t.Helper()
	u, err := url.Parse(e.f.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := codersdk.New(u)
	c.SetSessionToken(e.f.Token)
	return c
}

func TestEnsureResourcesErrors(t *testing.T) {
	t.Run("ErrTemplateMissing", func(t *testing.T) {
		e := newWSEnv(t)
		want := coderRes(
			ws("gpu-ada", "gpu", nil, "", srcData),
			ws("scratch", "base", nil, "", srcML),
		)
		_, perr := e.c.PlanResources(t.Context(), e.u, want, formulas.Resources{})
		wantTerminal(t, perr, `template "gpu" does not exist`, srcData.String(), `"gpu-ada"`)
		got, err := e.c.EnsureResources(t.Context(), e.u, want, formulas.Resources{})
		wantTerminal(t, err, `template "gpu" does not exist`, srcData.String())
		// The workspace of the other formula is made all the same.
		wantNames(t, got, "scratch")
		wantWrites(t, e.writes(), "POST /api/v2/users/"+e.u.RemoteID+"/workspaces")
	})

	t.Run("ErrUserAdminToken", func(t *testing.T) {
		// A User Admin may manage accounts but not create another
		// user's workspace; the refusal says which token is needed.
		// (The refusal is made by the transport: the fake does not
		// model Coder's workspace permissions.)
		e := newWSEnv(t)
		ua := e.f.AddUser(coderfake.Seed{Username: "ua", Email: "ua@example.com", Roles: []string{codersdk.RoleUserAdmin}})
		var logs strings.Builder
		c, err := coder.Open(coder.Config{URL: e.f.URL, Transport: refuseWorkspaces{}}, e.f.NewToken(ua.ID), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "formula workspaces need an Owner's token") {
			t.Errorf("Check logged %q, want a warning about the User Admin token", logs.String())
		}
		_, err = c.EnsureResources(t.Context(), e.u, coderRes(ws("scratch", "base", nil, "", srcML)), formulas.Resources{})
		wantTerminal(t, err, "creating workspaces for other users needs an Owner's token")
	})

	t.Run("ErrDeletedTemplate", func(t *testing.T) {
		e := newWSEnv(t)
		e.f.DeleteTemplate(e.base.ID)
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(ws("scratch", "base", nil, "", srcML)), formulas.Resources{})
		wantTerminal(t, err, `template "base" does not exist`)
	})

	t.Run("ErrOtherTemplate", func(t *testing.T) {
		e := newWSEnv(t)
		if _, err := e.f.AddWorkspace(e.owner, "ml-ada", e.base.ID, nil); err != nil {
			t.Fatal(err)
		}
		e.rec.take()
		want := coderRes(ws("ml-ada", "ml-research", nil, formulas.OnRemoveDelete, srcML))
		got, err := e.c.EnsureResources(t.Context(), e.u, want, formulas.Resources{})
		wantTerminal(t, err, `"base"`, `"ml-research"`, srcML.String(), "never replaced")
		wantNames(t, got) // not adopted: no removal will ever touch it
		wantWrites(t, e.writes())
		if w, _ := e.workspace(t, "ml-ada"); w.TemplateName != "base" {
			t.Errorf("template %s", w.TemplateName)
		}
	})

	t.Run("ErrUnknownParameter", func(t *testing.T) {
		e := newWSEnv(t)
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(ws("ml-ada", "ml-research", map[string]string{"gpu": "h100"}, "", srcML)), formulas.Resources{})
		wantTerminal(t, err, `no parameter "gpu"`, srcML.String())
		wantWrites(t, e.writes())
	})

	t.Run("ErrNotAnOption", func(t *testing.T) {
		e := newWSEnv(t)
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(ws("ml-ada", "ml-research", map[string]string{"gpu_type": "tpu"}, "", srcML)), formulas.Resources{})
		wantTerminal(t, err, `takes one of nvidia-a100, nvidia-h100, not "tpu"`)
		wantWrites(t, e.writes())
	})

	t.Run("ErrRequiredParameter", func(t *testing.T) {
		e := newWSEnv(t)
		if _, err := e.f.AddTemplate(coderfake.TemplateSeed{Name: "needs-repo", Parameters: []codersdk.TemplateVersionParameter{{Name: "repo", Required: true}}}); err != nil {
			t.Fatal(err)
		}
		e.rec.take()
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(ws("dev", "needs-repo", nil, "", srcML)), formulas.Resources{})
		wantTerminal(t, err, `requires parameter "repo"`, srcML.String())
		wantWrites(t, e.writes())
	})

	t.Run("ErrRefusedByCoderNamesFormula", func(t *testing.T) {
		e := newWSEnv(t)
		// A template Coder refuses new workspaces of, a refusal the
		// connector cannot foresee: Coder's answer, with the formula.
		if _, err := e.f.AddTemplate(coderfake.TemplateSeed{Name: "old", Deprecated: true}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(ws("dev", "old", nil, "", srcML)), formulas.Resources{})
		wantTerminal(t, err, "deprecated", srcML.String(), `"dev"`)
	})

	t.Run("ErrNoAccount", func(t *testing.T) {
		e := newWSEnv(t)
		u := person("nobody")
		had := coderRes(ws("x", "base", nil, "", srcML))
		got, err := e.c.EnsureResources(t.Context(), u, coderRes(ws("y", "base", nil, "", srcML)), had)
		wantTerminal(t, err, "no coder account")
		wantNames(t, got, "x")
	})
}

// lossy forwards requests and, for the one it is told to, throws the
// answer away: the write is made, and the connector never learns it.
type lossy struct {
	next http.RoundTripper
	mu   sync.Mutex
	lose func(r *http.Request) bool
}

func (l *lossy) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	l.mu.Lock()
	lose := l.lose != nil && l.lose(r)
	if lose {
		l.lose = nil
	}
	l.mu.Unlock()
	if err == nil && lose {
		_ = resp.Body.Close()
		return nil, errors.New("connection reset by peer (test)")
	}
	return resp, err
}

func TestEnsureResourcesFaults(t *testing.T) {
	t.Run("FaultMidwayConverges", func(t *testing.T) {
		e := newWSEnv(t)
		want := coderRes(
			ws("one", "base", nil, "", srcML),
			ws("two", "base", nil, "", srcML),
			ws("three", "base", nil, "", srcML),
		)
		posts := 0
		e.rec.before = func(r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/workspaces") {
				if posts++; posts == 2 {
					e.f.Fail(1, http.StatusBadGateway, "")
				}
			}
		}
		got, err := e.c.EnsureResources(t.Context(), e.u, want, formulas.Resources{})
		if err == nil || fanout.IsTerminal(err) {
			t.Fatalf("err = %v, want a 502 that is retried", err)
		}
		// "two" may exist (its creation was sent), so it is listed.
		wantNames(t, got, "one", "two", "three")
		if n := len(e.f.Workspaces(e.owner)); n != 2 {
			t.Fatalf("%d workspaces after the fault, want 2", n)
		}
		e.rec.before = nil
		got = e.ensure(t, want, got)
		wantNames(t, got, "one", "two", "three")
		if n := len(e.f.Workspaces(e.owner)); n != 3 {
			t.Errorf("%d workspaces, want 3 and no duplicate", n)
		}
	})

	t.Run("LostAnswerNoDuplicate", func(t *testing.T) {
		f := coderfake.Start(t, coderfake.Options{OIDC: true})
		tr := &lossy{next: http.DefaultTransport}
		c, err := coder.Open(coder.Config{URL: f.URL, Transport: tr}, f.Token, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := person("ada")
		u.RemoteID = mustEnsure(t, c, u).RemoteID
		if _, err := f.AddTemplate(coderfake.TemplateSeed{Name: "base"}); err != nil {
			t.Fatal(err)
		}
		tr.lose = func(r *http.Request) bool { return r.Method == http.MethodPost }
		want := coderRes(ws("dev", "base", nil, formulas.OnRemoveDelete, srcML))
		got, err := c.EnsureResources(t.Context(), u, want, formulas.Resources{})
		if err == nil || fanout.IsTerminal(err) {
			t.Fatalf("err = %v, want a network error that is retried", err)
		}
		wantNames(t, got, "dev") // made, though unconfirmed: removable later
		if got, err = c.EnsureResources(t.Context(), u, want, got); err != nil {
			t.Fatal(err)
		}
		if n := len(f.Workspaces(uuid.MustParse(u.RemoteID))); n != 1 {
			t.Errorf("%d workspaces, want 1", n)
		}
		if _, err := c.EnsureResources(t.Context(), u, formulas.Resources{}, got); err != nil {
			t.Fatal(err)
		}
		if n := len(f.Workspaces(uuid.MustParse(u.RemoteID))); n != 0 {
			t.Errorf("%d workspaces after removal, want 0", n)
		}
	})

	t.Run("RetryAfter", func(t *testing.T) {
		e := newWSEnv(t)
		e.f.Fail(1, http.StatusTooManyRequests, "7")
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(ws("dev", "base", nil, "", srcML)), formulas.Resources{})
		var ra *fanout.RetryAfterError
		if !errors.As(err, &ra) || ra.After.Seconds() < 7 {
			t.Fatalf("err = %v, want a RetryAfterError of 7s", err)
		}
	})

	t.Run("RetryAndTerminalTogetherRetry", func(t *testing.T) {
		e := newWSEnv(t)
		want := coderRes(ws("a", "missing", nil, "", srcML), ws("b", "base", nil, "", srcML))
		e.rec.before = func(r *http.Request) {
			if r.Method == http.MethodPost {
				e.f.Fail(1, http.StatusServiceUnavailable, "")
			}
		}
		_, err := e.c.EnsureResources(t.Context(), e.u, want, formulas.Resources{})
		if err == nil || fanout.IsTerminal(err) || !strings.Contains(err.Error(), `template "missing"`) {
			t.Fatalf("err = %v, want both problems, retried", err)
		}
	})

	t.Run("BuildInProgressWaits", func(t *testing.T) {
		e := newWSEnv(t)
		e.f.HoldBuilds(true) // as a Coder without provisioner daemons
		w1 := ws("ml-ada", "ml-research", nil, formulas.OnRemoveSuspend, srcML)
		applied := e.ensure(t, coderRes(w1), formulas.Resources{})
		e.rec.take()
		w1.Parameters = map[string]string{"storage_gb": "900"}
		plan := e.plan(t, coderRes(w1), applied)
		if len(plan) != 1 || !strings.HasSuffix(plan[0].Detail, "(once the build in progress ends)") {
			t.Errorf("plan %+v", plan)
		}
		got, err := e.c.EnsureResources(t.Context(), e.u, coderRes(w1), applied)
		if err == nil || fanout.IsTerminal(err) || !strings.Contains(err.Error(), "build in progress") {
			t.Fatalf("err = %v, want a build in progress, retried", err)
		}
		wantNames(t, got, "ml-ada")
		wantWrites(t, e.writes())

		// A removal waits too.
		if _, err := e.c.EnsureResources(t.Context(), e.u, formulas.Resources{}, applied); err == nil || fanout.IsTerminal(err) {
			t.Fatalf("err = %v, want a retried error", err)
		}
		wantWrites(t, e.writes())

		e.f.CompleteBuilds()
		e.ensure(t, coderRes(w1), got)
		if _, params := e.workspace(t, "ml-ada"); params["storage_gb"] != "900" {
			t.Errorf("parameters %v", params)
		}
	})

	t.Run("BuildStartedMeanwhileRetried", func(t *testing.T) {
		e := newWSEnv(t)
		w1 := ws("ml-ada", "ml-research", nil, "", srcML)
		applied := e.ensure(t, coderRes(w1), formulas.Resources{})
		w, _ := e.workspace(t, "ml-ada")
		admin := e.adminClient(t)
		e.rec.before = func(r *http.Request) {
			if r.Method == http.MethodPost {
				// Between the read and the write, the owner starts a
				// build that is still running.
				e.f.HoldBuilds(true)
				if _, err := admin.CreateWorkspaceBuild(r.Context(), w.ID, codersdk.CreateWorkspaceBuildRequest{Transition: codersdk.WorkspaceTransitionStart}); err != nil {
					t.Error(err)
				}
			}
		}
		w1.Parameters = map[string]string{"storage_gb": "900"}
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(w1), applied)
		if err == nil || fanout.IsTerminal(err) || !strings.Contains(err.Error(), "already active") {
			t.Fatalf("err = %v, want Coder's 409, retried", err)
		}
	})

	t.Run("ConcurrentCreationAdopted", func(t *testing.T) {
		e := newWSEnv(t)
		e.rec.before = func(r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/workspaces") {
				if _, err := e.f.AddWorkspace(e.owner, "dev", e.base.ID, nil); err != nil {
					t.Error(err)
				}
			}
		}
		got := e.ensure(t, coderRes(ws("dev", "base", nil, "", srcML)), formulas.Resources{})
		wantNames(t, got, "dev")
		wantWrites(t, e.writes(), "POST /api/v2/users/"+e.u.RemoteID+"/workspaces")
		if n := len(e.f.Workspaces(e.owner)); n != 1 {
			t.Errorf("%d workspaces, want 1", n)
		}
	})

	t.Run("RecreatedAfterDeletion", func(t *testing.T) {
		e := newWSEnv(t)
		w1 := ws("dev", "base", nil, formulas.OnRemoveDelete, srcML)
		applied := e.ensure(t, coderRes(w1), formulas.Resources{})
		e.f.HoldBuilds(true)
		e.ensure(t, formulas.Resources{}, applied) // a delete build, pending
		_, err := e.c.EnsureResources(t.Context(), e.u, coderRes(w1), formulas.Resources{})
		if err == nil || fanout.IsTerminal(err) || !strings.Contains(err.Error(), "being deleted") {
			t.Fatalf("err = %v, want a retried error", err)
		}
		e.f.CompleteBuilds()
		e.f.HoldBuilds(false)
		e.ensure(t, coderRes(w1), formulas.Resources{})
		if w, _ := e.workspace(t, "dev"); w.LatestBuild.BuildNumber != 1 {
			t.Errorf("build %d, want a new workspace", w.LatestBuild.BuildNumber)
		}
	})
}

// TestPlanBeforeApply checks that a plan lists exactly what
// EnsureResources then does, and that planning writes nothing.
func TestPlanBeforeApply(t *testing.T) {
	e := newWSEnv(t)
	keepW := ws("keep-me", "base", nil, formulas.OnRemoveKeep, srcData)
	stopW := ws("stop-me", "base", nil, formulas.OnRemoveSuspend, srcData)
	delW := ws("delete-me", "base", nil, formulas.OnRemoveDelete, srcData)
	upd := ws("ml-ada", "ml-research", map[string]string{"storage_gb": "500"}, "", srcML)
	same := ws("same", "base", nil, "", srcML)
	applied := e.ensure(t, coderRes(keepW, stopW, delW, upd, same), formulas.Resources{})
	e.rec.take()
	before := len(e.f.Requests())

	upd.Parameters = map[string]string{"storage_gb": "750"}
	neu := ws("new-one", "base", nil, "", srcML)
	want := coderRes(upd, same, neu)
	plan := e.plan(t, want, applied)
	for _, r := range e.f.Requests()[before:] {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("planning wrote %s", r)
		}
	}
	wantPlan := []fanout.Change{
		{Connector: "coder", Action: fanout.ActionUpdate, Kind: "workspace", Name: "ml-ada", Detail: `parameters storage_gb: "500" -> "750" (a new start build)`, Source: srcML.String()},
		{Connector: "coder", Action: fanout.ActionCreate, Kind: "workspace", Name: "new-one", Detail: "from template base", Source: srcML.String()},
		{Connector: "coder", Action: fanout.ActionKeep, Kind: "workspace", Name: "keep-me", Detail: "the workspace stays as it is (onRemove: keep)", Source: srcData.String()},
		{Connector: "coder", Action: fanout.ActionRemove, Kind: "workspace", Name: "stop-me", Detail: "stop", Source: srcData.String()},
		{Connector: "coder", Action: fanout.ActionRemove, Kind: "workspace", Name: "delete-me", Detail: "delete", Source: srcData.String()},
	}
	if !slices.Equal(plan, wantPlan) {
		t.Fatalf("plan\n%+v\nwant\n%+v", plan, wantPlan)
	}

	ids := map[string]string{}
	for _, n := range []string{"ml-ada", "stop-me", "delete-me"} {
		w, _ := e.workspace(t, n)
		ids[n] = w.ID.String()
	}
	got := e.ensure(t, want, applied)
	wantNames(t, got, "ml-ada", "same", "new-one")
	wantWrites(t, e.writes(),
		"POST /api/v2/workspaces/"+ids["ml-ada"]+"/builds",
		"POST /api/v2/users/"+e.u.RemoteID+"/workspaces",
		"POST /api/v2/workspaces/"+ids["stop-me"]+"/builds",
		"POST /api/v2/workspaces/"+ids["delete-me"]+"/builds",
	)
	if _, _, ok := e.f.Workspace(e.owner, "keep-me"); !ok {
		t.Error("keep-me went")
	}
	if changes := e.plan(t, want, got); len(changes) != 0 {
		t.Errorf("plan after apply: %+v", changes)
	}
}

func TestPlanResourcesWithoutAccount(t *testing.T) {
	e := newWSEnv(t)
	u := person("newcomer") // no account yet: everything is to create
	plan, err := e.c.PlanResources(t.Context(), u, coderRes(ws("dev", "ml-research", map[string]string{"gpu_type": "nvidia-h100"}, "", srcML)), formulas.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	want := []fanout.Change{{Connector: "coder", Action: fanout.ActionCreate, Kind: "workspace", Name: "dev",
		Detail: "from template ml-research, parameters gpu_type=nvidia-h100", Source: srcML.String()}}
	if !slices.Equal(plan, want) {
		t.Errorf("plan %+v, want %+v", plan, want)
	}
	wantWrites(t, e.writes())
}

// refuseWorkspaces answers a workspace creation with a 403 in Coder's
// error shape and passes every other request on.
type refuseWorkspaces struct{}

func (refuseWorkspaces) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/workspaces") {
		return http.DefaultTransport.RoundTrip(r)
	}
	body, _ := json.Marshal(codersdk.Response{Message: "Forbidden."})
	return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Request: r,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body))}, nil
}
