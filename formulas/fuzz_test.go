package formulas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary documents (seeded with the golden
// inputs): it must never panic, every error must be Errors, and what it
// accepts must validate, survive JSON and expand without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		fm, err := Parse(src)
		if err != nil {
			if es, ok := err.(Errors); !ok || len(es) == 0 {
				t.Fatalf("error %#v is not a non-empty Errors", err)
			}
			return
		}
		if err := fm.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		b, err := json.Marshal(fm)
		if err != nil {
			t.Fatal(err)
		}
		var g Formula
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("the JSON form does not validate: %v\n%s", err, b)
		}
		if params, err := fm.ResolveParams(nil); err == nil {
			_, _ = Expand(fm, params, goldenSubject)
		}
	})
}
