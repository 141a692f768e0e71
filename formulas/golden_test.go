package formulas

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenSubject is whom every golden formula is expanded for: a userName
// that is an email address, accents, mixed case.
var goldenSubject = Subject{
	User: UserView{
		ID:          "2819c223-7f76-453a-919d-413861904646",
		UserName:    "Ana.Garcia@example.com",
		ExternalID:  "00u1a2b3c4d5",
		Email:       "ana.garcia@example.com",
		GivenName:   "Ana María",
		FamilyName:  "García",
		DisplayName: "Ana María García",
		Subject:     "00u1a2b3c4d5",
	},
	Group: GroupView{ID: "e9e30dba-f08f-4109-8486-d5c6a331660a", DisplayName: "ML Research"},
}

// TestGolden parses each testdata/*.yaml, resolves its parameters (the
// "# set: key=value" comment lines, as a binding would give them) and
// expands it for goldenSubject. A formula that goes through compares its
// Resources with NAME.golden; one that fails compares every problem, one
// per line, with NAME.errors.golden. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, failed := runGolden(t, src)
			base := strings.TrimSuffix(file, ".yaml")
			want, stale := base+".golden", base+".errors.golden"
			if failed {
				want, stale = stale, want
			}
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				return
			}
			if _, err := os.Stat(stale); err == nil {
				t.Errorf("%s exists, but the formula %s", stale, map[bool]string{true: "fails", false: "goes through"}[failed])
			}
			expected, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)\ngot:\n%s", err, got)
			}
			if !bytes.Equal(got, expected) {
				t.Errorf("%s differs\ngot:\n%s\nwant:\n%s", want, got, expected)
			}
		})
	}
}

// runGolden returns the expansion as indented JSON, or the problems one
// per line and true.
func runGolden(t *testing.T, src []byte) ([]byte, bool) {
	t.Helper()
	f, err := Parse(src)
	if err == nil {
		var params map[string]any
		params, err = f.ResolveParams(setValues(src))
		if err == nil {
			var res Resources
			res, err = Expand(f, params, goldenSubject)
			if err == nil {
				b, err := json.MarshalIndent(res, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				return append(b, '\n'), false
			}
		}
	}
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("the error is not Errors: %#v", err)
	}
	var b bytes.Buffer
	for _, e := range es {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.Bytes(), true
}

// setValues reads the "# set: key=value" lines of a golden input.
func setValues(src []byte) map[string]string {
	values := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "# set: ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		values[k] = v
	}
	return values
}
