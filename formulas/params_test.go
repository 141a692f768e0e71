package formulas

import (
	"errors"
	"reflect"
	"testing"
)

func paramsFormula() *Formula {
	lo, hi := 100.0, 2000.0
	return &Formula{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "p"},
		Spec: Spec{
			Version: "1.0.0",
			Parameters: map[string]Parameter{
				"gpu":     {Type: TypeString, Enum: []any{"a100", "h100"}, Default: "a100"},
				"storage": {Type: TypeInteger, Minimum: &lo, Maximum: &hi, Default: 500},
				"ratio":   {Type: TypeNumber, Default: 0.5},
				"spark":   {Type: TypeBoolean, Default: false},
				"team":    {Type: TypeString, Pattern: "^[a-z]+$", Required: true},
			},
			Resources: ResourcesSpec{Twenty: &TwentySpec{Person: &PersonSpec{}}},
		},
	}
}

func TestResolveParams(t *testing.T) {
	f := paramsFormula()
	if err := f.Validate(); err != nil {
		t.Fatalf("the test formula is invalid: %v", err)
	}
	t.Run("OK", func(t *testing.T) {
		got, err := f.ResolveParams(map[string]string{"team": "ml", "storage": " 1000", "spark": "true", "ratio": "1e-1"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"gpu": "a100", "storage": int64(1000), "ratio": 0.1, "spark": true, "team": "ml"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v, want %#v", got, want)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		got, err := f.ResolveParams(map[string]string{"team": "ml"})
		if err != nil {
			t.Fatal(err)
		}
		if got["storage"] != int64(500) || got["ratio"] != 0.5 || got["spark"] != false || got["gpu"] != "a100" {
			t.Fatalf("defaults not applied with their types: %#v", got)
		}
	})
	t.Run("ErrEveryProblem", func(t *testing.T) {
		_, err := f.ResolveParams(map[string]string{
			"gpu": "v100", "storage": "99", "ratio": "half", "spark": "1", "colour": "red", "size": "L",
		})
		var es Errors
		if !errors.As(err, &es) {
			t.Fatalf("error %v is not Errors", err)
		}
		want := []string{
			`params.colour: unknown parameter (known: gpu, ratio, spark, storage, team)`,
			`params.size: unknown parameter (known: gpu, ratio, spark, storage, team)`,
			`params.gpu: "v100" is not one of a100, h100`,
			`params.ratio: "half" is not a number`,
			`params.spark: "1" is not true or false`,
			`params.storage: 99 is less than the minimum 100`,
			`params.team: required: the formula gives no default`,
		}
		if len(es) != len(want) {
			t.Fatalf("got %d problems, want %d:\n%v", len(es), len(want), err)
		}
		for i := range want {
			if es[i].Error() != want[i] {
				t.Errorf("problem %d: got %q, want %q", i, es[i].Error(), want[i])
			}
		}
	})
	t.Run("ErrNoParameters", func(t *testing.T) {
		g := paramsFormula()
		g.Spec.Parameters = nil
		_, err := g.ResolveParams(map[string]string{"x": "1"})
		if err == nil || err.Error() != "params.x: unknown parameter: p declares none" {
			t.Fatalf("got %v", err)
		}
	})
}

// TestExpandRendersParamTypes checks that typed values render as Coder
// takes them: text.
func TestExpandRendersParamTypes(t *testing.T) {
	f := paramsFormula()
	f.Spec.Resources.Coder = &CoderSpec{Workspaces: []WorkspaceSpec{{
		Name: "dev", Template: "base",
		Parameters: map[string]string{
			"gpu": "${{ params.gpu }}", "storage": "${{ params.storage }}",
			"ratio": "${{ params.ratio }}", "spark": "${{ params.spark }}", "team": "${{ params.team | slug }}",
		},
	}}}
	params, err := f.ResolveParams(map[string]string{"team": "ml", "ratio": "0.125", "storage": "2000"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Expand(f, params, Subject{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"gpu": "a100", "storage": "2000", "ratio": "0.125", "spark": "false", "team": "ml"}
	if got := res.Coder.Workspaces[0].Parameters; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	t.Run("ErrMissingValue", func(t *testing.T) {
		_, err := Expand(f, map[string]any{"gpu": "a100"}, Subject{})
		if err == nil {
			t.Fatal("Expand accepted parameters that ResolveParams did not produce")
		}
		want := `spec.resources.coder.workspaces[0].parameters.ratio: parameter "ratio" has no value (resolve the parameters first)`
		if es := err.(Errors); es[0].Error() != want {
			t.Fatalf("got %q, want %q", es[0].Error(), want)
		}
	})
}
