package coder_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/coder/v2/codersdk"
	"github.com/google/uuid"

	"github.com/scimbridge/scimbridge/conformance/connectortest"
	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
	"github.com/scimbridge/scimbridge/store"
)

const gpuFormula = `apiVersion: scimbridge.dev/v1
kind: Formula
metadata: {name: gpu}
spec:
  version: 1.0.0
  parameters:
    gpu: {type: string, enum: [nvidia-a100, nvidia-h100], default: nvidia-a100}
  resources:
    coder:
      workspaces:
        - name: "gpu-${{ user.userName | local | slug }}"
          template: ml-research
          parameters: {gpu_type: "${{ params.gpu }}"}
  onRemove: suspend
`

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestFormulaThroughReconciler runs a formula's workspace through the
// real reconciler over a bolt store: members get a workspace, a new
// binding parameter updates it, a member who leaves has it stopped, and
// a plan of a converged group is empty and writes nothing.
func TestFormulaThroughReconciler(t *testing.T) {
	f := coderfake.Start(t, coderfake.Options{OIDC: true})
	if _, err := f.AddTemplate(coderfake.TemplateSeed{Name: "ml-research", Parameters: []codersdk.TemplateVersionParameter{
		{Name: "gpu_type", Mutable: true, DefaultValue: "nvidia-a100"}}}); err != nil {
		t.Fatal(err)
	}
	c, err := coder.Open(coder.Config{URL: f.URL}, f.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := connectortest.OpenStore(t)
	ctx := t.Context()

	var ids []string
	for _, name := range []string{"alice", "bob"} {
		u := &store.User{UserName: name + "@example.com", Active: true, Emails: []string{name + "@example.com"},
			Attributes: fmt.Appendf(nil, `{"userName":"%s@example.com","emails":[{"value":"%s@example.com","primary":true}]}`, name, name)}
		if err := st.CreateUser(ctx, "test", u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	g := &store.Group{DisplayName: "ml", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(ctx, "test", g, func(tx store.GroupTx) error {
		for _, id := range ids {
			if err := tx.AddMember(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFormula(ctx, "test", &store.Formula{Name: "gpu", Version: "1.0.0", Source: []byte(gpuFormula)}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutBinding(ctx, "test", &store.Binding{Group: g.ID, Formula: "gpu"}, store.IfAbsent); err != nil {
		t.Fatal(err)
	}

	r := connectortest.RunReconciler(t, st, c)

	status := func(id string) store.Status {
		return connectortest.StatusOf(t, st, store.Key{Kind: store.KindUser, ID: id}, "coder")
	}
	workspace := func(id, name string) (codersdk.Workspace, map[string]string, bool) {
		s := status(id)
		owner, err := uuid.Parse(s.RemoteID)
		if err != nil {
			return codersdk.Workspace{}, nil, false
		}
		return f.Workspace(owner, name)
	}
	names := []string{"gpu-alice", "gpu-bob"}
	eventually(t, "a workspace for each member", func() bool {
		for i, id := range ids {
			_, params, ok := workspace(id, names[i])
			if !ok || status(id).State != store.StateOK || params["gpu_type"] != "nvidia-a100" {
				return false
			}
		}
		return true
	})
	n := len(f.Requests())
	plan, err := r.Plan(ctx, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range plan.Users {
		if len(up.Changes) != 0 || len(up.Errors) != 0 {
			t.Fatalf("plan of converged users: %+v", plan)
		}
	}
	// A new parameter, planned first: an update, and nothing written.
	change := &fanout.BindingChange{Binding: store.Binding{Group: g.ID, Formula: "gpu", Params: map[string]string{"gpu": "nvidia-h100"}}}
	if plan, err = r.Plan(ctx, ids[:1], change); err != nil {
		t.Fatal(err)
	}
	if ch := plan.Users[0].Changes; len(ch) != 1 || ch[0].Action != fanout.ActionUpdate || ch[0].Name != "gpu-alice" ||
		!strings.Contains(ch[0].Detail, `gpu_type: "nvidia-a100" -> "nvidia-h100"`) || ch[0].Source != "gpu@1.0.0 (group ml)" {
		t.Fatalf("plan of the new parameter: %+v", plan)
	}
	for _, req := range f.Requests()[n:] {
		if !strings.HasPrefix(req, "GET ") {
			t.Fatalf("planning sent %s", req)
		}
	}
	if err := st.PutBinding(ctx, "test", &change.Binding, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new parameter in both workspaces", func() bool {
		for i, id := range ids {
			if _, params, ok := workspace(id, names[i]); !ok || params["gpu_type"] != "nvidia-h100" {
				return false
			}
		}
		return true
	})

	// alice leaves the group: her workspace is stopped, and kept.
	if _, err := st.UpdateGroup(ctx, "test", g.ID, 0, func(tx store.GroupTx) error { return tx.RemoveMember(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's workspace stopped", func() bool {
		w, _, ok := workspace(ids[0], names[0])
		return ok && w.LatestBuild.Transition == codersdk.WorkspaceTransitionStop && status(ids[0]).State == store.StateOK
	})
	if w, _, ok := workspace(ids[1], names[1]); !ok || w.LatestBuild.Transition != codersdk.WorkspaceTransitionStart {
		t.Fatalf("bob's workspace %v %s", ok, w.LatestBuild.Transition)
	}
	bobID := uuid.MustParse(status(ids[1]).RemoteID)
	if n := len(f.Workspaces(bobID)); n != 1 {
		t.Fatalf("bob has %d workspaces, want 1", n)
	}
}
