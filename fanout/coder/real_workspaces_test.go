package coder_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"
	"github.com/coder/coder/v2/provisionersdk/proto"
	protobuf "google.golang.org/protobuf/proto"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
	"github.com/scimbridge/scimbridge/formulas"
)

// echoProvisioner runs Coder's built-in echo provisioner, which builds a
// workspace by replaying the answers packed in its template, so that
// templates can be imported and workspaces built without Terraform.
var echoProvisioner = []string{"CODER_PROVISIONER_DAEMONS=1", "CODER_PROVISIONER_TYPES=echo"}

func (s *realServer) adminClient(t *testing.T) *codersdk.Client {
	t.Helper()
	u, err := url.Parse(s.coder.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := codersdk.New(u)
	c.SetSessionToken(s.coder.SessionToken)
	return c
}

// pushTemplate imports an echo template with rich parameters and presets
// into the default organization and waits for its import.
func (s *realServer) pushTemplate(t *testing.T, name string, params []*proto.RichParameter, presets []*proto.Preset) codersdk.Template {
	t.Helper()
	ctx := t.Context()
	api := s.adminClient(t)
	file, err := api.Upload(ctx, codersdk.ContentTypeTar, bytes.NewReader(echoTar(t, params, presets)))
	if err != nil {
		t.Fatal(err)
	}
	org, err := api.OrganizationByName(ctx, codersdk.DefaultOrganization)
	if err != nil {
		t.Fatal(err)
	}
	v, err := api.CreateTemplateVersion(ctx, org.ID, codersdk.CreateTemplateVersionRequest{
		StorageMethod: codersdk.ProvisionerStorageMethodFile, FileID: file.ID, Provisioner: codersdk.ProvisionerTypeEcho,
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "template import", func() bool {
		v, err = api.TemplateVersion(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Job.Status == codersdk.ProvisionerJobFailed {
			t.Fatalf("template import failed: %s", v.Job.Error)
		}
		return v.Job.Status == codersdk.ProvisionerJobSucceeded
	})
	// The classic parameter flow: the dynamic one reads parameters from
	// the template's Terraform files, which an echo template has none of
	// (every value would be dropped).
	classic := true
	tmpl, err := api.CreateTemplate(ctx, org.ID, codersdk.CreateTemplateRequest{Name: name, VersionID: v.ID, UseClassicParameterFlow: &classic})
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// echoTar packs the echo provisioner's answers: every stage succeeds, and
// the graph stage gives the parameters and presets. The format is that of
// provisioner/echo (serve.go: TarWithOptions): one file per answer,
// "<index>.<stage>.protobuf", holding a proto.Response.
func echoTar(t *testing.T, params []*proto.RichParameter, presets []*proto.Preset) []byte {
	t.Helper()
	answers := []struct {
		stage string
		resp  *proto.Response
	}{
		{"parse", &proto.Response{Type: &proto.Response_Parse{Parse: &proto.ParseComplete{}}}},
		{"init", &proto.Response{Type: &proto.Response_Init{Init: &proto.InitComplete{}}}},
		{"plan", &proto.Response{Type: &proto.Response_Plan{Plan: &proto.PlanComplete{Plan: []byte("{}")}}}},
		{"apply", &proto.Response{Type: &proto.Response_Apply{Apply: &proto.ApplyComplete{}}}},
		{"graph", &proto.Response{Type: &proto.Response_Graph{Graph: &proto.GraphComplete{Parameters: params, Presets: presets}}}},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, a := range answers {
		data, err := protobuf.Marshal(a.resp)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: "0." + a.stage + ".protobuf", Size: int64(len(data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not finish within a minute", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// realWorkspace reads a workspace and its latest build's parameters,
// once its latest build has ended; ok is false when there is none.
func (s *realServer) realWorkspace(t *testing.T, owner, name string) (ws codersdk.Workspace, params map[string]string, ok bool) {
	t.Helper()
	api := s.adminClient(t)
	waitFor(t, "the build of "+name, func() bool {
		var err error
		ws, err = api.WorkspaceByOwnerAndName(t.Context(), owner, name, codersdk.WorkspaceOptions{})
		var ce *codersdk.Error
		if errors.As(err, &ce) && ce.StatusCode() == http.StatusNotFound {
			ok = false
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		ok = true
		return !ws.LatestBuild.Job.Status.Active()
	})
	if ok && ws.LatestBuild.Transition == codersdk.WorkspaceTransitionDelete && ws.LatestBuild.Job.Status == codersdk.ProvisionerJobSucceeded {
		ok = false // deleted: its row is marked a moment after its build ends
	}
	if !ok {
		return ws, nil, false
	}
	if ws.LatestBuild.Job.Status != codersdk.ProvisionerJobSucceeded {
		t.Fatalf("build %d of %s: %s %s", ws.LatestBuild.BuildNumber, name, ws.LatestBuild.Job.Status, ws.LatestBuild.Job.Error)
	}
	bp, err := api.WorkspaceBuildParameters(t.Context(), ws.LatestBuild.ID)
	if err != nil {
		t.Fatal(err)
	}
	params = map[string]string{}
	for _, p := range bp {
		params[p.Name] = p.Value
	}
	return ws, params, true
}

// workspaces gives a person formula workspaces in a real Coder v2.36.1
// whose builds run on the echo provisioner: creation with parameters and
// a preset, no writes once converged, a parameter update with an
// immutable one left, the onRemove policies, and the errors found before
// writing.
func (s *realServer) workspaces(t *testing.T) {
	sfx := strings.ToLower(randomSuffix())
	ml := s.pushTemplate(t, "ml-"+sfx, []*proto.RichParameter{
		{Name: "gpu_type", Type: "string", Mutable: true, DefaultValue: "nvidia-a100", FormType: proto.ParameterFormType_DROPDOWN,
			Options: []*proto.RichParameterOption{{Name: "A100", Value: "nvidia-a100"}, {Name: "H100", Value: "nvidia-h100"}}},
		{Name: "storage_gb", Type: "number", Mutable: true, DefaultValue: "500", FormType: proto.ParameterFormType_INPUT},
		{Name: "region", Type: "string", Mutable: false, DefaultValue: "eu-west", FormType: proto.ParameterFormType_INPUT},
	}, []*proto.Preset{{Name: "Large GPU", Parameters: []*proto.PresetParameter{{Name: "gpu_type", Value: "nvidia-h100"}, {Name: "storage_gb", Value: "2000"}}}})

	rec := &recorder{}
	c, err := coder.Open(coder.Config{URL: s.coder.URL, Transport: rec}, s.coder.SessionToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := person("ws" + sfx)
	u.RemoteID = mustEnsure(t, c, u).RemoteID
	owner := u.RemoteID
	writes := func() []string {
		var out []string
		for _, r := range rec.take() {
			if !strings.HasPrefix(r, "GET ") {
				out = append(out, r)
			}
		}
		return out
	}
	ensure := func(want, had formulas.Resources) formulas.Resources {
		t.Helper()
		got, err := c.EnsureResources(t.Context(), u, want, had)
		var ua *fanout.UnappliedError
		if err != nil && !(errors.As(err, &ua) && strings.Contains(ua.Msg, "immutable parameter region")) {
			t.Fatalf("EnsureResources: %v", err)
		}
		return got
	}
	rec.take()

	src := formulas.Source{Formula: "ml-research", Version: "2.0.0", Group: "ML"}
	dev := ws("dev-"+sfx, ml.Name, map[string]string{"gpu_type": "nvidia-h100"}, formulas.OnRemoveSuspend, src)
	big := ws("big-"+sfx, ml.Name, map[string]string{"storage_gb": "100"}, formulas.OnRemoveDelete, src)
	big.Preset = "Large GPU"
	want := coderRes(dev, big)

	plan, err := c.PlanResources(t.Context(), u, want, formulas.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 2 || plan[0].Action != fanout.ActionCreate || plan[1].Detail != `from template `+ml.Name+`, preset "Large GPU", parameters storage_gb=100` {
		t.Errorf("plan %+v", plan)
	}
	if w := writes(); len(w) != 0 {
		t.Errorf("planning wrote %v", w)
	}

	applied := ensure(want, formulas.Resources{})
	if n := len(writes()); n != 2 {
		t.Errorf("%d writes, want two creations", n)
	}
	w, params, ok := s.realWorkspace(t, owner, dev.Name)
	if !ok || params["gpu_type"] != "nvidia-h100" || params["storage_gb"] != "500" || params["region"] != "eu-west" || w.LatestBuild.TemplateVersionID != ml.ActiveVersionID {
		t.Errorf("dev: %v, parameters %v, version %s", ok, params, w.LatestBuild.TemplateVersionID)
	}
	bw, bparams, ok := s.realWorkspace(t, owner, big.Name)
	if !ok || bparams["gpu_type"] != "nvidia-h100" || bparams["storage_gb"] != "2000" || bw.LatestBuild.TemplateVersionPresetID == nil {
		t.Errorf("big: %v, parameters %v, preset %v (the preset's values win)", ok, bparams, bw.LatestBuild.TemplateVersionPresetID)
	}

	rec.take()
	applied = ensure(want, applied)
	if w := writes(); len(w) != 0 {
		t.Errorf("a converged pass wrote %v", w)
	}

	// A mutable change is built; the immutable one is left.
	dev.Parameters = map[string]string{"gpu_type": "nvidia-h100", "storage_gb": "1000", "region": "us-east"}
	want = coderRes(dev, big)
	plan, err = c.PlanResources(t.Context(), u, want, applied)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0].Detail, `storage_gb: "500" -> "1000"`) || !strings.Contains(plan[0].Detail, "immutable parameter region cannot change") {
		t.Errorf("plan %+v", plan)
	}
	applied = ensure(want, applied)
	if got := writes(); !slices.Equal(got, []string{"POST /api/v2/workspaces/" + w.ID.String() + "/builds"}) {
		t.Errorf("writes %v, want one build", got)
	}
	if _, params, _ := s.realWorkspace(t, owner, dev.Name); params["storage_gb"] != "1000" || params["region"] != "eu-west" {
		t.Errorf("after the update: %v", params)
	}
	rec.take()
	applied = ensure(want, applied)
	if w := writes(); len(w) != 0 {
		t.Errorf("a converged pass wrote %v", w)
	}

	// Errors found before any write, each naming the formula.
	for _, bad := range []formulas.Workspace{
		ws("x-"+sfx, "no-such-"+sfx, nil, "", src),
		ws("x-"+sfx, ml.Name, map[string]string{"gpu": "h100"}, "", src),
		ws("x-"+sfx, ml.Name, map[string]string{"gpu_type": "tpu"}, "", src),
	} {
		_, err := c.EnsureResources(t.Context(), u, coderRes(bad), formulas.Resources{})
		wantTerminal(t, err, src.String())
	}
	if w := writes(); len(w) != 0 {
		t.Errorf("refused workspaces wrote %v", w)
	}

	// Removal: dev is stopped (suspend), big deleted.
	ensure(formulas.Resources{}, applied)
	if w, _, ok := s.realWorkspace(t, owner, dev.Name); !ok || w.LatestBuild.Transition != codersdk.WorkspaceTransitionStop {
		t.Errorf("dev %v %s, want stopped", ok, w.LatestBuild.Transition)
	}
	if _, _, ok := s.realWorkspace(t, owner, big.Name); ok {
		t.Error("big is still there (onRemove: delete)")
	}
	rec.take()
	ensure(formulas.Resources{}, applied)
	if w := writes(); len(w) != 0 {
		t.Errorf("removing again wrote %v", w)
	}
}

func randomSuffix() string { return uuid.NewString()[:6] }
