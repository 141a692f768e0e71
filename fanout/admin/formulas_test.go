package admin_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/fanout"
	"github.com/scimbridge/scimbridge/fanout/admin"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// mlFormula returns a formula document at version, with a comment that
// changes its source without changing its meaning.
func mlFormula(version, comment string) string {
	return `# ` + comment + `
apiVersion: scimbridge.dev/v1
kind: Formula
metadata:
  name: ml-research
  title: ML Research
  description: A GPU workspace.
  tags: [gpu]
spec:
  version: ` + version + `
  parameters:
    gpu_type: {type: string, enum: [nvidia-a100, nvidia-h100], default: nvidia-a100}
    storage_gb: {type: integer, minimum: 100, maximum: 2000, default: 500}
  resources:
    coder:
      workspaces:
        - name: "ml-${{ user.userName | local | slug }}"
          template: ml-research
          parameters:
            gpu_type: "${{ params.gpu_type }}"
`
}

// badFormula has three problems on three lines.
const badFormula = `apiVersion: scimbridge.dev/v1
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

// stubPlanner is a test double for the reconciler's planner: it records
// what it was asked and answers one change per user.
type stubPlanner struct {
	mu         sync.Mutex
	ids        [][]string
	change     []*fanout.BindingChange
	membership []string // "user join|leave group"
}

func (p *stubPlanner) PlanMembership(_ context.Context, id string, m fanout.MembershipChange) (fanout.Plan, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	verb := "leave"
	if m.Join {
		verb = "join"
	}
	p.membership = append(p.membership, id+" "+verb+" "+m.Group)
	return fanout.Plan{Users: []fanout.UserPlan{{UserID: id, Changes: []fanout.Change{}}}}, nil
}

func (p *stubPlanner) Plan(_ context.Context, ids []string, change *fanout.BindingChange) (fanout.Plan, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = append(p.ids, ids)
	p.change = append(p.change, change)
	plan := fanout.Plan{Users: []fanout.UserPlan{}}
	for _, id := range ids {
		plan.Users = append(plan.Users, fanout.UserPlan{UserID: id, Changes: []fanout.Change{{Connector: "coder", Action: fanout.ActionCreate, Kind: "workspace", Name: "ml-" + id}}})
	}
	return plan, nil
}

func (p *stubPlanner) last() ([]string, *fanout.BindingChange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return nil, nil
	}
	return p.ids[len(p.ids)-1], p.change[len(p.change)-1]
}

type world struct {
	url     string
	st      store.Store
	planner *stubPlanner
	alice   string
	bob     string
	group   string
}

func newWorld(t *testing.T, withPlanner bool) *world {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{st: st, planner: &stubPlanner{}}
	for _, name := range []string{"alice", "bob"} {
		u := &store.User{UserName: name, Active: true, Attributes: []byte(`{}`)}
		if err := st.CreateUser(t.Context(), "t", u); err != nil {
			t.Fatal(err)
		}
		if name == "alice" {
			w.alice = u.ID
		} else {
			w.bob = u.ID
		}
	}
	g := &store.Group{DisplayName: "research", Attributes: []byte(`{}`)}
	if err := st.CreateGroup(t.Context(), "t", g, func(tx store.GroupTx) error {
		if err := tx.AddMember(w.alice); err != nil {
			return err
		}
		return tx.AddMember(w.bob)
	}); err != nil {
		t.Fatal(err)
	}
	w.group = g.ID
	cfg := admin.Config{Store: st, TokenHashes: [][sha256.Size]byte{sha256.Sum256([]byte(token))}}
	if withPlanner {
		cfg.Planner = w.planner
	}
	h, err := admin.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

type answer struct {
	code int
	hdr  http.Header
	body []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

func (a answer) errorText(t *testing.T) string {
	var e admin.ErrorBody
	a.decode(t, &e)
	return e.Error
}

// do sends one request; hdr holds header pairs.
func (w *world) do(t *testing.T, method, path, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, hdr: resp.Header, body: b}
}

func want(t *testing.T, a answer, code int) {
	t.Helper()
	if a.code != code {
		t.Fatalf("status %d, want %d: %s", a.code, code, a.body)
	}
}

func TestPushFormula(t *testing.T) {
	w := newWorld(t, true)
	yaml := "Content-Type"
	t.Run("Created", func(t *testing.T) {
		a := w.do(t, "POST", "/admin/v1/formulas", mlFormula("1.0.0", "first"), yaml, "application/yaml")
		want(t, a, 201)
		if loc := a.hdr.Get("Location"); loc != "/admin/v1/formulas/ml-research/versions/1.0.0" {
			t.Fatalf("Location %q", loc)
		}
		var res admin.PushResult
		a.decode(t, &res)
		if res != (admin.PushResult{Name: "ml-research", Version: "1.0.0", Result: "created"}) {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		a := w.do(t, "POST", "/admin/v1/formulas", mlFormula("1.0.0", "first"), yaml, "application/yaml; charset=utf-8")
		want(t, a, 200)
		var res admin.PushResult
		a.decode(t, &res)
		if res.Result != "unchanged" {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("ErrOtherSource", func(t *testing.T) {
		a := w.do(t, "POST", "/admin/v1/formulas", mlFormula("1.0.0", "edited"), yaml, "text/plain")
		want(t, a, 409)
		if msg := a.errorText(t); msg != "version 1.0.0 of ml-research is stored with another source; bump spec.version" {
			t.Fatalf("message %q", msg)
		}
	})
	t.Run("ErrSamePrecedence", func(t *testing.T) {
		a := w.do(t, "POST", "/admin/v1/formulas", mlFormula("1.0.0+build.2", "first"), yaml, "application/yaml")
		want(t, a, 409)
		if msg := a.errorText(t); !strings.Contains(msg, "precedence of the stored version 1.0.0") {
			t.Fatalf("message %q", msg)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		a := w.do(t, "POST", "/admin/v1/formulas", badFormula, yaml, "application/yaml")
		want(t, a, 422)
		var e admin.ErrorBody
		a.decode(t, &e)
		if e.Error != "3 problems in the formula" || len(e.Problems) != 3 {
			t.Fatalf("%+v", e)
		}
		lines := []int{e.Problems[0].Line, e.Problems[1].Line, e.Problems[2].Line}
		if !reflect.DeepEqual(lines, []int{4, 6, 10}) {
			t.Fatalf("lines %v: %+v", lines, e.Problems)
		}
		if e.Problems[0].Path != "metadata.name" || e.Problems[0].Column == 0 || e.Problems[0].Message == "" {
			t.Fatalf("%+v", e.Problems[0])
		}
		if !strings.Contains(e.Problems[2].Message, `unknown key "extra"`) {
			t.Fatalf("%+v", e.Problems[2])
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		big := mlFormula("9.0.0", strings.Repeat("x", admin.MaxFormulaBytes))
		want(t, w.do(t, "POST", "/admin/v1/formulas", big, yaml, "application/yaml"), 413)
	})
	t.Run("ErrMediaType", func(t *testing.T) {
		want(t, w.do(t, "POST", "/admin/v1/formulas", mlFormula("9.0.0", "x"), yaml, "application/x-www-form-urlencoded"), 415)
	})
	t.Run("JSON", func(t *testing.T) {
		src := `{"apiVersion": "scimbridge.dev/v1", "kind": "Formula", "metadata": {"name": "crm"},
			"spec": {"version": "0.1.0", "resources": {"twenty": {"person": {}}}}}`
		want(t, w.do(t, "POST", "/admin/v1/formulas", src, yaml, "application/json"), 201)
		a := w.do(t, "GET", "/admin/v1/formulas/crm?format=source", "")
		want(t, a, 200)
		if string(a.body) != src || a.hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %q", a.hdr.Get("Content-Type"), a.body)
		}
	})
	t.Run("ErrNoToken", func(t *testing.T) {
		req, _ := http.NewRequest("POST", w.url+"/admin/v1/formulas", strings.NewReader(mlFormula("5.0.0", "x")))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("Audit", func(t *testing.T) {
		evs, err := w.st.Events(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Kind == store.KindFormula {
				n++
				if e.Actor != "admin" {
					t.Fatalf("actor %q", e.Actor)
				}
			}
		}
		if n != 2 { // ml-research 1.0.0 and crm 0.1.0
			t.Fatalf("%d formula events", n)
		}
	})
}

func TestReadAndDeleteFormulas(t *testing.T) {
	w := newWorld(t, true)
	for _, v := range []string{"1.10.0", "1.2.0", "2.0.0-rc.1", "1.0.0"} {
		want(t, w.do(t, "POST", "/admin/v1/formulas", mlFormula(v, v), "Content-Type", "application/yaml"), 201)
	}
	t.Run("List", func(t *testing.T) {
		var list admin.FormulaList
		a := w.do(t, "GET", "/admin/v1/formulas", "")
		want(t, a, 200)
		a.decode(t, &list)
		if len(list.Formulas) != 1 {
			t.Fatalf("%+v", list)
		}
		f := list.Formulas[0]
		var vs []string
		for _, v := range f.Versions {
			vs = append(vs, v.Version)
			if v.Latest != (v.Version == "2.0.0-rc.1") {
				t.Fatalf("latest mark on %+v", v)
			}
		}
		if !reflect.DeepEqual(vs, []string{"1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1"}) || f.Latest != "2.0.0-rc.1" ||
			f.Title != "ML Research" || f.Description != "A GPU workspace." || !reflect.DeepEqual(f.Tags, []string{"gpu"}) {
			t.Fatalf("%+v", f)
		}
	})
	t.Run("Latest", func(t *testing.T) {
		var v admin.FormulaView
		a := w.do(t, "GET", "/admin/v1/formulas/ml-research", "")
		want(t, a, 200)
		a.decode(t, &v)
		if v.Version != "2.0.0-rc.1" || !v.Latest || v.Formula == nil || v.Formula.Spec.Parameters["storage_gb"].Type != "integer" ||
			v.Source != mlFormula("2.0.0-rc.1", "2.0.0-rc.1") || len(v.Versions) != 4 {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("Version", func(t *testing.T) {
		var v admin.FormulaView
		a := w.do(t, "GET", "/admin/v1/formulas/ml-research/versions/1.2.0", "")
		want(t, a, 200)
		a.decode(t, &v)
		if v.Version != "1.2.0" || v.Latest || v.Formula.Metadata.Name != "ml-research" {
			t.Fatalf("%+v", v)
		}
		a = w.do(t, "GET", "/admin/v1/formulas/ml-research/versions/1.2.0?format=source", "")
		want(t, a, 200)
		if string(a.body) != mlFormula("1.2.0", "1.2.0") || a.hdr.Get("Content-Type") != "application/yaml" {
			t.Fatalf("%q", a.body)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		a := w.do(t, "GET", "/admin/v1/formulas/nope", "")
		want(t, a, 404)
		if msg := a.errorText(t); msg != "no formula nope is stored" {
			t.Fatalf("%q", msg)
		}
		a = w.do(t, "GET", "/admin/v1/formulas/ml-research/versions/3.0.0", "")
		want(t, a, 404)
		if msg := a.errorText(t); msg != "no version 3.0.0 of formula ml-research is stored" {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		want(t, w.do(t, "PUT", "/admin/v1/groups/research/bindings/ml-research", `{"version": "1.2.0"}`), 201)
		a := w.do(t, "DELETE", "/admin/v1/formulas/ml-research/versions/1.2.0", "")
		want(t, a, 409)
		if msg := a.errorText(t); !strings.Contains(msg, "pinned by the binding of group research") {
			t.Fatalf("%q", msg)
		}
		want(t, w.do(t, "DELETE", "/admin/v1/formulas/ml-research/versions/1.0.0", ""), 204)
		a = w.do(t, "DELETE", "/admin/v1/formulas/ml-research/versions/1.0.0", "")
		want(t, a, 404)
		if msg := a.errorText(t); msg != "no version 1.0.0 of formula ml-research is stored" {
			t.Fatalf("%q", msg)
		}
	})
}

func TestBindings(t *testing.T) {
	w := newWorld(t, true)
	want(t, w.do(t, "POST", "/admin/v1/formulas", mlFormula("1.0.0", "a"), "Content-Type", "application/yaml"), 201)
	want(t, w.do(t, "POST", "/admin/v1/formulas", mlFormula("2.0.0", "b"), "Content-Type", "application/yaml"), 201)
	path := "/admin/v1/groups/research/bindings/ml-research"
	t.Run("ErrUnknownGroup", func(t *testing.T) {
		a := w.do(t, "PUT", "/admin/v1/groups/nobody/bindings/ml-research", `{}`)
		want(t, a, 404)
		if msg := a.errorText(t); msg != "no group nobody" {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("ErrUnknownFormula", func(t *testing.T) {
		a := w.do(t, "PUT", "/admin/v1/groups/research/bindings/nope", `{}`)
		want(t, a, 404)
		if msg := a.errorText(t); msg != "no formula nope is stored" {
			t.Fatalf("%q", msg)
		}
		a = w.do(t, "PUT", path, `{"version": "3.0.0"}`)
		want(t, a, 404)
		if msg := a.errorText(t); msg != "no version 3.0.0 of formula ml-research is stored" {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("ErrParams", func(t *testing.T) {
		a := w.do(t, "PUT", path, `{"params": {"storage_gb": "50", "gpu_type": "tpu", "color": "red"}}`)
		want(t, a, 422)
		var e admin.ErrorBody
		a.decode(t, &e)
		var paths []string
		for _, p := range e.Problems {
			paths = append(paths, p.Path)
		}
		if e.Error != "3 problems in the parameters for ml-research@2.0.0" {
			t.Fatalf("%q", e.Error)
		}
		if !reflect.DeepEqual(paths, []string{"params.color", "params.gpu_type", "params.storage_gb"}) {
			t.Fatalf("%+v", e.Problems)
		}
	})
	t.Run("ErrBadBody", func(t *testing.T) {
		want(t, w.do(t, "PUT", path, `{"versoin": "1.0.0"}`), 400)
	})
	var etag string
	t.Run("Create", func(t *testing.T) {
		a := w.do(t, "PUT", path, `{"params": {"storage_gb": "1000"}}`, "If-None-Match", "*")
		want(t, a, 201)
		etag = a.hdr.Get("ETag")
		if etag != `W/"1"` {
			t.Fatalf("ETag %q", etag)
		}
		var b admin.BindingView
		a.decode(t, &b)
		if b.Group != w.group || b.GroupName != "research" || b.Version != "" || b.Resolved != "2.0.0" || b.Params["storage_gb"] != "1000" || b.ETag != etag {
			t.Fatalf("%+v", b)
		}
	})
	t.Run("ErrCreateExists", func(t *testing.T) {
		a := w.do(t, "PUT", path, `{}`, "If-None-Match", "*")
		want(t, a, 412)
		if msg := a.errorText(t); !strings.Contains(msg, "already has a binding") {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("ReplaceIfMatch", func(t *testing.T) {
		a := w.do(t, "PUT", "/admin/v1/groups/"+w.group+"/bindings/ml-research", `{"version": "1.0.0"}`, "If-Match", etag)
		want(t, a, 200)
		if got := a.hdr.Get("ETag"); got != `W/"2"` {
			t.Fatalf("ETag %q", got)
		}
	})
	t.Run("ErrStaleIfMatch", func(t *testing.T) {
		a := w.do(t, "PUT", path, `{}`, "If-Match", etag)
		want(t, a, 412)
		if msg := a.errorText(t); !strings.Contains(msg, "changed since it was read") {
			t.Fatalf("%q", msg)
		}
		want(t, w.do(t, "PUT", path, `{}`, "If-Match", `"garbage"`), 412)
		want(t, w.do(t, "PUT", "/admin/v1/groups/research/bindings/other", `{}`, "If-Match", "*"), 404) // formula first
	})
	t.Run("ReplaceUnconditionally", func(t *testing.T) {
		a := w.do(t, "PUT", path, `{"version": "2.0.0", "params": {"gpu_type": "nvidia-h100"}}`)
		want(t, a, 200)
		if got := a.hdr.Get("ETag"); got != `W/"3"` {
			t.Fatalf("ETag %q", got)
		}
	})
	t.Run("Get", func(t *testing.T) {
		a := w.do(t, "GET", path, "")
		want(t, a, 200)
		var b admin.BindingView
		a.decode(t, &b)
		if a.hdr.Get("ETag") != `W/"3"` || b.Version != "2.0.0" || b.Params["gpu_type"] != "nvidia-h100" {
			t.Fatalf("%s %+v", a.hdr.Get("ETag"), b)
		}
		a = w.do(t, "GET", "/admin/v1/groups/research/bindings/crm", "")
		want(t, a, 404)
		if msg := a.errorText(t); msg != "group research has no binding of formula crm" {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("List", func(t *testing.T) {
		for _, p := range []string{"/admin/v1/bindings", "/admin/v1/groups/research/bindings"} {
			var list admin.BindingList
			a := w.do(t, "GET", p, "")
			want(t, a, 200)
			a.decode(t, &list)
			if len(list.Bindings) != 1 || list.Bindings[0].Formula != "ml-research" || list.Bindings[0].GroupName != "research" {
				t.Fatalf("%s: %+v", p, list)
			}
		}
		want(t, w.do(t, "GET", "/admin/v1/groups/nobody/bindings", ""), 404)
	})
	t.Run("Delete", func(t *testing.T) {
		want(t, w.do(t, "DELETE", path, "", "If-Match", `W/"2"`), 412)
		want(t, w.do(t, "DELETE", path, "", "If-Match", `W/"3"`), 204)
		a := w.do(t, "DELETE", path, "")
		want(t, a, 404)
		if msg := a.errorText(t); msg != "group research has no binding of formula ml-research" {
			t.Fatalf("%q", msg)
		}
		want(t, w.do(t, "DELETE", path, "", "If-Match", "*"), 412)
		if _, err := w.st.GetBinding(t.Context(), w.group, "ml-research"); err == nil {
			t.Fatal("the binding is still stored")
		}
	})
}

func TestPlans(t *testing.T) {
	w := newWorld(t, true)
	want(t, w.do(t, "POST", "/admin/v1/formulas", mlFormula("1.0.0", "a"), "Content-Type", "application/yaml"), 201)
	members := []string{w.alice, w.bob}
	if members[0] > members[1] {
		members[0], members[1] = members[1], members[0] // user-id order
	}
	t.Run("User", func(t *testing.T) {
		a := w.do(t, "GET", "/admin/v1/plan?user=alice", "")
		want(t, a, 200)
		var p fanout.Plan
		a.decode(t, &p)
		ids, change := w.planner.last()
		if !reflect.DeepEqual(ids, []string{w.alice}) || change != nil || len(p.Users) != 1 || p.Users[0].Changes[0].Kind != "workspace" {
			t.Fatalf("%v %v %+v", ids, change, p)
		}
	})
	t.Run("Group", func(t *testing.T) {
		want(t, w.do(t, "GET", "/admin/v1/plan?group=research", ""), 200)
		if ids, change := w.planner.last(); !reflect.DeepEqual(ids, members) || change != nil {
			t.Fatalf("%v %v", ids, change)
		}
	})
	t.Run("Membership", func(t *testing.T) {
		want(t, w.do(t, "GET", "/admin/v1/plan?user=bob&join=research", ""), 200)
		want(t, w.do(t, "GET", "/admin/v1/plan?user=alice&leave="+w.group, ""), 200)
		want(t, w.do(t, "GET", "/admin/v1/plan?user=alice&leave=nosuchgroup", ""), 404)
		want(t, w.do(t, "GET", "/admin/v1/plan?group=research&join=research", ""), 400)
		want(t, w.do(t, "GET", "/admin/v1/plan?user=alice&join=research&leave=research", ""), 400)
		w.planner.mu.Lock()
		got := w.planner.membership
		w.planner.mu.Unlock()
		if wantM := []string{w.bob + " join " + w.group, w.alice + " leave " + w.group}; !reflect.DeepEqual(got, wantM) {
			t.Fatalf("membership plans asked: %q, want %q", got, wantM)
		}
	})
	t.Run("ErrQuery", func(t *testing.T) {
		want(t, w.do(t, "GET", "/admin/v1/plan", ""), 400)
		want(t, w.do(t, "GET", "/admin/v1/plan?user=alice&group=research", ""), 400)
		a := w.do(t, "GET", "/admin/v1/plan?user=nobody", "")
		want(t, a, 404)
		if msg := a.errorText(t); msg != "no user nobody" {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("Change", func(t *testing.T) {
		a := w.do(t, "POST", "/admin/v1/plan", `{"group": "research", "formula": "ml-research", "version": "1.0.0", "params": {"storage_gb": "800"}}`)
		want(t, a, 200)
		ids, change := w.planner.last()
		wantChange := &fanout.BindingChange{Binding: store.Binding{Group: w.group, Formula: "ml-research", Version: "1.0.0", Params: map[string]string{"storage_gb": "800"}}}
		if !reflect.DeepEqual(ids, members) || !reflect.DeepEqual(change, wantChange) {
			t.Fatalf("%v %+v", ids, change)
		}
		if _, err := w.st.GetBinding(t.Context(), w.group, "ml-research"); err == nil {
			t.Fatal("planning made the binding")
		}
	})
	t.Run("ErrChangeParams", func(t *testing.T) {
		before := len(w.planner.ids)
		a := w.do(t, "POST", "/admin/v1/plan", `{"group": "research", "formula": "ml-research", "params": {"storage_gb": "lots", "x": "1"}}`)
		want(t, a, 422)
		var e admin.ErrorBody
		a.decode(t, &e)
		if len(e.Problems) != 2 || len(w.planner.ids) != before {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		a := w.do(t, "POST", "/admin/v1/plan", `{"group": "research", "formula": "ml-research", "remove": true}`)
		want(t, a, 404)
		if msg := a.errorText(t); msg != "group research has no binding of formula ml-research" {
			t.Fatalf("%q", msg)
		}
		want(t, w.do(t, "PUT", "/admin/v1/groups/research/bindings/ml-research", `{}`), 201)
		want(t, w.do(t, "POST", "/admin/v1/plan", `{"group": "research", "formula": "ml-research", "remove": true}`), 200)
		if _, change := w.planner.last(); change == nil || !change.Remove || change.Binding.Group != w.group {
			t.Fatalf("%+v", change)
		}
	})
	t.Run("ErrNoPlanner", func(t *testing.T) {
		w2 := newWorld(t, false)
		for _, a := range []answer{
			w2.do(t, "GET", "/admin/v1/plan?user=alice", ""),
			w2.do(t, "POST", "/admin/v1/plan", `{"group": "research", "formula": "ml-research"}`),
		} {
			want(t, a, 409)
			if msg := a.errorText(t); msg != "no connectors are configured" {
				t.Fatalf("%q", msg)
			}
		}
	})
}

// TestBindingWakesMembers checks that a binding written through the API
// queues the group's members for the reconciler.
func TestBindingWakesMembers(t *testing.T) {
	w := newWorld(t, true)
	want(t, w.do(t, "POST", "/admin/v1/formulas", mlFormula("1.0.0", "a"), "Content-Type", "application/yaml"), 201)
	old, _ := w.st.Pending(t.Context(), 0)
	_ = w.st.Ack(t.Context(), old...)
	want(t, w.do(t, "PUT", "/admin/v1/groups/research/bindings/ml-research", `{}`), 201)
	items, err := w.st.Pending(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key.String())
	}
	joined := strings.Join(keys, " ")
	if !strings.Contains(joined, "user/"+w.alice) || !strings.Contains(joined, "user/"+w.bob) {
		t.Fatalf("queued %v", keys)
	}
}
