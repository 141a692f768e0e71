package main

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/coder/v2/codersdk"
	"github.com/google/uuid"

	coderfake "github.com/scimbridge/scimbridge/conformance/fakes/coder"
	mattermostfake "github.com/scimbridge/scimbridge/conformance/fakes/mattermost"
	twentyfake "github.com/scimbridge/scimbridge/conformance/fakes/twenty"
	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/coder"
	"github.com/scimbridge/scimbridge/fanout/mattermost"
	"github.com/scimbridge/scimbridge/fanout/twenty"
)

// planLines renders a plan's changes as "connector action kind name",
// sorted, for comparing what was planned with what happened.
func planLines(p fanout.Plan) []string {
	var out []string
	for _, u := range p.Users {
		for _, c := range u.Changes {
			out = append(out, c.Connector+" "+c.Action+" "+c.Kind+" "+c.Name)
		}
	}
	sort.Strings(out)
	return out
}

// TestE2EFormulaBoundToGroup binds the ml-research example formula to a
// group and takes bob into and out of it: the plan printed before each
// step lists exactly what then happens in the real Gitea (a repository
// generated from the template, team membership), the Coder fake (a
// workspace with the rendered parameters), the Mattermost fake (the
// channel) and the Twenty fake (the person's job title); leaving applies
// the formula's onRemove: suspend.
func TestE2EFormulaBoundToGroup(t *testing.T) {
	w := startWorld(t)
	ctx := t.Context()
	g := w.g
	// What the formula refers to: the template repository, the research
	// organization with its ml team, Coder's template, Mattermost's team.
	admin := func(method, path string, in any) {
		t.Helper()
		if _, err := g.AdminAPI(ctx, method, path, in, nil); err != nil {
			t.Fatal(err)
		}
	}
	admin(http.MethodPost, "/orgs/"+e2eOrg+"/repos", map[string]any{"name": "ml-template", "auto_init": true, "readme": "Default",
		"description": "template of the ML lab"})
	admin(http.MethodPatch, "/repos/"+e2eOrg+"/ml-template", map[string]any{"template": true})
	admin(http.MethodPost, "/orgs", map[string]any{"username": "research"})
	admin(http.MethodPost, "/orgs/research/teams", map[string]any{"name": "ml", "permission": "read", "units": []string{"repo.code"}})

	cf := coderfake.New(coderfake.Options{OIDC: true})
	t.Cleanup(cf.Close)
	if _, err := cf.AddTemplate(coderfake.TemplateSeed{Name: "ml-research", Parameters: []codersdk.TemplateVersionParameter{
		{Name: "gpu_type", Type: "string", Mutable: true, DefaultValue: "nvidia-a100"},
		{Name: "storage_gb", Type: "number", Mutable: true, DefaultValue: "100"},
	}}); err != nil {
		t.Fatal(err)
	}
	mm := mattermostfake.New(t)
	mm.AddTeam("research")
	tw := twentyfake.New("twenty-e2e-api-key")
	t.Cleanup(tw.Close)

	b := startBridgeWith(t, w, func(cfg *Config, env map[string]string) {
		cfg.Formulas = FormulasConfig{Dir: "../../examples/formulas"}
		cfg.Connectors.Coder = &coder.Config{URL: cf.URL, Timeout: 5 * time.Second}
		cfg.Connectors.Mattermost = &mattermost.Config{URL: mm.URL, Team: "research", Timeout: 5 * time.Second}
		cfg.Connectors.Twenty = &twenty.Config{URL: tw.URL, Timeout: 5 * time.Second}
		env[coder.TokenEnv] = cf.Token
		env[mattermost.TokenEnv] = mm.Token
		env[twenty.TokenEnv] = tw.Token
	})
	cli := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		env := envOf(map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": e2eAdminToken})
		if code := run(ctx, append(args, "--url", b.base), &out, &errb, env); code != 0 {
			t.Fatalf("scimbridge %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	plan := func(query string) fanout.Plan {
		t.Helper()
		var p fanout.Plan
		if _, err := do(ctx, b.http, http.MethodGet, b.base+"/admin/v1/plan?"+query, e2eAdminToken, nil, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	w.person(t, "bob", "bob-sub-f01")
	bob := b.createUser(t, "bob", "bob-sub-f01")
	grp := b.scim(t, http.MethodPost, "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "ml"}, http.StatusCreated)
	gid, _ := grp["id"].(string)
	links := map[string]string{}
	eventually(t, g, "bob's accounts everywhere", func() (err error) {
		sts, err := b.userStatus(ctx, bob)
		if err != nil {
			return err
		}
		for _, s := range sts.Statuses {
			if s.State != "ok" {
				return fmt.Errorf("%s: %+v", s.Connector, s)
			}
			links[s.Connector] = s.RemoteID
		}
		if len(links) != 4 {
			return fmt.Errorf("statuses %+v", sts.Statuses)
		}
		return nil
	})

	// Bind, as an admin would, with a parameter; ml has no member yet.
	out := cli("bind", "ml", "ml-research", "--set", "gpu_type=nvidia-h100", "--yes")
	if !strings.Contains(out, "bound ml-research") {
		t.Fatalf("bind printed:\n%s", out)
	}

	// The plan of bob joining, printed before he joins.
	joinPlan := plan("user=bob@example.com&join=ml")
	printed := cli("plan", "--user", "bob@example.com", "--join", "ml")
	t.Logf("plan of bob joining ml:\n%s", printed)
	wantJoin := planLines(joinPlan)
	for _, c := range joinPlan.Users[0].Changes {
		if !strings.Contains(printed, c.Name) {
			t.Fatalf("the printed plan lacks %q:\n%s", c.Name, printed)
		}
	}
	if len(joinPlan.Users[0].Errors) != 0 {
		t.Fatalf("plan errors: %v", joinPlan.Users[0].Errors)
	}

	b.scim(t, http.MethodPatch, "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members",
		"value": []map[string]any{{"value": bob}}}), http.StatusOK, http.StatusNoContent)

	coderID, err := uuid.Parse(links["coder"])
	if err != nil {
		t.Fatal(err)
	}
	var happened []string
	eventually(t, g, "bob's resources everywhere", func() error {
		happened = happened[:0]
		// Gitea: his repository, generated from the template (it has the
		// template's README), and the research/ml team.
		var readme struct {
			Name string `json:"name"`
		}
		if _, err := g.AdminAPI(ctx, http.MethodGet, "/repos/bob/bob-research/contents/README.md", nil, &readme); err != nil {
			return fmt.Errorf("gitea repository: %w", err)
		}
		happened = append(happened, "gitea create repo")
		members, err := w.teamMembersOf(ctx, "research", "ml")
		if err != nil {
			return err
		}
		if !slices.Contains(members, "bob") {
			return fmt.Errorf("research/ml members %v", members)
		}
		happened = append(happened, "gitea create team")
		// Coder: the workspace with the rendered parameters.
		ws, params, ok := cf.Workspace(coderID, "ml-bob")
		if !ok || params["gpu_type"] != "nvidia-h100" || params["storage_gb"] != "500" || ws.LatestBuild.Transition != codersdk.WorkspaceTransitionStart {
			return fmt.Errorf("coder workspace ml-bob: %v %v %+v", ok, params, ws.LatestBuild.Transition)
		}
		happened = append(happened, "coder create workspace")
		// Mattermost: the channel.
		ch := mm.ChannelByName(mm.Team("research").Id, "ml-research")
		if ch == nil || !slices.Contains(mm.ChannelMembers(ch.Id), links["mattermost"]) {
			return fmt.Errorf("mattermost channel ml-research: %+v", ch)
		}
		happened = append(happened, "mattermost create channel")
		// Twenty: the person's job title.
		p, ok := tw.Person(links["twenty"])
		if !ok || p.JobTitle != "Research Scientist" {
			return fmt.Errorf("twenty person %+v", p)
		}
		happened = append(happened, "twenty update person")
		// And the status is settled, so the next plan is computed on it.
		sts, err := b.userStatus(ctx, bob)
		if err != nil {
			return err
		}
		for _, s := range sts.Statuses {
			if s.State != "ok" {
				return fmt.Errorf("%s: %s %s", s.Connector, s.State, s.LastError)
			}
		}
		return nil
	})
	var planned []string
	for _, l := range wantJoin {
		f := strings.Fields(l)
		planned = append(planned, strings.Join(f[:3], " "))
	}
	sort.Strings(happened)
	if !slices.Equal(planned, happened) {
		t.Fatalf("planned %q, but what happened is %q", planned, happened)
	}
	if p := plan("user=bob@example.com"); len(p.Users[0].Changes) != 0 {
		t.Fatalf("after the join converged, the plan still has %v", planLines(p))
	}

	// Leaving: onRemove suspend stops the workspace and removes team and
	// channel access; the repository stays.
	leavePlan := plan("user=bob@example.com&leave=ml")
	printed = cli("plan", "--user", "bob@example.com", "--leave", "ml")
	t.Logf("plan of bob leaving ml:\n%s", printed)
	var removals []string
	for _, c := range leavePlan.Users[0].Changes {
		if !strings.Contains(printed, c.Name) {
			t.Fatalf("the printed plan lacks %q:\n%s", c.Name, printed)
		}
		removals = append(removals, c.Connector+" "+c.Action+" "+c.Kind)
	}
	sort.Strings(removals)
	b.scim(t, http.MethodPatch, "/Groups/"+gid, patchOp(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", bob)}),
		http.StatusOK, http.StatusNoContent)
	eventually(t, g, "bob's access gone, his data kept", func() error {
		happened = happened[:0]
		if _, err := g.AdminAPI(ctx, http.MethodGet, "/repos/bob/bob-research", nil, nil); err != nil {
			return fmt.Errorf("the repository went: %w", err)
		}
		members, err := w.teamMembersOf(ctx, "research", "ml")
		if err != nil {
			return err
		}
		if slices.Contains(members, "bob") {
			return fmt.Errorf("bob is still in research/ml")
		}
		happened = append(happened, "gitea remove team")
		ws, _, ok := cf.Workspace(coderID, "ml-bob")
		if !ok || ws.LatestBuild.Transition != codersdk.WorkspaceTransitionStop {
			return fmt.Errorf("coder workspace ml-bob: present=%v transition %s", ok, ws.LatestBuild.Transition)
		}
		happened = append(happened, "coder remove workspace")
		ch := mm.ChannelByName(mm.Team("research").Id, "ml-research")
		if slices.Contains(mm.ChannelMembers(ch.Id), links["mattermost"]) {
			return fmt.Errorf("bob is still in ml-research")
		}
		happened = append(happened, "mattermost remove channel")
		if p, ok := tw.Person(links["twenty"]); !ok || p.JobTitle != "" || p.Deleted {
			return fmt.Errorf("twenty person %+v", p)
		}
		happened = append(happened, "twenty remove person")
		return nil
	})
	sort.Strings(happened)
	// The repository is the user's own: suspend keeps it, which the plan
	// says as "keep".
	var planRemovals []string
	for _, r := range removals {
		if !strings.Contains(r, " keep ") {
			planRemovals = append(planRemovals, r)
		}
	}
	if !slices.Equal(planRemovals, happened) {
		t.Fatalf("planned removals %q (all: %q), but what happened is %q", planRemovals, removals, happened)
	}
}
