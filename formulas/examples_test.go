package formulas

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// exampleSubject is a member of the bound group, as the identity
// provider sends them: userName is an email address.
var exampleSubject = Subject{
	User: UserView{
		ID:          "5d1f0a2e-9c4b-4f6e-8a51-0c2d7e3b9f10",
		UserName:    "Alice@example.com",
		ExternalID:  "248289761001",
		Email:       "alice@example.com",
		GivenName:   "Alice",
		FamilyName:  "Martin",
		DisplayName: "Alice Martin",
		Subject:     "248289761001",
	},
	Group: GroupView{ID: "7f3c2b1a-0e9d-4c8b-a7f6-5e4d3c2b1a09", DisplayName: "Finance Analysts"},
}

// expandExample parses, validates and expands one example formula.
func expandExample(t *testing.T, name string, values map[string]string) Resources {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", "formulas", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(src)
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	if f.Metadata.Name != name {
		t.Fatalf("metadata.name %q differs from the file name", f.Metadata.Name)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	params, err := f.ResolveParams(values)
	if err != nil {
		t.Fatalf("params:\n%v", err)
	}
	res, err := Expand(f, params, exampleSubject)
	if err != nil {
		t.Fatalf("expand:\n%v", err)
	}
	return res
}

// TestExamplesCovered makes sure every example file is tested below.
func TestExamplesCovered(t *testing.T) {
	files, err := filepath.Glob("../examples/formulas/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{"data-analysis.yaml", "fullstack-dev.yaml", "ml-research.yaml"}
	if !slices.Equal(names, want) {
		t.Fatalf("examples %v, tested %v: add a test for the new one", names, want)
	}
}

func TestExampleMLResearch(t *testing.T) {
	res := expandExample(t, "ml-research", map[string]string{"gpu_type": "nvidia-h100"})
	src := Source{Formula: "ml-research", Version: "2.0.0", GroupID: exampleSubject.Group.ID, Group: "Finance Analysts"}

	repo := res.Gitea.Repos[0]
	if repo.Owner != "" || repo.Name != "alice-research" || repo.Template != "platform/ml-template" || !repo.Private ||
		repo.Description != "Research notes and experiments of Alice Martin" || repo.Source != src || repo.OnRemove != OnRemoveSuspend {
		t.Errorf("repo %+v", repo)
	}
	if got := res.Gitea.Teams; len(got) != 1 || got[0].Org != "research" || got[0].Team != "ml" {
		t.Errorf("teams %+v", got)
	}
	ws := res.Coder.Workspaces[0]
	wantParams := map[string]string{"gpu_type": "nvidia-h100", "storage_gb": "500"}
	if ws.Name != "ml-alice" || ws.Template != "ml-research" || !reflect.DeepEqual(ws.Parameters, wantParams) {
		t.Errorf("workspace %+v", ws)
	}
	if got := res.Mattermost.Channels; len(got) != 1 || got[0].Team != "research" || got[0].Name != "ml-research" ||
		got[0].DisplayName != "ML Research" || got[0].Private {
		t.Errorf("channels %+v", got)
	}
	if p := res.Twenty.Person; p == nil || p.JobTitle != "Research Scientist" {
		t.Errorf("person %+v", p)
	}
}

func TestExampleFullstackDev(t *testing.T) {
	res := expandExample(t, "fullstack-dev", map[string]string{"node_version": "24", "dotfiles": "false"})
	repo := res.Gitea.Repos[0]
	if repo.Name != "alice-sandbox" || repo.Template != "web/fullstack-template" || repo.Private || repo.OnRemove != OnRemoveDelete {
		t.Errorf("repo %+v", repo)
	}
	ws := res.Coder.Workspaces[0]
	wantParams := map[string]string{
		"node_version": "24", "region": "eu-west", "dotfiles": "false",
		"git_author": "Alice Martin <alice@example.com>",
	}
	if ws.Name != "dev-alice" || ws.Template != "fullstack" || !reflect.DeepEqual(ws.Parameters, wantParams) {
		t.Errorf("workspace %+v", ws)
	}
	var channels []string
	for _, c := range res.Mattermost.Channels {
		channels = append(channels, c.Team+"/"+c.Name+" "+c.DisplayName)
	}
	if want := []string{"engineering/frontend Frontend", "engineering/backend Backend", "engineering/deploys Deploys"}; !slices.Equal(channels, want) {
		t.Errorf("channels %v, want %v", channels, want)
	}
	t.Run("ErrBadRegion", func(t *testing.T) {
		src, _ := os.ReadFile("../examples/formulas/fullstack-dev.yaml")
		f, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.ResolveParams(map[string]string{"region": "EU West", "node_version": "18"}); err == nil {
			t.Fatal("an invalid region and Node.js version were accepted")
		}
	})
}

func TestExampleDataAnalysis(t *testing.T) {
	t.Run("ErrCostCenterRequired", func(t *testing.T) {
		src, _ := os.ReadFile("../examples/formulas/data-analysis.yaml")
		f, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.ResolveParams(nil)
		if err == nil || err.Error() != "params.cost_center: required: the formula gives no default" {
			t.Fatalf("got %v", err)
		}
	})
	res := expandExample(t, "data-analysis", map[string]string{"cost_center": "CC-0042", "cpu": "8", "memory_gb": "24.5", "spark": "true"})
	repo := res.Gitea.Repos[0]
	if repo.Owner != "analytics" || repo.Name != "notebooks-alice" || repo.Permission != "admin" || !repo.Private || repo.OnRemove != OnRemoveKeep {
		t.Errorf("repo %+v", repo)
	}
	ws := res.Coder.Workspaces[0]
	wantParams := map[string]string{
		"cpu": "8", "memory_gb": "24.5", "python_version": "3.12", "spark": "true", "cost_center": "CC-0042",
	}
	if ws.Name != "jupyter-alice" || ws.Template != "jupyterlab" || !reflect.DeepEqual(ws.Parameters, wantParams) {
		t.Errorf("workspace %+v", ws)
	}
	ch := res.Mattermost.Channels[0]
	if ch.Team != "analytics" || ch.Name != "data-finance-analysts" || ch.DisplayName != "Data: Finance Analysts" || !ch.Private {
		t.Errorf("channel %+v", ch)
	}
	if res.Twenty.Person != nil {
		t.Errorf("person %+v: the formula asks for none", res.Twenty.Person)
	}
}

// TestExamplesTogether unions the three examples for one user: every
// workspace keeps its own formula's policy, and the one real conflict
// (two job titles for the one Person record) is settled and reported.
// TestExampleWorkspaceNamesFit checks that every example's Coder
// workspace names stay within Coder's 32 characters for a user whose
// userName is long.
func TestExampleWorkspaceNamesFit(t *testing.T) {
	long := exampleSubject
	long.User.UserName = "maximilian.alexander.vandenberghe-oppenheimer@example.com"
	for _, ex := range []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"ml-research", map[string]string{"gpu_type": "nvidia-h100"}, "ml-maximilian-alexander-vandenbe"},
		{"fullstack-dev", map[string]string{"node_version": "24", "dotfiles": "false"}, "dev-maximilian-alexander-vandenb"},
		{"data-analysis", map[string]string{"cost_center": "CC-0042"}, "jupyter-maximilian-alexander-van"},
	} {
		src, err := os.ReadFile(filepath.Join("..", "examples", "formulas", ex.name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		params, err := f.ResolveParams(ex.values)
		if err != nil {
			t.Fatalf("%s: %v", ex.name, err)
		}
		res, err := Expand(f, params, long)
		if err != nil {
			t.Fatalf("%s: expand: %v", ex.name, err)
		}
		if got := res.Coder.Workspaces[0].Name; got != ex.want {
			t.Errorf("%s: workspace %q (%d characters), want %q", ex.name, got, len(got), ex.want)
		}
	}
}

func TestExamplesTogether(t *testing.T) {
	all := Union(
		expandExample(t, "ml-research", nil),
		expandExample(t, "fullstack-dev", nil),
		expandExample(t, "data-analysis", map[string]string{"cost_center": "CC-0042"}),
	)
	var workspaces []string
	for _, w := range all.Coder.Workspaces {
		workspaces = append(workspaces, w.Name+":"+string(w.OnRemove))
	}
	if want := []string{"dev-alice:delete", "jupyter-alice:keep", "ml-alice:suspend"}; !slices.Equal(workspaces, want) {
		t.Fatalf("workspaces %v, want %v", workspaces, want)
	}
	if len(all.Conflicts) != 1 {
		t.Fatalf("conflicts: %v", all.Conflicts)
	}
	c := all.Conflicts[0]
	if c.Kind != "twenty person" || !slices.Equal(c.Fields, []string{"jobTitle"}) ||
		c.Chosen.Formula != "fullstack-dev" || c.Dropped.Formula != "ml-research" {
		t.Fatalf("conflict %v", c)
	}
	p := all.Twenty.Person
	if p.JobTitle != "Software Engineer" || p.OnRemove != OnRemoveSuspend || len(p.AlsoFrom) != 1 || p.AlsoFrom[0].Formula != "ml-research" {
		t.Fatalf("person %+v: fullstack-dev's definition, the least destructive policy (suspend, not delete)", p)
	}
}

// TestDocExample parses and expands the example of the package
// documentation, so that the reference never shows a formula that does
// not work.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	in := false
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "// One formula per file") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			src.WriteString(code + "\n")
		} else if src.Len() > 0 {
			break
		}
	}
	f, err := Parse([]byte(src.String()))
	if err != nil {
		t.Fatalf("the documentation's example:\n%v\n%s", err, src.String())
	}
	params, err := f.ResolveParams(nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Expand(f, params, exampleSubject)
	if err != nil {
		t.Fatal(err)
	}
	if res.Coder.Workspaces[0].Name != "ml-alice" || res.Gitea.Repos[0].Name != "alice-research" {
		t.Fatalf("got %+v", res)
	}
}
