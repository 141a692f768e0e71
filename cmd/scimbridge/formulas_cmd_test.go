package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

const cliAdminToken = "admin-token-for-formula-commands"

// cliFormula is a formula document at version; comment changes its
// source without changing its meaning.
func cliFormula(version, comment string) string {
	return `# ` + comment + `
apiVersion: scimbridge.dev/v1
kind: Formula
metadata:
  name: ml-research
  title: ML Research
spec:
  version: ` + version + `
  parameters:
    storage_gb: {type: integer, minimum: 100, maximum: 2000, default: 500}
    label: {type: string, default: ""}
  resources:
    coder:
      workspaces:
        - name: "ml-${{ user.userName | local | slug }}"
          template: ml-research
          parameters:
            storage_gb: "${{ params.storage_gb }}"
`
}

// cliBadFormula has problems on lines 4, 6 and 10.
const cliBadFormula = `apiVersion: scimbridge.dev/v1
kind: Formula
metadata:
  name: Bad_Name
spec:
  version: "1.0"
  resources:
    coder:
      workspaces:
        - {name: dev, template: base, extra: 1}
`

// stubPlanner stands in for the reconciler's planner: it answers one
// workspace to create per user and records the changes it was asked to
// assume. during, when set, runs inside Plan, as a concurrent admin
// would act between the plan and the apply.
type stubPlanner struct {
	st      store.Store
	mu      sync.Mutex
	changes []*fanout.BindingChange
	during  func()
}

func (p *stubPlanner) Plan(ctx context.Context, ids []string, change *fanout.BindingChange) (fanout.Plan, error) {
	p.mu.Lock()
	p.changes = append(p.changes, change)
	during := p.during
	p.mu.Unlock()
	if during != nil {
		during()
	}
	plan := fanout.Plan{Users: []fanout.UserPlan{}}
	for _, id := range ids {
		u, err := p.st.GetUser(ctx, id)
		if err != nil {
			return fanout.Plan{}, err
		}
		action := fanout.ActionCreate
		if change != nil && change.Remove {
			action = fanout.ActionRemove
		}
		plan.Users = append(plan.Users, fanout.UserPlan{UserID: id, UserName: u.UserName, Changes: []fanout.Change{
			{Connector: "coder", Action: action, Kind: "workspace", Name: "ml-" + u.UserName, Source: "ml-research via group research"},
		}})
	}
	return plan, nil
}

// setDuring sets the action run inside Plan (nil: none).
func (p *stubPlanner) setDuring(f func()) {
	p.mu.Lock()
	p.during = f
	p.mu.Unlock()
}

// lastChange is the change the last Plan was asked to assume.
func (p *stubPlanner) lastChange() *fanout.BindingChange {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.changes) == 0 {
		return nil
	}
	return p.changes[len(p.changes)-1]
}

// formulaServer is the real admin API over a bolt store, with two users
// in group research.
type formulaServer struct {
	url     string
	st      *bolt.Store
	planner *stubPlanner
	group   string
}

