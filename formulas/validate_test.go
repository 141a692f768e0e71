package formulas

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestValidate checks a formula built in Go: the same rules as Parse,
// every problem reported with its path and no line.
func TestValidate(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if err := paramsFormula().Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrEveryProblem", func(t *testing.T) {
		f := &Formula{
			APIVersion: APIVersion,
			Kind:       "Recipe",
			Metadata:   Metadata{Name: "Bad Name"},
			Spec: Spec{
				Version: "1",
				Parameters: map[string]Parameter{
					"n": {Type: TypeInteger, Default: "3"},
				},
				Resources: ResourcesSpec{
					Coder: &CoderSpec{Workspaces: []WorkspaceSpec{
						{Name: "${{ user.nickname }}", Template: "base"},
						{Name: "my_ws", Template: "base", Parameters: map[string]string{"n": "${{ params.m }}"}},
					}},
					Mattermost: &MattermostSpec{Channels: []ChannelSpec{{Team: "research", Name: "General"}}},
				},
				OnRemove: "archive",
			},
		}
		err := f.Validate()
		var es Errors
		if !errors.As(err, &es) {
			t.Fatalf("error %v is not Errors", err)
		}
		want := []string{
			"kind: must be Formula",
			"metadata.name: a formula name contains only lowercase letters, digits and '-', and starts and ends with a letter or digit",
			"spec.version: a version is MAJOR.MINOR.PATCH (semantic versioning), such as 1.0.0",
			`spec.parameters.n.default: "3" is not an integer`,
			`spec.resources.coder.workspaces[0].name: unknown name "user.nickname" (known: user.displayName, user.email, user.externalId, user.id, user.name.familyName, user.name.givenName, user.subject, user.userName)`,
			"spec.resources.coder.workspaces[1].name: a Coder name contains only letters, digits and single hyphens between them",
			`spec.resources.coder.workspaces[1].parameters.n: unknown name "params.m" (parameters: params.n)`,
			"spec.resources.mattermost.channels[0].name: a Mattermost channel name starts with a lowercase letter or digit and contains only lowercase letters, digits, '-' and '_'",
			"spec.onRemove: must be keep, suspend or delete",
		}
		got := strings.Split(err.Error(), "\n")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, e := range es {
			if e.Line != 0 || e.Column != 0 {
				t.Errorf("%v has a position, but there is no source", e)
			}
		}
	})
}

// TestJSONRoundTrip stores a parsed formula as JSON, as the admin API
// does, and checks that it reads back equal, validates and expands the
// same.
func TestJSONRoundTrip(t *testing.T) {
	src, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g Formula
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatalf("the JSON form does not validate: %v", err)
	}
	// JSON has no integers: the defaults come back as float64 and must
	// still resolve to the same typed values.
	values := setValues(src)
	pf, err := f.ResolveParams(values)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := g.ResolveParams(values)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pf, pg) {
		t.Fatalf("parameters differ: %#v and %#v", pf, pg)
	}
	pf2, _ := f.ResolveParams(nil)
	pg2, _ := g.ResolveParams(nil)
	if !reflect.DeepEqual(pf2, pg2) || pg2["storage_gb"] != int64(500) {
		t.Fatalf("defaults differ: %#v and %#v", pf2, pg2)
	}
	rf, err := Expand(f, pf, goldenSubject)
	if err != nil {
		t.Fatal(err)
	}
	rg, err := Expand(&g, pg, goldenSubject)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rf, rg) {
		t.Fatal("the JSON form expands differently")
	}
	// Parse reads the JSON form too (YAML includes JSON).
	h, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata.Name != f.Metadata.Name || len(h.Spec.Resources.Gitea.Repos) != 3 {
		t.Fatalf("Parse of the JSON form: %+v", h)
	}
}
