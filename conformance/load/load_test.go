package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is just enough of /Users and /Groups for a run: it keeps
// users and one membership list per group, enforces userName uniqueness
// and the bearer token, and fails every failEvery-th request of the kind
// failOn names ("POST /Users", "GET /Users/", ...).
type fakeServer struct {
	token     string
	failOn    string
	failEvery int64

	mu      sync.Mutex
	byName  map[string]string
	users   map[string]string
	groups  map[string][]string
	seen    atomic.Int64
	counter atomic.Int64
}

func newFakeServer(t *testing.T, failOn string, failEvery int64) (*fakeServer, string) {
	t.Helper()
	f := &fakeServer{token: "tok", failOn: failOn, failEvery: failEvery,
		byName: map[string]string{}, users: map[string]string{}, groups: map[string][]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/scim/v2"
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/scim/v2")
	kind := r.Method + " " + path
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		kind = r.Method + " " + path[:i+1]
	}
	if kind == f.failOn && f.seen.Add(1)%f.failEvery == 0 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var body map[string]any
	if r.Body != nil {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := path[strings.LastIndexByte(path, '/')+1:]
	switch kind {
	case "POST /Users":
		name, _ := body["userName"].(string)
		if name == "" || f.byName[strings.ToLower(name)] != "" {
			reply(http.StatusConflict, map[string]any{"status": "409"})
			return
		}
		id := fmt.Sprintf("u%d", f.counter.Add(1))
		f.byName[strings.ToLower(name)] = id
		f.users[id] = name
		reply(http.StatusCreated, map[string]any{"id": id, "userName": name})
	case "GET /Users/":
		if name, ok := f.users[id]; ok {
			reply(http.StatusOK, map[string]any{"id": id, "userName": name})
			return
		}
		reply(http.StatusNotFound, map[string]any{"status": "404"})
	case "GET /Users":
		var name string
		if _, err := fmt.Sscanf(r.URL.Query().Get("filter"), "userName eq %q", &name); err != nil {
			reply(http.StatusBadRequest, map[string]any{"status": "400", "scimType": "invalidFilter"})
			return
		}
		n := 0
		if f.byName[strings.ToLower(name)] != "" {
			n = 1
		}
		reply(http.StatusOK, map[string]any{"totalResults": n})
	case "POST /Groups":
		id := fmt.Sprintf("g%d", f.counter.Add(1))
		f.groups[id] = nil
		reply(http.StatusCreated, map[string]any{"id": id})
	case "PATCH /Groups/":
		ops, _ := body["Operations"].([]any)
		for _, op := range ops {
			for _, v := range op.(map[string]any)["value"].([]any) {
				f.groups[id] = append(f.groups[id], v.(map[string]any)["value"].(string))
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case "GET /Groups/":
		reply(http.StatusOK, map[string]any{"id": id, "members": f.groups[id]})
	default:
		reply(http.StatusNotFound, map[string]any{"status": "404"})
	}
}

// phaseOps returns the Ops and Errors of each phase by name.
func phaseOps(phases []Phase) map[string][2]int {
	m := map[string][2]int{}
	for _, p := range phases {
		m[p.Name] = [2]int{p.Ops, p.Errors}
	}
	return m
}

func TestRun(t *testing.T) {
	f, base := newFakeServer(t, "", 1)
	var progress bytes.Buffer
	phases, err := Run(t.Context(), Config{BaseURL: base, Token: "tok", Users: 40, Concurrency: 4, Members: 25, Reads: 300}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{
		"create users":       {40, 0},
		"get user":           {300, 0},
		"filter userName eq": {300, 0},
		"add member":         {25, 0},
		"get group":          {groupReads, 0},
	}
	if got := phaseOps(phases); fmt.Sprint(got) != fmt.Sprint(want) || len(phases) != len(want) {
		t.Errorf("phases (ops, errors): got %v, want %v", got, want)
	}
	for _, p := range phases {
		if p.Elapsed <= 0 || p.P50 <= 0 || p.P99 < p.P50 || p.OpsPerSec() <= 0 {
			t.Errorf("phase %q: implausible measurement %+v", p.Name, p)
		}
	}
	for _, members := range f.groups {
		if len(members) != 25 {
			t.Errorf("expected 25 members added one by one, got %d", len(members))
		}
	}
	if !strings.Contains(progress.String(), "create users: 40/40 done") {
		t.Errorf("progress lacks the create users line:\n%s", progress.String())
	}

	// A second run against the same server must not collide.
	phases, err = Run(t.Context(), Config{BaseURL: base, Token: "tok", Users: 10, Concurrency: 2, Reads: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := phaseOps(phases)["create users"]; got != [2]int{10, 0} {
		t.Errorf("second run: create users (ops, errors) %v", got)
	}
}

func TestRunCountsErrors(t *testing.T) {
	for _, tc := range []struct {
		failOn    string
		failEvery int64
		phase     string
		ops, errs int
	}{
		{"POST /Users", 4, "create users", 40, 10},
		{"GET /Users/", 3, "get user", 300, 100},
		{"GET /Users", 1, "filter userName eq", 300, 300},
		{"PATCH /Groups/", 5, "add member", 30, 6},
	} {
		t.Run(strings.ReplaceAll(tc.failOn, "/", ""), func(t *testing.T) {
			_, base := newFakeServer(t, tc.failOn, tc.failEvery)
			phases, err := Run(t.Context(), Config{BaseURL: base, Token: "tok", Users: 40, Concurrency: 4, Members: 30, Reads: 300}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := phaseOps(phases)[tc.phase]; got != [2]int{tc.ops, tc.errs} {
				t.Errorf("%s (ops, errors): got %v, want %v", tc.phase, got, [2]int{tc.ops, tc.errs})
			}
		})
	}
}

func TestRunWrongTokenFails(t *testing.T) {
	_, base := newFakeServer(t, "", 1)
	phases, err := Run(t.Context(), Config{BaseURL: base, Token: "wrong", Users: 5, Concurrency: 2}, nil)
	if err == nil {
		t.Fatal("expected an error when no user can be created")
	}
	if len(phases) != 1 || phases[0].Errors != 5 {
		t.Errorf("expected one phase with 5 errors, got %+v", phases)
	}
}

func TestRunDurationCapsReads(t *testing.T) {
	_, base := newFakeServer(t, "", 1)
	phases, err := Run(t.Context(), Config{BaseURL: base, Token: "tok", Users: 5, Concurrency: 2, Reads: 1 << 30, Duration: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range phases {
		if p.Name == "get user" && (p.Ops == 0 || p.Ops >= 1<<30 || p.Elapsed > 5*time.Second) {
			t.Errorf("get user not capped by Duration: %+v", p)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	_, base := newFakeServer(t, "", 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Run(ctx, Config{BaseURL: base, Token: "tok", Users: 5}, nil); err == nil {
		t.Fatal("expected an error from a cancelled run")
	}
}

func TestPercentile(t *testing.T) {
	var l []time.Duration
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(l, 50); p != 50*time.Millisecond {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(l, 99); p != 99*time.Millisecond {
		t.Errorf("p99 %v", p)
	}
	if p := percentile(l[:1], 99); p != time.Millisecond {
		t.Errorf("p99 of one %v", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("p50 of none %v", p)
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	PrintTable(&b, []Phase{{Name: "get user", Ops: 2000, Errors: 3, Elapsed: time.Second, P50: 1234 * time.Microsecond, P99: 5 * time.Millisecond}})
	out := b.String()
	for _, want := range []string{"phase", "ops/s", "get user", "2000", "1.23ms", "5ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if p := (Phase{Ops: 10, Elapsed: 2 * time.Second}); p.OpsPerSec() != 5 {
		t.Errorf("OpsPerSec %v", p.OpsPerSec())
	}
}