func startFormulaServer(t *testing.T, withPlanner bool) *formulaServer {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "f.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var ids []string
	for _, name := range []string{"alice", "bob"} {
		u := &store.User{UserName: name, Active: true, Attributes: []byte(`{}`)}
		if err := st.CreateUser(t.Context(), "t", u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	g := &store.Group{DisplayName: "research", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "t", g, func(tx store.GroupTx) error {
		for _, id := range ids {
			if err := tx.AddMember(id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := &formulaServer{st: st, planner: &stubPlanner{st: st}, group: g.ID}
	cfg := admin.Config{Store: st, TokenHashes: [][sha256.Size]byte{sha256.Sum256([]byte(cliAdminToken))}}
	if withPlanner {
		cfg.Planner = s.planner
	}
	h, err := admin.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// cli runs one command against the server; stdin "" is no input.
func (s *formulaServer) cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	args = append(args, "--url", s.url)
	code = runWithInput(t.Context(), args, in, &out, &errb, envOf(map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": cliAdminToken}))
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFormulasValidate(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	writeFile(t, good, cliFormula("1.0.0", "good"))
	writeFile(t, bad, cliBadFormula)
	validate := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"formulas", "validate"}, args...), &out, &errb, envOf(nil))
		return code, out.String(), errb.String()
	}
	t.Run("ErrInvalid", func(t *testing.T) {
		code, out, errOut := validate(bad, good)
		if code != 1 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		for _, re := range []string{
			`(?m)^` + regexp.QuoteMeta(bad) + `:4:\d+: metadata\.name: .+$`,
			`(?m)^` + regexp.QuoteMeta(bad) + `:6:\d+: spec\.version: .+$`,
			`(?m)^` + regexp.QuoteMeta(bad) + `:10:\d+: spec\.resources\.coder\.workspaces\[0\]\.extra: unknown key "extra".*$`,
			`(?m)^` + regexp.QuoteMeta(good) + `: ok \(ml-research 1\.0\.0\)$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("no line matching %s in:\n%s", re, out)
			}
		}
		if !strings.Contains(errOut, "1 of 2 files are invalid") {
			t.Fatalf("stderr %q", errOut)
		}
	})
	t.Run("OK", func(t *testing.T) {
		okDir := t.TempDir()
		writeFile(t, filepath.Join(okDir, "a.yaml"), cliFormula("1.0.0", "a"))
		writeFile(t, filepath.Join(okDir, "b.yml"), cliFormula("2.0.0", "b"))
		writeFile(t, filepath.Join(okDir, "README.md"), "not a formula")
		code, out, errOut := validate(okDir)
		if code != 0 || strings.Count(out, ": ok (") != 2 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("ErrSameVersionTwice", func(t *testing.T) {
		d := t.TempDir()
		writeFile(t, filepath.Join(d, "a.yaml"), cliFormula("1.0.0", "a"))
		writeFile(t, filepath.Join(d, "b.yaml"), cliFormula("1.0.0", "b"))
		code, out, _ := validate(d)
		if code != 1 || !strings.Contains(out, "is also in "+filepath.Join(d, "a.yaml")) {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("ErrMissingFile", func(t *testing.T) {
		code, out, _ := validate(filepath.Join(dir, "nope.yaml"))
		if code != 1 || !strings.Contains(out, "nope.yaml: cannot be read") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("ErrNoArguments", func(t *testing.T) {
		if code, _, _ := validate(); code != 2 {
			t.Fatalf("exit %d", code)
		}
	})
}

func TestFormulasPushListShow(t *testing.T) {
	s := startFormulaServer(t, true)
	dir := t.TempDir()
	good := filepath.Join(dir, "ml.yaml")
	writeFile(t, good, cliFormula("1.0.0", "first"))
	t.Run("Created", func(t *testing.T) {
		code, out, errOut := s.cli(t, "", "formulas", "push", good)
		if code != 0 || out != good+": created ml-research 1.0.0\n" {
			t.Fatalf("exit %d %q %q", code, out, errOut)
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		code, out, _ := s.cli(t, "", "formulas", "push", good)
		if code != 0 || out != good+": unchanged ml-research 1.0.0\n" {
			t.Fatalf("exit %d %q", code, out)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		edited := filepath.Join(dir, "edited.yaml")
		writeFile(t, edited, cliFormula("1.0.0", "edited"))
		code, out, errOut := s.cli(t, "", "formulas", "push", edited)
		if code != 1 || !strings.Contains(out, "version 1.0.0 of ml-research is stored with another source; bump spec.version") ||
			!strings.Contains(errOut, "1 of 1 files were not stored") {
			t.Fatalf("exit %d %q %q", code, out, errOut)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		writeFile(t, bad, cliBadFormula)
		code, out, _ := s.cli(t, "", "formulas", "push", bad)
		if code != 1 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(bad)+`:4:\d+: metadata\.name: `).MatchString(out) ||
			strings.Count(out, "\n") != 3 {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("ErrToken", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"formulas", "push", good, "--url", s.url, "--token", "wrong-wrong-wrong"}, &out, &errb, envOf(nil))
		if code != 1 || !strings.Contains(errb.String(), "admin bearer token") {
			t.Fatalf("exit %d %q", code, errb.String())
		}
	})
	writeFile(t, filepath.Join(dir, "ml2.yaml"), cliFormula("1.10.0", "second"))
	if code, out, errOut := s.cli(t, "", "formulas", "push", filepath.Join(dir, "ml2.yaml")); code != 0 {
		t.Fatalf("push: %d %s %s", code, out, errOut)
	}
	t.Run("List", func(t *testing.T) {
		code, out, _ := s.cli(t, "", "formulas", "list")
		if code != 0 || !regexp.MustCompile(`(?m)^NAME\s+LATEST\s+VERSIONS\s+TITLE\n ?ml-research\s+1\.10\.0\s+1\.0\.0,1\.10\.0\s+ML Research\s*$`).MatchString(out) {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("ShowSource", func(t *testing.T) {
		code, out, _ := s.cli(t, "", "formulas", "show", "ml-research")
		if code != 0 || out != cliFormula("1.10.0", "second") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		code, out, _ = s.cli(t, "", "formulas", "show", "ml-research@1.0.0")
		if code != 0 || out != cliFormula("1.0.0", "first") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("ShowSummary", func(t *testing.T) {
		code, out, _ := s.cli(t, "", "formulas", "show", "ml-research@1.0.0", "--summary")
		for _, re := range []string{
			`(?m)^ml-research 1\.0\.0 \(versions: 1\.0\.0, 1\.10\.0\)$`,
			`(?m)^storage_gb\s+integer\s+500\s+100\.\.2000\s*$`,
			`(?m)^coder\s+workspace\s+ml-\$\{\{ user\.userName \| local \| slug \}\}\s+template ml-research, parameters storage_gb$`,
			`(?m)^on removal:\s+suspend$`,
		} {
			if code != 0 || !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("exit %d; no line matching %s in:\n%s", code, re, out)
			}
		}
	})
	t.Run("ErrShowUnknown", func(t *testing.T) {
		code, _, errOut := s.cli(t, "", "formulas", "show", "nope")
		if code != 1 || !strings.Contains(errOut, "no formula nope is stored") {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
}

// storedBinding reads the binding of ml-research to research, nil when
// there is none.
func (s *formulaServer) storedBinding(t *testing.T) *store.Binding {
	t.Helper()
	b, err := s.st.GetBinding(t.Context(), s.group, "ml-research")
	if err != nil {
		return nil
	}
	return b
}

func TestBindAndUnbind(t *testing.T) {
	s := startFormulaServer(t, true)
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if err := s.st.PutFormula(t.Context(), "t", &store.Formula{Name: "ml-research", Version: v, Source: []byte(cliFormula(v, v))}); err != nil {
			t.Fatal(err)
		}
	}
	planLine := regexp.MustCompile(`(?m)^alice\s+coder\s+create\s+workspace\s+ml-alice\s+\[ml-research via group research\]$`)
	t.Run("Abort", func(t *testing.T) {
		code, out, errOut := s.cli(t, "n\n", "bind", "research", "ml-research", "--set", "storage_gb=800")
		if code != 1 || !strings.Contains(errOut, "not applied") {
			t.Fatalf("exit %d %q", code, errOut)
		}
		if !strings.Contains(out, "USER ") || !planLine.MatchString(out) || !strings.Contains(out, "Plan for 2 users: 2 to create") ||
			!strings.HasSuffix(out, "Apply? [y/N] ") {
			t.Fatalf("plan:\n%s", out)
		}
		if b := s.storedBinding(t); b != nil {
			t.Fatalf("bound after answering n: %+v", b)
		}
		last := s.planner.lastChange()
		if last.Remove || last.Binding.Group != s.group || last.Binding.Params["storage_gb"] != "800" {
			t.Fatalf("planned %+v", last)
		}
	})
	t.Run("ErrNoInput", func(t *testing.T) {
		code, _, errOut := s.cli(t, "", "bind", "research", "ml-research")
		if code != 1 || !strings.Contains(errOut, "--yes") || s.storedBinding(t) != nil {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
	t.Run("ErrParams", func(t *testing.T) {
		code, out, errOut := s.cli(t, "y\n", "bind", "research", "ml-research", "--set", "storage_gb=5", "--set", "color=red")
		if code != 1 || !strings.Contains(out, "params.storage_gb: ") || !strings.Contains(out, "params.color: ") ||
			!strings.Contains(errOut, "nothing was changed") || s.storedBinding(t) != nil {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("Apply", func(t *testing.T) {
		code, out, errOut := s.cli(t, "y\n", "bind", "research", "ml-research", "--set", "storage_gb=800", "--set", "label=a=b")
		if code != 0 || !strings.Contains(out, "bound ml-research (latest, now 2.0.0) to group research") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		b := s.storedBinding(t)
		if b == nil || b.Version != "" || b.Params["storage_gb"] != "800" || b.Params["label"] != "a=b" {
			t.Fatalf("stored %+v", b)
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		code, out, _ := s.cli(t, "", "bind", "research", "ml-research", "--set", "storage_gb=800", "--set", "label=a=b")
		if code != 0 || !strings.Contains(out, "nothing to do") || s.storedBinding(t).Meta.Version != 1 {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("ChangeYes", func(t *testing.T) {
		code, out, errOut := s.cli(t, "", "bind", "research", "ml-research@1.0.0", "--set", "storage_gb=900", "--yes")
		if code != 0 || !strings.Contains(out, "changed the binding of ml-research (1.0.0) to group research") || strings.Contains(out, "Apply?") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		if b := s.storedBinding(t); b.Version != "1.0.0" || b.Params["storage_gb"] != "900" || b.Params["label"] != "" {
			t.Fatalf("stored %+v", b)
		}
	})
	t.Run("ErrChangedMeanwhile", func(t *testing.T) {
		concurrent := &store.Binding{Group: s.group, Formula: "ml-research", Params: map[string]string{"storage_gb": "1500"}}
		s.planner.setDuring(func() {
			if err := s.st.PutBinding(context.Background(), "someone", concurrent, 0); err != nil {
				t.Error(err)
			}
		})
		defer s.planner.setDuring(nil)
		code, _, errOut := s.cli(t, "y\n", "bind", "research", "ml-research", "--set", "storage_gb=1000")
		if code != 1 || !strings.Contains(errOut, "the binding of ml-research to group research changed after the plan was made") {
			t.Fatalf("exit %d %q", code, errOut)
		}
		if b := s.storedBinding(t); b.Params["storage_gb"] != "1500" {
			t.Fatalf("the concurrent change was overwritten: %+v", b)
		}
	})
	t.Run("ErrUnbindChangedMeanwhile", func(t *testing.T) {
		s.planner.setDuring(func() {
			b := &store.Binding{Group: s.group, Formula: "ml-research", Params: map[string]string{"storage_gb": "1600"}}
			if err := s.st.PutBinding(context.Background(), "someone", b, 0); err != nil {
				t.Error(err)
			}
		})
		defer s.planner.setDuring(nil)
		code, _, errOut := s.cli(t, "", "unbind", "research", "ml-research", "--yes")
		if code != 1 || !strings.Contains(errOut, "changed after the plan was made") || s.storedBinding(t) == nil {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
	t.Run("UnbindAbort", func(t *testing.T) {
		code, out, _ := s.cli(t, "no\n", "unbind", "research", "ml-research")
		if code != 1 || !regexp.MustCompile(`coder\s+remove\s+workspace\s+ml-bob`).MatchString(out) || s.storedBinding(t) == nil {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("Unbind", func(t *testing.T) {
		code, out, errOut := s.cli(t, "yes\n", "unbind", s.group, "ml-research")
		if code != 0 || !strings.Contains(out, "removed the binding of ml-research from group research") || s.storedBinding(t) != nil {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		last := s.planner.lastChange()
		if !last.Remove {
			t.Fatalf("planned %+v", last)
		}
	})
	t.Run("ErrUnbindNone", func(t *testing.T) {
		code, _, errOut := s.cli(t, "y\n", "unbind", "research", "ml-research")
		if code != 1 || !strings.Contains(errOut, "group research has no binding of formula ml-research") {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
	t.Run("ErrCreatedMeanwhile", func(t *testing.T) {
		s.planner.setDuring(func() {
			b := &store.Binding{Group: s.group, Formula: "ml-research"}
			if err := s.st.PutBinding(context.Background(), "someone", b, store.IfAbsent); err != nil {
				t.Error(err)
			}
		})
		defer s.planner.setDuring(nil)
		code, _, errOut := s.cli(t, "", "bind", "research", "ml-research", "--set", "storage_gb=700", "--yes")
		if code != 1 || !strings.Contains(errOut, "changed after the plan was made") || s.storedBinding(t).Params["storage_gb"] != "" {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
	t.Run("ErrUnknownGroup", func(t *testing.T) {
		code, _, errOut := s.cli(t, "", "bind", "nobody", "ml-research", "--yes")
		if code != 1 || !strings.Contains(errOut, "no group nobody") {
			t.Fatalf("exit %d %q", code, errOut)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{{"bind", "research"}, {"bind", "research", "ml-research", "--set", "novalue"}, {"unbind", "research"}} {
			if code, _, _ := s.cli(t, "", args...); code != 2 {
				t.Errorf("%v: exit %d", args, code)
			}
		}
	})
}

// TestBindWithoutConnectors binds where nothing can be planned: the plan
// says so and the binding is still made.
func TestBindWithoutConnectors(t *testing.T) {
	s := startFormulaServer(t, false)
	if err := s.st.PutFormula(t.Context(), "t", &store.Formula{Name: "ml-research", Version: "1.0.0", Source: []byte(cliFormula("1.0.0", ""))}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := s.cli(t, "y\n", "bind", "research", "ml-research")
	if code != 0 || !strings.Contains(out, "nothing to plan (no connectors are configured)") || s.storedBinding(t) == nil {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestPrintPlan(t *testing.T) {
	var b bytes.Buffer
	printPlan(&b, fanout.Plan{Users: []fanout.UserPlan{
		{UserID: "1", UserName: "alice", Changes: []fanout.Change{
			{Connector: "gitea", Action: fanout.ActionUpdate, Kind: "repo", Name: "alice-research", Detail: "description: a -> b", Source: "ml@2.0.0 via group ml"},
			{Connector: "coder", Action: fanout.ActionKeep, Kind: "workspace", Name: "ml-alice"},
		}, Errors: []string{"formula ml bound to group ml: no version of it is stored"}},
		{UserID: "2", UserName: "bob"},
	}})
	want := `USER   SERVICE  ACTION      KIND       NAME            DETAIL
alice  gitea    update      repo       alice-research  description: a -> b [ml@2.0.0 via group ml]
alice  coder    keep        workspace  ml-alice        
bob    -        no changes                             
error: alice: formula ml bound to group ml: no version of it is stored

Plan for 2 users: 0 to create, 1 to update, 0 to remove, 1 kept; 1 error
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
