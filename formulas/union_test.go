package formulas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// expandYAML parses and expands a formula for a subject, with defaults.
func expandYAML(t *testing.T, src string, s Subject) Resources {
	t.Helper()
	f, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	params, err := f.ResolveParams(nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Expand(f, params, s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// unionFormula is a formula with one workspace, one repository, one
// channel and a person, whose details vary.
func unionFormula(name, version, template, onRemove, jobTitle string) string {
	return fmt.Sprintf(`
apiVersion: scimbridge.dev/v1
kind: Formula
metadata: {name: %s}
spec:
  version: %s
  resources:
    gitea:
      repos: [{name: "${{ user.userName }}-notes"}]
    coder:
      workspaces: [{name: "dev-${{ user.userName }}", template: %s}]
    mattermost:
      channels: [{team: eng, name: general}]
    twenty:
      person: {jobTitle: %q}
  onRemove: %s
`, name, version, template, jobTitle, onRemove)
}

var (
	alice     = UserView{ID: "u1", UserName: "alice"}
	groupML   = GroupView{ID: "g1", DisplayName: "ML"}
	groupData = GroupView{ID: "g2", DisplayName: "Data"}
)

func TestUnion(t *testing.T) {
	a := expandYAML(t, unionFormula("alpha", "1.0.0", "base", "delete", "Engineer"), Subject{User: alice, Group: groupML})
	b := expandYAML(t, unionFormula("beta", "1.0.0", "base", "keep", "Engineer"), Subject{User: alice, Group: groupData})
	srcA := Source{Formula: "alpha", Version: "1.0.0", GroupID: "g1", Group: "ML"}
	srcB := Source{Formula: "beta", Version: "1.0.0", GroupID: "g2", Group: "Data"}

	t.Run("OK", func(t *testing.T) {
		u := Union(b, a)
		if len(u.Conflicts) != 0 {
			t.Fatalf("identical definitions conflict: %v", u.Conflicts)
		}
		if n := len(u.Coder.Workspaces); n != 1 {
			t.Fatalf("%d workspaces, want 1", n)
		}
		ws := u.Coder.Workspaces[0]
		if ws.Source != srcA || !reflect.DeepEqual(ws.AlsoFrom, []Source{srcB}) {
			t.Fatalf("source %v also %v, want %v also [%v]", ws.Source, ws.AlsoFrom, srcA, srcB)
		}
		if ws.OnRemove != OnRemoveKeep {
			t.Fatalf("onRemove %s: the least destructive policy (keep) must win over delete", ws.OnRemove)
		}
		if len(u.Gitea.Repos) != 1 || len(u.Mattermost.Channels) != 1 || u.Twenty.Person == nil {
			t.Fatalf("not merged: %+v", u)
		}
	})

	t.Run("ConflictChoosesByFormulaName", func(t *testing.T) {
		c := expandYAML(t, unionFormula("beta", "1.0.0", "gpu", "suspend", "Researcher"), Subject{User: alice, Group: groupData})
		for _, u := range []Resources{Union(a, c), Union(c, a)} {
			if got := u.Coder.Workspaces[0].Template; got != "base" {
				t.Fatalf("template %q, want base (alpha sorts before beta)", got)
			}
			want := []Conflict{
				{Kind: "coder workspace", Key: "dev-alice", Fields: []string{"template"}, Chosen: srcA, Dropped: srcB},
				{Kind: "twenty person", Key: "person", Fields: []string{"jobTitle"}, Chosen: srcA, Dropped: srcB},
			}
			if !reflect.DeepEqual(u.Conflicts, want) {
				t.Fatalf("conflicts\n%+v\nwant\n%+v", u.Conflicts, want)
			}
			if u.Coder.Workspaces[0].OnRemove != OnRemoveSuspend {
				t.Fatalf("onRemove %s, want suspend", u.Coder.Workspaces[0].OnRemove)
			}
		}
		if !reflect.DeepEqual(Union(a, c), Union(c, a)) {
			t.Fatal("the result depends on the order of the arguments")
		}
		msg := Union(a, c).Conflicts[0].String()
		want := "coder workspace dev-alice: alpha@1.0.0 (group ML) and beta@1.0.0 (group Data) differ in template; the definition of alpha@1.0.0 (group ML) is used"
		if msg != want {
			t.Fatalf("got %q, want %q", msg, want)
		}
	})

	t.Run("ConflictInPreset", func(t *testing.T) {
		p := Workspace{Name: "dev-alice", Template: "base", Preset: "large", Origin: Origin{Source: srcB}}
		q := Workspace{Name: "dev-alice", Template: "base", Origin: Origin{Source: srcA}}
		u := Union(Resources{Coder: CoderResources{Workspaces: []Workspace{p}}}, Resources{Coder: CoderResources{Workspaces: []Workspace{q}}})
		want := []Conflict{{Kind: "coder workspace", Key: "dev-alice", Fields: []string{"preset"}, Chosen: srcA, Dropped: srcB}}
		if !reflect.DeepEqual(u.Conflicts, want) || u.Coder.Workspaces[0].Preset != "" {
			t.Fatalf("got %+v, conflicts %+v; want alpha's workspace (no preset) and %+v", u.Coder.Workspaces, u.Conflicts, want)
		}
	})

	t.Run("HigherVersionWins", func(t *testing.T) {
		v2 := expandYAML(t, unionFormula("alpha", "2.0.0", "base-v2", "suspend", "Engineer"), Subject{User: alice, Group: groupData})
		v10 := expandYAML(t, unionFormula("alpha", "10.0.0", "base-v10", "suspend", "Engineer"), Subject{User: alice, Group: groupData})
		u := Union(a, v10, v2)
		if got := u.Coder.Workspaces[0].Template; got != "base-v10" {
			t.Fatalf("template %q, want base-v10 (10.0.0 is the highest version)", got)
		}
		if len(u.Conflicts) != 2 {
			t.Fatalf("conflicts %v, want 2", u.Conflicts)
		}
	})

	t.Run("SameFormulaTwoGroups", func(t *testing.T) {
		a2 := expandYAML(t, unionFormula("alpha", "1.0.0", "base", "delete", "Engineer"), Subject{User: alice, Group: groupData})
		u := Union(a2, a)
		ws := u.Coder.Workspaces[0]
		if ws.Source.GroupID != "g1" || len(ws.AlsoFrom) != 1 || ws.AlsoFrom[0].GroupID != "g2" || len(u.Conflicts) != 0 {
			t.Fatalf("got %+v, conflicts %v", ws.Origin, u.Conflicts)
		}
		if ws.OnRemove != OnRemoveDelete {
			t.Fatalf("onRemove %s, want delete (every binding says delete)", ws.OnRemove)
		}
	})

	t.Run("KeysIgnoreCase", func(t *testing.T) {
		upper := expandYAML(t, unionFormula("gamma", "1.0.0", "base", "suspend", "Engineer"), Subject{User: UserView{UserName: "ALICE"}, Group: groupML})
		u := Union(a, upper)
		if len(u.Coder.Workspaces) != 1 || len(u.Gitea.Repos) != 1 {
			t.Fatalf("dev-alice and dev-ALICE are one workspace in Coder: %+v", u.Coder.Workspaces)
		}
		var fields [][]string
		for _, c := range u.Conflicts {
			fields = append(fields, c.Fields)
		}
		if !reflect.DeepEqual(fields, [][]string{{"name"}, {"name"}}) {
			t.Fatalf("conflicting fields %v, want the names' case", fields)
		}
	})

	t.Run("Associative", func(t *testing.T) {
		c := expandYAML(t, unionFormula("beta", "1.0.0", "gpu", "suspend", "Researcher"), Subject{User: alice, Group: groupData})
		d := expandYAML(t, unionFormula("delta", "1.0.0", "cpu", "keep", "Engineer"), Subject{User: alice, Group: groupData})
		flat, nested := Union(a, c, d), Union(Union(d, c), a)
		if !reflect.DeepEqual(flat.Coder, nested.Coder) || !reflect.DeepEqual(flat.Gitea, nested.Gitea) || !reflect.DeepEqual(flat.Twenty, nested.Twenty) {
			fj, _ := json.MarshalIndent(flat, "", " ")
			nj, _ := json.MarshalIndent(nested, "", " ")
			t.Fatalf("flat\n%s\nnested\n%s", fj, nj)
		}
	})

	t.Run("SortedByKey", func(t *testing.T) {
		f := expandYAML(t, `
apiVersion: scimbridge.dev/v1
kind: Formula
metadata: {name: many}
spec:
  version: 1.0.0
  resources:
    mattermost:
      channels:
        - {team: eng, name: zeta}
        - {team: eng, name: alpha}
        - {team: dev, name: zeta}
`, Subject{User: alice})
		u := Union(f)
		var got []string
		for _, c := range u.Mattermost.Channels {
			got = append(got, c.Key())
		}
		if !reflect.DeepEqual(got, []string{"dev/zeta", "eng/alpha", "eng/zeta"}) {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		if u := Union(); !reflect.DeepEqual(u, Resources{}) {
			t.Fatalf("got %+v", u)
		}
	})
}
